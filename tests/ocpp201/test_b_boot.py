"""Part 6 section 2.3, B Provisioning: cold boot (B01-B03) and the Pending / Rejected states."""

from __future__ import annotations

from ocpp201.harness import HEARTBEAT_INTERVAL, MODULE, CallErrorFrom, Harness
from ocpp201.states import booted, statuses_of_all_connectors

pytestmark = MODULE
INTERVAL = 1  # <Configured heartbeatInterval> of the Pending / Rejected answers: the station waits that long


async def test_TC_B_01_CS(cs: Harness) -> None:
    """Cold Boot Charging Station - Accepted: reusable state Booted (a power cycle); every
    connector's state is reported (post scenario validation)."""
    boot = await booted(cs)
    assert boot["reason"] == "PowerUp"  # B01.FR.09: nothing stored a reason before this boot
    assert boot["chargingStation"] == {"model": "octt", "vendorName": "evsed", "serialNumber": "SN-TC-1",
                                       "firmwareVersion": boot["chargingStation"]["firmwareVersion"]}  # fmt: skip
    assert cs.variable("OCPPCommCtrlr.HeartbeatInterval") == HEARTBEAT_INTERVAL  # B01.FR.04


async def test_TC_B_02_CS(cs: Harness) -> None:
    """Cold Boot Charging Station - Pending: the CSMS reads and writes the device model while
    Pending, a RequestStartTransaction is Rejected, a triggered BootNotification comes at once."""
    cs.csms.config.boot_status, cs.csms.config.heartbeat_interval = "Pending", HEARTBEAT_INTERVAL
    since = cs.mark()
    await cs.power_cycle()
    await cs.expect("BootNotification", since=since)  # step 1
    await cs.until(lambda: cs.frontend.registration.status == "Pending", what="Pending")
    result = (await cs.call("SetVariables", {"setVariableData": [{"variable": {"name": "OfflineThreshold"},
              "component": {"name": "OCPPCommCtrlr"}, "attributeValue": "300"}]}))["setVariableResult"][0]  # fmt: skip
    assert result["attributeStatus"] == "Accepted"  # step 4
    result = (await cs.call("GetVariables", {"getVariableData": [{"variable": {"name": "OfflineThreshold"},
              "component": {"name": "OCPPCommCtrlr"}}]}))["getVariableResult"][0]  # fmt: skip
    assert (result["attributeStatus"], result["attributeValue"]) == ("Accepted", "300")  # step 6
    reports = cs.mark()
    assert (await cs.call("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}))["status"] == "Accepted"
    last = await cs.expect("NotifyReport", lambda p: p["requestId"] == 7 and not p.get("tbc"), reports)  # step 9
    parts = cs.calls("NotifyReport", reports, lambda p: p["requestId"] == 7)
    assert [p["seqNo"] for p in parts] == list(range(last["seqNo"] + 1))
    start = await cs.call("RequestStartTransaction", {"idToken": {"idToken": "04A2B3C4", "type": "ISO14443"},
                                                      "remoteStartId": 1, "evseId": 1})  # fmt: skip
    assert start["status"] == "Rejected"  # step 12, B02.FR.05
    assert cs.calls("StatusNotification", since) == []  # B02.FR.02: nothing of its own while Pending
    cs.csms.config.boot_status = "Accepted"
    triggered = cs.mark()
    assert (await cs.call("TriggerMessage", {"requestedMessage": "BootNotification"}))["status"] == "Accepted"
    boot = await cs.expect("BootNotification", since=triggered)  # step 15: long before the interval
    assert boot["reason"] == "Triggered"
    await statuses_of_all_connectors(cs, triggered)  # step 17


async def test_TC_B_03_CS(cs: Harness) -> None:
    """Cold Boot Charging Station - Rejected: BootNotification again after the interval, nothing
    else in the meantime; then Accepted and every connector's state."""
    cs.csms.config.boot_status, cs.csms.config.heartbeat_interval = "Rejected", INTERVAL
    since = cs.mark()
    await cs.power_cycle()
    first = await cs.expect_frame("BootNotification", since=since)  # step 1
    await cs.until(lambda: cs.frontend.registration.status == "Rejected", what="Rejected")
    cs.csms.config.boot_status, cs.csms.config.heartbeat_interval = "Accepted", HEARTBEAT_INTERVAL
    second = await cs.expect_frame("BootNotification", since=first.index + 1)  # step 3
    answered = next(f for f in cs.frames[first.index :] if f.direction == "out" and f.message[1] == first.message[1])
    assert second.at - answered.at >= INTERVAL  # B03.FR.06
    between = [f.action for f in cs.call_frames(first.index + 1) if f.index < second.index]
    assert between == []  # B03.FR.02: not any other message
    await statuses_of_all_connectors(cs, second.index)  # step 5


async def test_TC_B_30_CS(cs: Harness) -> None:
    """Cold Boot Charging Station - Pending/Rejected - SecurityError: while Rejected, a
    GetBaseReport gets CALLERROR SecurityError (B03.FR.08)."""
    cs.csms.config.boot_status, cs.csms.config.heartbeat_interval = "Rejected", HEARTBEAT_INTERVAL
    since = cs.mark()
    await cs.power_cycle()
    await cs.expect("BootNotification", since=since)  # step 1
    await cs.until(lambda: cs.frontend.registration.status == "Rejected", what="Rejected")
    try:
        await cs.call("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
    except CallErrorFrom as error:
        assert error.code == "SecurityError"  # step 4
    else:
        raise AssertionError("GetBaseReport was answered while Rejected")
    assert cs.calls("NotifyReport", since) == []


async def test_the_boot_reason_outlives_restarts_until_accepted(cs: Harness) -> None:
    """B01.FR.09: the reason a reset gave is stored before its restart and kept until a
    BootNotification carrying it is Accepted, across a power cut meanwhile; then PowerUp again."""
    cs.csms.config.boot_status = "Pending"
    since = cs.mark()
    assert (await cs.call("Reset", {"type": "Immediate"}))["status"] == "Accepted"
    await cs.restarted()
    assert (await cs.expect("BootNotification", since=since))["reason"] == "RemoteReset"
    await cs.until(lambda: cs.frontend.registration.status == "Pending", what="Pending")
    since = cs.mark()
    cs.csms.config.boot_status = "Accepted"
    await cs.power_cycle()
    assert (await cs.expect("BootNotification", since=since))["reason"] == "RemoteReset"
    await cs.until(lambda: cs.frontend.queue_open.is_set(), what="Accepted")
    since = cs.mark()
    await cs.power_cycle()
    assert (await cs.expect("BootNotification", since=since))["reason"] == "PowerUp"
