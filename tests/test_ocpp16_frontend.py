"""The OCPP 1.6J front end end to end: the real daemon on the simulated board, a real websocket
to the bench CSMS on loopback, a real SQLite file in tmp_path."""

import asyncio
import json
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

import aiohttp
import pytest
from conftest import read_log
from ocpp_bench import CONFIG, CONNECTOR, EV, MEASURANDS, WITHIN, until, v16_status

from controller.config import load_board, parse
from controller.core.vocabulary import StopCause
from controller.ocpp import versions
from hal.config import ConfigError

REPO = Path(__file__).resolve().parents[1]


async def test_boot_statuses_and_a_whole_transaction(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait(lambda c: c.received["StatusNotification"] >= 2)
    boot = bench.payloads("BootNotification")[0]
    assert boot == {
        "chargePointVendor": "evsed",
        "chargePointModel": "bench",
        "chargePointSerialNumber": "SN-1",
        "firmwareVersion": boot["firmwareVersion"],
        **({"meterSerialNumber": boot["meterSerialNumber"]} if "meterSerialNumber" in boot else {}),
    }
    first = bench.csms.calls_received("BootNotification")[0]
    frames = [json.loads(m["text"]) for m in bench.csms.messages() if m["direction"] == "in"]
    assert frames[0] == first, "BootNotification is the first CALL"
    statuses = bench.payloads("StatusNotification")
    assert {(s["connectorId"], s["status"], s["errorCode"]) for s in statuses[:2]} == {
        (0, "Available", "NoError"),
        (1, "Available", "NoError"),
    }
    assert daemon.clock.source == "csms"

    sim.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    sim.swipe("TAG1")
    await bench.wait_status(1, "Charging")
    assert bench.payloads("Authorize") == [{"idTag": "TAG1"}]
    start = bench.payloads("StartTransaction")[0]
    assert start["connectorId"] == 1 and start["idTag"] == "TAG1" and isinstance(start["meterStart"], int)

    await bench.wait(lambda c: c.received["MeterValues"] >= 2)
    mv = bench.payloads("MeterValues")[-1]
    assert mv["connectorId"] == 1 and mv["transactionId"] == 1
    samples = mv["meterValue"][0]["sampledValue"]
    by = {(s["measurand"], s.get("phase")): s for s in samples}
    assert by[("Energy.Active.Import.Register", None)]["unit"] == "Wh"
    assert by[("Power.Active.Import", None)]["unit"] == "W"
    assert {p for (m, p) in by if m == "Current.Import"} == {"L1", "L2", "L3"}
    assert {p for (m, p) in by if m == "Voltage"} == {"L1-N", "L2-N", "L3-N"}
    assert ("Current.Offered", None) in by and ("Frequency", None) in by
    assert "unit" not in by[("Frequency", None)]
    assert all(s["context"] == "Sample.Periodic" and s["location"] == "Outlet" for s in samples)

    sim.swipe("TAG1")
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    stop = bench.payloads("StopTransaction")[0]
    assert stop["transactionId"] == 1 and stop["reason"] == "Local" and stop["meterStop"] >= start["meterStart"]
    contexts = [v["sampledValue"][0]["context"] for v in stop["transactionData"]]
    assert contexts[0] == "Transaction.Begin" and contexts[-1] == "Transaction.End"
    assert all(v["sampledValue"][0]["measurand"] == "Energy.Active.Import.Register" for v in stop["transactionData"])
    await bench.wait_status(1, "Finishing")
    sim.unplug(1)
    await bench.wait_status(1, "Available")
    assert bench.csms.callerrors == 0


@pytest.mark.parametrize("first", ["Pending", "Rejected"])
async def test_nothing_but_boot_until_accepted_then_retry_after_interval(bench, first):
    bench.csms.config.boot_status = first
    bench.csms.config.heartbeat_interval = 1
    await bench.start()
    await bench.wait(lambda c: c.received["BootNotification"] >= 2)
    assert set(bench.csms.received) == {"BootNotification"}, "no other CALL before Accepted"
    times = [m["at"] for m in bench.csms.messages() if m["direction"] == "in" and "BootNotification" in m["text"]]
    assert times[1] - times[0] >= 0.9, "the next BootNotification waits for the interval"
    change = {"key": "MeterValueSampleInterval", "value": "5"}
    if first == "Pending":  # the CSMS may configure the station meanwhile
        assert (await bench.call("ChangeConfiguration", change)) == {"status": "Accepted"}
        bench.daemon.board.simulation.plug_in(1, **EV)
        await until(lambda: v16_status(bench.daemon, 1) == "Preparing")
        # ... but a transaction could not be announced: RemoteStart is Rejected and nothing starts.
        remote = {"idTag": "TAG1", "connectorId": 1}
        assert (await bench.call("RemoteStartTransaction", remote)) == {"status": "Rejected"}
        assert bench.daemon.station.station_view().pending is None and bench.daemon.station.view(1).transaction is None
    else:  # 4.2: while Rejected the station answers nothing
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await bench.csms.call("CP-TEST", "ChangeConfiguration", change)
        assert bench.daemon.ocpp.keys.integer("MeterValueSampleInterval") == 1
    bench.csms.config.boot_status = "Accepted"
    await bench.wait(lambda c: c.received["StatusNotification"] >= 2)
    await bench.wait(lambda c: c.received["Heartbeat"] >= 1)  # the boot's interval is the heartbeat's
    assert bench.daemon.ocpp.keys.integer("HeartbeatInterval") == 1


async def test_heartbeat_interval_from_change_configuration_and_clock_from_csms(bench):
    daemon = await bench.start()
    await bench.wait(lambda c: c.received["StatusNotification"] >= 2)
    assert bench.csms.received["Heartbeat"] == 0
    assert (await bench.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "1"}))["status"] == "Accepted"
    await bench.wait(lambda c: c.received["Heartbeat"] >= 2)
    assert daemon.clock.source == "csms" and abs(daemon.clock.offset_s) < 5


async def test_configuration_keys_in_any_letter_case(bench, tmp_path):
    # CiString50Type (7.17): names in any letter case, in [ocpp.keys] as over the wire;
    # answers spell them as the specification does.
    bench.keys = "localpreauthorize = true\nCONNECTIONTIMEOUT = 45\n"
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    got = await bench.call("GetConfiguration", {"key": ["LocalPreAuthorize", "connectionTimeout", "Bogus"]})
    assert got == {"configurationKey": [{"key": "LocalPreauthorize", "readonly": False, "value": "true"},
                                        {"key": "ConnectionTimeOut", "readonly": False, "value": "45"}],
                   "unknownKey": ["Bogus"]}  # fmt: skip
    for key, value in [("LocalPreAuthorize", "false"), ("ConnectionTimeout", "20")]:
        assert await bench.call("ChangeConfiguration", {"key": key, "value": value}) == {"status": "Accepted"}
    assert daemon.ocpp.keys.flag("LocalPreauthorize") is False
    assert daemon.station.policy.connection_timeout_s == 20  # the key's listener ran
    # The secret in any letter case is still a secret, and a profile raised in lower case reconnects.
    secret = "Tr0ub4dor&3-Horse:Staple"
    assert await bench.call("ChangeConfiguration", {"key": "authorizationkey", "value": secret}) == {
        "status": "Accepted"
    }
    connections = bench.csms.connections
    assert await bench.call("ChangeConfiguration", {"key": "securityprofile", "value": "1"}) == {"status": "Accepted"}
    await bench.wait(lambda c: c.connections > connections and c.received["BootNotification"] >= 1)
    assert daemon.ocpp.security.profile == 1
    assert "authorizationkey" in read_log(tmp_path / "logs", "ocpp.log")
    assert secret not in read_log(tmp_path / "logs", "ocpp.log")


async def test_remote_start_authorizes_then_remote_stop(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    assert (await bench.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 7})) == {"status": "Rejected"}
    daemon.board.simulation.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    assert (await bench.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})) == {"status": "Accepted"}
    await bench.wait(lambda c: c.received["StartTransaction"] >= 1)
    assert bench.payloads("Authorize") == [{"idTag": "TAG1"}]  # AuthorizeRemoteTxRequests = true
    await bench.wait_status(1, "Charging")
    busy = await bench.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert busy == {"status": "Rejected"}
    assert (await bench.call("RemoteStopTransaction", {"transactionId": 99})) == {"status": "Rejected"}
    assert (await bench.call("RemoteStopTransaction", {"transactionId": 1})) == {"status": "Accepted"}
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    stop = bench.payloads("StopTransaction")[0]
    assert stop["transactionId"] == 1 and stop["reason"] == "Remote"


async def test_start_transaction_not_accepted_stops_with_deauthorized(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    assert (await bench.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"}))[
        "status"
    ] == "Accepted"
    daemon.board.simulation.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    assert (await bench.call("RemoteStartTransaction", {"idTag": "STRANGER"}))["status"] == "Accepted"
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    assert bench.payloads("Authorize") == []
    assert bench.payloads("StopTransaction")[0]["reason"] == "DeAuthorized"
    await until(lambda: daemon.station.view(1).transaction is None)


async def test_change_availability_scheduled_and_persisted(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    bad = await bench.call("ChangeAvailability", {"connectorId": 5, "type": "Inoperative"})
    assert bad == {"status": "Rejected"}
    done = await bench.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert done == {"status": "Accepted"}
    await bench.wait_status(1, "Unavailable")
    await bench.wait_status(0, "Unavailable")  # its only connector is out of service
    await bench.stop()
    bench.csms.log.clear()
    daemon = await bench.start()
    await bench.wait_status(1, "Unavailable")
    assert not daemon.station.view(1).operative
    assert (await bench.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"}))["status"] == "Accepted"
    await bench.wait_status(1, "Available")
    await bench.wait_status(0, "Available")
    daemon.board.simulation.plug_in(1, **EV)
    daemon.board.simulation.swipe("TAG1")
    await bench.wait_status(1, "Charging")
    scheduled = await bench.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert scheduled == {"status": "Scheduled"}
    daemon.board.simulation.swipe("TAG1")
    await bench.wait_status(1, "Unavailable")


async def test_soft_reset_stops_transactions_then_asks_the_daemon_to_restart(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    daemon.board.simulation.plug_in(1, **EV)
    daemon.board.simulation.swipe("TAG1")
    await bench.wait(lambda c: c.received["StartTransaction"] >= 1)
    assert (await bench.call("Reset", {"type": "Soft"})) == {"status": "Accepted"}
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    assert bench.payloads("StopTransaction")[0]["reason"] == "SoftReset"
    async with asyncio.timeout(WITHIN):
        await daemon.stopping.wait()
    assert daemon.restart_requested == "Soft"
    events = [p["type"] for p in bench.payloads("SecurityEventNotification")]
    assert events[-1] == "ResetOrReboot", events


async def test_trigger_message_and_small_requests(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")  # settled: no status change of its own from here on
    before = bench.csms.received["StatusNotification"]
    trigger = {"requestedMessage": "StatusNotification", "connectorId": 1}
    assert (await bench.call("TriggerMessage", trigger)) == {"status": "Accepted"}
    await bench.wait(lambda c: c.received["StatusNotification"] == before + 1)
    assert bench.payloads("StatusNotification")[-1]["connectorId"] == 1
    assert (await bench.call("TriggerMessage", {"requestedMessage": "StatusNotification"}))["status"] == "Accepted"
    await bench.wait(lambda c: c.received["StatusNotification"] == before + 3)  # connector 0 and 1
    for message, action in [
        ("Heartbeat", "Heartbeat"),
        ("BootNotification", "BootNotification"),
        ("MeterValues", "MeterValues"),
        ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
        ("FirmwareStatusNotification", "FirmwareStatusNotification"),
    ]:
        count = bench.csms.received[action]
        assert (await bench.call("TriggerMessage", {"requestedMessage": message}))["status"] == "Accepted"
        await bench.wait(lambda c, a=action, n=count: c.received[a] >= n + 1)
    assert bench.payloads("DiagnosticsStatusNotification")[-1] == {"status": "Idle"}
    assert bench.payloads("FirmwareStatusNotification")[-1] == {"status": "Idle"}
    mv = bench.payloads("MeterValues")[-1]
    assert mv["connectorId"] == 1 and "transactionId" not in mv
    assert {s["context"] for s in mv["meterValue"][0]["sampledValue"]} == {"Trigger"}
    bad = await bench.call("TriggerMessage", {"requestedMessage": "Heartbeat", "connectorId": 4})
    assert bad == {"status": "Rejected"}
    assert (await bench.call("DataTransfer", {"vendorId": "acme"})) == {"status": "UnknownVendorId"}
    assert (await bench.call("ClearCache", {})) == {"status": "Accepted"}
    assert (await bench.call("GetLocalListVersion", {})) == {"listVersion": 0}  # no list received yet
    assert (await bench.call("UnlockConnector", {"connectorId": 3})) == {"status": "NotSupported"}
    expected = "Unlocked" if daemon.board.connector(1).lock is not None else "NotSupported"
    assert (await bench.call("UnlockConnector", {"connectorId": 1})) == {"status": expected}
    assert bench.csms.callerrors == 0


STATION_PROCESS = """
import asyncio, sys
from controller.config import parse
from controller.ocpp import versions
from controller.core.vocabulary import StopCause
from controller.daemon import Daemon
from controller.safety.process import open_board
from hal.config import ConfigError

async def main():
    config = parse(sys.stdin.read(), "child")
    daemon = Daemon(config, open_board(config))
    await daemon.start()
    daemon.board.simulation.plug_in(1, 16.0, 3, 60.0, 0.2)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_transaction_open_at_a_kill_is_stopped_with_power_loss_after_restart(bench, tmp_path):
    text = CONFIG.format(
        state_dir=tmp_path, port=bench.csms.port, measurands=MEASURANDS, connectors=CONNECTOR.format(id=1)
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STATION_PROCESS, stdin=PIPE, stdout=PIPE, cwd=REPO
    )
    try:
        child.stdin.write(text.encode())
        child.stdin.close()
        async with asyncio.timeout(WITHIN):
            assert (await child.stdout.readline()).strip() == b"ready"
        await bench.wait_status(1, "Preparing")
        assert (await bench.call("RemoteStartTransaction", {"idTag": "TAG1"}))["status"] == "Accepted"
        # A MeterValues carrying transactionId 1 proves the confirmed Start is committed.
        await bench.wait(lambda _c: any(p.get("transactionId") == 1 for p in bench.payloads("MeterValues")))
    finally:
        child.kill()
        await child.wait()
    assert bench.csms.received["StopTransaction"] == 0
    daemon = await bench.start()
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    stop = bench.payloads("StopTransaction")[0]
    assert stop["transactionId"] == 1 and stop["reason"] == "PowerLoss"
    assert stop["meterStop"] >= bench.payloads("StartTransaction")[0]["meterStart"]
    assert bench.csms.received["StartTransaction"] == 1
    assert daemon.ledger.open_transactions() == []


async def test_offline_transaction_from_the_cache_is_delivered_after_reconnect(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    api = f"http://127.0.0.1:{daemon.api.port}"
    await bench.wait_status(1, "Available")
    sim.plug_in(1, **EV)
    sim.swipe("TAG1")  # online: Authorize puts TAG1 in the cache
    await bench.wait(lambda c: c.received["StartTransaction"] >= 1)
    sim.swipe("TAG1")
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    async with asyncio.timeout(WITHIN):  # confirmed, not just received: no resend after the reconnect
        await daemon.ocpp.journal.wait_empty()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api}/api/ocpp/disconnect") as r:
            assert r.status == 200
        await until(lambda: not daemon.ocpp.link.connected.is_set())
        async with http.get(f"{api}/api/status") as r:
            ocpp = (await r.json())["ocpp"]
        assert ocpp["state"] == "disconnected" and ocpp["url"].endswith("/CP-TEST")
        sim.unplug(1)
        await until(lambda: v16_status(daemon, 1) == "Available")
        sim.plug_in(1, **EV)
        sim.swipe("STRANGER")  # unknown offline, AllowOfflineTxForUnknownId = false: rejected
        sim.swipe("TAG1")  # cached Accepted, LocalAuthorizeOffline = true
        await until(lambda: daemon.station.view(1).transaction is not None)
        assert daemon.station.view(1).transaction.token.id == "TAG1"
        sim.swipe("TAG1")
        await until(lambda: daemon.station.view(1).transaction is None)
        assert bench.csms.received["StartTransaction"] == 1
        async with http.post(f"{api}/api/ocpp/connect") as r:
            assert r.status == 200
    await bench.wait(lambda c: c.received["StopTransaction"] >= 2)
    assert bench.payloads("StartTransaction")[1]["idTag"] == "TAG1"
    assert bench.payloads("StopTransaction")[1]["transactionId"] == 2
    assert bench.payloads("Authorize") == [{"idTag": "TAG1"}]
    await bench.wait_status(1, "Finishing")  # the offline changes end in one report of the current status


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[ocpp]\nurl = "http://x"', "websocket URL"),
        ('[ocpp]\nurl = "ws://x"\nversion = "1.5"', "version"),
        ('[ocpp]\nurl = "ws://x"\n[ocpp.keys]\nHeartbeatIntervl = 5', "HeartbeatIntervl"),
        ('[ocpp]\nurl = "ws://x"\n[ocpp.keys]\nHeartbeatInterval = -5', "HeartbeatInterval"),
        (
            '[ocpp]\nurl = "ws://x"\n[ocpp.keys]\nHeartbeatInterval = 5\nheartbeatinterval = 6',
            "heartbeatinterval: HeartbeatInterval is set twice",
        ),
        ('[ocpp]\nurl = "ws://x"\n[ocpp.keys]\nauthorizationKey = "0011"', "a secret does not belong"),
    ],
)
def test_ocpp_section_errors_name_the_key(tmp_path, section, message):
    text = CONFIG.format(state_dir=tmp_path, port=1, measurands=MEASURANDS, connectors=CONNECTOR.format(id=1))
    text = text[: text.index("[ocpp]")] + section
    with pytest.raises(ConfigError, match=message):
        config = parse(text, "test")
        versions.check(config)  # the chosen version's keys, as evsed check and the daemon's start do
        load_board(config).close()


async def test_a_fault_that_ends_the_transaction_is_reason_other_in_1_6(bench):
    """The core keeps the fault's own cause (GroundFault); 1.6 has no such Reason: Other."""
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    daemon.board.simulation.plug_in(1, **EV)
    daemon.board.simulation.swipe("TAG1")
    await bench.wait_status(1, "Charging")
    daemon.board.simulation.set_fault(1, "rcd", True)
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    [stop] = bench.payloads("StopTransaction")
    assert (stop["reason"], stop["idTag"]) == ("Other", "TAG1")
    assert daemon.ledger.history(1)[0].stop_cause is StopCause.GROUND_FAULT
    await bench.wait_status(1, "Faulted")
    assert bench.payloads("StatusNotification")[-1]["errorCode"] == "GroundFailure"
