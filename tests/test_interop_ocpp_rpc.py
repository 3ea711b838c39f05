"""Interop: the real daemon on the simulated board against a CSMS that is not built on the
Python ``ocpp`` package: ocpp-rpc (npm) in strict mode, driven by tests/interop/csms.js, as an
OCPP 1.6J and as an OCPP 2.0.1 CSMS.

Strict mode checks every CALL evsed sends and every CALLRESULT it returns against ocpp-rpc's
own OCPP 1.6 / 2.0.1 schemas, so a mistake that both sides of an ``ocpp``-package pair share shows up
here. Skipped, with the reason, where Node or npm is missing or the lockfile's packages cannot
be installed (no registry).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BOARD, EV, LOOP, ONE_CONNECTOR
from firmware_bench import FileServer

from sim.release import Manufacturer

INTEROP = Path(__file__).parent / "interop"
WITHIN = 10.0
MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,Current.Offered,Frequency"
STATION = (
    BOARD
    + ONE_CONNECTOR
    + LOOP
    + """
[station]
charge_point_id = "CP-INTEROP"
vendor = "evsed"
model = "interop"

[charging]
authorize = "ocpp"

[ocpp]
url = "ws://127.0.0.1:{port}/ocpp"
reconnect_cap_s = 0.2

[ocpp.keys]
MeterValueSampleInterval = 1
MeterValuesSampledData = "{measurands}"
StopTxnSampledData = "Energy.Active.Import.Register"
"""
)
NON_CONFORMING = {"strictValidationFailure", "badMessage", "callError", "unexpected", "fatal"}


@pytest.fixture(scope="module")
def ocpp_rpc() -> Path:
    """tests/interop with its node_modules installed from the lockfile (npm ci), or a skip."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(f"interop with ocpp-rpc needs Node and npm: {'node' if node is None else 'npm'} not found")
    if not (INTEROP / "node_modules" / "ocpp-rpc").is_dir():
        # One quick retry: without a registry npm's defaults would spend a minute retrying.
        install = [
            npm,
            "ci",
            "--no-audit",
            "--no-fund",
            "--fetch-retries=1",
            "--fetch-retry-mintimeout=1000",
            "--fetch-retry-maxtimeout=2000",
        ]
        try:
            done = subprocess.run(install, cwd=INTEROP, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.skip("npm ci did not finish within 60 s (registry unreachable?)")
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if line.startswith("npm error")]
            pytest.skip(f"npm ci failed (registry unreachable?): {' / '.join(errors[:2])}")
    return INTEROP


class NodeCsms:
    """csms.js in a subprocess: its JSON-line events, and commands (CSMS -> station CALLs)."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._commands = 0

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.events.append(json.loads(line))
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any]) -> Any:
        async with asyncio.timeout(WITHIN):
            while not (found := predicate()):
                if self.process.returncode is not None:
                    raise AssertionError(f"csms.js exited {self.process.returncode}: {self.events[-3:]}")
                await self._changed.wait()
        return found

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.of("call") if action is None or e["action"] == action]

    def statuses(self, connector: int) -> list[str]:
        return [
            c["payload"]["status"] for c in self.calls("StatusNotification") if c["payload"]["connectorId"] == connector
        ]

    def status_of(self, connector: int) -> str | None:
        sent = self.statuses(connector)
        return sent[-1] if sent else None

    async def wait_status(self, connector: int, status: str) -> None:
        await self.wait_for(lambda: self.status_of(connector) == status)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CALL to the station; its CALLRESULT payload (a CALLERROR fails the test)."""
        self._commands += 1
        command = self._commands
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": command, "action": action, "payload": payload}).encode() + b"\n")
        await self.process.stdin.drain()
        answer = await self.wait_for(
            lambda: next((e for e in self.events if e.get("id") == command and e["event"] in ("result", "error")), None)
        )
        assert answer["event"] == "result", answer
        return answer["response"]


@contextlib.asynccontextmanager
async def node_csms(directory: Path, protocol: str = "ocpp1.6") -> AsyncIterator[tuple[NodeCsms, int]]:
    process = await asyncio.create_subprocess_exec(
        "node", "csms.js", protocol, cwd=directory, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    csms = NodeCsms(process)
    reader = asyncio.create_task(csms.read(), name="csms.js stdout")
    try:
        listening = await csms.wait_for(lambda: csms.of("listening"))
        yield csms, listening[0]["port"]
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await asyncio.gather(reader, return_exceptions=True)


async def test_a_remote_session_against_strict_ocpp_rpc(ocpp_rpc, start_daemon):
    async with node_csms(ocpp_rpc) as (csms, port):
        run = await start_daemon(STATION.format(port=port, measurands=MEASURANDS))
        connected = await csms.wait_for(lambda: csms.of("connected"))
        assert connected[0] == {"event": "connected", "identity": "CP-INTEROP", "protocol": "ocpp1.6"}
        await csms.wait_status(1, "Available")

        configuration = await csms.call("GetConfiguration", {})
        keys = {k["key"]: k for k in configuration["configurationKey"]}
        assert keys["MeterValueSampleInterval"]["value"] == "1"
        assert (await csms.call("GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey"]}))["unknownKey"] == [
            "NoSuchKey"
        ]
        assert (await csms.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"})) == {
            "status": "Accepted"
        }
        assert (await csms.call("ChangeConfiguration", {"key": "NoSuchKey", "value": "1"})) == {
            "status": "NotSupported"
        }
        before = len(csms.calls("StatusNotification"))
        trigger = {"requestedMessage": "StatusNotification", "connectorId": 1}
        assert (await csms.call("TriggerMessage", trigger)) == {"status": "Accepted"}
        await csms.wait_for(lambda: len(csms.calls("StatusNotification")) > before)
        assert (await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})) == {"status": "Accepted"}
        await csms.wait_for(lambda: csms.calls("Heartbeat"))
        assert (await csms.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})) == {
            "status": "Accepted"
        }
        assert (await csms.call("ClearCache", {})) == {"status": "Accepted"}
        assert (await csms.call("DataTransfer", {"vendorId": "acme", "data": "x"})) == {"status": "UnknownVendorId"}
        assert "listVersion" in await csms.call("GetLocalListVersion", {})
        assert (await csms.call("UnlockConnector", {"connectorId": 1}))["status"] in ("Unlocked", "NotSupported")

        run.sim.plug_in(1, **EV)
        await csms.wait_status(1, "Preparing")
        remote_start = {"connectorId": 1, "idTag": "TAG1"}
        assert (await csms.call("RemoteStartTransaction", remote_start)) == {"status": "Accepted"}
        start = (await csms.wait_for(lambda: csms.calls("StartTransaction")))[0]
        await csms.wait_status(1, "Charging")
        transaction_id = start["response"]["transactionId"]
        await csms.wait_for(
            lambda: any(c["payload"].get("transactionId") == transaction_id for c in csms.calls("MeterValues"))
        )
        assert (await csms.call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})) == {
            "status": "Accepted"
        }
        assert (await csms.call("RemoteStopTransaction", {"transactionId": transaction_id})) == {"status": "Accepted"}
        stop = (await csms.wait_for(lambda: csms.calls("StopTransaction")))[0]
        await csms.wait_status(1, "Finishing")
        run.sim.unplug(1)
        await csms.wait_status(1, "Available")
        await run.stop()
        await csms.wait_for(lambda: csms.of("disconnected"))

    assert [e for e in csms.events if e["event"] in NON_CONFORMING] == [], "strict peer saw non-conforming frames"
    assert csms.of("error") == []
    actions = [c["action"] for c in csms.calls()]
    assert actions[0] == "BootNotification"
    transaction = [a for a in actions if a in ("Authorize", "StartTransaction", "StopTransaction")]
    assert transaction == ["Authorize", "StartTransaction", "StopTransaction"]
    assert start["payload"]["connectorId"] == 1 and start["payload"]["idTag"] == "TAG1"
    assert start["response"]["idTagInfo"] == {"status": "Accepted"}
    during = actions[actions.index("StartTransaction") : actions.index("StopTransaction")]
    assert "MeterValues" in during
    periodic = [c["payload"] for c in csms.calls("MeterValues") if "transactionId" in c["payload"]]
    assert periodic and {p["transactionId"] for p in periodic} == {transaction_id}
    assert stop["payload"]["transactionId"] == transaction_id and stop["payload"]["reason"] == "Remote"
    assert stop["payload"]["meterStop"] >= start["payload"]["meterStart"]
    statuses = csms.statuses(1)
    collapsed = [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]
    # SuspendedEV: power offered, the EV not yet drawing (its reaction time)
    assert collapsed == ["Available", "Preparing", "SuspendedEV", "Charging", "Finishing", "Available"], collapsed


STATION_201 = (
    BOARD
    + ONE_CONNECTOR
    + LOOP
    + """
[station]
charge_point_id = "CP-INTEROP"
vendor = "evsed"
model = "interop"

[charging]
authorize = "ocpp"

[ocpp]
version = "2.0.1"
url = "ws://127.0.0.1:{port}/ocpp"

[firmware]
manufacturer_roots = "{roots}"
"""
)


async def firmware_and_log_requests(csms: NodeCsms, files: FileServer, manufacturer: Manufacturer,
                                    artifact: Path) -> None:  # fmt: skip
    """A signed UpdateFirmware whose download fails (Downloading, DownloadFailed) and a GetLog
    (Uploading, Uploaded, the archive on the server), every status checked by ocpp-rpc."""
    update = {"requestId": 11, "retries": 0, "firmware": {
        "location": files.url("/fw/missing.whl"), "retrieveDateTime": "2020-01-01T00:00:00Z",
        "signingCertificate": manufacturer.signer.cert_pem, "signature": manufacturer.sign(artifact)}}  # fmt: skip
    assert (await csms.call("UpdateFirmware", update)) == {"status": "Accepted"}
    failed = await csms.wait_for(
        lambda: [c for c in csms.calls("FirmwareStatusNotification") if c["payload"]["status"] == "DownloadFailed"]
    )
    assert failed[0]["payload"]["requestId"] == 11
    log = {"logType": "DiagnosticsLog", "requestId": 12, "log": {"remoteLocation": files.url("/up/interop.tar.gz")}}
    answer = await csms.call("GetLog", log)
    assert answer["status"] == "Accepted" and answer["filename"].endswith(".tar.gz")
    await csms.wait_for(
        lambda: [c for c in csms.calls("LogStatusNotification") if c["payload"]["status"] == "Uploaded"]
    )
    assert [c["payload"] for c in csms.calls("LogStatusNotification")] == [
        {"status": "Uploading", "requestId": 12}, {"status": "Uploaded", "requestId": 12}
    ]  # fmt: skip
    assert files.uploads["interop.tar.gz"][:2] == b"\x1f\x8b"  # a gzip file


async def test_provisioning_and_a_remote_session_against_strict_ocpp_rpc_2_0_1(ocpp_rpc, start_daemon, tmp_path):
    """Boot, GetBaseReport (every NotifyReport part checked by ocpp-rpc's 2.0.1 schemas),
    Set/GetVariables, TriggerMessage, a firmware update and a log upload, then a remote session:
    RequestStartTransaction, the TransactionEvents, RequestStopTransaction."""
    manufacturer = await asyncio.to_thread(Manufacturer.create)
    (roots := tmp_path / "manufacturer-roots.pem").write_text(manufacturer.root.cert_pem)
    (artifact := tmp_path / "release.whl").write_bytes(b"a release that is never served\n")
    files = FileServer()
    await files.start()
    async with node_csms(ocpp_rpc, "ocpp2.0.1") as (csms, port):
        run = await start_daemon(STATION_201.format(port=port, roots=roots))
        connected = await csms.wait_for(lambda: csms.of("connected"))
        assert connected[0] == {"event": "connected", "identity": "CP-INTEROP", "protocol": "ocpp2.0.1"}
        await csms.wait_for(lambda: csms.calls("StatusNotification"))
        assert csms.calls("BootNotification")[0]["payload"]["reason"] == "PowerUp"

        assert (await csms.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})) == {
            "status": "Accepted"
        }
        parts = await csms.wait_for(
            lambda: (
                [c["payload"] for c in csms.calls("NotifyReport")]
                if any(not c["payload"].get("tbc") for c in csms.calls("NotifyReport"))
                else None
            )
        )
        assert [p["seqNo"] for p in parts] == list(range(len(parts)))
        reported = {(e["component"]["name"], e["variable"]["name"]) for p in parts for e in p["reportData"]}
        assert {("OCPPCommCtrlr", "HeartbeatInterval"), ("EVSE", "AvailabilityState")} <= reported
        heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
        set_result = await csms.call("SetVariables", {"setVariableData": [{**heartbeat, "attributeValue": "120"}]})
        assert set_result["setVariableResult"][0]["attributeStatus"] == "Accepted"
        get_result = await csms.call("GetVariables", {"getVariableData": [heartbeat]})
        assert get_result["getVariableResult"][0]["attributeValue"] == "120"
        assert (await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})) == {"status": "Accepted"}
        await csms.wait_for(lambda: csms.calls("Heartbeat"))
        try:
            await firmware_and_log_requests(csms, files, manufacturer, artifact)
        finally:
            await files.stop()

        run.sim.plug_in(1, **EV)
        await csms.wait_for(
            lambda: any(c["payload"]["connectorStatus"] == "Occupied" for c in csms.calls("StatusNotification"))
        )
        start = {"idToken": {"idToken": "TAG1", "type": "ISO14443"}, "remoteStartId": 7, "evseId": 1}
        assert (await csms.call("RequestStartTransaction", start))["status"] == "Accepted"
        started = (await csms.wait_for(lambda: csms.calls("TransactionEvent")))[0]["payload"]
        transaction_id = started["transactionInfo"]["transactionId"]
        assert (await csms.call("RequestStopTransaction", {"transactionId": transaction_id})) == {"status": "Accepted"}
        await csms.wait_for(lambda: [c for c in csms.calls("TransactionEvent") if c["payload"]["eventType"] == "Ended"])
        await run.stop()
        await csms.wait_for(lambda: csms.of("disconnected"))

    assert [e for e in csms.events if e["event"] in NON_CONFORMING] == [], "strict peer saw non-conforming frames"
    assert csms.of("error") == []
    assert csms.calls()[0]["action"] == "BootNotification"
    assert [c["action"] for c in csms.calls() if c["action"] == "Authorize"] == ["Authorize"]  # AuthorizeRemoteStart
    events = [c["payload"] for c in csms.calls("TransactionEvent")]
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert (events[0]["eventType"], events[0]["triggerReason"]) == ("Started", "RemoteStart")
    assert events[0]["transactionInfo"]["remoteStartId"] == 7 and events[0]["idToken"] == start["idToken"]
    ended = events[-1]
    assert (ended["eventType"], ended["transactionInfo"]["stoppedReason"]) == ("Ended", "Remote")
    assert {e["transactionInfo"]["transactionId"] for e in events} == {transaction_id}
