"""The station page: backend link, time, firmware and slots, meters, effective configuration.

Rules kept here:
- Read-only: everything here is what the daemon already knows (the API's status parts, the
  slot root, the configuration as ``evsed check`` prints it, secrets masked).
- Each part is said in words beside its value (``*_words``); the raw values stay for the
  installer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from controller import __version__
from controller.config import effective_toml
from controller.firmware.slots import SlotRoot
from controller.httpd.messages import Request, Response, json_response
from controller.web import WEB, Web
from controller.web.firmware import progress
from controller.web.words import SECURITY_PROFILES, link_error_words, link_words

if TYPE_CHECKING:
    from controller.daemon import Daemon

TIME_SOURCES = {
    "system": "the box's own clock (no NTP server or backend time taken yet)",
    "ntp": "NTP",
    "csms": "the backend's time (no NTP server answers)",
}


async def ocpp_json(daemon: Daemon) -> dict[str, Any] | None:
    frontend = daemon.ocpp
    if frontend is None:
        return None
    status = frontend.status_json()
    ocpp, security = status["ocpp"], status.get("security")
    words = link_words(ocpp["state"], ocpp.get("registration"))
    profile = security["profile"] if security else None
    return {
        **ocpp,
        "words": words.detail,
        "tone": words.tone,
        "last_error_words": link_error_words(ocpp.get("last_error") or ""),
        "security_profile": profile,
        "security_profile_words": SECURITY_PROFILES.get(profile, str(profile)) if profile is not None else "none",
        "queued": await frontend.queued_messages(),
    }


def time_json(daemon: Daemon) -> dict[str, Any]:
    clock = daemon.clock
    ntp = daemon.time_sync.status_json()["ntp"] if daemon.time_sync is not None else None
    offset = clock.offset_s
    return {
        "now": clock.now().isoformat(timespec="seconds"),
        "source": clock.source,
        "source_words": TIME_SOURCES.get(clock.source, clock.source),
        "offset_s": offset,
        "offset_words": f"{offset:+.3f} s added to the system clock" if offset else "none (the system clock is right)",
        "ntp": ntp,
    }


def firmware_json(shared: Web) -> dict[str, Any]:
    daemon = shared.api.daemon
    slots = SlotRoot(daemon.config.firmware.slot_root)
    active = slots.active()
    marker = slots.marker()
    if marker is None:
        trial = None
    elif marker.state == "trial":
        trial = f"on trial: {marker.to_version or 'a new release'} must come up, else it is rolled back"
    else:
        trial = f"rolled back: {marker.reason}"
    return {"version": __version__, "slot": active.name if active else None, "trial": trial, **progress(shared)}


def meters_json(daemon: Daemon) -> list[dict[str, Any]]:
    out = []
    sections = daemon.config.effective.get("connector", [])
    for evse_id in daemon.station.evse_ids:
        meter = daemon.station.view(evse_id).meter
        section = sections[evse_id - 1].get("meter") if evse_id - 1 < len(sections) else None
        what = ", ".join(f"{k} {v}" for k, v in section.items()) if section else f"{daemon.board.kind} board's meter"
        if meter is None:
            state = "no reading yet"
        else:
            age = time.monotonic() - meter.at
            serial = f"serial {meter.serial_number}, " if meter.serial_number else ""
            state = f"{serial}last read {age:.0f} s ago, {meter.energy_import_wh / 1000:.3f} kWh on the register"
        serial_number = meter.serial_number if meter else None
        out.append({"connector": evse_id, "words": f"{what}: {state}", "serial_number": serial_number})
    return out


async def info(request: Request) -> Response:
    daemon = request[WEB].api.daemon
    return json_response(
        {
            "ocpp": await ocpp_json(daemon),
            "time": time_json(daemon),
            "firmware": firmware_json(request[WEB]),
            "meters": meters_json(daemon),
            "config": effective_toml(daemon.config),
        }
    )
