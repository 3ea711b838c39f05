"""Part 6 section 2.7, F Remote control: UnlockConnector (F05) on the harness's EVSE 2, a socket
with a cable lock; the lock answering from the simulated world (a stuck lock: UnlockFailed)."""

from __future__ import annotations

from typing import Any

from ocpp201.harness import MODULE, Harness
from ocpp201.states import (
    energy_transfer_started_from_idle,
    ev_connected_pre_session,
    stop_authorized_local,
)

pytestmark = MODULE
EVSE = 2  # <Configured evseId>: the harness's socket with a lock
FIXED_CABLE = 1  # EVSE 1 has a tethered cable: nothing to unlock


async def unlock(cs: Harness, evse: int = EVSE, connector: int = 1) -> dict[str, Any]:
    return await cs.call("UnlockConnector", {"evseId": evse, "connectorId": connector})


def lock_closed(cs: Harness, evse: int = EVSE) -> bool:
    return bool(cs.sim.snapshot(evse)["locked"])


async def test_TC_F_05_CS(cs: Harness) -> None:
    """Remote unlock Connector - With ongoing transaction: OngoingAuthorizedTransaction; the lock
    stays closed and the transaction goes on (F05.FR.02)."""
    started = await energy_transfer_started_from_idle(cs, EVSE)
    assert lock_closed(cs)
    since = cs.mark()
    assert (await unlock(cs))["status"] == "OngoingAuthorizedTransaction"  # step 2
    await cs.barrier()
    assert lock_closed(cs) and cs.station.view(EVSE).snapshot.contactor
    assert cs.station.view(EVSE).transaction.id == started["transactionInfo"]["transactionId"]
    assert cs.calls("TransactionEvent", since, lambda p: p["eventType"] == "Ended") == []


async def test_TC_F_06_CS(cs: Harness) -> None:
    """Remote unlock Connector - Without ongoing transaction - Accepted: the cable is in, no
    transaction: Unlocked, and the lock is open (F05.FR.04)."""
    await ev_connected_pre_session(cs, EVSE)
    assert (await unlock(cs))["status"] == "Unlocked"  # step 2
    assert not lock_closed(cs)


async def test_TC_F_07_CS(cs: Harness) -> None:
    """Remote unlock Connector - Without ongoing transaction - No cable connected: the lock is
    driven anyway and reports open: Unlocked (F05.FR.06)."""
    assert EVSE not in cs.plugged
    assert (await unlock(cs))["status"] == "Unlocked"  # step 2
    assert not lock_closed(cs)


async def test_TC_F_10_CS(cs: Harness) -> None:
    """Remote unlock Connector - Without ongoing transaction - UnknownConnector (F05.FR.03)."""
    assert (await unlock(cs, EVSE, 999))["status"] == "UnknownConnector"  # step 2
    assert (await unlock(cs, 999, 1))["status"] == "UnknownConnector"


async def test_a_stuck_lock_fails_and_is_tried_again(cs: Harness) -> None:
    """F05.FR.05: after the transaction the lock does not open (tension on the cable): the
    unlock reports UnlockFailed; once the tension is gone a second UnlockConnector drives the
    lock again and it opens. The transaction was over; nothing ends twice."""
    await energy_transfer_started_from_idle(cs, EVSE)
    cs.sim.set_fault(EVSE, "lock_stuck", True)
    await stop_authorized_local(cs, EVSE)  # the transaction ends; the EV is still plugged in
    await cs.until(lambda: cs.station.view(EVSE).transaction is None, what="the transaction over")
    assert lock_closed(cs)
    since = cs.mark()
    assert (await unlock(cs))["status"] == "UnlockFailed"
    assert lock_closed(cs)
    cs.sim.set_fault(EVSE, "lock_stuck", False)  # the driver pushes the plug in: no tension
    assert (await unlock(cs))["status"] == "Unlocked"
    assert not lock_closed(cs)
    assert cs.calls("TransactionEvent", since) == []


async def test_unlock_after_the_authorization_ended_leaves_the_transaction_running(cs: Harness) -> None:
    """F05.FR.02 applies to an authorized transaction only: with TxStopPoint EVConnected alone the
    driver's stop ends the authorization, the transaction runs until the EV leaves, and the
    unlock goes through without ending it."""
    await cs.set_variables({"TxCtrlr.TxStopPoint": "EVConnected"})
    started = await energy_transfer_started_from_idle(cs, EVSE)
    tx = started["transactionInfo"]["transactionId"]
    await stop_authorized_local(cs, EVSE)  # Updated: StopAuthorized, the transaction goes on
    since = cs.mark()
    assert (await unlock(cs))["status"] == "Unlocked"
    assert not lock_closed(cs)
    await cs.barrier()
    assert cs.station.view(EVSE).transaction.id == tx
    assert cs.calls("TransactionEvent", since, lambda p: p["eventType"] == "Ended") == []


async def test_a_fixed_cable_cannot_be_unlocked(cs: Harness) -> None:
    """No lock to drive (a tethered cable): UnlockFailed with the reason, never Unlocked."""
    answer = await unlock(cs, FIXED_CABLE)
    assert answer["status"] == "UnlockFailed" and answer["statusInfo"]["reasonCode"] == "NoLock"
