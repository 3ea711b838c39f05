"""What the page says, as tables: the core's states, faults and stop causes in plain words.

Rules kept here:
- Every member of the enums the page shows has an entry (tests check it): a new fault or
  stop cause cannot reach the owner as a bare code.
- A fault's entry says what happened and what to do, for the owner standing at the box,
  not for the installer's multimeter; the installer's detail stays in the log and the API.
- Tones are the page's colours: ok, busy, warn, bad, idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.core.view import EvseView
from controller.core.vocabulary import AvailabilityReason, ChargingState, StopCause
from controller.energy import LIMIT_SOURCE as ENERGY
from controller.energy.solar import SolarMode
from controller.faults import CHARGING_FAULTS, FAULT_POLICY, Fault
from controller.firmware.update import FirmwareStatus
from controller.iec61851 import MIN_CURRENT_A
from controller.owner_limits import OWNER
from controller.smart_charging.enforcement import LIMIT_SOURCE as PROFILES
from hal.types import Indication


@dataclass(frozen=True)
class Words:
    title: str
    detail: str
    tone: str


STATES: dict[Indication, Words] = {
    Indication.OFF: Words("Off", "The station is not running.", "idle"),
    Indication.IDLE: Words("Available", "Plug in a car to charge.", "ok"),
    Indication.WAITING: Words("Waiting", "A car or a card is there; charging has not begun.", "warn"),
    Indication.CHARGING: Words("Charging", "Energy is flowing to the car.", "busy"),
    Indication.SUSPENDED: Words("Paused", "Charging is paused.", "warn"),
    Indication.DONE: Words("Finished", "Charging has ended; the car is still plugged in.", "ok"),
    Indication.RESERVED: Words("Reserved", "Kept free for a reservation.", "warn"),
    Indication.UNAVAILABLE: Words(
        "Unavailable", "Switched off for charging (by the owner, the backend or an update).", "idle"
    ),
    Indication.FAULTED: Words("Fault", "Charging is stopped by a fault.", "bad"),
}

# Paused: who paused it.
PAUSED_BY: dict[ChargingState, str] = {
    ChargingState.SUSPENDED_EV: "The car does not take power (full, or its own timer or setting).",
    ChargingState.SUSPENDED_EVSE: "The station offers no power: paused, or a limit below 6 A.",
}


@dataclass(frozen=True)
class FaultWords:
    title: str
    what: str  # what happened
    todo: str  # what to do


FAULTS: dict[Fault, FaultWords] = {
    Fault.RCD: FaultWords(
        "Residual current (earth leakage)",
        "Current leaked to earth; the station cut the power to protect people.",
        "Unplug the car. Look for a damaged cable or wet plug. If it happens again, have an electrician "
        "test the wallbox and the car's charging cable.",
    ),
    Fault.DIODE: FaultWords(
        "The car's pilot signal is wrong",
        "The car did not answer the pilot signal as a car must (its diode is missing or shorted).",
        "Unplug and plug in again. If it repeats with this car only, the car's charging port or cable needs "
        "service; with every car, the wallbox's pilot circuit does.",
    ),
    Fault.PILOT: FaultWords(
        "Pilot signal short or out of range",
        "The control-pilot line reads a level no car gives (a short, water, a broken cable).",
        "Unplug, check the plug and cable for damage or moisture, and plug in again. It clears by itself "
        "once the signal is right.",
    ),
    Fault.CONTACTOR_WELD: FaultWords(
        "Power switch stuck closed",
        "The contactor did not open when told to: the cable may still be live.",
        "Do not touch the plug's contacts. Switch the wallbox off at its circuit breaker and call an "
        "electrician; the contactor must be replaced.",
    ),
    Fault.CONTACTOR_STUCK_OPEN: FaultWords(
        "Power switch does not close",
        "The contactor did not close when told to, so no energy can flow.",
        "Unplug and try again. If it repeats, the contactor or its supply needs an electrician.",
    ),
    Fault.METER_OFFLINE: FaultWords(
        "Energy meter not answering",
        "The station cannot read the meter, so it cannot measure or supervise charging and pauses it.",
        "Charging resumes by itself when the meter answers again. If it lasts, check the meter's power and "
        "its RS-485 wiring (A/B, termination).",
    ),
    Fault.OVERTEMP: FaultWords(
        "Too hot",
        "The wallbox is above its temperature limit and pauses charging.",
        "It resumes by itself when it has cooled down. Keep the box out of direct sun and its vents free.",
    ),
    Fault.OVERCURRENT: FaultWords(
        "The car drew too much current",
        "The car took more current than offered for several seconds; the session was stopped.",
        "Unplug and plug in again. If it repeats with this car, it ignores the offered current: have the car checked.",
    ),
    Fault.CABLE: FaultWords(
        "Charging cable not recognised",
        "The cable's coding resistor reads out of range (broken or unsuitable cable).",
        "Plug the cable in firmly at both ends, or use another Type 2 cable.",
    ),
    Fault.LOCK: FaultWords(
        "Connector lock failed",
        "The plug lock did not reach its position.",
        "Push the plug fully in and try again. If the plug is stuck, stop charging here; if that does not "
        "release it, switch off at the breaker and call service.",
    ),
    Fault.READER: FaultWords(
        "Card reader not working",
        "The RFID reader does not answer; charging that runs goes on.",
        "Start and stop charging from this page or the backend meanwhile; check the reader's cable.",
    ),
}

# Who set the limit that binds (the station's limit sources by name); others are shown by name.
LIMIT_SOURCES: dict[str, str] = {
    "configuration": "the configuration (the connector's rating)",
    PROFILES: "the backend (a charging profile)",
    OWNER: "the owner (this page)",
    ENERGY: "energy management (the house's fuse, solar surplus)",
}

# Energy management's charging modes (controller/energy/solar.py), as the owner picks them.
ENERGY_MODES: dict[SolarMode, Words] = {
    SolarMode.OFF: Words("Fast", "As much current as the limits allow (the fuse still guards the house).", "busy"),
    SolarMode.MINPV: Words("Solar + minimum", "At least 6 A at all times, more from solar surplus.", "ok"),
    SolarMode.PV: Words("Solar only", "Charges only from solar surplus; waits when there is none.", "ok"),
}

UNAVAILABLE_BECAUSE: dict[AvailabilityReason, str] = {
    AvailabilityReason.OPERATOR: "switched off by the owner or the backend",
    AvailabilityReason.FIRMWARE: "a firmware update waits to install",
    AvailabilityReason.RESET: "a restart waits for charging to end",
    AvailabilityReason.FAULT: "a fault",
}

STOP_CAUSES: dict[StopCause, str] = {
    StopCause.LOCAL: "stopped at the wallbox (card or this page)",
    StopCause.REMOTE: "stopped by the backend",
    StopCause.EV_DISCONNECTED: "car unplugged",
    StopCause.POWER_LOSS: "power cut or crash",
    StopCause.REBOOT: "station restarted",
    StopCause.HARD_RESET: "hard reset",
    StopCause.SOFT_RESET: "soft reset",
    StopCause.IMMEDIATE_RESET: "immediate reset",
    StopCause.DEAUTHORIZED: "card no longer valid",
    StopCause.EMERGENCY_STOP: "emergency stop",
    StopCause.UNLOCK_COMMAND: "connector unlocked by the backend",
    StopCause.ENERGY_LIMIT_REACHED: "energy limit reached",
    StopCause.GROUND_FAULT: "earth-leakage fault",
    StopCause.OVERCURRENT_FAULT: "car drew too much current",
    StopCause.POWER_QUALITY: "poor supply quality",
    StopCause.STOPPED_BY_EV: "stopped by the car",
    StopCause.TIMEOUT: "timed out (nobody plugged in or authorized)",
    StopCause.TIME_LIMIT_REACHED: "time limit reached",
    StopCause.SOC_LIMIT_REACHED: "battery level limit reached",
    StopCause.MASTER_PASS: "stopped with a master card",
    StopCause.LOCAL_OUT_OF_CREDIT: "out of credit",
    StopCause.OTHER: "other reason (a fault, see the log)",
}


def stop_words(cause: str | None) -> str:
    """The stop cause's words; an unknown value (an older database row) as it is."""
    if cause is None:
        return ""
    try:
        return STOP_CAUSES[StopCause(cause)]
    except ValueError:
        return cause


# The backend link: (state, registration) -> words and tone; registration None = not yet asked.
def link_words(state: str, registration: str | None) -> Words:
    if state == "connected":
        if registration == "Accepted":
            return Words("connected", "Connected and registered with the backend.", "ok")
        if registration == "Rejected":
            return Words("rejected", "Connected, but the backend rejected this station; it will retry.", "bad")
        return Words("registering", "Connected; the backend has not accepted the station yet.", "warn")
    return {
        "connecting": Words("connecting", "Connecting to the backend.", "warn"),
        "waiting": Words("offline", "The backend cannot be reached; retrying. Charging goes on.", "bad"),
        "disconnected": Words("disconnected", "Disconnected on request.", "idle"),
    }.get(state, Words(state, "", "idle"))


# A link error as the link logged it (exception type and text) -> what it means; first match wins.
LINK_ERRORS: tuple[tuple[str, str], ...] = (
    ("CERTIFICATE_VERIFY_FAILED", "The backend's TLS certificate is not trusted (wrong CA, or a wrong clock)."),
    ("SSL", "The TLS handshake with the backend failed."),
    ("HTTP 401", "The backend refused the station's password (AuthorizationKey)."),
    ("HTTP 403", "The backend refused this station."),
    ("HTTP 404", "The backend does not know this address: check [ocpp] url and the charge point id."),
    ("refused the websocket upgrade", "The backend answered the connection with an HTTP error."),
    ("gaierror", "The backend's host name cannot be resolved (DNS, or no network)."),
    ("Name or service not known", "The backend's host name cannot be resolved (DNS, or no network)."),
    ("Connect call failed", "Nothing answers at the backend's address (connection refused)."),
    ("ConnectionRefused", "Nothing answers at the backend's address (connection refused)."),
    ("unreachable", "No network route to the backend."),
    ("Timeout", "The backend did not answer in time."),
    ("timed out", "The backend did not answer in time."),
    ("closed by CSMS", "The backend closed the connection."),
    ("ConnectionReset", "The connection to the backend was reset."),
    ("ConnectionClosed", "The connection to the backend was closed."),
)


def link_error_words(error: str) -> str:
    if not error:
        return ""
    return next((words for needle, words in LINK_ERRORS if needle.lower() in error.lower()), error)


# A firmware update's status: what it means, and how far along it is (percent; None: nothing runs).
F = FirmwareStatus
FIRMWARE_STEPS: dict[FirmwareStatus, tuple[str, int | None]] = {
    F.IDLE: ("no update under way", None),
    F.DOWNLOAD_SCHEDULED: ("download scheduled by the backend", 5),
    F.DOWNLOADING: ("receiving the release", 15),
    F.DOWNLOAD_PAUSED: ("download interrupted; retrying", 15),
    F.DOWNLOADED: ("received; checking its signature", 30),
    F.DOWNLOAD_FAILED: ("the download failed", None),
    F.INVALID_SIGNATURE: ("refused: the signature does not match the file", None),
    F.SIGNATURE_VERIFIED: ("signature verified; installs once no car charges", 50),
    F.INSTALL_SCHEDULED: ("install scheduled by the backend", 55),
    F.INSTALLING: ("installing", 70),
    F.INSTALL_REBOOTING: ("installed; restarting into the new release", 90),
    F.INSTALLED: ("installed and running", 100),
    F.INSTALLATION_FAILED: ("the installation failed (see the log); the running release stays", None),
    F.INSTALL_VERIFICATION_FAILED: ("refused: not a release this station can run", None),
}

SECURITY_PROFILES: dict[int, str] = {
    0: "none: plain connection, no password",
    1: "1: password over an unencrypted connection",
    2: "2: password over TLS",
    3: "3: TLS with a client certificate",
}


def describe(view: EvseView, setting_a: float | None, meter_offline: bool) -> dict[str, Any]:
    """What the page shows about one EVSE beside the API's numbers: words, faults, limit, notices."""
    state = STATES[view.indication] if view.indication is not None else Words("Starting", "", "idle")
    detail = state.detail
    if view.indication is Indication.SUSPENDED and view.charging_state in PAUSED_BY:
        detail = PAUSED_BY[view.charging_state]
    if view.paused:
        detail = "Paused from this page (or the API): resume to go on charging."
    elif view.limit is not None and view.transaction is not None and view.limit.amps < MIN_CURRENT_A:
        detail = f"The limit ({view.limit.amps:g} A) is below the 6 A a car needs: charging waits."
    faults = [
        {"kind": f.value, **FAULTS[f].__dict__, "stops": f in CHARGING_FAULTS} for f in FAULT_POLICY if f in view.faults
    ]
    notice = ""
    if not view.operative:
        notice = "Unavailable: " + ", ".join(UNAVAILABLE_BECAUSE[r] for r in sorted(view.inoperative_reasons)) + "."
    elif view.scheduled_inoperative:
        notice = "Becomes unavailable when this session ends."
    elif view.plug_timed_out:
        notice = "A car is plugged in but nobody authorized it in time: unplug and plug in again, or start it here."
    elif meter_offline and view.transaction is not None:
        notice = "The energy meter does not answer: the numbers shown are its last reading."
    limit = view.limit
    return {
        "state": {"title": state.title, "detail": detail, "tone": state.tone},
        "faults": faults,
        "notice": notice,
        "limit": None if limit is None else {"amps": limit.amps, "by": LIMIT_SOURCES.get(limit.source, limit.source)},
        "phases": view.phases,
        "max_current_a": view.max_current_a,
        "paused": view.paused,
        "setting_a": setting_a,
        "meter_offline": meter_offline,
    }
