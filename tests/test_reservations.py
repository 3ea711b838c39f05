"""controller.reservations: the pure rules (who may start where, what shows Reserved, the
answer to a new reservation, what ends) as tables, and the SQLite book across a reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.reservations import (
    ANY_CONNECTOR,
    Reservation,
    ReservationBook,
    ReserveOutcome,
    admission,
    answer,
    ended,
    reserved_connectors,
)
from controller.sessions import SessionLedger
from controller.status import ConnectorStatus
from controller.storage import Database

S = ConnectorStatus
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def res(rid: int, connector: int, tag: str = "ALICE", parent: str | None = None, expires=LATER) -> Reservation:
    return Reservation(rid, connector, tag, expires, parent)


TWO_FREE = {1: S.AVAILABLE, 2: S.AVAILABLE}


@pytest.mark.parametrize(
    ("tag", "parent", "admitted"),
    [
        ("ALICE", None, True),
        ("alice", None, True),  # id tags are case-insensitive
        ("BOB", "FAMILY", True),  # the presented tag's parent matches the reservation's parent
        ("FAMILY", None, True),
        ("BOB", None, False),
        ("BOB", "OTHER", False),
    ],
)
def test_a_reservation_admits_its_tag_and_its_group(tag, parent, admitted):
    assert res(1, 1, parent="FAMILY").admits(tag, parent) is admitted


def test_a_connector_reserved_for_another_tag_refuses_and_the_right_tag_ends_it():
    r = res(7, 1)
    statuses = {1: S.PREPARING, 2: S.AVAILABLE}
    assert admission([r], 1, "BOB", None, statuses).allowed is False
    assert admission([r], 1, "ALICE", None, statuses).ends == r
    assert admission([r], 2, "BOB", None, statuses).allowed  # the other connector is free to use
    assert admission([r], 2, "ALICE", None, statuses).ends is None  # not the reserved connector


def test_any_connector_reservations_keep_enough_free_connectors():
    r = res(3, ANY_CONNECTOR)
    # Two free connectors, one kept: a stranger may take one of them, not the last.
    assert admission([r], 1, "BOB", None, {1: S.PREPARING, 2: S.AVAILABLE}).allowed
    assert not admission([r], 2, "BOB", None, {1: S.CHARGING, 2: S.PREPARING}).allowed
    assert admission([r], 2, "ALICE", None, {1: S.CHARGING, 2: S.PREPARING}).ends == r
    assert admission([r], 1, "ALICE", None, {1: S.PREPARING, 2: S.AVAILABLE}).ends == r


@pytest.mark.parametrize(
    ("reservations", "statuses", "shown"),
    [
        ([res(1, 1)], TWO_FREE, {1}),
        ([res(1, ANY_CONNECTOR)], TWO_FREE, set()),  # one of two still free for anyone
        ([res(1, ANY_CONNECTOR)], {1: S.CHARGING, 2: S.AVAILABLE}, {2}),  # the last free one is kept
        ([res(1, ANY_CONNECTOR), res(2, ANY_CONNECTOR)], TWO_FREE, {1, 2}),
        ([res(1, 1), res(2, ANY_CONNECTOR)], TWO_FREE, {1, 2}),
        ([res(1, ANY_CONNECTOR)], {1: S.AVAILABLE}, {1}),
    ],
)
def test_what_shows_reserved(reservations, statuses, shown):
    assert reserved_connectors(reservations, statuses) == shown


@pytest.mark.parametrize(
    ("request_", "others", "statuses", "zero", "expected"),
    [
        (res(1, 1), [], TWO_FREE, False, ReserveOutcome.ACCEPTED),
        (res(1, 1), [], {1: S.CHARGING, 2: S.AVAILABLE}, False, ReserveOutcome.OCCUPIED),
        (res(1, 1), [], {1: S.PREPARING, 2: S.AVAILABLE}, False, ReserveOutcome.OCCUPIED),
        (res(1, 1), [], {1: S.FINISHING, 2: S.AVAILABLE}, False, ReserveOutcome.OCCUPIED),
        (res(1, 1), [res(2, 1, "BOB")], TWO_FREE, False, ReserveOutcome.OCCUPIED),  # reserved for another
        (res(1, 1), [res(2, 1, "ALICE")], TWO_FREE, False, ReserveOutcome.OCCUPIED),  # ... or the same tag
        (res(1, 1), [], {1: S.FAULTED, 2: S.AVAILABLE}, False, ReserveOutcome.FAULTED),
        (res(1, 1), [], {1: S.UNAVAILABLE, 2: S.AVAILABLE}, False, ReserveOutcome.UNAVAILABLE),
        (res(1, 1, expires=NOW), [], TWO_FREE, False, ReserveOutcome.REJECTED),  # already expired
        (res(1, ANY_CONNECTOR), [], TWO_FREE, False, ReserveOutcome.REJECTED),  # connector 0 not offered
        (res(1, ANY_CONNECTOR), [], TWO_FREE, True, ReserveOutcome.ACCEPTED),
        (res(1, ANY_CONNECTOR), [res(2, ANY_CONNECTOR), res(3, 1)], TWO_FREE, True, ReserveOutcome.OCCUPIED),
        (res(1, ANY_CONNECTOR), [], {1: S.FAULTED, 2: S.FAULTED}, True, ReserveOutcome.FAULTED),
        (res(1, ANY_CONNECTOR), [], {1: S.FAULTED, 2: S.UNAVAILABLE}, True, ReserveOutcome.UNAVAILABLE),
        (res(1, ANY_CONNECTOR), [], {1: S.CHARGING, 2: S.FAULTED}, True, ReserveOutcome.OCCUPIED),
        # Connector 2 is the last free one an any-connector reservation counts on.
        (res(1, 2), [res(2, ANY_CONNECTOR)], {1: S.CHARGING, 2: S.AVAILABLE}, True, ReserveOutcome.OCCUPIED),
    ],
)
def test_the_answer_to_a_new_reservation(request_, others, statuses, zero, expected):
    assert answer(request_, others, statuses, NOW, any_connector_allowed=zero) is expected


def test_what_ends_a_reservation():
    expired, on_faulted, on_free = res(1, 1, expires=NOW), res(2, 2), res(3, 3)
    anywhere = res(4, ANY_CONNECTOR)
    statuses = {1: S.AVAILABLE, 2: S.FAULTED, 3: S.AVAILABLE}
    assert ended([expired, on_faulted, on_free, anywhere], statuses, NOW) == [expired, on_faulted]
    all_down = {1: S.UNAVAILABLE, 2: S.FAULTED, 3: S.UNAVAILABLE}
    assert anywhere in ended([anywhere], all_down, NOW)
    assert ended([on_free], {}, NOW) == []  # not sampled yet: not "down"


async def test_the_book_survives_a_reopen_and_a_session_deletes_the_reservation_it_ends(tmp_path):
    db = Database(tmp_path / "evsed.db")
    ledger = SessionLedger(db)
    book = ReservationBook(db)
    ledger.hooks.append(book.hook)
    await book.save(res(5, 1, parent="FAMILY"))
    await book.save(res(6, ANY_CONNECTOR, "BOB"))
    await book.save(res(5, 2, "CAROL"))  # same id: replaced
    db.close()
    db = Database(tmp_path / "evsed.db")
    ledger, book = SessionLedger(db), ReservationBook(db)
    ledger.hooks.append(book.hook)
    assert book.load() == [res(5, 2, "CAROL"), res(6, ANY_CONNECTOR, "BOB")]
    session = await ledger.start(2, "CAROL", 10.0, NOW, reservation_id=5)
    assert session.reservation_id == 5
    assert [r.id for r in book.load()] == [6]
    assert ledger.open_sessions()[0].reservation_id == 5
    db.close()
