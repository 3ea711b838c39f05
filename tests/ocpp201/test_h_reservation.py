"""Part 6 section 2.9, H Reservation: ReserveNow for an EVSE, any EVSE or a connector type,
CancelReservation, ReservationStatusUpdate, the Reserved connector status and who may use a
reserved EVSE (H01-H04; errata 2.30-2.32, 6.2.60-6.2.62). The station has two EVSEs: EVSE 1
with a tethered cable (cType2), EVSE 2 a socket (sType2)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ocpp201.harness import MODULE, SECOND_TOKEN, VALID_TOKEN, Harness, require, unique_id
from ocpp201.states import (
    authorized_local,
    connector_status,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    expiry,
    last_status,
    presented,
    reserve_now,
    reserved,
    unavailable,
)

pytestmark = MODULE

GROUP = {"idToken": "GROUP-H", "type": "Central"}  # <Configured groupIdToken>


def update(status: str, reservation_id: int) -> Any:
    def match(p: dict[str, Any]) -> bool:
        return bool(p["reservationUpdateStatus"] == status and p["reservationId"] == reservation_id)

    return match


async def started_with(cs: Harness, reservation_id: int, evse: int, since: int) -> None:
    """The transaction on ``evse`` started with the reservation's id (H01.FR.15), which ended."""
    tx = cs.station.view(evse).transaction
    assert tx is not None, f"no transaction on EVSE {evse}"
    started = await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx.id
                              and "reservationId" in p, since)  # fmt: skip
    assert started["reservationId"] == reservation_id, started
    assert all(r.id != reservation_id for r in cs.station.reservations())


def member_of_group(cs: Harness) -> None:
    """The test CSMS answers SECOND_TOKEN's AuthorizeRequest with the <Configured groupIdToken>."""
    cs.csms.config = dataclasses.replace(cs.csms.config, parents={SECOND_TOKEN["idToken"]: GROUP["idToken"]})


@pytest.fixture
def groups(cs: Harness) -> Any:
    yield
    cs.csms.config = dataclasses.replace(cs.csms.config, parents={})


def connector_type(cs: Harness, evse: int) -> str:
    (kind,) = cs.frontend.reservations.connector_types[evse]
    return str(kind)


async def test_TC_H_01_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Accepted - Valid idToken: Reserved; the reserving idToken presented,
    the connector turns Available; the transaction carries the reservationId."""
    await reserved(cs, 1)  # step 1
    since = cs.mark()
    await authorized_local(cs)  # step 2
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)
    await energy_transfer_started(cs, 1)  # step 3
    await started_with(cs, 1, 1, since)


async def test_TC_H_02_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Accepted - Different idToken: an EV plugged into the EVSE reserved
    for one idToken; another idToken at the reader (main A) does not make it charge, a
    RequestStartTransaction for it there is Rejected (main B). Played with EVSE 2 Unavailable,
    so the reader's token cannot wait for an EV on the other EVSE."""
    await unavailable(cs, 2)
    await reserved(cs, 1)
    since = cs.mark()
    cs.plug_in(1)  # EVConnectedPreSession: the connector stays Reserved (errata 2.32, H03 S1 #2)
    await cs.until(lambda: cs.station.view(1).ev_connected, what="the EV seen on EVSE 1")
    assert await presented(cs, SECOND_TOKEN) == "rejected"  # main A
    assert (await cs.expect("Authorize", since=since))["idToken"] == SECOND_TOKEN
    response = await cs.call("RequestStartTransaction", {"idToken": SECOND_TOKEN, "remoteStartId": 2, "evseId": 1})
    assert response["status"] == "Rejected"  # main B, step 2
    await cs.barrier()
    charging = cs.calls("TransactionEvent", since, lambda p: p["transactionInfo"].get("chargingState") == "Charging")
    assert charging == [] and not cs.station.view(1).snapshot.contactor
    assert cs.calls("StatusNotification", since, lambda p: p["evseId"] == 1) == []
    assert last_status(cs, 1) == "Reserved"


async def test_TC_H_03_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Occupied - EVSE Reserved."""
    await reserved(cs, 1)
    assert await reserve_now(cs, 2, 1, SECOND_TOKEN) == "Occupied"  # step 2


async def test_TC_H_04_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Occupied - EVSE Occupied."""
    await energy_transfer_started_from_idle(cs, 1)
    assert await reserve_now(cs, 1, 1, SECOND_TOKEN) == "Occupied"  # step 2


async def test_TC_H_06_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Unavailable."""
    await unavailable(cs, 1)
    assert await reserve_now(cs, 1, 1, SECOND_TOKEN) == "Unavailable"  # step 2


async def test_TC_H_07_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Reservation Ended / not used: at the expiry (2 s here instead of
    the table's 60) the connector is Available again and ReservationStatusUpdate Expired follows;
    another idToken then charges there (H04.FR.02)."""
    await reserved(cs, 1, reservation_id=7, expiryDateTime=expiry(2))
    since = cs.mark()
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)  # step 1
    await cs.expect("ReservationStatusUpdate", update("Expired", 7), since)  # step 3
    await authorized_local(cs, SECOND_TOKEN)  # step 5
    await energy_transfer_started(cs, 1)  # step 6


async def test_TC_H_08_CS(cs: Harness) -> None:
    """Reserve an unspecified EVSE - Accepted: with two EVSEs free nothing shows Reserved; the
    reserving idToken (errata 6.2.60) charges, its transaction carries the reservationId."""
    since = cs.mark()
    assert await reserve_now(cs, 8, None) == "Accepted"  # step 2
    await cs.barrier()
    assert cs.calls("StatusNotification", since) == []  # step 3: only a station with one EVSE
    await authorized_local(cs)  # step 5
    await energy_transfer_started(cs, 1)  # step 6
    await started_with(cs, 8, 1, since)


async def test_TC_H_09_CS(cs: Harness) -> None:
    """Reserve an unspecified EVSE - Occupied - EVSE Reserved (all EVSEs reserved)."""
    await reserved(cs, 1, VALID_TOKEN, 1)
    await reserved(cs, 2, SECOND_TOKEN, 2)
    assert await reserve_now(cs, 3, None) == "Occupied"  # step 2


async def test_TC_H_10_CS(cs: Harness) -> None:
    """Reserve an unspecified EVSE - Occupied - EVSE Occupied (a transaction on every EVSE)."""
    await energy_transfer_started_from_idle(cs, 1)
    await authorized_local(cs, SECOND_TOKEN)
    await energy_transfer_started(cs, 2)
    assert await reserve_now(cs, 1, None, expiryDateTime=expiry(600)) == "Occupied"  # step 2


async def test_TC_H_12_CS(cs: Harness) -> None:
    """Reserve an unspecified EVSE - Unavailable (the whole station)."""
    await unavailable(cs)
    assert await reserve_now(cs, 1, None) == "Unavailable"  # step 2


async def test_TC_H_13_CS(cs: Harness) -> None:
    """Reserve an unspecified EVSE - Rejected: only for stations without NonEvseSpecific (NOT R-2)."""
    require("R-2", declared=False)


async def test_TC_H_14_CS(cs: Harness) -> None:
    """Reserve an unspecified EVSE - Amount of EVSEs available equals the amount of reservations:
    one reservation per EVSE, each with its own idToken; then every connector is Reserved."""
    since = cs.mark()
    for n, token in enumerate((VALID_TOKEN, SECOND_TOKEN), start=1):
        assert await reserve_now(cs, 140 + n, None, token) == "Accepted"  # step 2
    for evse in cs.evse_ids:  # step 3
        await cs.expect("StatusNotification", connector_status("Reserved", evse, 1), since)


async def test_TC_H_15_CS(cs: Harness) -> None:
    """Reserve a connector with a specific type - Success: the one EVSE with that type is Reserved,
    the reserving idToken charges there and its transaction carries the reservationId."""
    kind = connector_type(cs, 2)
    assert connector_type(cs, 1) != kind
    since = cs.mark()
    assert await reserve_now(cs, 15, None, connectorType=kind) == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Reserved", 2, 1), since)  # step 3
    await authorized_local(cs)  # step 5
    await energy_transfer_started(cs, 2)  # step 6
    await started_with(cs, 15, 2, since)
    assert cs.calls("StatusNotification", since, lambda p: p["evseId"] == 1) == []


async def test_TC_H_16_CS(cs: Harness) -> None:
    """Reserve a connector with a specific type - Amount of available connectors of a type equals
    the amount of reservations: every EVSE reserved, a reservation of a type is Occupied (and so
    is a second one of a type only one EVSE has)."""
    await reserved(cs, 1, VALID_TOKEN, 1)
    await reserved(cs, 2, SECOND_TOKEN, 2)
    assert await reserve_now(cs, 3, None, connectorType=connector_type(cs, 2)) == "Occupied"  # step 2
    await cs.call("CancelReservation", {"reservationId": 2})
    assert await reserve_now(cs, 3, None, connectorType=connector_type(cs, 2)) == "Accepted"
    assert await reserve_now(cs, 4, None, SECOND_TOKEN, connectorType=connector_type(cs, 2)) == "Occupied"


async def test_TC_H_17_CS(cs: Harness) -> None:
    """Cancel reservation of an EVSE - Success: Accepted, the connector Available again, and no
    ReservationStatusUpdate (H02 remark)."""
    await reserved(cs, 1, reservation_id=17)
    since = cs.mark()
    assert (await cs.call("CancelReservation", {"reservationId": 17}))["status"] == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)  # step 3
    await cs.barrier()
    assert cs.calls("ReservationStatusUpdate", since) == []


async def test_TC_H_18_CS(cs: Harness) -> None:
    """Cancel reservation of an EVSE - Rejected: no reservation with that id."""
    assert (await cs.call("CancelReservation", {"reservationId": 1}))["status"] == "Rejected"  # step 2


async def test_TC_H_19_CS(cs: Harness, groups: None) -> None:
    """Reserve a specific EVSE - Use a reserved EVSE with GroupId: another idToken whose
    AuthorizeResponse names the reservation's groupIdToken charges there (H03.FR.04/08)."""
    member_of_group(cs)
    await reserved(cs, 1, VALID_TOKEN, 19, groupIdToken=GROUP)  # steps 2, 3
    since = cs.mark()
    await authorized_local(cs, SECOND_TOKEN)  # step 5: the AuthorizeRequest brings the group
    await energy_transfer_started(cs, 1)  # step 6
    await started_with(cs, 19, 1, since)


async def test_TC_H_21_CS(cs: Harness) -> None:
    """Charging Station cancels reservation when Unavailable: the reserved EVSE set Inoperative is
    Unavailable and the reservation Removed; Operative again it is Available, for anyone."""
    await reserved(cs, 1, reservation_id=21)
    since = cs.mark()
    await unavailable(cs, 1, None)  # steps 1-4
    await cs.expect("ReservationStatusUpdate", update("Removed", 21), since)  # step 5
    since = cs.mark()
    response = await cs.call("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}})
    assert response["status"] == "Accepted"  # step 8
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)  # step 9
    await authorized_local(cs, SECOND_TOKEN)  # step 11
    await energy_transfer_started(cs, 1)  # step 12


async def test_TC_H_22_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Configured to Reject: ReservationCtrlr.Enabled false."""
    await cs.set_variables({"ReservationCtrlr.Enabled": False})
    assert await reserve_now(cs, 22, 1) == "Rejected"  # step 2
    assert cs.station.reservations() == ()


async def test_TC_H_23_CS(cs: Harness) -> None:
    """Reserve a specific EVSE - Replace reservation: the same id for another idToken replaces it;
    the connector stays Reserved, the first idToken may no longer start there, the new one does."""
    await reserved(cs, 1, VALID_TOKEN, 23)
    assert await reserve_now(cs, 23, 1, SECOND_TOKEN) == "Accepted"  # step 2
    assert [(r.id, r.token.id) for r in cs.station.reservations()] == [(23, SECOND_TOKEN["idToken"])]
    assert last_status(cs, 1) == "Reserved"
    refused = await cs.call("RequestStartTransaction", {"idToken": VALID_TOKEN, "remoteStartId": 23, "evseId": 1})
    assert refused["status"] == "Rejected"
    since = cs.mark()
    await authorized_local(cs, SECOND_TOKEN)  # step 3
    await energy_transfer_started(cs, 1)  # step 4
    await started_with(cs, 23, 1, since)


async def test_TC_H_24_CS(cs: Harness, groups: None) -> None:
    """Reserve an unspecified EVSE - GroupIdToken: another idToken of the reservation's group
    charges and uses it (H03.FR.06)."""
    member_of_group(cs)
    assert await reserve_now(cs, 24, None, VALID_TOKEN, groupIdToken=GROUP) == "Accepted"  # step 2
    since = cs.mark()
    await authorized_local(cs, SECOND_TOKEN)  # step 5
    await energy_transfer_started(cs, 1)  # step 6
    await started_with(cs, 24, 1, since)


# ---- beyond the part-6 tables -------------------------------------------------------------------


async def test_a_reservation_used_inside_a_transaction_started_by_the_plug_in(cs: Harness) -> None:
    """H03 S1 scenario #2 (errata 2.32): TxStartPoint EVConnected; the plug-in starts a transaction
    on the reserved EVSE, which stays Reserved; the reserving idToken then uses the reservation
    (its Updated event carries the reservationId) and the connector turns Occupied; the
    reservation is gone, so no Expired follows."""
    await cs.set_variables({"TxCtrlr.TxStartPoint": "EVConnected"})
    await reserved(cs, 1, reservation_id=31, expiryDateTime=expiry(600))
    since = cs.mark()
    cs.plug_in(1)
    await cs.until(lambda: cs.station.view(1).transaction is not None, what="a transaction on EVSE 1")
    await authorized_local(cs, ev_connected=True)
    updated = await cs.expect("TransactionEvent", lambda p: p["triggerReason"] == "Authorized", since)
    assert updated["eventType"] == "Updated" and updated["reservationId"] == 31, updated
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)
    assert cs.station.reservations() == ()
    assert cs.station.view(1).transaction.reservation_id == 31


async def test_a_reservation_whose_evse_becomes_faulted_is_removed(cs: Harness) -> None:
    """H01.FR.16 (the station's side of TC_H_20_CSMS): the reserved EVSE turns Faulted; the
    reservation is Removed, and the EVSE is not Reserved again once the fault clears."""
    await reserved(cs, 1, reservation_id=20)
    since = cs.mark()
    cs.sim.set_fault(1, "rcd", True)
    await cs.expect("StatusNotification", connector_status("Faulted", 1, 1), since)
    await cs.expect("ReservationStatusUpdate", update("Removed", 20), since)
    cs.sim.set_fault(1, "rcd", False)
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)
    assert cs.station.reservations() == ()


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"evseId": 9}, "an EVSE the station does not have"),
        ({"connectorType": "cCCS2"}, "a connector type no EVSE has"),
        ({"evseId": 1, "connectorType": "sType2"}, "EVSE 1 has no such connector"),
        ({"evseId": 1, "expiryDateTime": expiry(-60)}, "an expiry in the past"),
    ],
)
async def test_reserve_now_for_what_cannot_be_reserved_is_rejected(cs: Harness, fields: dict[str, Any], why: str
                                                                    ) -> None:  # fmt: skip
    assert await reserve_now(cs, 90, None, **fields) == "Rejected", why
    assert cs.station.reservations() == ()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"connectorType": "Tesla"}, "PropertyConstraintViolation"),  # not a ConnectorEnumType value
        ({"expiryDateTime": "tomorrow"}, "TypeConstraintViolation"),
    ],
)
async def test_reserve_now_that_breaks_the_schema_gets_a_callerror(cs: Harness, fields: dict[str, Any], code: str
                                                                    ) -> None:  # fmt: skip
    message_id = unique_id()
    request = {"id": 91, "evseId": 1, "idToken": VALID_TOKEN, "expiryDateTime": expiry(), **fields}
    answer = await cs.call_raw(json.dumps([2, message_id, "ReserveNow", request]), message_id)
    assert answer[0] == 4 and answer[2] == code, answer
    assert cs.station.reservations() == ()
