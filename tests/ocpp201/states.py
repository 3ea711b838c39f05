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
- Here so far: Booting, Booted, Unavailable, Reserved, EVConnectedPreSession, Authorized (main A
  local, main B remote), EnergyTransferStarted, EnergyTransferSuspended, StopAuthorized (A and B),
  EVConnectedPostSession, EVDisconnected. Still to come with the blocks they need:
  StartOfflineTransaction and the memory states TransactionEventsInQueueEnded,
  IdTokenCached, IdTokenLocalAuthList (offline authorization, cache and list: C, D),
  SetChargingProfile (K), CertificateInstalled / GetInstalledCertificates (A, M), the firmware
  reboot states (L); ParkingBayOccupied / Unoccupied are skipped (no bay sensor), the ISO 15118
  ones are out of scope.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from controller.clock import iso
from controller.core.events import EventKind
from ocpp201.harness import NETWORK_SLOTS, VALID_TOKEN, WITHIN, Harness

KINDS = ("CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate", "MORootCertificate")

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


def variable_event(component: str, variable: str, value: str, evse: int | None = None) -> Any:
    """A NotifyEvent with a Delta event of ``component.variable`` (of ``evse``) at ``value``."""

    def match(p: Payload) -> bool:
        return any(d["component"]["name"] == component and d["variable"]["name"] == variable
                   and d["actualValue"] == value and d["trigger"] == "Delta"
                   and (evse is None or d["component"].get("evse", {}).get("id") == evse)
                   for d in p["eventData"])  # fmt: skip

    return match


def answered_at(cs: Harness, action: str, since: int) -> int:
    """The frame index of the station's answer to the test system's first ``action`` after ``since``."""
    call = next(f for f in cs.frames[since:] if f.direction == "out" and f.action == action)
    answer = [3, call.message[1]]
    return next(f.index for f in cs.frames[call.index :] if f.direction == "in" and f.message[:2] == answer)


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


def last_status(cs: Harness, evse: int) -> str | None:
    """The connectorStatus last reported for ``evse`` (connector 1)."""
    reported = cs.calls("StatusNotification", 0, lambda p: p["evseId"] == evse)
    return str(reported[-1]["connectorStatus"]) if reported else None


async def ev_connected_pre_session(cs: Harness, evse: int = 1, authorized: bool = False) -> Payload | None:
    """Table 427: connect the EV; the connector becomes Occupied (told when it was not already, as
    after a remote start there); a TransactionEvent when the transaction starts here or runs
    already (returned)."""
    since = cs.mark()
    occupied = last_status(cs, evse) == "Occupied"
    cs.plug_in(evse)
    if not occupied:
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
        occupied = last_status(cs, evse) == "Occupied"
        cs.plug_in(evse)
        if not occupied:
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
    stops = ("StopAuthorized", "RemoteStop", "Deauthorized")
    stopped = max(f.index for f in cs.call_frames() if f.action == "TransactionEvent"
                  and f.payload["transactionInfo"]["transactionId"] == running.id
                  and f.payload["triggerReason"] in stops)  # fmt: skip
    event = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == running.id
                            and p["transactionInfo"].get("chargingState") == "EVConnected", stopped)  # fmt: skip
    assert event["triggerReason"] in ("ChargingStateChanged", *stops), event  # step 1
    return event


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


async def unavailable(cs: Harness, evse: int | None = None, connector: int | None = 1) -> None:
    """Table 425: ChangeAvailability Inoperative for the station (``evse`` None), one EVSE
    (``connector`` None) or one EVSE's connector; the connectors concerned become Unavailable."""
    since = cs.mark()
    payload: Payload = {"operationalStatus": "Inoperative"}
    if evse is not None:
        payload["evse"] = {"id": evse} if connector is None else {"id": evse, "connectorId": connector}
    assert (await cs.call("ChangeAvailability", payload))["status"] == "Accepted"  # step 2
    for e in [evse] if evse is not None else cs.evse_ids:
        await cs.expect("StatusNotification", connector_status("Unavailable", e, 1), since)  # step 3


def expiry(seconds: float = 3600) -> str:
    """An expiryDateTime ``seconds`` from now."""
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


async def reserve_now(cs: Harness, reservation_id: int, evse: int | None = 1, token: dict[str, str] = VALID_TOKEN,
                      **fields: Any) -> str:  # fmt: skip
    """ReserveNowRequest (``evse`` None: evseId omitted; ``fields``: connectorType, groupIdToken,
    expiryDateTime, one hour ahead unless given); returns the status answered."""
    payload: Payload = {"id": reservation_id, "idToken": token, "expiryDateTime": expiry(), **fields}
    if evse is not None:
        payload["evseId"] = evse
    return str((await cs.call("ReserveNow", payload))["status"])


async def reserved(cs: Harness, evse: int = 1, token: dict[str, str] = VALID_TOKEN, reservation_id: int = 1,
                   **fields: Any) -> None:  # fmt: skip
    """Table 424 Reserved: ReserveNow for ``evse`` Accepted; its connector becomes Reserved."""
    since = cs.mark()
    assert await reserve_now(cs, reservation_id, evse, token, **fields) == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Reserved", evse, 1), since)  # step 3


async def energy_transfer_started_from_idle(cs: Harness, evse: int = 1) -> Payload:
    """Authorized (main A, the valid idToken at the reader) then EnergyTransferStarted on ``evse``."""
    if evse not in cs.plugged:
        await authorized_local(cs)
    return await energy_transfer_started(cs, evse)


# ---- memory states of certificates (part 6 section 2.19) -----------------------------------


async def certificate_installed(cs: Harness, kind: str, pem: str) -> None:
    """Table 442 CertificateInstalled: InstallCertificate of ``kind`` is Accepted."""
    response = await cs.call("InstallCertificate", {"certificateType": kind, "certificate": pem})
    assert response["status"] == "Accepted", response  # step 2


async def installed_certificates(cs: Harness, *kinds: str) -> list[Payload]:
    """Table 438 GetInstalledCertificates: Accepted; the certificateHashDataChain entries."""
    request = {"certificateType": list(kinds)} if kinds else {}
    response = await cs.call("GetInstalledCertificateIds", request)
    assert response["status"] == "Accepted", response  # step 2
    chain: list[Payload] = response["certificateHashDataChain"]
    assert {e["certificateType"] for e in chain} <= set(kinds or KINDS), chain
    return chain


async def renew_charging_station_certificate(cs: Harness) -> Payload:
    """Table 446 RenewChargingStationCertificate (errata 6.2.122/123): TriggerMessage
    SignChargingStationCertificate, SignCertificate with a PEM CSR of a key strong enough (the test
    CSMS answers Accepted, then signs it with its CA and sends CertificateSigned), Accepted; on
    security profile 3 the station reconnects with the new certificate. Returns the CSR's request."""
    since = cs.mark()
    upgrades = len(cs.csms.upgrades)
    response = await cs.call("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    assert response["status"] == "Accepted", response  # step 2
    request = await cs.expect("SignCertificate", since=since)  # step 3
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    assert csr.is_signature_valid and strong_enough(csr.public_key()), request
    assert request.get("certificateType", "ChargingStationCertificate") == "ChargingStationCertificate"
    signed = await cs.answer_to("CertificateSigned", since)  # step 6
    assert signed["status"] == "Accepted", signed
    if cs.frontend.connectivity.connected_profile == 3:  # step 7: a new TLS connection with it
        await cs.until(lambda: len(cs.csms.upgrades) > upgrades, what="the reconnection with the new certificate")
        await cs.connected()
    return request


def strong_enough(key: Any) -> bool:
    """A00.FR.502/503: RSA / DSA at least 2048 bits, elliptic curves at least 224."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size >= 224
    return isinstance(key, rsa.RSAPublicKey | dsa.DSAPublicKey) and key.key_size >= 2048


# ---- network connection profiles (B09 / B10) ---------------------------------------------------


async def active_slot(cs: Harness) -> int:
    """OCPPCommCtrlr.ActiveNetworkProfile, read as the test system reads it."""
    request = {
        "getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "ActiveNetworkProfile"}}]
    }
    result = (await cs.call("GetVariables", request))["getVariableResult"][0]
    assert result["attributeStatus"] == "Accepted", result
    return int(result["attributeValue"])


def connection_data(url: str, security_profile: int, message_timeout: int = 5) -> Payload:
    return {"ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": url, "messageTimeout": message_timeout,
            "securityProfile": security_profile, "ocppInterface": "Wired0"}  # fmt: skip


async def network_profile_set(cs: Harness, url: str, security_profile: int) -> int:
    """B09: SetNetworkProfile into the slot not in use (errata 6.2.17) is Accepted; returns that slot."""
    active = await active_slot(cs)
    slot = next(s for s in range(1, NETWORK_SLOTS + 1) if s != active)
    payload = {"configurationSlot": slot, "connectionData": connection_data(url, security_profile)}
    response = await cs.call("SetNetworkProfile", payload)
    assert response["status"] == "Accepted", response  # step 2
    return slot


async def migrating(cs: Harness, first: int, then: int) -> None:
    """B10 (errata 6.2.17/18): NetworkConfigurationPriority ``first,then`` Accepted or
    RebootRequired, Reset OnIdle Accepted; returns once the station restarted."""
    await cs.set_variables({"OCPPCommCtrlr.NetworkConfigurationPriority": f"{first},{then}"})  # step 4
    assert (await cs.call("Reset", {"type": "OnIdle"}))["status"] == "Accepted"  # step 6
    await cs.restarted()


async def booted_through(cs: Harness, since: int, port: int) -> Payload:
    """Reusable state Booted after a restart the test caused: BootNotification, every connector's
    status and a security event, over the endpoint on ``port``. Returns the BootNotification."""
    boot = await cs.expect("BootNotification", since=since)
    await statuses_of_all_connectors(cs, since)
    event = await cs.expect("SecurityEventNotification", since=since)
    assert event["type"] in ("StartupOfTheDevice", "ResetOrReboot"), event
    assert cs.csms.upgrades[-1].port == port, cs.csms.upgrades[-3:]
    return boot


# ---- authorization (part 6 Table 443/444 memory states, Table 436) --------------------------

ACCEPTED_INFO: Payload = {"status": "Accepted"}


async def id_token_local_auth_list(cs: Harness, *entries: tuple[dict[str, str], Payload], version: int = 1) -> None:
    """Table 444 IdTokenLocalAuthList: SendLocalList Full ``version`` with ``entries`` (idToken,
    idTokenInfo); the answer is Accepted."""
    items = [{"idToken": token, "idTokenInfo": info} for token, info in entries]
    request = {"versionNumber": version, "updateType": "Full", "localAuthorizationList": items}
    assert (await cs.call("SendLocalList", request))["status"] == "Accepted"  # step 2


async def presented(cs: Harness, token: dict[str, str] = VALID_TOKEN) -> str:
    """Manual action: present ``token`` at the reader; returns what the station made of it
    (the core's token outcome: started, waiting, stopped, unlocked, rejected)."""
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def read(event: Any) -> None:
        if event.kind is EventKind.TOKEN_READ and event.token.id == token["idToken"] and not outcome.done():
            outcome.set_result(event.token_outcome.value)

    unsubscribe = cs.station.subscribe(read)
    try:
        cs.present(token)
        async with asyncio.timeout(WITHIN):
            return await outcome
    finally:
        unsubscribe()


async def id_token_cached(cs: Harness, token: dict[str, str] = VALID_TOKEN, evse: int = 2) -> None:
    """Table 443 IdTokenCached: the token is authorized (AuthorizeRequest); Accepted (main A) it
    charges an EV on ``evse``, which then leaves; not Accepted (main B) it is refused. Either way
    the CSMS's answer is in the cache."""
    since = cs.mark()
    cs.plug_in(evse)
    await cs.until(lambda: cs.station.view(evse).ev_connected, what=f"the EV seen on EVSE {evse}")
    outcome = await presented(cs, token)
    assert (await cs.expect("Authorize", since=since))["idToken"] == token
    if outcome == "rejected":
        cs.unplug(evse)
        await cs.until(lambda: not cs.station.view(evse).ev_connected, what=f"EVSE {evse} empty")
        return
    assert outcome == "started", outcome
    tx = await transaction_id(cs, evse)
    cs.unplug(evse)
    await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx
                    and p["eventType"] == "Ended", since)  # fmt: skip
    await cs.until(lambda: cs.station.view(evse).transaction is None and not cs.station.view(evse).finishing,
                   what=f"EVSE {evse} free")  # fmt: skip


async def start_offline_transaction(cs: Harness, token: dict[str, str] = VALID_TOKEN, evse: int = 1) -> str:
    """Table 436 StartOfflineTransaction: the link goes down and no reconnect is accepted; the
    token is presented and the EV connected; then the reconnect is accepted. Returns the
    transactionId (the transaction started while offline)."""
    await cs.drop()
    assert await presented(cs, token) == "waiting"
    cs.plug_in(evse)
    await cs.until(lambda: cs.station.view(evse).transaction is not None, what=f"a transaction on EVSE {evse}")
    tx = cs.station.view(evse).transaction.id
    cs.accept()
    await cs.connected()
    return str(tx)


def events_of(cs: Harness, tx: str, since: int = 0) -> list[Payload]:
    """The TransactionEvents of transaction ``tx`` the station sent from ``since`` on, in order."""
    return cs.calls("TransactionEvent", since, lambda p: p["transactionInfo"]["transactionId"] == tx)


def in_sequence(cs: Harness, tx: str) -> list[Payload]:
    """Every event of ``tx`` arrived once, numbered 0, 1, 2... in the order sent (E01.FR.07);
    ``evse`` only in the first event of the EVSE and of each plug-in; returns them."""
    events = events_of(cs, tx)
    assert [e["seqNo"] for e in events] == list(range(len(events))), [(e["seqNo"], e["triggerReason"]) for e in events]
    assert events[0]["eventType"] == "Started", events[0]
    with_evse = [e for e in events if "evse" in e]
    assert all(e["triggerReason"] in ("CablePluggedIn", "RemoteStart", "Trigger") or e is events[0]
               for e in with_evse), with_evse  # fmt: skip
    return events


def firmware_status(status: str, request_id: int) -> Any:
    def match(p: Payload) -> bool:
        return bool(p["status"] == status and p.get("requestId") == request_id)

    return match


async def reboot_before_firmware_activation(cs: Harness, request_id: int, since: int) -> Payload:
    """Table 440: FirmwareStatusNotification InstallRebooting, the restart into the new firmware,
    BootNotification with reason FirmwareUpdate, every connector's status. Returns the
    BootNotification."""
    rebooting = await cs.expect_frame("FirmwareStatusNotification", firmware_status("InstallRebooting", request_id),
                                      since)  # fmt: skip  # step 1
    await cs.restarted()
    boot = await cs.expect_frame("BootNotification", since=rebooting.index)  # step 3
    assert boot.payload["reason"] == "FirmwareUpdate", boot.payload
    await statuses_of_all_connectors(cs, boot.index)  # step 5
    return boot.payload
