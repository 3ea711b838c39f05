"""Part 6 section 2.5, E Transactions: the start options (E01, errata 6.2.44) and local starts
(E02, E03)."""

from __future__ import annotations

from ocpp201.harness import MODULE, VALID_TOKEN, Harness, require
from ocpp201.states import (
    authorized_local,
    authorized_remote,
    connector_status,
    energy_transfer_started,
    ev_connected_pre_session,
    in_sequence,
    presented,
    transaction_id,
)

pytestmark = MODULE
TIMEOUT_S = 2  # <Configured ev_connection_timeout>


async def start_at(cs: Harness, point: str) -> None:
    await cs.set_variables({"TxCtrlr.TxStartPoint": point})


async def test_TC_E_01_CS(cs: Harness) -> None:
    """Start transaction options - PowerPathClosed: Authorized, then the EV: the transaction starts
    at the plug-in (E01.FR.05), evse and idToken in the Started, then charging."""
    await start_at(cs, "PowerPathClosed")
    assert await authorized_local(cs) is None
    started = await ev_connected_pre_session(cs, authorized=True)  # step 1
    assert started is not None and started["eventType"] == "Started" and started["seqNo"] == 0
    assert started["triggerReason"] == "CablePluggedIn" and started["idToken"] == VALID_TOKEN  # E01.FR.10
    assert started["transactionInfo"]["chargingState"] == "EVConnected"
    await energy_transfer_started(cs)  # step 2
    in_sequence(cs, started["transactionInfo"]["transactionId"])


async def test_TC_E_02_CS(cs: Harness) -> None:
    """Start transaction options - EnergyTransfer: Authorized, the EV connected; the transaction
    starts when energy flows (E01.FR.06): Started, Authorized or ChargingStateChanged, the idToken,
    evse, chargingState Charging."""
    await start_at(cs, "EnergyTransfer")
    assert await authorized_local(cs) is None
    since = cs.mark()
    cs.plug_in(1)
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)  # step 1
    started = await cs.expect("TransactionEvent", since=since)  # step 3
    assert started["eventType"] == "Started", started
    assert started["triggerReason"] in ("ChargingStateChanged", "Authorized"), started
    assert started["idToken"] == VALID_TOKEN and started["evse"] == {"id": 1, "connectorId": 1}
    assert started["transactionInfo"]["chargingState"] == "Charging"


async def test_TC_E_09_CS(cs: Harness) -> None:
    """Start transaction options - EVConnected: the plug-in starts it (E01.FR.02, CablePluggedIn,
    EVConnected, evse), the token authorizes it (Updated Authorized), then charging (errata 6.2.44)."""
    await start_at(cs, "EVConnected")
    started = await ev_connected_pre_session(cs)  # step 1
    assert started is not None and started["eventType"] == "Started"
    assert started["triggerReason"] == "CablePluggedIn" and "idToken" not in started
    assert started["transactionInfo"]["chargingState"] == "EVConnected"
    authorized = await authorized_local(cs, ev_connected=True)  # step 2
    assert authorized is not None and authorized["eventType"] == "Updated" and "evse" not in authorized
    await energy_transfer_started(cs)  # step 3
    in_sequence(cs, started["transactionInfo"]["transactionId"])


async def test_TC_E_10_CS(cs: Harness) -> None:
    """Start transaction options - Authorized - Local: the token starts it before any EV chose an
    EVSE (Started, Authorized, idToken, no evse on this two-EVSE station); the plug-in binds it
    (CablePluggedIn with evse and the Transaction.Begin values, E01.FR.17), then charging."""
    await start_at(cs, "Authorized")
    started = await authorized_local(cs)  # step 1
    assert started is not None and started["eventType"] == "Started" and "evse" not in started
    tx = started["transactionInfo"]["transactionId"]
    plugged = await ev_connected_pre_session(cs, authorized=True)  # step 2
    assert plugged is not None and plugged["eventType"] == "Updated" and plugged["triggerReason"] == "CablePluggedIn"
    assert plugged["transactionInfo"]["transactionId"] == tx
    [begin] = plugged["meterValue"]
    assert {v["context"] for v in begin["sampledValue"]} == {"Transaction.Begin"}
    await energy_transfer_started(cs)  # step 3
    in_sequence(cs, tx)


async def test_TC_E_13_CS(cs: Harness) -> None:
    """Start transaction options - Authorized - Remote: RequestStartTransaction on EVSE 1 starts it
    (Started, RemoteStart, remoteStartId, idToken, evse), the EV then the energy follow."""
    await start_at(cs, "Authorized")
    started = await authorized_remote(cs, 1, remote_start_id=13)  # step 1
    assert started is not None and started["eventType"] == "Started" and started["evse"]["id"] == 1
    plugged = await ev_connected_pre_session(cs, authorized=True)  # step 2
    assert plugged is not None and plugged["triggerReason"] == "CablePluggedIn"
    assert "remoteStartId" not in plugged["transactionInfo"]  # only in the next event after the request
    await energy_transfer_started(cs)  # step 3
    in_sequence(cs, started["transactionInfo"]["transactionId"])


async def test_TC_E_11_CS(cs: Harness) -> None:
    """Start transaction options - DataSigned."""
    require("C-09.3")


async def test_TC_E_12_CS(cs: Harness) -> None:
    """Start transaction options - ParkingBayOccupied."""
    require("C-09.6")


async def test_TC_E_03_CS(cs: Harness) -> None:
    """Local start transaction - Cable plugin first - Success: EV first (nothing starts at
    PowerPathClosed), the token (the Started: Authorized, idToken), energy."""
    assert await ev_connected_pre_session(cs) is None
    started = await authorized_local(cs, ev_connected=True)  # step 1
    assert started is not None and started["eventType"] == "Started" and started["evse"]["id"] == 1
    await energy_transfer_started(cs)  # step 2
    in_sequence(cs, started["transactionInfo"]["transactionId"])


async def test_TC_E_04_CS(cs: Harness) -> None:
    """Local start transaction - Authorization first - Success: the token, then the EV (Started at
    the plug-in: CablePluggedIn), energy."""
    assert await authorized_local(cs) is None  # step 1
    started = await energy_transfer_started(cs)  # step 2
    tx = started["transactionInfo"]["transactionId"]
    first = in_sequence(cs, tx)[0]
    assert (first["triggerReason"], first["idToken"]) == ("CablePluggedIn", VALID_TOKEN)


async def test_TC_E_05_CS(cs: Harness) -> None:
    """Local start transaction - Authorization first - Cable plugin timeout: with TxStartPoint
    Authorized the transaction the token started ends after EVConnectionTimeOut (Ended,
    EVConnectTimeout, Timeout, E03.FR.05); a new token then starts and charges."""
    await cs.set_variables({"TxCtrlr.EVConnectionTimeOut": TIMEOUT_S, "TxCtrlr.TxStartPoint": "Authorized"})
    started = await authorized_local(cs)
    assert started is not None
    tx = started["transactionInfo"]["transactionId"]
    ended = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx
                            and p["eventType"] == "Ended")  # fmt: skip  # step 1
    assert ended["triggerReason"] == "EVConnectTimeout" and ended["transactionInfo"]["stoppedReason"] == "Timeout"
    assert ended["transactionInfo"]["chargingState"] == "Idle"
    in_sequence(cs, tx)
    again = await authorized_local(cs)  # step 3
    assert again is not None and again["transactionInfo"]["transactionId"] != tx
    await energy_transfer_started(cs)  # step 4


async def test_TC_E_38_CS(cs: Harness) -> None:
    """Local start transaction - EV not ready."""
    require("C-09.5", declared=False)  # part 5: only for stations without EnergyTransfer as start point


async def test_TC_E_52_CS(cs: Harness) -> None:
    """Local start transaction - Authorization first - DisableRemoteAuthorization (errata 6.2.48):
    a token neither in the cache nor in the local list is refused without an AuthorizeRequest;
    the EV plugged in after it does not charge."""
    require("C-58")
    assert (await cs.call("ClearCache", {}))["status"] == "Accepted"  # the memory state
    empty = {"versionNumber": 1, "updateType": "Full"}
    assert (await cs.call("SendLocalList", empty))["status"] == "Accepted"
    await cs.set_variables({"AuthCtrlr.DisableRemoteAuthorization": True})
    since = cs.mark()
    assert await presented(cs, VALID_TOKEN) == "rejected"
    await ev_connected_pre_session(cs)  # step 2
    await cs.barrier()
    assert cs.calls("Authorize", since) == []  # step 1
    assert cs.calls("TransactionEvent", since) == [] and not cs.station.view(1).snapshot.contactor  # step 3


async def test_the_started_event_names_the_later_of_plug_in_and_authorization(cs: Harness) -> None:
    """PowerPathClosed: plugged in first, then the token: the Started says Authorized with the idToken
    and the state the EVSE is in; the transactionId is the one the core keeps."""
    await ev_connected_pre_session(cs, 2)
    started = await authorized_local(cs, ev_connected=True)
    assert started is not None and started["triggerReason"] == "Authorized" and started["evse"]["id"] == 2
    assert started["transactionInfo"]["transactionId"] == await transaction_id(cs, 2)
