"""controller.core.reservations: the pure rules (who may start where, what shows Reserved, the
answer to a new reservation, what ends) as tables, and the SQLite book across a reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.core.commands import ReserveOutcome
from controller.core.ledger import Ledger
from controller.core.reservations import (
    ANY_EVSE,
    Reservation,
    ReservationBook,
    admission,
    answer,
    ended,
    reserved_evses,
)
from controller.core.vocabulary import Occupancy, ReservationEnd, Token, TokenType, TxPoint
from controller.storage import Database

ANY_CONNECTOR = ANY_EVSE
FREE, BUSY = Occupancy.AVAILABLE, Occupancy.OCCUPIED
FAULTED, UNAVAILABLE = Occupancy.FAULTED, Occupancy.UNAVAILABLE
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def tok(tag: str, parent: str | None = None) -> Token:
    return Token(tag, TokenType.ISO14443, parent)


def res(rid: int, connector: int, tag: str = "ALICE", parent: str | None = None, expires=LATER) -> Reservation:
    return Reservation(rid, connector, tok(tag, parent), expires)


TWO_FREE = {1: FREE, 2: FREE}


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
    assert res(1, 1, parent="FAMILY").admits(tok(tag, parent)) is admitted


def test_a_connector_reserved_for_another_tag_refuses_and_the_right_tag_ends_it():
    r = res(7, 1)
    statuses = {1: BUSY, 2: FREE}
    assert admission([r], 1, tok("BOB"), statuses).allowed is False
    assert admission([r], 1, tok("ALICE"), statuses).ends == r
    assert admission([r], 2, tok("BOB"), statuses).allowed  # the other connector is free to use
    assert admission([r], 2, tok("ALICE"), statuses).ends is None  # not the reserved connector


def test_any_connector_reservations_keep_enough_free_connectors():
    r = res(3, ANY_CONNECTOR)
    # Two free connectors, one kept: a stranger may take one of them, not the last.
    assert admission([r], 1, tok("BOB"), {1: BUSY, 2: FREE}).allowed
    assert not admission([r], 2, tok("BOB"), {1: BUSY, 2: BUSY}).allowed
    assert admission([r], 2, tok("ALICE"), {1: BUSY, 2: BUSY}).ends == r
    assert admission([r], 1, tok("ALICE"), {1: BUSY, 2: FREE}).ends == r


@pytest.mark.parametrize(
    ("reservations", "statuses", "shown"),
    [
        ([res(1, 1)], TWO_FREE, {1}),
        ([res(1, ANY_CONNECTOR)], TWO_FREE, set()),  # one of two still free for anyone
        ([res(1, ANY_CONNECTOR)], {1: BUSY, 2: FREE}, {2}),  # the last free one is kept
        ([res(1, ANY_CONNECTOR), res(2, ANY_CONNECTOR)], TWO_FREE, {1, 2}),
        ([res(1, 1), res(2, ANY_CONNECTOR)], TWO_FREE, {1, 2}),
        ([res(1, ANY_CONNECTOR)], {1: FREE}, {1}),
    ],
)
def test_what_shows_reserved(reservations, statuses, shown):
    assert reserved_evses(reservations, statuses) == shown


@pytest.mark.parametrize(
    ("request_", "others", "statuses", "zero", "expected"),
    [
        (res(1, 1), [], TWO_FREE, False, ReserveOutcome.ACCEPTED),
        (res(1, 1), [], {1: BUSY, 2: FREE}, False, ReserveOutcome.OCCUPIED),
        (res(1, 1), [], {1: BUSY, 2: FREE}, False, ReserveOutcome.OCCUPIED),
        (res(1, 1), [], {1: BUSY, 2: FREE}, False, ReserveOutcome.OCCUPIED),
        (res(1, 1), [res(2, 1, "BOB")], TWO_FREE, False, ReserveOutcome.OCCUPIED),  # reserved for another
        (res(1, 1), [res(2, 1, "ALICE")], TWO_FREE, False, ReserveOutcome.OCCUPIED),  # ... or the same tag
        (res(1, 1), [], {1: FAULTED, 2: FREE}, False, ReserveOutcome.FAULTED),
        (res(1, 1), [], {1: UNAVAILABLE, 2: FREE}, False, ReserveOutcome.UNAVAILABLE),
        (res(1, 1, expires=NOW), [], TWO_FREE, False, ReserveOutcome.REJECTED),  # already expired
        (res(1, ANY_CONNECTOR), [], TWO_FREE, False, ReserveOutcome.REJECTED),  # connector 0 not offered
        (res(1, ANY_CONNECTOR), [], TWO_FREE, True, ReserveOutcome.ACCEPTED),
        (res(1, ANY_CONNECTOR), [res(2, ANY_CONNECTOR), res(3, 1)], TWO_FREE, True, ReserveOutcome.OCCUPIED),
        (res(1, ANY_CONNECTOR), [], {1: FAULTED, 2: FAULTED}, True, ReserveOutcome.FAULTED),
        (res(1, ANY_CONNECTOR), [], {1: FAULTED, 2: UNAVAILABLE}, True, ReserveOutcome.UNAVAILABLE),
        (res(1, ANY_CONNECTOR), [], {1: BUSY, 2: FAULTED}, True, ReserveOutcome.OCCUPIED),
        # Connector 2 is the last free one an any-connector reservation counts on.
        (res(1, 2), [res(2, ANY_CONNECTOR)], {1: BUSY, 2: FREE}, True, ReserveOutcome.OCCUPIED),
    ],
)
def test_the_answer_to_a_new_reservation(request_, others, statuses, zero, expected):
    assert answer(request_, others, statuses, NOW, any_evse_allowed=zero) is expected


def test_what_ends_a_reservation():
    expired, on_faulted, on_free = res(1, 1, expires=NOW), res(2, 2), res(3, 3)
    anywhere = res(4, ANY_CONNECTOR)
    statuses = {1: FREE, 2: FAULTED, 3: FREE}
    assert ended([expired, on_faulted, on_free, anywhere], statuses, NOW) == [
        (expired, ReservationEnd.EXPIRED),
        (on_faulted, ReservationEnd.REMOVED),
    ]
    all_down = {1: UNAVAILABLE, 2: FAULTED, 3: UNAVAILABLE}
    assert (anywhere, ReservationEnd.REMOVED) in ended([anywhere], all_down, NOW)
    assert ended([on_free], {}, NOW) == []  # not sampled yet: not "down"


async def test_the_book_survives_a_reopen_and_a_session_deletes_the_reservation_it_ends(tmp_path):
    db = Database(tmp_path / "evsed.db")
    ledger = Ledger(db)
    book = ReservationBook(db)
    ledger.hooks.append(book.hook)
    await book.save(res(5, 1, parent="FAMILY"))
    await book.save(res(6, ANY_CONNECTOR, "BOB"))
    await book.save(res(5, 2, "CAROL"))  # same id: replaced
    db.close()
    db = Database(tmp_path / "evsed.db")
    ledger, book = Ledger(db), ReservationBook(db)
    ledger.hooks.append(book.hook)
    assert book.load() == [res(5, 2, "CAROL"), res(6, ANY_CONNECTOR, "BOB")]
    tx = await ledger.start(2, TxPoint.POWER_PATH_CLOSED, 10.0, NOW, token=tok("CAROL"), reservation_id=5)
    assert tx.reservation_id == 5
    assert [r.id for r in book.load()] == [6]
    assert ledger.open_transactions()[0].reservation_id == 5
    db.close()
