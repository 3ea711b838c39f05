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


def res(rid: int, connector: int, tag: str = "ALICE", parent: str | None = None, expires=LATER,
        among: set[int] | None = None) -> Reservation:  # fmt: skip
    return Reservation(rid, connector, tok(tag, parent), expires, frozenset(among) if among is not None else None)


def kind(rid: int, *evses: int, tag: str = "ALICE") -> Reservation:
    """A reservation of any EVSE among ``evses`` (2.0.1: of a connector type)."""
    return res(rid, ANY_EVSE, tag, among=set(evses))


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


THREE_FREE = {1: FREE, 2: FREE, 3: FREE}


@pytest.mark.parametrize(
    ("reservations", "evse", "tag", "allowed"),
    [
        ([kind(1, 2, 3)], 1, "BOB", True),  # EVSE 1 is not of the kind: take it freely
        ([kind(1, 2, 3)], 2, "BOB", True),  # EVSE 3 remains for the reservation
        ([kind(1, 2, 3), kind(2, 2, 3, tag="CAROL")], 2, "BOB", False),  # both of the kind are needed
        ([kind(1, 2, 3), kind(2, 2, 3, tag="CAROL")], 1, "BOB", True),
        ([kind(1, 2), res(2, ANY_EVSE, "CAROL")], 2, "BOB", False),  # EVSE 2 is the only one of the kind
        ([kind(1, 2), res(2, ANY_EVSE, "CAROL")], 1, "BOB", True),  # 2 for ALICE, 3 for CAROL
        ([kind(1, 2), res(2, ANY_EVSE, "CAROL")], 3, "BOB", True),  # 2 for ALICE, 1 for CAROL
        ([kind(1, 2, 3)], 1, "ALICE", True),
    ],
)
def test_reservations_of_a_kind_are_kept_by_a_matching(reservations, evse, tag, allowed):
    assert admission(reservations, evse, tok(tag), THREE_FREE).allowed is allowed


def test_an_evse_no_reservation_may_take_is_never_kept():
    r = kind(1, 2)  # its only EVSE is busy (its own driver's EV, say)
    statuses = {1: FREE, 2: BUSY}
    assert admission([r], 1, tok("BOB"), statuses).allowed
    assert reserved_evses([r], statuses) == frozenset()


def test_an_ev_plugged_in_does_not_hide_the_evse_from_the_count():
    """Two EVSEs, two any-EVSE reservations: a stranger's EV on EVSE 1 (occupying it) gets nothing."""
    both = [res(1, ANY_EVSE), res(2, ANY_EVSE, "CAROL")]
    assert not admission(both, 1, tok("BOB"), {1: BUSY, 2: FREE}).allowed


def test_a_reservation_of_a_kind_is_used_only_on_an_evse_of_its_kind():
    r = kind(1, 2, 3)
    assert admission([r], 1, tok("ALICE"), THREE_FREE).ends is None  # allowed, but not its reservation
    assert admission([r], 3, tok("ALICE"), THREE_FREE).ends == r


@pytest.mark.parametrize(
    ("reservations", "statuses", "shown"),
    [
        ([kind(1, 2, 3)], THREE_FREE, set()),
        ([kind(1, 2, 3), kind(2, 2, 3, tag="BOB")], THREE_FREE, {2, 3}),  # as many as of the kind: all of it
        ([kind(1, 2, 3)], {1: FREE, 2: BUSY, 3: FREE}, {3}),
        ([kind(1, 2), res(2, ANY_EVSE, "BOB")], THREE_FREE, {2}),
    ],
)
def test_what_shows_reserved_for_a_kind(reservations, statuses, shown):
    assert reserved_evses(reservations, statuses) == shown


@pytest.mark.parametrize(
    ("request_", "others", "statuses", "expected"),
    [
        (kind(1, 2, 3), [], THREE_FREE, ReserveOutcome.ACCEPTED),
        (kind(1, 2, 3), [kind(2, 2, 3), kind(3, 2, 3)], THREE_FREE, ReserveOutcome.OCCUPIED),
        (kind(1, 2, 3), [res(2, 2), res(3, 3)], THREE_FREE, ReserveOutcome.OCCUPIED),  # H01.FR.11
        (kind(1, 2, 3), [], {1: FREE, 2: FAULTED, 3: FAULTED}, ReserveOutcome.FAULTED),
        (kind(1, 2, 3), [], {1: FREE, 2: UNAVAILABLE, 3: FAULTED}, ReserveOutcome.UNAVAILABLE),
        (kind(1, 2, 3), [], {1: FREE, 2: BUSY, 3: FAULTED}, ReserveOutcome.OCCUPIED),
        (kind(1, 4), [], THREE_FREE, ReserveOutcome.REJECTED),  # no EVSE of the kind here
        (res(1, 2), [kind(2, 2)], THREE_FREE, ReserveOutcome.OCCUPIED),  # the only one of that kind
        (res(1, 1), [kind(2, 2)], THREE_FREE, ReserveOutcome.ACCEPTED),
    ],
)
def test_the_answer_to_a_reservation_of_a_kind(request_, others, statuses, expected):
    assert answer(request_, others, statuses, NOW, any_evse_allowed=True) is expected


def test_a_reservation_of_a_kind_is_removed_when_every_evse_of_its_kind_is_down():
    r = kind(1, 2, 3)
    assert ended([r], {1: FREE, 2: FAULTED, 3: FREE}, NOW) == []
    assert ended([r], {1: FREE, 2: FAULTED, 3: UNAVAILABLE}, NOW) == [(r, ReservationEnd.REMOVED)]


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
    await book.save(kind(7, 1, 2, tag="DAVE"))
    db.close()
    db = Database(tmp_path / "evsed.db")
    ledger, book = Ledger(db), ReservationBook(db)
    ledger.hooks.append(book.hook)
    assert book.load() == [res(5, 2, "CAROL"), res(6, ANY_CONNECTOR, "BOB"), kind(7, 1, 2, tag="DAVE")]
    tx = await ledger.start(2, TxPoint.POWER_PATH_CLOSED, 10.0, NOW, token=tok("CAROL"), reservation_id=5)
    assert tx.reservation_id == 5
    assert [r.id for r in book.load()] == [6, 7]
    assert ledger.open_transactions()[0].reservation_id == 5
    db.close()
