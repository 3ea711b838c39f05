"""Reservations: an EVSE (or any EVSE of a kind) kept for one token until a wall-clock expiry.

Rules kept here (OCPP 1.6 sections 3.11 / 5.13 and 2.0.1 H01 / H03 say the same):
- A reservation names an EVSE, or 0 for "any EVSE", optionally narrowed to the EVSEs it may
  take (``among``: a front end's choice, e.g. 2.0.1's connector type; None = every EVSE). It
  admits a presented token when the token is the reservation's (same id ignoring case, same
  type), or when the token's group matches the reservation's token or group, or the token is
  the reservation's group.
- An EVSE with its own reservation refuses every token it does not admit. Reservations of
  "any EVSE" are kept by matching each to a free EVSE of its own among the ones it may take
  (a maximum matching, H01.FR.07 / FR.09): a token they do not admit may take an EVSE only if
  the reservations are served as well without it. Free = Available by its occupancy
  (controller/core/charging_state.py) and no reservation of its own; the EVSE a token comes
  to counts as free (an EV plugged in there occupies it, but must not hide it).
- Shown as Reserved: an EVSE with its own reservation, and every free EVSE without which the
  "any EVSE" reservations would be served worse (H01.FR.20 / FR.24: as many reservations as
  free EVSEs of their kind reserve them all; an EVSE none of them may take is never shown).
- A new reservation is answered from the occupancy of the EVSEs it targets: Accepted, Occupied
  (busy, or kept for another reservation), Faulted (all targeted Faulted), Unavailable (all
  targeted down); Rejected for "any EVSE" when the station does not offer that or no EVSE may
  take it, and for an expiry already past. A reservation with the id of an existing one
  replaces it when it can be made; a refused one changes nothing.
- A reservation ends when a transaction of a token it admits uses it (the transaction carries
  its id, whether the token started the transaction or was authorized inside it), when its
  expiry passes, when it is cancelled, or when its EVSE (for "any EVSE": every EVSE it may
  take) is Faulted or Unavailable.
- Reservations live in SQLite, so a restart keeps them; the row of a reservation a
  transaction used is deleted in the same SQLite transaction as the transaction's row
  (``ReservationBook.hook``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.clock import iso, parse_time
from controller.core.commands import ReserveOutcome
from controller.core.ledger import Change, Transaction
from controller.core.vocabulary import Occupancy, ReservationEnd, Token, TokenType
from controller.storage import Database

ANY_EVSE = 0
_DOWN = frozenset({Occupancy.FAULTED, Occupancy.UNAVAILABLE})


@dataclass(frozen=True)
class Reservation:
    id: int
    evse: int  # ANY_EVSE: whichever EVSE the token comes to
    token: Token  # its group, if any, is the reservation's group
    expires_at: datetime  # timezone-aware, compared with the station's wall clock
    among: frozenset[int] | None = None  # ANY_EVSE: the EVSEs it may take (None: every EVSE)

    def fits(self, evse: int) -> bool:
        """May this reservation be served by ``evse``?"""
        if self.evse != ANY_EVSE:
            return evse == self.evse
        return self.among is None or evse in self.among

    def admits(self, token: Token) -> bool:
        """Its own token, or a token of its group (ids of groups compare ignoring case)."""
        return token.same(self.token) or token.in_group(self.token.group) or self.token.in_group(token.group)


@dataclass(frozen=True)
class Admission:
    allowed: bool
    ends: Reservation | None = None  # the reservation a session started now would end


def _free(occupancy: Mapping[int, Occupancy], reservations: Collection[Reservation]) -> list[int]:
    own = {r.evse for r in reservations if r.evse != ANY_EVSE}
    return sorted(e for e, o in occupancy.items() if o is Occupancy.AVAILABLE and e not in own)


def _anywhere(reservations: Iterable[Reservation]) -> list[Reservation]:
    return [r for r in reservations if r.evse == ANY_EVSE]


def _matching(flexible: Sequence[Reservation], free: Sequence[int]) -> int:
    """How many of the reservations can each get a free EVSE of its own that it may take at
    once (a maximum matching, by augmenting paths: a station has a handful of EVSEs)."""
    holder: dict[int, int] = {}  # EVSE -> index of the reservation it serves

    def place(i: int, seen: set[int]) -> bool:
        for evse in free:
            if evse in seen or not flexible[i].fits(evse):
                continue
            seen.add(evse)
            if evse not in holder or place(holder[evse], seen):
                holder[evse] = i
                return True
        return False

    return sum(place(i, set()) for i in range(len(flexible)))


def _needed(flexible: Sequence[Reservation], free: Sequence[int], evse: int) -> bool:
    """Would the reservations be served worse without ``evse`` (one of ``free``)?"""
    return _matching(flexible, free) > _matching(flexible, [e for e in free if e != evse])


def admission(
    reservations: Collection[Reservation], evse: int, token: Token, occupancy: Mapping[int, Occupancy]
) -> Admission:
    """May ``token`` start on ``evse`` as far as reservations go?"""
    own = next((r for r in reservations if r.evse == evse), None)
    if own is not None:
        admitted = own.admits(token)
        return Admission(admitted, own if admitted else None)
    anywhere = _anywhere(reservations)
    # The EVSE counts as free: the EV (or token) now at it must not hide it from the count.
    free = sorted({*_free(occupancy, reservations), evse})
    mine = [r for r in anywhere if r.admits(token) and r.fits(evse)]
    if mine:  # the one whose use leaves the others best served
        others = [e for e in free if e != evse]
        best = max(mine, key=lambda r: _matching([o for o in anywhere if o is not r], others))
        return Admission(True, best)
    return Admission(not _needed(anywhere, free, evse))


def reserved_evses(reservations: Collection[Reservation], occupancy: Mapping[int, Occupancy]) -> frozenset[int]:
    """The EVSEs shown as Reserved."""
    shown = {r.evse for r in reservations if r.evse != ANY_EVSE}
    anywhere = _anywhere(reservations)
    if anywhere:
        free = _free(occupancy, reservations)
        shown.update(e for e in free if _needed(anywhere, free, e))
    return frozenset(shown)


def answer(
    request: Reservation,
    others: Collection[Reservation],
    occupancy: Mapping[int, Occupancy],
    now: datetime,
    *,
    any_evse_allowed: bool,
) -> ReserveOutcome:
    """The answer to ``request``; ``others``: the reservations it would not replace."""
    if request.expires_at <= now:
        return ReserveOutcome.REJECTED
    free = _free(occupancy, others)
    anywhere = _anywhere(others)
    if request.evse == ANY_EVSE:
        targeted = [o for e, o in occupancy.items() if request.fits(e)]
        if not any_evse_allowed or not targeted:
            return ReserveOutcome.REJECTED
        if _matching([*anywhere, request], free) == len(anywhere) + 1:
            return ReserveOutcome.ACCEPTED
        if all(o is Occupancy.FAULTED for o in targeted):
            return ReserveOutcome.FAULTED
        if all(o in _DOWN for o in targeted):
            return ReserveOutcome.UNAVAILABLE
        return ReserveOutcome.OCCUPIED
    state = occupancy[request.evse]
    if state is Occupancy.FAULTED:
        return ReserveOutcome.FAULTED
    if state is Occupancy.UNAVAILABLE:
        return ReserveOutcome.UNAVAILABLE
    if request.evse not in free or _needed(anywhere, free, request.evse):  # busy, or kept for another
        return ReserveOutcome.OCCUPIED
    return ReserveOutcome.ACCEPTED


def ended(
    reservations: Iterable[Reservation], occupancy: Mapping[int, Occupancy], now: datetime
) -> list[tuple[Reservation, ReservationEnd]]:
    """Reservations that end now: expired, or their EVSE(s) Faulted / Unavailable (removed).
    ``occupancy`` holds only EVSEs whose state is known."""
    out = []
    for r in reservations:
        targeted = [o for e, o in occupancy.items() if r.fits(e)]
        down = bool(targeted) and all(o in _DOWN for o in targeted)
        if r.expires_at <= now:
            out.append((r, ReservationEnd.EXPIRED))
        elif down:
            out.append((r, ReservationEnd.REMOVED))
    return out


_DDL = """
CREATE TABLE reservations (
    id INTEGER PRIMARY KEY,
    connector INTEGER NOT NULL,
    id_tag TEXT NOT NULL,
    parent_id_tag TEXT,
    expires_at TEXT NOT NULL
)
"""
_TOKEN_TYPE = f"ALTER TABLE reservations ADD COLUMN token_type TEXT NOT NULL DEFAULT '{TokenType.ISO14443.value}'"
_AMONG = "ALTER TABLE reservations ADD COLUMN among TEXT"  # "1,2": the EVSEs it may take; NULL: every EVSE


class ReservationBook:
    """The reservations on disk; the station keeps the ones in force in memory."""

    def __init__(self, db: Database):
        db.migrate("reservations_0001", _DDL)
        db.migrate("reservations_0002_token_type", _TOKEN_TYPE)
        db.migrate("reservations_0003_among", _AMONG)
        self.db = db

    def load(self) -> list[Reservation]:
        rows = self.db.run_sync(lambda c: c.execute("SELECT * FROM reservations ORDER BY id").fetchall())
        return [
            Reservation(
                r["id"],
                r["connector"],
                Token(r["id_tag"], TokenType(r["token_type"]), r["parent_id_tag"]),
                parse_time(r["expires_at"]),
                frozenset(int(e) for e in r["among"].split(",") if e) if r["among"] is not None else None,
            )
            for r in rows
        ]

    async def save(self, r: Reservation) -> None:
        among = ",".join(map(str, sorted(r.among))) if r.among is not None else None
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO reservations"
                " (id, connector, id_tag, parent_id_tag, expires_at, token_type, among) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (r.id, r.evse, r.token.id, r.token.group, iso(r.expires_at), r.token.type.value, among),
            )
        )

    async def delete(self, reservation_id: int) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,)))

    def hook(self, conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        """Ledger hook: a transaction that uses a reservation deletes it in the same SQLite transaction."""
        if change is not Change.ENDED and tx.reservation_id is not None:
            conn.execute("DELETE FROM reservations WHERE id = ?", (tx.reservation_id,))
