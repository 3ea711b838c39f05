"""OCPP 1.6 Reservation end to end: ReserveNow / CancelReservation from the bench CSMS over a real
websocket to the daemon on the simulated board (tests/ocpp_bench.py), statuses as the CSMS sees
them, the StartTransaction that ends a reservation, and a restart in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ocpp.exceptions import TypeConstraintViolationError
from ocpp_bench import EV, Bench, reservation

from controller.clock import iso
from controller.core.vocabulary import TokenSource
from controller.ocpp.v16.idtag import token


def expiry(seconds: float = 3600.0) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def reserve(rid: int, connector: int, tag: str = "TAG1", seconds: float = 3600.0, **extra: str) -> dict:
    return {"reservationId": rid, "connectorId": connector, "idTag": tag, "expiryDate": expiry(seconds), **extra}


async def test_only_the_reserving_tag_starts_and_its_start_transaction_ends_the_reservation(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    assert await bench.call("ReserveNow", reserve(42, 1, "tag1")) == {"status": "Accepted"}  # ids: case-insensitive
    await bench.wait_status(1, "Reserved")
    assert await bench.call("ReserveNow", reserve(43, 1, "04A2B3C4")) == {"status": "Occupied"}
    sim.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    # Another tag, accepted by the CSMS, may not start here: not by a swipe, not remotely.
    assert (await daemon.station.present_token(token("04A2B3C4"), TokenSource.API)).outcome == "rejected"
    assert await bench.call("RemoteStartTransaction", {"idTag": "04A2B3C4", "connectorId": 1}) == {"status": "Rejected"}
    assert bench.payloads("Authorize") == [{"idTag": "04A2B3C4"}]
    sim.swipe("TAG1")  # through the simulated token reader
    await bench.wait_status(1, "Charging")
    [start] = bench.payloads("StartTransaction")
    assert start["idTag"] == "TAG1" and start["reservationId"] == 42
    assert await bench.call("CancelReservation", {"reservationId": 42}) == {"status": "Rejected"}  # ended
    assert daemon.station.reservations() == ()


async def test_a_group_reservation_learns_the_parent_of_another_tag(bench):
    # 5.13: a tag's parent from the cache, else from Authorize.conf; admitted when the parents match.
    bench.csms.config.id_tags.add("STRANGER")
    bench.csms.config.parents = {"TAG1": "FAMILY", "04A2B3C4": "FAMILY", "STRANGER": "OTHERS"}
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    assert await bench.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"}) == {
        "status": "Accepted"
    }
    assert await bench.call("ReserveNow", reserve(7, 1, "TAG1", parentIdTag="FAMILY")) == {"status": "Accepted"}
    await bench.wait_status(1, "Reserved")
    sim.plug_in(1, **EV)
    assert (
        await daemon.station.present_token(token("STRANGER"), TokenSource.API)
    ).outcome == "rejected"  # accepted, but of another group
    assert await bench.call("RemoteStartTransaction", {"idTag": "STRANGER", "connectorId": 1}) == {
        "status": "Rejected"  # the cache knows its group: nothing to ask
    }
    for tag in ("NOBODY", "04A2B3C4"):  # unknown here: asked; the CSMS names no group, then FAMILY
        assert await bench.call("RemoteStartTransaction", {"idTag": tag, "connectorId": 1}) == {"status": "Accepted"}
    await bench.wait_status(1, "Charging")
    assert bench.payloads("Authorize") == [{"idTag": "STRANGER"}, {"idTag": "NOBODY"}, {"idTag": "04A2B3C4"}]
    [start] = bench.payloads("StartTransaction")
    assert start["idTag"] == "04A2B3C4" and start["reservationId"] == 7
    assert daemon.station.view(1).transaction.token.group == "FAMILY"
    assert daemon.station.reservations() == ()


async def test_expiry_cancel_replace_and_a_restart(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    assert await bench.call("ReserveNow", reserve(1, 1, seconds=1.5)) == {"status": "Accepted"}
    await bench.wait_status(1, "Reserved")
    await bench.wait_status(1, "Available")  # expired: available again, and said so
    assert daemon.station.reservations() == ()
    assert await bench.call("ReserveNow", reserve(2, 1)) == {"status": "Accepted"}
    await bench.wait_status(1, "Reserved")
    # The same reservationId replaces the reservation (another tag, another expiry).
    assert await bench.call("ReserveNow", reserve(2, 1, "04A2B3C4", parentIdTag="FAMILY")) == {"status": "Accepted"}
    assert reservation(daemon, 2).token.id == "04A2B3C4"
    await bench.stop()
    bench.csms.log.clear()
    daemon = await bench.start()
    assert reservation(daemon, 2).token.group == "FAMILY"  # kept in SQLite
    await bench.wait_status(1, "Reserved")  # the boot report after the restart
    assert await bench.call("CancelReservation", {"reservationId": 2}) == {"status": "Accepted"}
    await bench.wait_status(1, "Available")
    assert await bench.call("CancelReservation", {"reservationId": 2}) == {"status": "Rejected"}


async def test_reserve_now_refusals(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    assert await bench.call("ReserveNow", reserve(1, 9)) == {"status": "Rejected"}  # no such connector
    assert await bench.call("ReserveNow", reserve(1, 1, seconds=-60)) == {"status": "Rejected"}  # already past
    for moment in ("tomorrow", "2030-01-01", ""):  # not RFC 3339 date-times: rpc.py's CALLERROR; the daemon carries on
        with pytest.raises(TypeConstraintViolationError):
            await bench.call("ReserveNow", {**reserve(1, 1), "expiryDate": moment})

    assert await bench.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}) == {"status": "Accepted"}
    assert await bench.call("ReserveNow", reserve(1, 1)) == {"status": "Unavailable"}
    assert await bench.call("ReserveNow", reserve(1, 0)) == {"status": "Unavailable"}
    assert await bench.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"}) == {"status": "Accepted"}
    await bench.wait_status(1, "Available")

    assert await bench.call("ReserveNow", reserve(2, 1)) == {"status": "Accepted"}
    await bench.wait_status(1, "Reserved")
    sim.set_fault(1, "overtemp", True)  # a fault ends the reservation (5.13)
    await bench.wait_status(1, "Faulted")
    assert await bench.call("ReserveNow", reserve(3, 1)) == {"status": "Faulted"}
    sim.set_fault(1, "overtemp", False)
    await bench.wait_status(1, "Available")
    assert await bench.call("CancelReservation", {"reservationId": 2}) == {"status": "Rejected"}

    sim.plug_in(1, **EV)
    sim.swipe("TAG1")
    await bench.wait_status(1, "Charging")
    assert await bench.call("ReserveNow", reserve(4, 1)) == {"status": "Occupied"}
    assert await bench.call("ReserveNow", reserve(4, 0)) == {"status": "Occupied"}
    assert bench.csms.callerrors == 3


async def test_connector_zero_keeps_one_connector_for_the_tag(csms, tmp_path):
    bench = Bench(csms, tmp_path, connectors=2)
    try:
        daemon = await bench.start()
        sim = daemon.board.simulation
        await bench.wait_status(2, "Available")
        wanted = ["ReserveConnectorZeroSupported", "SupportedFeatureProfiles"]
        get = await bench.call("GetConfiguration", {"key": wanted})
        values = {k["key"]: k["value"] for k in get["configurationKey"]}
        assert values["ReserveConnectorZeroSupported"] == "true"
        assert {"Reservation", "LocalAuthListManagement"} <= set(values["SupportedFeatureProfiles"].split(","))
        assert await bench.call("ReserveNow", reserve(5, 0)) == {"status": "Accepted"}
        # One of two connectors is kept: nothing shows Reserved yet, a stranger may take one.
        sim.plug_in(2, **EV)
        assert await bench.call("RemoteStartTransaction", {"idTag": "04A2B3C4", "connectorId": 2}) == {
            "status": "Accepted"
        }
        await bench.wait_status(2, "Charging")
        await bench.wait_status(1, "Reserved")  # now the last free connector is the tag's
        assert bench.status_of(0) == "Available"
        assert await bench.call("RemoteStartTransaction", {"idTag": "04A2B3C4", "connectorId": 1}) == {
            "status": "Rejected"
        }
        sim.plug_in(1, **EV)
        sim.swipe("TAG1")
        await bench.wait_status(1, "Charging")
        starts = bench.payloads("StartTransaction")
        assert [(s["connectorId"], s.get("reservationId")) for s in starts] == [(2, None), (1, 5)]
    finally:
        await bench.stop()


async def test_connector_zero_refused_when_not_offered(csms, tmp_path):
    bench = Bench(csms, tmp_path, keys="ReserveConnectorZeroSupported = false\n")
    try:
        await bench.start()
        await bench.wait_status(1, "Available")
        assert await bench.call("ReserveNow", reserve(1, 0)) == {"status": "Rejected"}
        assert await bench.call("ReserveNow", reserve(1, 1)) == {"status": "Accepted"}
    finally:
        await bench.stop()
