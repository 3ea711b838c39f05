"""Reusable states (part 6 section 2.18) and memory states (2.19), played against the harness.

Rules kept here:
- Each state is an async function of the harness that does the state's main steps (the
  test system's messages and the manual actions on the simulated world) and checks the
  state's tool validations on the frames the station sent; it returns what later steps need
  (a transactionId, the frames' start mark...).
- A state starts from where the test case is; where the part-6 table says "if State is NOT
  X then execute X", the caller passes the state it is in, or calls X first.
- What a state checks depends on the configured TxStartPoint / TxStopPoint as its table says
  (``starts_at`` / ``stops_at``); the validations name the step they come from.
- Here so far: Booting, Booted, Unavailable, EVConnectedPreSession, Authorized (main A local,
  main B remote), EnergyTransferStarted, EnergyTransferSuspended, StopAuthorized (A and B),
  EVConnectedPostSession, EVDisconnected. Still to come with the blocks they need: Reserved
  (ReserveNow, H), StartOfflineTransaction and the memory states TransactionEventsInQueueEnded,
  IdTokenCached, IdTokenLocalAuthList (offline authorization, cache and list: C, D),
  SetChargingProfile (K), CertificateInstalled / GetInstalledCertificates (A, M), the firmware
  reboot states (L); ParkingBayOccupied / Unoccupied are skipped (no bay sensor), the ISO 15118
  ones are out of scope.
"""

from __future__ import annotations

from typing import Any

from ocpp201.harness import VALID_TOKEN, Harness

Payload = dict[str, Any]


def points(cs: Harness, address: str) -> set[str]:
    return set(cs.variable(address))


def starts_at(cs: Harness, *point: str) -> bool:
    return bool(points(cs, "TxCtrlr.TxStartPoint") & set(point))


def stops_at(cs: Harness, *point: str) -> bool:
    return bool(points(cs, "TxCtrlr.TxStopPoint") & set(point))


def connector_status(status: str, evse: int | None = None, connector: int | None = None) -> Any:
    def match(p: Payload) -> bool:
        return (p["connectorStatus"] == status and (evse is None or p["evseId"] == evse)
                and (connector is None or p["connectorId"] == connector))  # fmt: skip

    return match


async def statuses_of_all_connectors(cs: Harness, since: int, expected: dict[int, str] | None = None) -> None:
    """Every connector's status arrived after ``since`` ("notifies the CSMS about the current
    state of all connectors"); ``expected``: per EVSE the status it must have (default Available)."""
    for evse in cs.evse_ids:
        status = (expected or {}).get(evse, "Available")
        payload = await cs.expect("StatusNotification", lambda p, e=evse: p["evseId"] == e, since)
        assert payload["connectorStatus"] == status, (evse, payload)
        assert payload["evseId"] != 0 and payload["connectorId"] != 0


async def booting(cs: Harness) -> None:
    """Table 422: ResetRequest Immediate, the station goes down to boot again."""
    response = await cs.call("Reset", {"type": "Immediate"})
    assert response["status"] == "Accepted"  # step 2
    await cs.restarted()


async def booted(cs: Harness, reset: bool = False, expected: dict[int, str] | None = None) -> Payload:
    """Table 423: a power cycle (or, ``reset``, a ResetRequest), BootNotification Accepted, every
    connector's status, a SecurityEventNotification. Returns the BootNotification."""
    since = cs.mark()
    if reset:
        await booting(cs)
    else:
        await cs.power_cycle()
    boot = await cs.expect("BootNotification", since=since)  # step 3
    after_boot = cs.mark()
    await statuses_of_all_connectors(cs, since, expected)  # step 5
    event = await cs.expect("SecurityEventNotification", since=since)  # step 7
    assert event["type"] in ("StartupOfTheDevice", "ResetOrReboot")
    assert cs.calls("BootNotification", after_boot) == []
    return boot


async def ev_connected_pre_session(cs: Harness, evse: int = 1, authorized: bool = False) -> Payload | None:
    """Table 427: connect the EV; the connector becomes Occupied; a TransactionEvent when the
    transaction starts here or runs already (returned)."""
    since = cs.mark()
    cs.plug_in(evse)
    await cs.expect("StatusNotification", connector_status("Occupied", evse, 1), since)  # step 1
    if not (starts_at(cs, "EVConnected") or (authorized and starts_at(cs, "Authorized", "PowerPathClosed"))):
        return None
    event = await cs.expect("TransactionEvent", since=since)  # step 3
    assert event["triggerReason"] in ("CablePluggedIn", "ChargingStateChanged", "RemoteStart"), event
    assert event["evse"] == {"id": evse, "connectorId": 1}, event
    return event


async def authorization_taken(cs: Harness, token: dict[str, str]) -> None:
    """The station has the CSMS's answer and holds the authorization (waiting for an EV, or on it)."""

    def holds() -> bool:
        view = cs.station.station_view()
        held = [a for a in (view.pending, *(e.authorization for e in view.evses)) if a is not None]
        return any(a.token.id == token["idToken"] and a.token.type.value == token["type"] for a in held)

    await cs.until(holds, what=f"{token['idToken']} authorized")


async def authorized_local(cs: Harness, token: dict[str, str] = VALID_TOKEN, ev_connected: bool = False
                           ) -> Payload | None:  # fmt: skip
    """Table 428 main A: present the idToken; AuthorizeRequest; a TransactionEvent with the
    idToken when the transaction starts here or runs already (returned)."""
    since = cs.mark()
    cs.present(token)
    request = await cs.expect("Authorize", since=since)  # step 1
    assert request["idToken"] == token
    await authorization_taken(cs, token)
    if not (starts_at(cs, "Authorized") or ev_connected):
        return None
    event = await cs.expect("TransactionEvent", lambda p: "idToken" in p, since)  # step 3
    assert event["triggerReason"] == "Authorized" and event["idToken"] == token, event
    return event


async def authorized_remote(cs: Harness, evse: int = 1, token: dict[str, str] = VALID_TOKEN,
                            remote_start_id: int = 1) -> Payload | None:  # fmt: skip
    """Table 428 main B (errata 6.2.116): RequestStartTransaction; AuthorizeRequest when
    AuthCtrlr.AuthorizeRemoteStart is true; the TransactionEvent with RemoteStart, the
    remoteStartId and the idToken when the transaction starts here or runs already (returned)."""
    since = cs.mark()
    running = cs.station.view(evse).transaction
    request = {"idToken": token, "remoteStartId": remote_start_id, "evseId": evse}
    response = await cs.call("RequestStartTransaction", request)
    assert response["status"] == "Accepted"  # step 2
    if running is not None:
        assert response.get("transactionId") == running.id
    if cs.variable("AuthCtrlr.AuthorizeRemoteStart") is True:
        assert (await cs.expect("Authorize", since=since))["idToken"] == token  # step 3
    await authorization_taken(cs, token)
    if not (starts_at(cs, "Authorized") or running is not None or evse in cs.plugged):
        return None
    event = await cs.expect("TransactionEvent", lambda p: "idToken" in p, since)  # step 5
    assert event["triggerReason"] == "RemoteStart" and event["idToken"] == token, event
    assert event["transactionInfo"]["remoteStartId"] == remote_start_id, event
    return event


async def energy_transfer_started(cs: Harness, evse: int = 1) -> Payload:
    """Table 430: from Authorized, connect the EV (part 1) and charge (part 2); returns the
    TransactionEvent with chargingState Charging."""
    since = cs.mark()
    if evse not in cs.plugged:
        cs.plug_in(evse)
        await cs.expect("StatusNotification", connector_status("Occupied", evse, 1), since)  # step 1
    event = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"].get("chargingState") == "Charging",
                            since)  # fmt: skip  # step 9
    assert event["triggerReason"] in ("ChargingStateChanged", "CablePluggedIn", "Authorized"), event
    await cs.until(lambda: cs.station.view(evse).snapshot.contactor, what=f"EVSE {evse} charging")
    return event


async def energy_transfer_suspended(cs: Harness, evse: int = 1) -> Payload:
    """Table 431: the EV suspends the energy transfer; ChargingStateChanged to SuspendedEV, or the
    end of the transaction (StoppedByEV) where EnergyTransfer is a stop point (returned)."""
    since = cs.mark()
    tx = await transaction_id(cs, evse)
    cs.sim.ev_action(evse, "pause")
    suspended = ("SuspendedEV", "EVConnected")
    event = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx
                            and p["transactionInfo"].get("chargingState") in suspended, since)  # fmt: skip
    assert event["eventType"] in ("Updated", "Ended"), event  # step 1
    if event["eventType"] == "Ended":
        assert event["transactionInfo"]["stoppedReason"] == "StoppedByEV", event
    else:
        assert event["triggerReason"] == "ChargingStateChanged", event
    return event


async def ev_connected_post_session(cs: Harness, evse: int = 1) -> Payload | None:
    """Table 433 (after StopAuthorized, errata 6.2.117): energy transfer has stopped; a transaction
    still running tells chargingState EVConnected (returned)."""
    await cs.until(lambda: not cs.station.view(evse).snapshot.contactor, what=f"EVSE {evse} not charging")
    running = cs.station.view(evse).transaction
    if running is None:
        return None
    return await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == running.id
                           and p["transactionInfo"].get("chargingState") == "EVConnected")  # fmt: skip  # step 1


async def transaction_id(cs: Harness, evse: int = 1) -> str:
    """The transactionId of the running transaction on ``evse``, as the station announced it."""
    tx = cs.station.view(evse).transaction
    assert tx is not None, f"no transaction on EVSE {evse}"
    await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx.id)
    return str(tx.id)


async def _stopped(cs: Harness, tx: str, trigger: str, stopped_reason: str, since: int) -> Payload:
    """Table 432's validations (errata 6.2.117): the event with ``trigger``; when TxStopPoint holds
    Authorized, PowerPathClosed or EnergyTransfer the transaction ends here, in that event or in
    the ChargingStateChanged (EVConnected) after it, with ``stopped_reason`` or none; else both
    are Updated. Returns the last of them."""

    def of_tx(p: Payload) -> bool:
        return bool(p["transactionInfo"]["transactionId"] == tx)

    first = await cs.expect("TransactionEvent", lambda p: of_tx(p) and p["triggerReason"] == trigger, since)
    if not stops_at(cs, "Authorized", "PowerPathClosed", "EnergyTransfer"):
        assert first["eventType"] == "Updated", first
        return first
    last = first if first["eventType"] == "Ended" else await cs.expect(
        "TransactionEvent", lambda p: of_tx(p) and p["eventType"] == "Ended", since)  # fmt: skip
    if last is not first:
        assert last["triggerReason"] == "ChargingStateChanged", last
        assert last["transactionInfo"]["chargingState"] == "EVConnected", last
    assert last["transactionInfo"].get("stoppedReason", stopped_reason) == stopped_reason, last
    await cs.until(lambda: all(v.transaction is None or v.transaction.id != tx for v in cs.station.views()),
                   what=f"transaction {tx} ended")  # fmt: skip
    return last


async def stop_authorized_local(cs: Harness, evse: int = 1, token: dict[str, str] = VALID_TOKEN) -> Payload:
    """Table 432 main A (errata 6.2.117): present the same idToken; triggerReason StopAuthorized,
    idToken absent or that one."""
    since = cs.mark()
    tx = await transaction_id(cs, evse)
    cs.present(token)
    event = await _stopped(cs, tx, "StopAuthorized", "Local", since)  # steps 1, 3
    first = cs.calls("TransactionEvent", since, lambda p: p["triggerReason"] == "StopAuthorized")[0]
    assert "idToken" not in first or first["idToken"] == token
    return event


async def stop_authorized_remote(cs: Harness, evse: int = 1) -> Payload:
    """Table 432 main B: RequestStopTransaction; triggerReason RemoteStop."""
    since = cs.mark()
    tx = await transaction_id(cs, evse)
    response = await cs.call("RequestStopTransaction", {"transactionId": tx})
    assert response["status"] == "Accepted"  # step 2
    return await _stopped(cs, tx, "RemoteStop", "Remote", since)  # steps 3, 5


async def ev_disconnected(cs: Harness, evse: int = 1) -> Payload | None:
    """Table 434: disconnect the EV; the connector becomes Available; the TransactionEvent that
    ends a transaction still running (returned)."""
    since = cs.mark()
    running = cs.station.view(evse).transaction
    cs.unplug(evse)
    await cs.expect("StatusNotification", connector_status("Available", evse, 1), since)  # step 1
    if running is None:
        return None
    event = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == running.id
                            and p["eventType"] == "Ended", since)  # fmt: skip  # step 3
    assert event["triggerReason"] in ("EVCommunicationLost", "EVDeparted", "StopAuthorized", "RemoteStop"), event
    return event


async def unavailable(cs: Harness, evse: int | None = None) -> None:
    """Table 425: ChangeAvailability Inoperative for the station (``evse`` None) or one EVSE's
    connector; the connectors concerned become Unavailable."""
    since = cs.mark()
    payload: Payload = {"operationalStatus": "Inoperative"}
    if evse is not None:
        payload["evse"] = {"id": evse, "connectorId": 1}
    assert (await cs.call("ChangeAvailability", payload))["status"] == "Accepted"  # step 2
    for e in [evse] if evse is not None else cs.evse_ids:
        await cs.expect("StatusNotification", connector_status("Unavailable", e, 1), since)  # step 3


async def energy_transfer_started_from_idle(cs: Harness, evse: int = 1) -> Payload:
    """Authorized (main A, the valid idToken at the reader) then EnergyTransferStarted on ``evse``."""
    if evse not in cs.plugged:
        await authorized_local(cs)
    return await energy_transfer_started(cs, evse)
