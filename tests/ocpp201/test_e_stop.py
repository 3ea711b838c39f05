"""Part 6 section 2.5, E Transactions: the stop options (E06, errata 6.2.45-6.2.51), local and
remote stops (E07, F03 as E cases), the EV leaving (E06 S2, E09 with StopTxOnEVSideDisconnect)
and the connection time-out (E03, errata 6.2.47).

EVSE 1 has a tethered cable; EVSE 2 a socket with a lock (the cases for stations without a
fixed cable run there)."""

from __future__ import annotations

import pytest

from ocpp201.harness import MODULE, VALID_TOKEN, Harness, require
from ocpp201.states import (
    authorized_local,
    connector_status,
    energy_transfer_started_from_idle,
    energy_transfer_suspended,
    ev_connected_post_session,
    ev_disconnected,
    events_of,
    in_sequence,
    start_offline_transaction,
    stop_authorized_local,
    stop_authorized_remote,
    transaction_id,
)

pytestmark = MODULE
TIMEOUT_S = 2  # <Configured ev_connection_timeout>


async def stop_at(cs: Harness, points: str, **more: object) -> None:
    await cs.set_variables({"TxCtrlr.TxStopPoint": points, **{f"TxCtrlr.{k}": v for k, v in more.items()}})


async def ended(cs: Harness, tx: str, since: int = 0) -> dict:
    return await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx
                           and p["eventType"] == "Ended", since)  # fmt: skip


async def test_TC_E_06_CS(cs: Harness) -> None:
    """Local Stop Transaction - Accepted: StopAuthorized (local), EVConnectedPostSession,
    EVDisconnected (no bay sensor: ParkingBayUnoccupied has nothing to do); with the default stop
    points the token ends the transaction in one event."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    last = await stop_authorized_local(cs)  # step 1
    assert last["eventType"] == "Ended" and last["triggerReason"] == "StopAuthorized"  # E07.FR.02
    assert last["idToken"] == VALID_TOKEN and last["transactionInfo"]["stoppedReason"] == "Local"
    assert await ev_connected_post_session(cs) is None  # step 2: ended already
    assert await ev_disconnected(cs) is None  # step 3
    in_sequence(cs, tx)


async def test_TC_E_07_CS(cs: Harness) -> None:
    """Stop transaction options - PowerPathClosed - Local stop (E06.FR.06): the token ends it."""
    await stop_at(cs, "PowerPathClosed")
    await energy_transfer_started_from_idle(cs)
    last = await stop_authorized_local(cs)  # step 1
    assert (last["eventType"], last["transactionInfo"]["stoppedReason"]) == ("Ended", "Local")


async def test_TC_E_35_CS(cs: Harness) -> None:
    """Stop transaction options - PowerPathClosed - Remote stop: RemoteStop, Remote, Ended (errata
    6.2.49: the stoppedReason in the Ended event)."""
    await stop_at(cs, "PowerPathClosed")
    await energy_transfer_started_from_idle(cs)
    last = await stop_authorized_remote(cs)  # steps 1-3
    assert (last["eventType"], last["triggerReason"]) == ("Ended", "RemoteStop")
    assert last["transactionInfo"]["stoppedReason"] == "Remote"


async def test_TC_E_37_CS(cs: Harness) -> None:
    """Stop transaction options - PowerPathClosed - EV side disconnect: the EV suspended, then
    gone: Ended, EVCommunicationLost, Idle, EVDisconnected."""
    await stop_at(cs, "PowerPathClosed", StopTxOnEVSideDisconnect=False)
    await energy_transfer_started_from_idle(cs)
    await energy_transfer_suspended(cs)
    last = await ev_disconnected(cs)  # step 1
    assert last is not None and last["triggerReason"] == "EVCommunicationLost"
    assert last["transactionInfo"]["chargingState"] == "Idle"
    assert last["transactionInfo"]["stoppedReason"] in ("EVDisconnected", "StoppedByEV")


async def test_TC_E_08_CS(cs: Harness) -> None:
    """Stop transaction options - EnergyTransfer stopped - StopAuthorized: the token stops the
    energy (Updated StopAuthorized), the energy stopping ends it (Ended, ChargingStateChanged,
    EVConnected, Local)."""
    await stop_at(cs, "EnergyTransfer")
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    last = await stop_authorized_local(cs)  # step 1
    first = events_of(cs, tx)[-2]
    assert (first["eventType"], first["triggerReason"]) == ("Updated", "StopAuthorized")
    assert (last["eventType"], last["triggerReason"]) == ("Ended", "ChargingStateChanged")
    assert last["transactionInfo"]["stoppedReason"] == "Local"
    in_sequence(cs, tx)


async def test_TC_E_22_CS(cs: Harness) -> None:
    """Stop transaction options - EnergyTransfer stopped - SuspendedEV (errata 6.2.50): the EV
    suspends, the transaction ends: ChargingStateChanged, EVConnected, StoppedByEV."""
    await stop_at(cs, "EnergyTransfer")
    await energy_transfer_started_from_idle(cs)
    event = await energy_transfer_suspended(cs)  # step 1
    assert (event["eventType"], event["triggerReason"]) == ("Ended", "ChargingStateChanged")
    assert event["transactionInfo"]["chargingState"] == "EVConnected"
    assert event["transactionInfo"]["stoppedReason"] == "StoppedByEV"


async def test_TC_E_14_CS(cs: Harness) -> None:
    """Stop transaction options - EVDisconnected - Charging Station side (errata 6.2.51): the token
    ends the energy, the transaction runs on (EVConnected) until the cable is taken out of the
    socket: Available, then Ended, EVCommunicationLost, Idle, Local."""
    await stop_at(cs, "EVConnected")
    await energy_transfer_started_from_idle(cs, 2)
    tx = await transaction_id(cs, 2)
    stopped = await stop_authorized_local(cs, 2)
    assert stopped["eventType"] == "Updated"
    assert await ev_connected_post_session(cs, 2) is not None
    last = await ev_disconnected(cs, 2)  # steps 1, 3
    assert last is not None and last["triggerReason"] == "EVCommunicationLost"
    assert last["transactionInfo"]["chargingState"] == "Idle"
    assert last["transactionInfo"].get("stoppedReason", "Local") in ("Local", "EVDisconnected")
    in_sequence(cs, tx)


async def test_TC_E_20_CS(cs: Harness) -> None:
    """Stop transaction options - EVDisconnected - EV side (able to charge IEC 61851-1 EV): suspended,
    then the EV leaves: Ended, EVCommunicationLost, Idle, EVDisconnected."""
    await stop_at(cs, "EVConnected", StopTxOnEVSideDisconnect=False)
    await energy_transfer_started_from_idle(cs)
    await energy_transfer_suspended(cs)
    last = await ev_disconnected(cs)  # step 1
    assert last is not None and last["triggerReason"] == "EVCommunicationLost"
    assert (last["transactionInfo"]["chargingState"], last["transactionInfo"]["stoppedReason"]) == (
        "Idle", "EVDisconnected")  # fmt: skip


async def test_TC_E_54_CS(cs: Harness) -> None:
    """Stop transaction options - EVDisconnected - EV side (not able to charge IEC 61851-1 EV)."""
    pytest.skip("needs ISO 15118 high-level communication, which evsed does not speak")


async def test_TC_E_15_CS(cs: Harness) -> None:
    """Stop transaction options - StopAuthorized - Local: one event, Ended, StopAuthorized, Local."""
    await stop_at(cs, "Authorized")
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    since = cs.mark()
    cs.present(VALID_TOKEN)
    last = await ended(cs, tx, since)  # step 1
    assert last["triggerReason"] == "StopAuthorized" and last["transactionInfo"]["stoppedReason"] == "Local"
    assert len(events_of(cs, tx, since)) == 1


async def test_TC_E_21_CS(cs: Harness) -> None:
    """Stop transaction options - StopAuthorized - Remote: Accepted, then Ended, RemoteStop, Remote."""
    await stop_at(cs, "Authorized")
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    since = cs.mark()
    assert (await cs.call("RequestStopTransaction", {"transactionId": tx}))["status"] == "Accepted"  # step 2
    last = await ended(cs, tx, since)  # step 3
    assert last["triggerReason"] == "RemoteStop" and last["transactionInfo"]["stoppedReason"] == "Remote"
    assert len(events_of(cs, tx, since)) == 1


async def test_TC_E_19_CS(cs: Harness) -> None:
    """Stop transaction options - ParkingBayUnoccupied."""
    require("C-10.5")


async def test_TC_E_16_CS(cs: Harness) -> None:
    """Stop transaction options - Deauthorized - Invalid idToken: a transaction started offline
    (OfflineTxForUnknownIdEnabled); the CSMS answers its idToken Invalid once the link is back:
    Ended, Deauthorized, DeAuthorized."""
    require("C-02")  # StartOfflineTransaction of a token the station does not know
    await stop_at(cs, "Authorized", StopTxOnInvalidId=True)
    await cs.set_variables({"AuthCtrlr.OfflineTxForUnknownIdEnabled": True, "AuthCtrlr.LocalAuthorizationOffline": True,
                            "OCPPCommCtrlr.OfflineThreshold": 61})  # fmt: skip
    cs.csms.config.token_infos[VALID_TOKEN["idToken"]] = {"status": "Invalid"}
    try:
        since = cs.mark()
        tx = await start_offline_transaction(cs)
        first = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx, since)
        assert first["offline"] is True  # step 1
        last = await ended(cs, tx, since)  # step 3
        assert last["triggerReason"] == "Deauthorized" and last["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    finally:
        del cs.csms.config.token_infos[VALID_TOKEN["idToken"]]


async def test_TC_E_17_CS(cs: Harness) -> None:
    """Stop transaction options - Deauthorized - EV side disconnect (errata 6.2.45 / 6.2.46):
    StopTxOnEVSideDisconnect ends the authorization when the EV leaves: Ended, EVCommunicationLost,
    Idle, EVDisconnected; the socket's cable stays locked until the driver's token comes back
    (UnlockOnEVSideDisconnect false), the connector is Available."""
    await stop_at(cs, "Authorized", StopTxOnEVSideDisconnect=True)
    await cs.set_variables({"OCPPCommCtrlr.UnlockOnEVSideDisconnect": False})
    await energy_transfer_started_from_idle(cs, 2)
    tx = await transaction_id(cs, 2)
    since = cs.mark()
    cs.unplug(2)
    last = await ended(cs, tx, since)  # step 1
    assert last["triggerReason"] == "EVCommunicationLost" and last["transactionInfo"]["chargingState"] == "Idle"
    assert last["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    await cs.expect("StatusNotification", connector_status("Available", 2, 1), since)  # step 3
    await cs.until(lambda: cs.station.view(2).snapshot.locked, what="the cable kept locked")
    cs.present(VALID_TOKEN)  # the driver's token releases it
    await cs.until(lambda: not cs.station.view(2).snapshot.locked, what="the cable unlocked")
    in_sequence(cs, tx)


async def test_TC_E_39_CS(cs: Harness) -> None:
    """Stop transaction options - Deauthorized - timeout (errata 6.2.47): TxStartPoint Authorized,
    no EV within EVConnectionTimeOut: Ended, EVConnectTimeout, Timeout; an EV plugged in later is
    Occupied and does not charge."""
    await cs.set_variables({"TxCtrlr.TxStartPoint": "Authorized", "TxCtrlr.EVConnectionTimeOut": TIMEOUT_S})
    await stop_at(cs, "Authorized")
    started = await authorized_local(cs)
    assert started is not None
    tx = started["transactionInfo"]["transactionId"]
    last = await ended(cs, tx)  # step 1
    assert (last["triggerReason"], last["transactionInfo"]["stoppedReason"]) == ("EVConnectTimeout", "Timeout")
    since = cs.mark()
    cs.plug_in(1)
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)  # step 3
    await cs.barrier()
    assert cs.calls("TransactionEvent", since) == [] and not cs.station.view(1).snapshot.contactor


async def ev_side_disconnect_ends(cs: Harness, unlock: bool) -> str:
    """E09 on the socket (EVSE 2): StopTxOnEVSideDisconnect, UnlockOnEVSideDisconnect ``unlock``;
    EnergyTransferSuspended, then the EV leaves: Ended with EVCommunicationLost, Idle (step 1),
    the connector Available (step 3). Returns the transactionId."""
    await stop_at(cs, "Authorized", StopTxOnEVSideDisconnect=True)
    await cs.set_variables({"OCPPCommCtrlr.UnlockOnEVSideDisconnect": unlock})
    await energy_transfer_started_from_idle(cs, 2)
    tx = await transaction_id(cs, 2)
    await energy_transfer_suspended(cs, 2)
    assert cs.station.view(2).snapshot.locked
    since = cs.mark()
    cs.unplug(2)
    last = await ended(cs, tx, since)  # step 1
    assert last["triggerReason"] == "EVCommunicationLost" and last["transactionInfo"]["chargingState"] == "Idle"
    await cs.expect("StatusNotification", connector_status("Available", 2, 1), since)  # step 3
    in_sequence(cs, tx)
    return tx


async def test_TC_E_24_CS(cs: Harness) -> None:
    """Disconnect cable on EV-side - Deauthorize transaction - UnlockOnEVSideDisconnect is true
    (E09.FR.02): the socket lets the cable go."""
    await ev_side_disconnect_ends(cs, unlock=True)
    await cs.until(lambda: not cs.station.view(2).snapshot.locked, what="the cable unlocked")


async def test_TC_E_25_CS(cs: Harness) -> None:
    """Disconnect cable on EV-side - Deauthorize transaction - UnlockOnEVSideDisconnect is false
    (E09.FR.03): the cable stays locked until the driver presents the token again."""
    await ev_side_disconnect_ends(cs, unlock=False)
    await cs.barrier()
    assert cs.station.view(2).snapshot.locked
    cs.present(VALID_TOKEN)  # manual action
    await cs.until(lambda: not cs.station.view(2).snapshot.locked, what="the cable unlocked")


async def ev_side_disconnect_suspends(cs: Harness, evse: int) -> tuple[str, int]:
    """E10: TxStopPoint Authorized, StopTxOnEVSideDisconnect and UnlockOnEVSideDisconnect false;
    EnergyTransferSuspended, then the EV leaves: Updated, EVCommunicationLost, Idle (step 1), a
    tethered cable's connector Available (step 3). Returns the transactionId and the mark before
    the unplug."""
    await stop_at(cs, "Authorized", StopTxOnEVSideDisconnect=False)
    await cs.set_variables({"OCPPCommCtrlr.UnlockOnEVSideDisconnect": False})
    await energy_transfer_started_from_idle(cs, evse)
    tx = await transaction_id(cs, evse)
    await energy_transfer_suspended(cs, evse)
    since = cs.mark()
    cs.unplug(evse)
    lost = await cs.expect("TransactionEvent", lambda p: p["triggerReason"] == "EVCommunicationLost", since)
    assert (lost["eventType"], lost["transactionInfo"]["chargingState"]) == ("Updated", "Idle"), lost  # step 1
    assert lost["transactionInfo"]["transactionId"] == tx
    if not cs.station.view(evse).has_lock:  # step 3, for a tethered cable (a locked socket keeps its cable)
        await cs.expect("StatusNotification", connector_status("Available", evse, 1), since)
    return tx, since


async def test_TC_E_26_CS(cs: Harness) -> None:
    """Disconnect cable on EV-side - Suspend transaction (E10.FR.01): the same transaction goes on
    when the EV comes back: CablePluggedIn with EVConnected, then Charging."""
    tx, _ = await ev_side_disconnect_suspends(cs, 2)
    since = cs.mark()
    cs.plug_in(2)  # manual action
    back = await cs.expect("TransactionEvent", lambda p: p["triggerReason"] == "CablePluggedIn", since)  # step 5
    assert (back["eventType"], back["transactionInfo"]["chargingState"]) == ("Updated", "EVConnected"), back
    charging = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") == "Charging",
                               since)  # fmt: skip  # step 7
    assert (charging["eventType"], charging["triggerReason"]) == ("Updated", "ChargingStateChanged"), charging
    assert back["transactionInfo"]["transactionId"] == charging["transactionInfo"]["transactionId"] == tx
    in_sequence(cs, tx)


async def test_TC_E_27_CS(cs: Harness) -> None:
    """Disconnect cable on EV-side - Suspend transaction - Fixed cable connection timeout (E10.FR.02,
    errata 6.2.52): on the tethered cable (EVSE 1) the EV does not come back within
    EVConnectionTimeOut: Ended, EVConnectTimeout, Timeout."""
    await cs.set_variables({"TxCtrlr.EVConnectionTimeOut": TIMEOUT_S})
    tx, since = await ev_side_disconnect_suspends(cs, 1)
    last = await ended(cs, tx, since)  # step 5
    assert (last["triggerReason"], last["transactionInfo"]["stoppedReason"]) == ("EVConnectTimeout", "Timeout")
    in_sequence(cs, tx)
