"""Reservations: an EVSE (or any EVSE) kept for one token until a wall-clock expiry.

Rules kept here (OCPP 1.6 sections 3.11 / 5.13 and 2.0.1 H01 say the same):
- A reservation names an EVSE, or 0 for "any EVSE". It admits a presented token when the
  token is the reservation's (same id ignoring case, same type), or when the token's group
  matches the reservation's token or group, or the token is the reservation's group.
- An EVSE with its own reservation refuses every token it does not admit. Reservations of
  "any EVSE" are kept by counting: a token they do not admit may take an EVSE only if as many
  free EVSEs remain as there are such reservations. Free = Available by its occupancy
  (controller/core/charging_state.py) and no reservation of its own.
- Shown as Reserved: an EVSE with its own reservation, and every free EVSE once the "any
  EVSE" reservations need all of them.
- A new reservation is answered from the occupancy of the EVSEs: Accepted, Occupied (busy,
  or kept for another reservation), Faulted, Unavailable; Rejected for "any EVSE" when the
  station does not offer that, and for an expiry already past. A reservation with the id of
  an existing one replaces it when it can be made; a refused one changes nothing.
- A reservation ends when a transaction of a token it admits uses it (the transaction carries
  its id), when its expiry passes, when it is cancelled, or when its EVSE (for "any EVSE":
  every EVSE) is Faulted or Unavailable.
- Reservations live in SQLite, so a restart keeps them; the row of a reservation a
  transaction used is deleted in the same SQLite transaction as the transaction's row
  (``ReservationBook.hook``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping
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

    def admits(self, token: Token) -> bool:
        """Its own token, or a token of its group (ids of groups compare ignoring case)."""
        return token.same(self.token) or token.in_group(self.token.group) or self.token.in_group(token.group)


@dataclass(frozen=True)
class Admission:
    allowed: bool
    ends: Reservation | None = None  # the reservation a session started now would end


def _free(occupancy: Mapping[int, Occupancy], reservations: Collection[Reservation]) -> list[int]:
    own = {r.evse for r in reservations if r.evse != ANY_EVSE}
    return [e for e, o in occupancy.items() if o is Occupancy.AVAILABLE and e not in own]


def _anywhere(reservations: Iterable[Reservation]) -> list[Reservation]:
    return [r for r in reservations if r.evse == ANY_EVSE]


def admission(
    reservations: Collection[Reservation], evse: int, token: Token, occupancy: Mapping[int, Occupancy]
) -> Admission:
    """May ``token`` start on ``evse`` as far as reservations go?"""
    own = next((r for r in reservations if r.evse == evse), None)
    if own is not None:
        admitted = own.admits(token)
        return Admission(admitted, own if admitted else None)
    anywhere = _anywhere(reservations)
    match = next((r for r in anywhere if r.admits(token)), None)
    if match is not None:
        return Admission(True, match)
    others = {e: o for e, o in occupancy.items() if e != evse}
    return Admission(len(_free(others, reservations)) >= len(anywhere))


def reserved_evses(reservations: Collection[Reservation], occupancy: Mapping[int, Occupancy]) -> frozenset[int]:
    """The EVSEs shown as Reserved."""
    shown = {r.evse for r in reservations if r.evse != ANY_EVSE}
    free = _free(occupancy, reservations)
    anywhere = len(_anywhere(reservations))
    if anywhere and anywhere >= len(free):
        shown.update(free)
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
    anywhere = len(_anywhere(others))
    if request.evse == ANY_EVSE:
        if not any_evse_allowed:
            return ReserveOutcome.REJECTED
        if len(free) > anywhere:
            return ReserveOutcome.ACCEPTED
        if all(o is Occupancy.FAULTED for o in occupancy.values()):
            return ReserveOutcome.FAULTED
        if all(o in _DOWN for o in occupancy.values()):
            return ReserveOutcome.UNAVAILABLE
        return ReserveOutcome.OCCUPIED
    state = occupancy[request.evse]
    if state is Occupancy.FAULTED:
        return ReserveOutcome.FAULTED
    if state is Occupancy.UNAVAILABLE:
        return ReserveOutcome.UNAVAILABLE
    if request.evse not in free or len(free) - 1 < anywhere:  # busy, or kept for another
        return ReserveOutcome.OCCUPIED
    return ReserveOutcome.ACCEPTED


def ended(
    reservations: Iterable[Reservation], occupancy: Mapping[int, Occupancy], now: datetime
) -> list[tuple[Reservation, ReservationEnd]]:
    """Reservations that end now: expired, or their EVSE(s) Faulted / Unavailable (removed).
    ``occupancy`` holds only EVSEs whose state is known."""
    out = []
    for r in reservations:
        if r.evse == ANY_EVSE:
            down = bool(occupancy) and all(o in _DOWN for o in occupancy.values())
        else:
            down = occupancy.get(r.evse) in _DOWN
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


class ReservationBook:
    """The reservations on disk; the station keeps the ones in force in memory."""

    def __init__(self, db: Database):
        db.migrate("reservations_0001", _DDL)
        db.migrate("reservations_0002_token_type", _TOKEN_TYPE)
        self.db = db

    def load(self) -> list[Reservation]:
        rows = self.db.run_sync(lambda c: c.execute("SELECT * FROM reservations ORDER BY id").fetchall())
        return [
            Reservation(
                r["id"],
                r["connector"],
                Token(r["id_tag"], TokenType(r["token_type"]), r["parent_id_tag"]),
                parse_time(r["expires_at"]),
            )
            for r in rows
        ]

    async def save(self, r: Reservation) -> None:
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO reservations (id, connector, id_tag, parent_id_tag, expires_at, token_type)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (r.id, r.evse, r.token.id, r.token.group, iso(r.expires_at), r.token.type.value),
            )
        )

    async def delete(self, reservation_id: int) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,)))

    def hook(self, conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        """Ledger hook: a transaction that uses a reservation deletes it in the same SQLite transaction."""
        if change is not Change.ENDED and tx.reservation_id is not None:
            conn.execute("DELETE FROM reservations WHERE id = ?", (tx.reservation_id,))
