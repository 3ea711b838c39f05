"""Part 6 section 2.8, G Availability: connector statuses (G01), ChangeAvailability of an EVSE,
a connector and the station with and without a transaction, persisted across a reboot (G03,
G04), a lock failure (G05); and what evsed adds: faults as Problem events, MinimumStatusDuration
(C-04)."""

from __future__ import annotations

import time
from typing import Any

from ocpp201.harness import MODULE, Harness, require
from ocpp201.states import (
    answered_at,
    authorized_local,
    booted,
    connector_status,
    energy_transfer_started_from_idle,
    ev_connected_pre_session,
    ev_disconnected,
    statuses_of_all_connectors,
    stop_authorized_local,
    unavailable,
    variable_event,
)

pytestmark = MODULE
LOCKED_EVSE = 2  # the harness's EVSE with a socket and a cable lock


async def change(cs: Harness, status: str, evse: int | None = None, connector: int | None = None) -> str:
    payload: dict[str, Any] = {"operationalStatus": status}
    if evse is not None:
        payload["evse"] = {"id": evse} | ({"connectorId": connector} if connector is not None else {})
    return str((await cs.call("ChangeAvailability", payload))["status"])


async def nothing_sent(cs: Harness, action: str, since: int) -> None:
    await cs.barrier()
    assert cs.calls(action, since) == [], cs.calls(action, since)


# ---- G01 Status Notification ------------------------------------------------------------------


async def test_TC_G_01_CS(cs: Harness) -> None:
    """Connector status Notification - Available to Occupied: EVConnectedPreSession."""
    await ev_connected_pre_session(cs)


async def test_TC_G_02_CS(cs: Harness) -> None:
    """Connector status Notification - Occupied to Available: from EVConnectedPreSession the EV
    leaves; the connector is Available (step 3)."""
    await ev_connected_pre_session(cs)
    await ev_disconnected(cs)


# ---- G03 Change Availability EVSE / connector -------------------------------------------------


async def test_TC_G_03_CS(cs: Harness) -> None:
    """Change Availability EVSE - Operative to inoperative: Unavailable for the EVSE (its connector
    reported Unavailable, G03.FR.06); the other EVSE untouched."""
    since = cs.mark()
    await unavailable(cs, 1, connector=None)
    await cs.barrier()
    assert [p["evseId"] for p in cs.calls("StatusNotification", since)] == [1]


async def test_TC_G_04_CS(cs: Harness) -> None:
    """Change Availability EVSE - Inoperative to operative: Accepted, then (never before the answer)
    its connector Available again (G03.FR.07)."""
    await unavailable(cs, 1, connector=None)  # memory state
    since = cs.mark()
    assert await change(cs, "Operative", 1) == "Accepted"  # step 2
    status = await cs.expect_frame("StatusNotification", connector_status("Available", 1, 1), since)  # step 3
    assert answered_at(cs, "ChangeAvailability", since) < status.index


async def test_TC_G_05_CS(cs: Harness) -> None:
    """Change Availability Charging Station - Operative to inoperative: every connector Unavailable
    (G04.FR.07); the station's AvailabilityState Unavailable in a NotifyEvent."""
    since = cs.mark()
    await unavailable(cs)
    await cs.expect("NotifyEvent", variable_event("ChargingStation", "AvailabilityState", "Unavailable"), since)


async def test_TC_G_06_CS(cs: Harness) -> None:
    """Change Availability Charging Station - Inoperative to operative: Accepted; every connector
    Available again (G04.FR.08), and the station's AvailabilityState."""
    await unavailable(cs)
    since = cs.mark()
    assert await change(cs, "Operative") == "Accepted"  # step 2
    await statuses_of_all_connectors(cs, since)  # step 3
    await cs.expect("NotifyEvent", variable_event("ChargingStation", "AvailabilityState", "Available"), since)


async def test_TC_G_07_CS(cs: Harness) -> None:
    """Change Availability Connector - Operative to inoperative: the connector Unavailable."""
    await unavailable(cs, 1, connector=1)


async def test_TC_G_08_CS(cs: Harness) -> None:
    """Change Availability Connector - Inoperative to operative: Accepted, the connector Available."""
    await unavailable(cs, 1, connector=1)  # memory state
    since = cs.mark()
    assert await change(cs, "Operative", 1, 1) == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)  # step 3


async def test_TC_G_09_CS(cs: Harness) -> None:
    """Change Availability EVSE - Operative to operative: Accepted (G03.FR.03), nothing changed."""
    since = cs.mark()
    assert await change(cs, "Operative", 1) == "Accepted"
    await nothing_sent(cs, "StatusNotification", since)


async def test_TC_G_10_CS(cs: Harness) -> None:
    """Change Availability EVSE - Inoperative to inoperative: Accepted (G03.FR.03), still Unavailable."""
    await unavailable(cs, 1, connector=None)
    since = cs.mark()
    assert await change(cs, "Inoperative", 1) == "Accepted"
    await nothing_sent(cs, "StatusNotification", since)
    assert cs.frontend.statuses.status((1, 1)).value == "Unavailable"


async def scheduled_until_the_end(cs: Harness, evse: int | None, connector: int | None) -> None:
    """G11 / G14 / G17: Inoperative during a transaction on EVSE 1 is Scheduled; the connector
    stays Occupied and charging goes on until the driver stops (StopAuthorized ends the
    transaction: TxStopPoint Authorized); then Unavailable, and still after the EV left."""
    await energy_transfer_started_from_idle(cs)
    since = cs.mark()
    assert await change(cs, "Inoperative", evse, connector) == "Scheduled"  # step 2
    if evse is None:  # step 3 (G14): the EVSE without a transaction goes down at once
        await cs.expect("StatusNotification", connector_status("Unavailable", 2, 1), since)
    await cs.barrier()
    assert cs.calls("StatusNotification", since, lambda p: p["evseId"] == 1) == []
    assert cs.station.view(1).snapshot.contactor, "charging goes on"
    stopping = cs.mark()
    await stop_authorized_local(cs)  # step 3 / 5
    await cs.expect("StatusNotification", connector_status("Unavailable", 1, 1), stopping)  # step 4 / 6
    if evse is None:
        await cs.expect("NotifyEvent", variable_event("ChargingStation", "AvailabilityState", "Unavailable"), since)
    unplugged = cs.mark()
    cs.unplug(1)  # EVDisconnected: no transaction left to end, so steps 7-13 do not apply
    await cs.until(lambda: not cs.station.view(1).ev_connected, what="the EV gone")
    await nothing_sent(cs, "StatusNotification", unplugged)  # G01.FR.05: it stays Unavailable
    assert cs.frontend.statuses.status((1, 1)).value == "Unavailable"


async def test_TC_G_11_CS(cs: Harness) -> None:
    """Change Availability EVSE - With ongoing transaction: Scheduled (G03.FR.05), Unavailable once
    the transaction ended."""
    await scheduled_until_the_end(cs, 1, None)


async def test_TC_G_12_CS(cs: Harness) -> None:
    """Change Availability Charging Station - Operative to operative: Accepted (G04.FR.04); every
    connector's state reported (Available)."""
    since = cs.mark()
    assert await change(cs, "Operative") == "Accepted"
    await statuses_of_all_connectors(cs, since)


async def test_TC_G_13_CS(cs: Harness) -> None:
    """Change Availability Charging Station - Inoperative to inoperative: Accepted; every connector
    reported again, Unavailable (step 3)."""
    await unavailable(cs)
    since = cs.mark()
    assert await change(cs, "Inoperative") == "Accepted"  # step 2
    await statuses_of_all_connectors(cs, since, {e: "Unavailable" for e in cs.evse_ids})  # step 3


async def test_TC_G_14_CS(cs: Harness) -> None:
    """Change Availability Charging Station - With ongoing transaction: Scheduled (G04.FR.06); the
    idle EVSE Unavailable at once, the charging one at the end of its transaction."""
    await scheduled_until_the_end(cs, None, None)


async def test_TC_G_15_CS(cs: Harness) -> None:
    """Change Availability Connector - Operative to operative: Accepted (G03.FR.03)."""
    since = cs.mark()
    assert await change(cs, "Operative", 1, 1) == "Accepted"
    await nothing_sent(cs, "StatusNotification", since)


async def test_TC_G_16_CS(cs: Harness) -> None:
    """Change Availability Connector - Inoperative to inoperative: Accepted (G03.FR.03)."""
    await unavailable(cs, 1, connector=1)
    since = cs.mark()
    assert await change(cs, "Inoperative", 1, 1) == "Accepted"
    await nothing_sent(cs, "StatusNotification", since)


async def test_TC_G_17_CS(cs: Harness) -> None:
    """Change Availability Connector - With ongoing transaction: Scheduled (G03.FR.05), Unavailable
    once the transaction ended."""
    await scheduled_until_the_end(cs, 1, 1)


async def test_TC_G_18_CS(cs: Harness) -> None:
    """Change Availability EVSE - state persists across reboot (G03.FR.08): EVSE 1 Inoperative;
    after a power cycle its connector is Unavailable, the other Available."""
    since = cs.mark()
    assert await change(cs, "Inoperative", 1) == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Unavailable", 1, 1), since)  # step 3
    assert all(p["connectorStatus"] == "Available" for p in cs.calls("StatusNotification", since)
               if p["evseId"] != 1)  # fmt: skip
    await booted(cs, expected={1: "Unavailable"})  # step 5


async def test_TC_G_19_CS(cs: Harness) -> None:
    """Change Availability Connector - state persists across reboot: after a reset (Booting) the
    connector is still Unavailable, the other Available; a SecurityEventNotification."""
    await unavailable(cs, 1, connector=1)
    await booted(cs, reset=True, expected={1: "Unavailable"})  # steps 1-7


async def test_TC_G_20_CS(cs: Harness) -> None:
    """Connector status Notification - Lock Failure (G05): the plug cannot be locked (the lock is
    stuck open); after the authorization a NotifyEvent ConnectorPlugRetentionLock Problem true,
    and the station never charges (G05.FR.01/02)."""
    cs.sim.set_fault(LOCKED_EVSE, "lock_stuck", True)  # the cable is not in far enough to lock
    await ev_connected_pre_session(cs, LOCKED_EVSE)
    since, started = cs.mark(), time.monotonic()
    await authorized_local(cs, ev_connected=True)  # step 1
    problem = variable_event("ConnectorPlugRetentionLock", "Problem", "true", LOCKED_EVSE)
    event = await cs.expect("NotifyEvent", problem, since)  # step 2
    lock = [d for d in event["eventData"] if d["component"]["name"] == "ConnectorPlugRetentionLock"]
    assert [d["eventNotificationType"] for d in lock] == ["HardWiredMonitor"] and "variableMonitoringId" in lock[0]
    await cs.expect("StatusNotification", connector_status("Faulted", LOCKED_EVSE, 1), since)
    closings = [at for at, closed in cs.sim.contactor_log(LOCKED_EVSE) if closed and at >= started]
    assert closings == [] and not cs.sim.snapshot(LOCKED_EVSE)["contactor"]["closed"]  # post: never charged
    assert cs.calls("TransactionEvent", since, lambda p: p["transactionInfo"].get("chargingState") == "Charging") == []


async def test_TC_G_21_CS(cs: Harness) -> None:
    """Change Availability Charging Station - state persists across reboot (G04.FR.09): after a reset
    every connector Unavailable, the station's AvailabilityState Unavailable in a NotifyEvent."""
    await unavailable(cs)
    since = cs.mark()
    await booted(cs, reset=True, expected={e: "Unavailable" for e in cs.evse_ids})  # steps 1-7
    await cs.expect("NotifyEvent", variable_event("ChargingStation", "AvailabilityState", "Unavailable"), since)


# ---- beyond part 6 ----------------------------------------------------------------------------


async def test_change_availability_of_what_the_station_does_not_have_is_rejected(cs: Harness) -> None:
    since = cs.mark()
    assert await change(cs, "Inoperative", 3) == "Rejected"
    assert await change(cs, "Inoperative", 1, 2) == "Rejected"
    assert await change(cs, "Inoperative", 0, 1) == "Rejected"
    await nothing_sent(cs, "StatusNotification", since)
    assert all(v.operative for v in cs.station.views())


async def test_a_fault_is_faulted_and_a_problem_until_it_clears(cs: Harness) -> None:
    """A fault makes the connector Faulted and raises Problem on the EVSE (techCode: the fault)
    and the station; cleared, the connector is Available and both Problems are cleared events.
    Every EVSE faulted: the station's AvailabilityState is Faulted."""
    since = cs.mark()
    cs.sim.set_fault(1, "rcd", True)
    await cs.expect("StatusNotification", connector_status("Faulted", 1, 1), since)
    raised = await cs.expect("NotifyEvent", variable_event("EVSE", "Problem", "true", 1), since)
    evse_problem = next(d for d in raised["eventData"] if d["component"]["name"] == "EVSE")
    assert evse_problem["techCode"] == "rcd" and "cleared" not in evse_problem
    await cs.expect("NotifyEvent", variable_event("ChargingStation", "Problem", "true"), since)
    cs.sim.set_fault(2, "overtemp", True)
    await cs.expect("NotifyEvent", variable_event("ChargingStation", "AvailabilityState", "Faulted"), since)
    cleared = cs.mark()
    cs.sim.set_fault(1, "rcd", False)
    cs.sim.set_fault(2, "overtemp", False)
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), cleared)
    back = await cs.expect("NotifyEvent", variable_event("EVSE", "Problem", "false", 1), cleared)
    assert next(d for d in back["eventData"] if d["component"]["name"] == "EVSE")["cleared"] is True
    await cs.expect("NotifyEvent", variable_event("ChargingStation", "AvailabilityState", "Available"), cleared)


async def test_minimum_status_duration(cs: Harness) -> None:
    """C-04: with MinimumStatusDuration a status goes out once it held that long; an EV plugged in
    and out again quickly is never reported."""
    require("C-04")
    await cs.set_variables({"OCPPCommCtrlr.MinimumStatusDuration": 1})
    since = cs.mark()
    cs.plug_in(1)
    await cs.until(lambda: cs.frontend.statuses.status((1, 1)).value == "Occupied", what="Occupied seen")
    cs.unplug(1)
    await cs.until(lambda: cs.frontend.statuses.status((1, 1)).value == "Available", what="Available seen")
    plugged = time.monotonic()
    cs.plug_in(1)
    frame = await cs.expect_frame("StatusNotification", since=since)
    assert frame.payload["connectorStatus"] == "Occupied"
    assert frame.at - plugged >= 1.0
    await cs.barrier()
    assert [p["connectorStatus"] for p in cs.calls("StatusNotification", since)] == ["Occupied"]
