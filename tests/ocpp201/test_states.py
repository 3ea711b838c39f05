"""The harness's reusable states played in the orders the part-6 test cases use them, so a test
case written with them can trust them: local and remote authorization, energy transfer and its
suspension, the stop (local and remote), the EV leaving."""

from __future__ import annotations

from ocpp201.harness import MODULE, Harness
from ocpp201.states import (
    authorized_local,
    authorized_remote,
    energy_transfer_started,
    energy_transfer_suspended,
    ev_connected_post_session,
    ev_connected_pre_session,
    ev_disconnected,
    stop_authorized_local,
    stop_authorized_remote,
)

pytestmark = MODULE


async def test_local_token_first_then_the_ev_then_the_driver_stops(cs: Harness) -> None:
    assert await authorized_local(cs) is None  # TxStartPoint PowerPathClosed: nothing starts yet
    started = await energy_transfer_started(cs)
    assert started["transactionInfo"]["chargingState"] == "Charging"
    first = cs.calls("TransactionEvent", where=lambda p: p["transactionInfo"]["transactionId"]
                     == started["transactionInfo"]["transactionId"])[0]  # fmt: skip
    assert (first["eventType"], first["triggerReason"], first["seqNo"]) == ("Started", "CablePluggedIn", 0)
    assert first["evse"] == {"id": 1, "connectorId": 1} and "evse" not in started
    ended = await stop_authorized_local(cs)
    assert ended["eventType"] == "Ended"
    assert await ev_connected_post_session(cs) is None
    assert await ev_disconnected(cs) is None


async def test_ev_first_then_remote_start_suspension_and_remote_stop(cs: Harness) -> None:
    assert await ev_connected_pre_session(cs, 2) is None
    started = await authorized_remote(cs, 2, remote_start_id=42)
    assert started is not None and started["eventType"] == "Started"
    await energy_transfer_started(cs, 2)
    suspended = await energy_transfer_suspended(cs, 2)
    assert suspended["transactionInfo"]["chargingState"] == "SuspendedEV"
    ended = await stop_authorized_remote(cs, 2)
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"
    await ev_disconnected(cs, 2)
