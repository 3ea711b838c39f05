"""Part 6 section 2.6, F Remote control: remote start (F01, F02) and remote stop (F03), and what
a CSMS may send wrong: an EVSE the station does not have, a transaction it does not know."""

from __future__ import annotations

import uuid

from ocpp201.harness import MODULE, VALID_TOKEN, Harness
from ocpp201.states import (
    authorized_remote,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    ev_connected_pre_session,
    in_sequence,
    stop_authorized_remote,
    transaction_id,
)

pytestmark = MODULE
TIMEOUT_S = 2  # <Configured ev_connection_timeout>


async def test_TC_F_01_CS(cs: Harness) -> None:
    """Remote start transaction - Cable plugin first: with TxStartPoint EVConnected the plug-in
    started a transaction no token authorized; RequestStartTransaction is Accepted with its
    transactionId (F01.FR.13) and authorizes it (RemoteStart, the remoteStartId), then charging."""
    await cs.set_variables({"TxCtrlr.TxStartPoint": "EVConnected"})
    started = await ev_connected_pre_session(cs)
    assert started is not None and "idToken" not in started
    remote = await authorized_remote(cs, remote_start_id=101)  # step 1
    assert remote is not None and remote["eventType"] == "Updated"
    assert remote["transactionInfo"]["transactionId"] == started["transactionInfo"]["transactionId"]
    await energy_transfer_started(cs)  # step 2
    in_sequence(cs, started["transactionInfo"]["transactionId"])


async def test_TC_F_02_CS(cs: Harness) -> None:
    """Remote start transaction - Remote start first - AuthorizeRemoteStart is true: the station asks
    (Authorize) before it takes the token; the EV then charges, the Started carrying RemoteStart
    and the remoteStartId."""
    await cs.set_variables({"AuthCtrlr.AuthorizeRemoteStart": True})
    assert await authorized_remote(cs, remote_start_id=102) is None  # step 1 (TxStartPoint PowerPathClosed)
    started = await energy_transfer_started(cs)  # step 2
    tx = started["transactionInfo"]["transactionId"]
    first = in_sequence(cs, tx)[0]
    assert first["transactionInfo"]["remoteStartId"] == 102 and first["idToken"] == VALID_TOKEN, first


async def test_TC_F_03_CS(cs: Harness) -> None:
    """Remote start transaction - Remote start first - AuthorizeRemoteStart is false: no Authorize,
    the EV charges."""
    await cs.set_variables({"AuthCtrlr.AuthorizeRemoteStart": False})
    since = cs.mark()
    assert await authorized_remote(cs, remote_start_id=103) is None  # step 1
    started = await energy_transfer_started(cs)  # step 2
    assert cs.calls("Authorize", since) == []
    first = in_sequence(cs, started["transactionInfo"]["transactionId"])[0]
    assert first["transactionInfo"]["remoteStartId"] == 103, first


async def test_TC_F_04_CS(cs: Harness) -> None:
    """Remote start transaction - Remote start first - Cable plugin timeout: TxStartPoint Authorized,
    no EV within EVConnectionTimeOut: Ended with EVConnectTimeout (E03.FR.05); the EVSE takes the
    next remote start."""
    await cs.set_variables({"TxCtrlr.EVConnectionTimeOut": TIMEOUT_S, "TxCtrlr.TxStartPoint": "Authorized"})
    started = await authorized_remote(cs, remote_start_id=104)
    assert started is not None and started["eventType"] == "Started"
    tx = started["transactionInfo"]["transactionId"]
    ended = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx
                            and p["eventType"] == "Ended", within=TIMEOUT_S + 10)  # fmt: skip  # step 1
    assert ended["triggerReason"] == "EVConnectTimeout" and ended["transactionInfo"]["stoppedReason"] == "Timeout"
    in_sequence(cs, tx)
    again = await authorized_remote(cs, remote_start_id=105)  # step 3
    assert again is not None and again["transactionInfo"]["transactionId"] != tx


async def test_TC_F_08_CS(cs: Harness) -> None:
    """Remote stop transaction - Success: RequestStopTransaction Accepted, RemoteStop, Ended Remote."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await stop_authorized_remote(cs)  # step 1
    await cs.until(lambda: not cs.station.view(1).snapshot.contactor, what="the energy transfer stopped")
    in_sequence(cs, tx)


async def test_TC_F_09_CS(cs: Harness) -> None:
    """Remote stop transaction - Rejected: a transactionId the station never gave; the transaction
    that runs goes on charging."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    since = cs.mark()
    response = await cs.call("RequestStopTransaction", {"transactionId": str(uuid.uuid4())})  # step 1
    assert response["status"] == "Rejected"  # step 2
    await cs.barrier()
    assert cs.calls("TransactionEvent", since) == []
    assert cs.station.view(1).transaction.id == tx and cs.station.view(1).snapshot.contactor


async def test_a_remote_start_on_an_evse_the_station_does_not_have_is_rejected(cs: Harness) -> None:
    """Bad input: evseId 3 on a two-EVSE station, and 0 (the station itself): Rejected, nothing
    starts, nothing is asked."""
    since = cs.mark()
    for evse in (3, 0):
        request = {"idToken": VALID_TOKEN, "remoteStartId": 7, "evseId": evse}
        assert (await cs.call("RequestStartTransaction", request))["status"] == "Rejected", evse
    await cs.barrier()
    assert cs.calls("Authorize", since) == [] and cs.calls("TransactionEvent", since) == []
    assert all(v.authorization is None for v in cs.station.views())
    assert cs.station.station_view().pending is None


async def test_a_remote_start_on_an_evse_charging_for_someone_is_rejected(cs: Harness) -> None:
    """F01.FR.23-ish: an EVSE whose transaction a token authorized takes no remote start; the
    running transaction is not touched."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    since = cs.mark()
    request = {"idToken": {"idToken": "CAFE0001", "type": "Central"}, "remoteStartId": 8, "evseId": 1}
    assert (await cs.call("RequestStartTransaction", request))["status"] == "Rejected"
    await cs.barrier()
    assert cs.calls("TransactionEvent", since) == []
    view = cs.station.view(1)
    assert view.transaction.id == tx and view.authorization.token.id == VALID_TOKEN["idToken"]
