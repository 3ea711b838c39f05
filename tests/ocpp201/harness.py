"""The part-6 harness: the real daemon on the simulated board, a test CSMS (the bench CSMS,
sim/csms/, in this process) over a real loopback websocket, and what a test case of part 6
("Test Cases Charging Station") needs to drive and check them.

Rules for writing a test case with it (read these first):

1. One charging station per test module. The module's ``cs`` fixture (``conftest.py``) starts
   the daemon once, Accepted by the test CSMS; every test in the module uses it. A module
   needs ``pytestmark = MODULE`` (one event loop per module) and may set ``PRESETS``
   (``[ocpp.variables]`` of its station, e.g. ``{"TxCtrlr.TxStartPoint": "EVConnected"}``) and
   ``SECTIONS`` (more TOML tables for its station, e.g. ``[grid]`` for energy management) and
   ``EVSE1_SIM`` (the ``[connector.sim]`` table of EVSE 1, e.g. a phase switch).
2. Before each test the general preconditions of part 6 section 2.1 hold again (``restore``,
   autouse): Accepted and connected, EVs gone, no transaction, faults cleared, every EVSE
   operative, no reservation, the variables the previous test changed set back (through
   SetVariables, as a test system does), the queue empty and every connector's current status
   at the CSMS; then a barrier, so nothing from the previous test arrives in this one. A block
   that adds state (profiles, monitors, display messages...) appends its own clean-up to
   ``Harness.restorers``. Restarting the daemon is left to the tests that need it.
3. A test is named after its id (``test_TC_B_01_CS``), follows its part-6 table (steps and
   tool validations, the 2025-09 errata winning) and says in its docstring what it plays.
4. Frames: every frame between the station and the test CSMS is recorded in order.
   ``mark()`` is a position; ``calls(action, since)`` the CALLs the station sent;
   ``expect(action, where, since)`` waits for the first one after ``since`` that satisfies
   ``where`` (a predicate on the payload) and returns its payload; ``expect_order`` checks
   the order the spec demands. ``call(action, payload)`` is the CSMS's CALL (response payload,
   or ``CallErrorFrom`` raised); ``call_raw(text)`` sends a frame the ``ocpp`` package would
   refuse to build and returns the station's answer.
5. Wait for what happens, never sleep a fixed time: frames (``expect``, woken by each frame),
   the daemon's own state (``until``, polled), connections (``connected``). That something does NOT
   happen is shown with ``barrier()``: a triggered Heartbeat; the station sends one CALL at a
   time, in order, so what it would have sent before it has arrived by then.
6. The test CSMS answers as ``csms.config`` says (BootNotification status and interval, known
   tokens); ``refusing``/``drop()`` close the link and refuse reconnects, ``accept()`` lets the
   station back in. Every test starts with the defaults.
7. Restarts: ``power_cycle()`` stops the daemon and starts a new one on the same simulated
   world (EVs, meters and faults stay, as a controller reboot leaves them); after a Reset the
   harness restarts the daemon itself, as systemd would (``restarted()`` waits for that).
8. ``FEATURES`` (part 5 section 3.1) is what evsed declares; a conditional test case that does
   not apply is skipped with its reason (``require``).
9. Reusable states (part 6 section 2.18) and memory states (2.19) are in ``states.py``; each
   drives the station and checks its tool validations, like the test system would.
10. Security: a module with ``SECURITY = Secured(...)`` gets a station with the <Configured
   basicAuthPassword> (``PASSWORD``, provisioned in its secret file; the test CSMS demands it)
   and, with ``tls``, a bench PKI (``pki``: the CSMS root the station trusts through ``[ocpp]
   ca_file``, the server certificate, the CA that signs CSRs): security profile 2 over wss.
   ``endpoint()`` opens another endpoint of the test CSMS ("the other CSMS" of a network-profile
   migration); ``pki.serve_with`` changes the certificate an endpoint presents from the next
   handshake on. Without ``SECURITY`` the station connects over ws without a password.

A test case, for the shape (TC_B_17_CS in test_b_device_model.py is this one)::

    pytestmark = MODULE

    async def test_TC_B_17_CS(cs: Harness) -> None:
        # Get Custom Report - with component/variable: AvailabilityState of EVSE 1 (the docstring)
        response, entries = await cs.report("GetReport", {"requestId": 17, "componentVariable": [
            {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"}}]})
        assert response["status"] == "Accepted"  # step 2
        ...                                       # step 3: the NotifyReport's entries
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import OCPPError

from controller.config import Config, parse
from controller.core.vocabulary import AvailabilityReason, StopCause
from controller.daemon import Daemon
from controller.ocpp.certificates import CertificateStore, Kind
from controller.ocpp.link import LinkState
from controller.ocpp.v201.credentials import PASSWORD as PASSWORD_VARIABLE
from controller.ocpp.v201.store import secret_file
from controller.ocpp.v201.variables import Actual, ComponentId, ReadWrite, VariableId
from controller.safety.process import RemoteBoard, open_board
from controller.secret_files import write_secret
from ocpp201.pki import BenchPki
from sim.csms import Csms, CsmsConfig
from sim.csms.server import LoggedFrame
from sim.world import FAULT_KINDS

MODULE = pytest.mark.asyncio(loop_scope="module")
WITHIN = 10.0  # seconds a step may take before the test fails
POLL_S = 0.01
CP_ID = "EVSED-TC"
VALID_TOKEN = {"idToken": "04A2B3C4", "type": "ISO14443"}  # <Configured valid_idtoken_idtoken / _type>
SECOND_TOKEN = {"idToken": "04A2B3C5", "type": "ISO14443"}  # another driver, for a second EVSE
INVALID_TOKEN = {"idToken": "BADCAFE1", "type": "ISO14443"}
HEARTBEAT_INTERVAL = 3600  # <Configured heartbeatInterval>: long, so no heartbeat lands in a test by chance
# No clock-aligned meter values unless a test asks for them: one at a quarter hour would land in
# whatever test runs then (a TransactionEvent MeterValueClock where a test shows that none came).
QUIET = {"AlignedDataCtrlr.Interval": 0}
EV = {"max_current_a": 16.0, "phases": 3, "battery_kwh": 60.0, "soc": 0.2}
FAULTS = FAULT_KINDS  # every fault the simulated world can inject

# Part 5 section 3.1: the optional features evsed declares (True) or not (False). README "OCPP 2.0.1".
FEATURES: dict[str, bool] = {
    "C-01": True,  # offline authorization (local list, cache, unknown ids)
    "C-02": True,  # OfflineTxForUnknownIdEnabled
    "C-03": True,  # MaxEnergyOnInvalidId
    "C-04": True,  # MinimumStatusDuration
    "C-06.1": True,  # keep authorization when the cable is unplugged at the EV (StopTxOnEVSideDisconnect false)
    "C-06.2": True,  # ... not kept (true)
    "C-07": False,  # Master Pass with a UI (evsed has none)
    "C-08": True,  # Master Pass without a UI: it stops every transaction
    "C-09.1": True, "C-09.2": True, "C-09.3": False, "C-09.4": True, "C-09.5": True, "C-09.6": False,
    "C-10.1": True, "C-10.2": True, "C-10.3": True, "C-10.4": True, "C-10.5": False,
    "C-12.1": True, "C-12.2": True,  # UnlockOnEVSideDisconnect (stations with a lock)
    "C-13": True,  # Reset per EVSE (EVSE.AllowReset)
    "C-14": False,  # CustomerInformation by customerIdentifier
    "C-20": True,  # AllowNewSessionsPendingFirmwareUpdate
    "C-21": False,
    "C-23": True,  # TimeSource: NTP, Heartbeat
    "C-25": False, "C-26": False, "C-28": True,
    "C-29.1": True, "C-29.2": True,  # TriggerMessage MeterValues, TransactionEvent
    "C-29.3": True,  # TriggerMessage LogStatusNotification
    "C-29.4": True,  # TriggerMessage FirmwareStatusNotification
    "C-29.5": True,  # TriggerMessage StatusNotification
    "C-29.6": True,  # TriggerMessage BootNotification
    "C-30": True,  # RFID ISO14443 (the token reader)
    "C-31": False, "C-32": False, "C-33": False, "C-34": False, "C-35": False,  # the reader reads ISO14443 only
    "C-36": True, "C-37": True, "C-38": True, "C-39": True,  # remote start: ISO14443, ISO15693, Central, NoAuth.
    "C-42": False,
    "C-43": False,  # firmware installs and activates only when no transaction runs
    "C-47": True,  # fall back to the slot of the last connection when every NetworkConnectionProfile failed (B10.FR.07)
    "C-48.1": True, "C-48.2": True,  # AuthorizeRemoteStart true / false
    "C-49": True,  # authorization cache
    "C-51": True, "C-52": True,  # configurable TxStartPoint / TxStopPoint
    "C-53": True,  # AuthCacheLifeTime
    "C-54": True,  # AuthCachePolicy: LRU
    "C-56": True,  # SummaryInventory
    "C-57": False,
    "C-58": True,  # DisableRemoteAuthorization
    "C-59": True,  # AuthCacheDisablePostAuthorize
    "C-60": True,  # an update that has not begun installing is cancelled by a new one (AcceptedCanceled)
    "AQ-7": True,  # firmware downloads while a transaction runs
    "LA-1": True, "LA-2": True, "LA-3": True,  # local list, GetLocalListVersion, LocalAuthListDisablePostAuthorize
    "C-61": True,  # security profile 1 (errata 2025-09 5.7)
    "AS-2": True,  # AdditionalRootCertificateCheck, where [ocpp.variables] sets it
    "AS-3": True,  # CertSigningWaitMinimum / CertSigningRepeatTimes
    "UI-1.1": True, "UI-1.2": True, "UI-1.3": True,  # DisplayMessageSupportedPriorities: all three
    "UI-2.1": True, "UI-2.2": False, "UI-2.3": False, "UI-2.4": True,  # formats: ASCII, UTF8 (not HTML, URI)
    "SC-2.1": True, "SC-2.2": True,  # charging rate units A and W (SmartChargingCtrlr.RateUnit)
    "SC-4": True,  # TxDefaultProfile on EVSE #0
    "AQ-10": True,  # a Delta monitor on SecurityCtrlr.BasicAuthPassword (errata 2025-09 5.5)
    "R-2": True,  # reservations of an unspecified EVSE (ReservationCtrlr.NonEvseSpecific)
    "R-3": True,  # reservations can be disabled (ReservationCtrlr.Enabled)
}  # fmt: skip
NETWORK_SLOTS = 2  # configuration slots for network profiles (B09.FR.06)
PASSWORD = "evsed-harness-Pass-0123456789"  # <Configured basicAuthPassword>: 29 characters


@dataclass(frozen=True)
class Secured:
    """A module's station with credentials (rule 10)."""

    tls: bool = False  # wss with the bench PKI (security profile 2), else ws (profile 1)
    installed_root: bool = False  # the CSMS root installed in the station's store, not [ocpp] ca_file


CONFIG = """
[station]
charge_point_id = "{cp_id}"
vendor = "evsed"
model = "octt"
serial_number = "SN-TC-1"

[board]
type = "sim"
ev_reaction_s = 0.05

[board.display]
columns = 20
rows = 4

[[connector]]
id = 1
phases = 3
max_current_a = 32.0
{evse1}
[[connector]]
id = 2
phases = 3
max_current_a = 16.0
[connector.sim]
cable_ampacity_a = 32
lock = true

[charging]
authorize = "ocpp"
connection_timeout_s = 120.0

[loop]
period_ms = 5.0
meter_interval_s = 0.2
meter_timeout_s = 2.0

[storage]
state_dir = "{state_dir}"

[api]
enabled = false

[ocpp]
version = "2.0.1"
url = "{url}"
call_timeout_s = 5.0
{ocpp}

[ocpp.variables]
{variables}

[firmware]
slot_root = "{state_dir}/opt"
manufacturer_roots = "{state_dir}/manufacturer-roots.pem"
retry_interval_s = 1.0
"""


def require(feature: str, declared: bool = True) -> None:
    """Skip the calling test (with its reason) unless FEATURES[feature] is ``declared``."""
    if FEATURES.get(feature, False) is not declared:
        pytest.skip(f"feature {feature} is {'not ' if declared else ''}declared by evsed (part 5 section 3.1)")


class CallErrorFrom(Exception):
    """The station answered a CSMS CALL with a CALLERROR."""

    def __init__(self, code: str, description: str):
        super().__init__(f"{code}: {description}")
        self.code, self.description = code, description


@dataclass(frozen=True)
class Frame:
    index: int
    direction: str  # "in": from the station, "out": to the station
    message: list[Any]
    at: float  # time.monotonic() when recorded

    @property
    def is_call(self) -> bool:
        return self.message[:1] == [2]

    @property
    def action(self) -> str | None:
        return self.message[2] if self.is_call and len(self.message) > 2 else None

    @property
    def payload(self) -> dict[str, Any]:
        return self.message[3] if self.is_call else self.message[2]


def _toml(value: Any) -> str:
    return json.dumps(value)  # strings, numbers, booleans and lists of strings read the same in TOML


# The test system's <Configured RetryBackOff...> values (a module's PRESETS may change them): a
# station the test refused a few times comes back within a second of ``accept()``, not after the
# defaults' doubled 3 s plus up to 10 s at random, which outlasted ``connected()`` under load.
BACKOFF_PRESETS = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
                   "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0}  # fmt: skip


class Harness:
    def __init__(self, state_dir: Path, presets: dict[str, Any], security: Secured | None = None, sections: str = "",
                 evse1_sim: str = ""):  # fmt: skip
        self.state_dir = state_dir
        self.presets = {**BACKOFF_PRESETS, **QUIET, **presets}
        self.sections = sections
        self.evse1 = f"[connector.sim]\n{evse1_sim}\n" if evse1_sim else ""
        self.security = security
        self.pki = BenchPki(state_dir.parent / f"{state_dir.name}-pki") if security and security.tls else None
        self.tls: dict[int, Any] = {}  # port -> the TLS context an endpoint serves with
        tokens = (VALID_TOKEN, SECOND_TOKEN)
        self.csms = Csms(CsmsConfig(heartbeat_interval=HEARTBEAT_INTERVAL, id_tags={t["idToken"] for t in tokens},
                                    token_types={t["idToken"]: t["type"] for t in tokens}))  # fmt: skip
        self.csms.observers.append(self._observe)
        self.frames: list[Frame] = []
        self.daemon: Daemon | None = None
        self.config: Config | None = None
        self.plugged: dict[int, dict[str, Any]] = {}
        self.restorers: list[Callable[[Harness], Awaitable[None]]] = [_clear_charging_profiles]
        self.baseline: dict[str, Any] = {}  # writable variables as the module's station starts
        self._supervisor: asyncio.Task[None] | None = None
        self._restarted = asyncio.Event()

    # ---- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        url, ocpp = await self.endpoint(), ""
        if self.security is not None:
            self.csms.config.passwords[CP_ID] = PASSWORD
            write_secret(secret_file(self.state_dir / "secrets", PASSWORD_VARIABLE), PASSWORD)
            self.restorers.append(_restore_password)
        self.restorers.append(_clear_display_messages)
        if self.pki is not None:
            self.csms.signer = self.pki.root
            self.restorers.append(_restore_signing)
            if self.security is not None and self.security.installed_root:  # as the factory installs it
                CertificateStore(self.state_dir / "certificates", 10).install(Kind.CSMS_ROOT, self.pki.root.cert_pem)
            else:
                ocpp = f'ca_file = "{self.pki.root_file}"'

        variables = "\n".join(f'"{name}" = {_toml(value)}' for name, value in self.presets.items())
        self.config = parse(CONFIG.format(cp_id=CP_ID, state_dir=self.state_dir, url=url, ocpp=ocpp, evse1=self.evse1,
                                          variables=variables) + self.sections, "harness.toml")  # fmt: skip
        await self._start(open_board(self.config))
        await self.booted_and_reported()
        writable = [row for row in self.model.inventory if (a := row.attribute(Actual)) and a.mutability == ReadWrite]
        self.baseline = {row.address: self.model.value(row.address) for row in writable}

    async def endpoint(self) -> str:
        """Another endpoint of the test CSMS (wss with the module's PKI, else ws): its URL."""
        if self.pki is None:
            return f"ws://127.0.0.1:{await self.csms.start()}"
        context = self.pki.server_context()
        port = await self.csms.start(ssl=context)
        self.tls[port] = context
        return f"wss://localhost:{port}"

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon.board.close()
            self.daemon = None
        await self.csms.stop()

    async def _start(self, board: RemoteBoard) -> None:
        assert self.config is not None
        daemon = Daemon(self.config, board, close_board=False)  # restarts keep the board and its world
        await daemon.start()
        self.daemon = daemon
        self._supervisor = asyncio.create_task(self._supervise(daemon), name="harness-supervisor")

    async def _supervise(self, daemon: Daemon) -> None:
        """A reset asks the daemon to stop for a restart: do what systemd does."""
        await daemon.stopping.wait()
        await daemon.stop()
        if daemon.restart_requested is not None:
            await self._start(_successor(daemon))  # the controller restarts, the EVs stay
            self._restarted.set()

    async def power_cycle(self) -> None:
        """Manual action "power cycle the Charging Station": the daemon stops and starts again."""
        assert self.daemon is not None and self._supervisor is not None
        old = self.daemon
        self._supervisor.cancel()
        await old.stop()
        await self._start(_successor(old))

    async def restarted(self) -> None:
        """Wait until a reset's restart has brought up a new daemon."""
        async with asyncio.timeout(WITHIN):
            await self._restarted.wait()
        self._restarted.clear()

    # ---- the parts under test -----------------------------------------------------------

    @property
    def station(self) -> Any:
        assert self.daemon is not None
        return self.daemon.station

    @property
    def frontend(self) -> Any:
        assert self.daemon is not None
        return self.daemon.ocpp

    @property
    def model(self) -> Any:
        return self.frontend.model

    @property
    def sim(self) -> Any:
        assert self.daemon is not None
        return self.daemon.board.simulation

    @property
    def evse_ids(self) -> tuple[int, ...]:
        return tuple(self.station.evse_ids)

    def variable(self, address: str) -> Any:
        return self.model.value(address)

    async def until(self, predicate: Callable[[], bool], within: float = WITHIN, what: str = "") -> None:
        """Wait for the daemon's own state (its core, its front end), polled every ``POLL_S``: not
        every part of it has an event to wait on."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"the station never reached: {what or predicate}")
            await asyncio.sleep(POLL_S)

    # ---- frames -------------------------------------------------------------------------

    def _observe(self, logged: LoggedFrame) -> None:
        try:
            message = json.loads(logged.text)
        except ValueError:
            message = [None, logged.text]
        if isinstance(message, list):
            self.frames.append(Frame(len(self.frames), logged.direction, message, time.monotonic()))

    def mark(self) -> int:
        return len(self.frames)

    def calls(self, action: str, since: int = 0, where: Callable[[dict[str, Any]], bool] | None = None
              ) -> list[dict[str, Any]]:  # fmt: skip
        """Payloads of the CALLs of ``action`` the station sent from ``since`` on, in order."""
        return [f.payload for f in self.frames[since:] if f.direction == "in" and f.action == action
                and (where is None or where(f.payload))]  # fmt: skip

    def call_frames(self, since: int = 0) -> list[Frame]:
        return [f for f in self.frames[since:] if f.direction == "in" and f.is_call]

    async def expect(self, action: str, where: Callable[[dict[str, Any]], bool] | None = None, since: int = 0,
                     within: float = WITHIN) -> dict[str, Any]:  # fmt: skip
        """The first CALL of ``action`` from ``since`` on that satisfies ``where`` (waits for it)."""
        try:
            async with asyncio.timeout(within):
                await self.csms.wait_for(lambda _c: bool(self.calls(action, since, where)))
        except TimeoutError:
            seen = [(f.action, f.payload) for f in self.call_frames(since)]
            raise AssertionError(f"no matching {action} within {within} s; the station sent {seen}") from None
        return self.calls(action, since, where)[0]

    async def answer_to(self, action: str, since: int = 0) -> dict[str, Any]:
        """The station's answer to the test CSMS's first CALL of ``action`` from ``since`` on (waits for
        both); a CALLERROR is raised as ``CallErrorFrom``."""

        def answer() -> Frame | None:
            call = next((f for f in self.frames[since:] if f.direction == "out" and f.action == action), None)
            if call is None:
                return None
            return next((f for f in self.frames[call.index :] if f.direction == "in" and not f.is_call
                         and f.message[1:2] == call.message[1:2]), None)  # fmt: skip

        async with asyncio.timeout(WITHIN):
            await self.csms.wait_for(lambda _c: answer() is not None)
        frame = answer()
        assert frame is not None
        if frame.message[0] == 4:
            raise CallErrorFrom(frame.message[2], frame.message[3])
        return frame.payload

    async def expect_frame(self, action: str, where: Callable[[dict[str, Any]], bool] | None = None,
                           since: int = 0) -> Frame:  # fmt: skip
        await self.expect(action, where, since)
        return next(f for f in self.frames[since:] if f.direction == "in" and f.action == action
                    and (where is None or where(f.payload)))  # fmt: skip

    def expect_order(self, actions: Iterable[str], since: int = 0) -> None:
        """The first CALLs of ``actions`` (after ``since``) came in this order."""
        wanted = list(actions)
        firsts = [next((f.index for f in self.call_frames(since) if f.action == a), None) for a in wanted]
        assert None not in firsts, f"not all of {wanted} were sent: {[f.action for f in self.call_frames(since)]}"
        assert firsts == sorted(firsts), (
            f"expected the order {wanted}, got {[f.action for f in self.call_frames(since)]}"
        )

    # ---- CSMS -> station ----------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any], within: float = WITHIN) -> dict[str, Any]:
        try:
            async with asyncio.timeout(within):
                return await self.csms.call(CP_ID, action, payload)
        except OCPPError as exc:
            raise CallErrorFrom(getattr(exc, "code", type(exc).__name__), exc.description) from None

    async def call_raw(self, text: str, unique_id: str) -> list[Any]:
        """Send ``text`` as it is; the station's answer frame to ``unique_id``."""
        since = self.mark()
        await self.csms.send_raw(CP_ID, text)

        def answered(_c: Csms) -> bool:
            return any(f.direction == "in" and f.message[1:2] == [unique_id] for f in self.frames[since:])

        async with asyncio.timeout(WITHIN):
            await self.csms.wait_for(answered)
        return next(f.message for f in self.frames[since:] if f.direction == "in" and f.message[1:2] == [unique_id])

    async def barrier(self) -> None:
        """Everything the station sent before now has arrived: a triggered Heartbeat came after it."""
        since = self.mark()
        assert (await self.call("TriggerMessage", {"requestedMessage": "Heartbeat"}))["status"] == "Accepted"
        await self.expect("Heartbeat", since=since)

    async def report(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """GetBaseReport / GetReport: the response and, when Accepted, every reportData entry of its
        NotifyReport parts, checked as B07/B08 say: requestId echoed, seqNo from 0 up by one,
        the same generatedAt in each part, tbc on every part but the last."""
        since = self.mark()
        response = await self.call(action, payload)
        if response["status"] != "Accepted":
            return response, []
        request_id = payload["requestId"]
        await self.expect("NotifyReport", lambda p: p["requestId"] == request_id and not p.get("tbc"), since)
        parts = self.calls("NotifyReport", since, lambda p: p["requestId"] == request_id)
        assert [p["seqNo"] for p in parts] == list(range(len(parts))), [p["seqNo"] for p in parts]
        assert len({p["generatedAt"] for p in parts}) == 1
        assert [bool(p.get("tbc")) for p in parts] == [True] * (len(parts) - 1) + [False]
        return response, [entry for p in parts for entry in p["reportData"]]

    async def set_variables(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """Configuration State: ``{"OCPPCommCtrlr.OfflineThreshold": 300, ...}`` through SetVariables."""
        results = await self.try_set_variables(values)
        assert all(r["attributeStatus"] in ("Accepted", "RebootRequired") for r in results), results
        return results

    async def try_set_variables(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        """SetVariables of ``values``: the setVariableResult, whatever it says."""
        data = []
        for address, value in values.items():
            row = self.model.inventory[address]
            data.append({"component": row.component.to_json(), "variable": row.variable.to_json(),
                         "attributeValue": _text(value)})  # fmt: skip
        results: list[dict[str, Any]] = (await self.call("SetVariables", {"setVariableData": data}))[
            "setVariableResult"
        ]
        return results

    # ---- connection ---------------------------------------------------------------------

    async def drop(self) -> None:
        """The test system closes the websocket and does not accept a reconnect."""
        self.csms.refusing = True
        await self.csms.close(CP_ID)
        await self.until(lambda: not self.frontend.link.connected.is_set(), what="the link to go down")

    def accept(self) -> None:
        self.csms.refusing = False
        self.csms.refusing_ports.clear()

    async def connected(self, within: float = WITHIN) -> None:
        await self.until(lambda: self.frontend.link.state is LinkState.CONNECTED, within, "the link to be up")

    # ---- the simulated world --------------------------------------------------------------

    def plug_in(self, evse: int = 1, **ev: Any) -> None:
        """Manual action: connect the EV and EVSE."""
        self.plugged[evse] = {**EV, **ev}
        self.sim.plug_in(evse, **self.plugged[evse])

    def unplug(self, evse: int = 1) -> None:
        """Manual action: disconnect the EV and EVSE."""
        self.plugged.pop(evse, None)
        self.sim.unplug(evse)

    def present(self, token: dict[str, str] = VALID_TOKEN) -> None:
        """Manual action: present an idToken at the reader (an ISO14443 card)."""
        assert token["type"] == "ISO14443", "the simulated reader reads ISO14443 cards"
        self.sim.swipe(token["idToken"])

    # ---- general preconditions (part 6 section 2.1) ---------------------------------------

    async def booted_and_reported(self) -> None:
        """Accepted, connected, the queue open, and every connector's current status at the CSMS."""
        await self.until(lambda: self.frontend.queue_open.is_set() and self.frontend.link.connected.is_set(),
                         what="Accepted and connected")  # fmt: skip
        await self.until(lambda: self.frontend.statuses.reported, what="every connector's status at the CSMS")

    async def restore(self) -> None:
        self.csms.config = dataclasses.replace(self.csms.config, boot_status="Accepted",
                                               heartbeat_interval=HEARTBEAT_INTERVAL)  # fmt: skip
        self.csms.fail_next.clear()
        self.accept()
        self._restarted.clear()
        if self.daemon is None or self.daemon.stopping.is_set():
            await self.until(lambda: self.daemon is not None and not self.daemon.stopping.is_set(),
                             what="the daemon restarted")  # fmt: skip
        if self.frontend.registration.status not in (None, "Accepted"):
            await self.power_cycle()  # Pending / Rejected: a new boot, this time Accepted
        await self.booted_and_reported()
        for evse in list(self.plugged):
            self.unplug(evse)
        for evse in self.evse_ids:
            for fault in FAULTS:
                self.sim.set_fault(evse, fault, False)
            if self.station.view(evse).transaction is not None:
                await self.station.stop(evse, StopCause.OTHER)
            snapshot = self.station.view(evse).snapshot
            if snapshot is not None and snapshot.lock_feedback:  # a lock left stuck closed: drive it again
                await self.station.unlock(evse)
        for reservation in self.station.reservations():
            await self.station.cancel_reservation(reservation.id)
        if not self.station.station_view().operative:
            await self.station.set_availability(None, True, AvailabilityReason.OPERATOR)
        for evse in self.evse_ids:
            if AvailabilityReason.OPERATOR in self.station.view(evse).inoperative_reasons:
                await self.station.set_availability(evse, True, AvailabilityReason.OPERATOR)
        changed = {a: v for a, v in self.baseline.items() if self.model.value(a) != v}
        if changed:
            await self.set_variables(changed)
        for restore in self.restorers:
            await restore(self)
        await self.until(
            lambda: all(
                v.transaction is None and not v.finishing and not v.ev_connected and not v.faults
                for v in self.station.views()
            ),
            what="EVs gone, no transaction, no fault",
        )
        await self.booted_and_reported()
        async with asyncio.timeout(WITHIN):
            await self.frontend.journal.wait_empty()
        await self.barrier()


def _successor(stopped: Daemon) -> RemoteBoard:
    """A new board on the stopped daemon's real-time process. The old board's token reader is
    closed: the worker thread still polling it ends now, not up to TOKEN_WAIT_S later (the
    module's event loop waits for its worker threads when it closes: 4-5 s a module)."""
    board = stopped.board
    assert isinstance(board, RemoteBoard)
    if board.token_reader is not None:
        board.token_reader.close()
    return board.successor()


async def _restore_password(cs: Harness) -> None:
    """The module's <Configured basicAuthPassword> again, after a test changed it (A01)."""
    if cs.model.value(PASSWORD_VARIABLE) != PASSWORD:
        cs.csms.config.passwords[CP_ID] = PASSWORD
        since = len(cs.csms.upgrades)
        await cs.set_variables({PASSWORD_VARIABLE: PASSWORD})
        await cs.until(lambda: len(cs.csms.upgrades) > since, what="the reconnection with the password")
        await cs.connected()


async def _clear_display_messages(cs: Harness) -> None:
    """No display message configured (the O test cases' "Memory State: N/a"), the test CSMS
    sending no prices or personal messages in its TransactionEventResponses."""
    cs.csms.config = dataclasses.replace(cs.csms.config, price_per_kwh=None, personal_message=None)
    for message in cs.frontend.display_messages.ids() if cs.frontend.display_messages else ():
        assert (await cs.call("ClearDisplayMessage", {"id": message})) == {"status": "Accepted"}


async def _clear_charging_profiles(cs: Harness) -> None:
    """No charging profile the CSMS set (ClearChargingProfile without criteria, as a test system
    clears them)."""
    if cs.frontend.smart_charging.entries:
        await cs.call("ClearChargingProfile", {})


async def _restore_signing(cs: Harness) -> None:
    """The test CSMS signs every CSR with the module's CSMS root again."""
    assert cs.pki is not None
    cs.csms.signer = cs.pki.root
    cs.csms.config.sign_status = "Accepted"


def address(entry: dict[str, Any]) -> str:
    """A reportData / GetVariableResult entry's component-variable as the device model spells it
    (``EVSE@1.AvailabilityState``, ``DeviceDataCtrlr.ItemsPerMessage[GetReport]``)."""
    return f"{ComponentId.from_json(entry['component'])}.{VariableId.from_json(entry['variable'])}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    return str(value)


def unique_id() -> str:
    return str(uuid.uuid4())
