"""Part 6 section 2.3, B Provisioning: Reset of the station and of one EVSE, with and without a
transaction (B11, B12; errata 2.14-2.16, 6.2.13-6.2.16)."""

from __future__ import annotations

from ocpp201.harness import MODULE, SECOND_TOKEN, VALID_TOKEN, Harness, require
from ocpp201.states import (
    authorized_local,
    connector_status,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    ev_disconnected,
    reserved,
    statuses_of_all_connectors,
    stop_authorized_local,
    unavailable,
)

pytestmark = MODULE


async def reset(cs: Harness, kind: str, evse: int | None = None) -> str:
    payload = {"type": kind} | ({"evseId": evse} if evse is not None else {})
    return str((await cs.call("Reset", payload))["status"])


async def rebooted(cs: Harness, since: int, reason: str, expected: dict[int, str] | None = None) -> None:
    """The station restarted: BootNotification with ``reason``, then every connector's state."""
    await cs.restarted()
    boot = await cs.expect("BootNotification", since=since)
    assert boot["reason"] == reason
    booted_at = cs.mark() if not cs.calls("StatusNotification", since) else since
    await statuses_of_all_connectors(cs, booted_at, expected)


async def test_TC_B_20_CS(cs: Harness) -> None:
    """Reset Charging Station - Without ongoing transaction - OnIdle: Accepted, the station reboots
    (BootNotification RemoteReset), every connector Available."""
    since = cs.mark()
    assert await reset(cs, "OnIdle") == "Accepted"  # step 2
    await rebooted(cs, since, "RemoteReset")  # steps 3, 5


async def test_TC_B_21_CS(cs: Harness) -> None:
    """Reset Charging Station - With Ongoing Transaction - OnIdle: Scheduled; the reboot follows the
    end of the transaction (BootNotification ScheduledReset); the EV still there (Occupied); a
    SecurityEventNotification."""
    await energy_transfer_started_from_idle(cs)
    since = cs.mark()
    assert await reset(cs, "OnIdle") == "Scheduled"  # step 2
    await stop_authorized_local(cs)  # step 3; TxStopPoint Authorized: the transaction ends here
    await rebooted(cs, since, "ScheduledReset", {1: "Occupied"})  # steps 7, 9
    event = await cs.expect("SecurityEventNotification", since=since)  # step 11
    assert event["type"] in ("StartupOfTheDevice", "ResetOrReboot")


async def test_TC_B_22_CS(cs: Harness) -> None:
    """Reset Charging Station - With Ongoing Transaction - Immediate: the transaction ends
    (ResetCommand, ImmediateReset, EVConnected, no idToken) before the reboot (RemoteReset); the
    EV's connector Occupied after it, the others Available."""
    started = await energy_transfer_started_from_idle(cs)
    tx = started["transactionInfo"]["transactionId"]
    since = cs.mark()
    assert await reset(cs, "Immediate") == "Accepted"  # step 2
    ended = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx, since)
    assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "ResetCommand")  # step 3
    assert ended["transactionInfo"]["chargingState"] == "EVConnected"
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset" and "idToken" not in ended
    boot = await cs.expect_frame("BootNotification", since=since)
    assert cs.frames[since:].index(boot) > 0 and boot.payload["reason"] == "RemoteReset"  # step 5
    assert cs.calls("TransactionEvent", boot.index) == []  # ended before the reboot
    await rebooted(cs, since, "RemoteReset", {1: "Occupied"})  # step 7


async def test_TC_B_23_CS(cs: Harness) -> None:
    """Reset Charging Station - Unavailable persists reset: EVSE 1 Inoperative, Reset OnIdle, after the
    reboot connector 1 is Unavailable, the other Available (B01.FR.07, G03.FR.08)."""
    await unavailable(cs, 1)
    since = cs.mark()
    assert await reset(cs, "OnIdle") == "Accepted"
    await rebooted(cs, since, "RemoteReset", {1: "Unavailable"})


async def test_TC_B_24_CS(cs: Harness) -> None:
    """Reset Charging Station - Reserved persists reset: EVSE 1 Reserved, Reset OnIdle Accepted (a
    reservation is no transaction), after the reboot connector 1 is Reserved, the other Available;
    the reservation still holds (only its token may start there)."""
    await reserved(cs, 1, VALID_TOKEN, 24)
    since = cs.mark()
    assert await reset(cs, "OnIdle") == "Accepted"  # step 2
    await rebooted(cs, since, "RemoteReset", {1: "Reserved"})  # steps 3, 5
    assert [r.id for r in cs.station.reservations()] == [24]
    refused = await cs.call("RequestStartTransaction", {"idToken": SECOND_TOKEN, "remoteStartId": 24, "evseId": 1})
    assert refused["status"] == "Rejected"


async def test_TC_B_25_CS(cs: Harness) -> None:
    """Reset EVSE - Without ongoing transaction: Accepted, the station itself keeps running."""
    require("C-13")
    since = cs.mark()
    assert await reset(cs, "OnIdle", 1) == "Accepted"
    await cs.barrier()
    assert cs.calls("BootNotification", since) == []


async def test_TC_B_26_CS(cs: Harness) -> None:
    """Reset EVSE - With Ongoing Transaction - OnIdle: Scheduled; the transaction goes on until the
    driver stops it, then the EVSE is reset (its session forgotten)."""
    require("C-13")
    started = await energy_transfer_started_from_idle(cs)
    since = cs.mark()
    assert await reset(cs, "OnIdle", 1) == "Scheduled"  # step 2
    await cs.barrier()
    assert cs.calls("TransactionEvent", since, lambda p: p["eventType"] == "Ended") == []
    await stop_authorized_local(cs)  # step 3
    await ev_disconnected(cs)  # step 5
    ended = cs.calls("TransactionEvent", since, lambda p: p["eventType"] == "Ended")
    assert [e["transactionInfo"]["transactionId"] for e in ended] == [started["transactionInfo"]["transactionId"]]
    assert cs.calls("BootNotification", since) == []


async def test_TC_B_27_CS(cs: Harness) -> None:
    """Reset EVSE - With Ongoing Transaction - Immediate: the EVSE's transaction ends (ResetCommand,
    ImmediateReset, EVConnected); the station keeps running."""
    require("C-13")
    await energy_transfer_started_from_idle(cs)
    since = cs.mark()
    assert await reset(cs, "Immediate", 1) == "Accepted"  # step 2
    ended = await cs.expect("TransactionEvent", lambda p: p["eventType"] == "Ended", since)  # step 3
    assert ended["triggerReason"] == "ResetCommand"
    assert ended["transactionInfo"]["chargingState"] == "EVConnected"
    assert ended["transactionInfo"]["stoppedReason"] == "ImmediateReset"
    await cs.until(lambda: cs.station.view(1).transaction is None, what="EVSE 1 without a transaction")
    assert cs.calls("BootNotification", since) == []


async def test_TC_B_28_CS(cs: Harness) -> None:
    """Reset EVSE - Not Supported: for stations that cannot reset one EVSE (NOT C-13)."""
    require("C-13", declared=False)


async def test_TC_B_29_CS(cs: Harness) -> None:
    """Reset EVSE - With ongoing transaction - Not Supported: for stations without C-13."""
    require("C-13", declared=False)


async def test_TC_B_41_CS(cs: Harness) -> None:
    """Reset Charging Station - With multiple ongoing transactions - OnIdle: Scheduled; the reboot
    (ScheduledReset) comes once both transactions ended, not after the first."""
    await authorized_local(cs, VALID_TOKEN)
    await energy_transfer_started(cs, 1)
    await authorized_local(cs, SECOND_TOKEN)
    await energy_transfer_started(cs, 2)
    since = cs.mark()
    assert await reset(cs, "OnIdle") == "Scheduled"  # step 2
    await stop_authorized_local(cs, 1, VALID_TOKEN)  # steps 3-6
    await ev_disconnected(cs, 1)
    await cs.barrier()
    assert cs.calls("BootNotification", since) == []  # one transaction still runs
    await stop_authorized_local(cs, 2, SECOND_TOKEN)  # steps 7, 8
    await rebooted(cs, since, "ScheduledReset", {2: "Occupied"})  # steps 11, 13
    assert await cs.expect("StatusNotification", connector_status("Occupied", 2, 1), since)
