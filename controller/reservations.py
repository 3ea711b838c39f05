"""Reservations: a connector (or any connector) kept for one id tag until a wall-clock expiry.

Rules kept here (protocol-neutral; OCPP 1.6 sections 3.11 / 5.13 and 2.0.1 H01 say the same):
- A reservation names a connector, or 0 for "any connector". It admits a presented tag when
  the tag or its parent tag matches the reservation's tag or parent tag (case-insensitively).
- A connector with its own reservation refuses every tag it does not admit. Reservations of
  "any connector" are kept by counting: a tag they do not admit may take a connector only if
  as many free connectors remain as there are such reservations. Free = what would be
  Available without reservations and has no reservation of its own.
- Shown as Reserved: a connector with its own reservation, and every free connector once the
  "any connector" reservations need all of them.
- A new reservation is answered from the statuses the connectors would have without
  reservations: Accepted, Occupied (busy, or kept for another reservation), Faulted,
  Unavailable; Rejected for "any connector" when the station does not offer that, and for an
  expiry already past. A reservation with the id of an existing one replaces it when it can be
  made; a refused one changes nothing.
- A reservation ends when a session it admits starts (the session carries its id), when its
  expiry passes, when it is cancelled, or when its connector (for "any connector": every
  connector) is Faulted or Unavailable.
- Reservations live in SQLite, so a restart keeps them; the row of a reservation a session
  ended is deleted in the same transaction as the session row (``ReservationBook.hook``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from controller.authorization import same_token
from controller.clock import iso, parse_time
from controller.sessions import SessionEvent
from controller.status import ConnectorStatus
from controller.storage import Database

ANY_CONNECTOR = 0
_DOWN = frozenset({ConnectorStatus.FAULTED, ConnectorStatus.UNAVAILABLE})


class ReserveOutcome(StrEnum):
    """The answer to a reservation request (OCPP 1.6 ReservationStatus; 2.0.1 has the same names)."""

    ACCEPTED = "Accepted"
    OCCUPIED = "Occupied"
    FAULTED = "Faulted"
    UNAVAILABLE = "Unavailable"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class Reservation:
    id: int
    connector: int  # ANY_CONNECTOR: whichever connector the tag comes to
    id_tag: str
    expires_at: datetime  # timezone-aware, compared with the station's wall clock
    parent_id_tag: str | None = None

    def admits(self, id_tag: str, parent_id_tag: str | None) -> bool:
        ours = [t for t in (self.id_tag, self.parent_id_tag) if t]
        theirs = [t for t in (id_tag, parent_id_tag) if t]
        return any(same_token(a, b) for a in ours for b in theirs)


@dataclass(frozen=True)
class Admission:
    allowed: bool
    ends: Reservation | None = None  # the reservation a session started now would end


def _free(statuses: Mapping[int, ConnectorStatus], reservations: Collection[Reservation]) -> list[int]:
    own = {r.connector for r in reservations if r.connector != ANY_CONNECTOR}
    return [c for c, s in statuses.items() if s is ConnectorStatus.AVAILABLE and c not in own]


def _anywhere(reservations: Iterable[Reservation]) -> list[Reservation]:
    return [r for r in reservations if r.connector == ANY_CONNECTOR]


def admission(
    reservations: Collection[Reservation],
    connector: int,
    id_tag: str,
    parent_id_tag: str | None,
    statuses: Mapping[int, ConnectorStatus],
) -> Admission:
    """May ``id_tag`` start a session on ``connector``? ``statuses``: without reservations."""
    own = next((r for r in reservations if r.connector == connector), None)
    if own is not None:
        admitted = own.admits(id_tag, parent_id_tag)
        return Admission(admitted, own if admitted else None)
    anywhere = _anywhere(reservations)
    match = next((r for r in anywhere if r.admits(id_tag, parent_id_tag)), None)
    if match is not None:
        return Admission(True, match)
    others = {c: s for c, s in statuses.items() if c != connector}
    return Admission(len(_free(others, reservations)) >= len(anywhere))


def reserved_connectors(
    reservations: Collection[Reservation], statuses: Mapping[int, ConnectorStatus]
) -> frozenset[int]:
    """The connectors shown as Reserved."""
    shown = {r.connector for r in reservations if r.connector != ANY_CONNECTOR}
    free = _free(statuses, reservations)
    anywhere = len(_anywhere(reservations))
    if anywhere and anywhere >= len(free):
        shown.update(free)
    return frozenset(shown)


def answer(
    request: Reservation,
    others: Collection[Reservation],
    statuses: Mapping[int, ConnectorStatus],
    now: datetime,
    *,
    any_connector_allowed: bool,
) -> ReserveOutcome:
    """The answer to ``request``; ``others``: the reservations it would not replace."""
    if request.expires_at <= now:
        return ReserveOutcome.REJECTED
    free = _free(statuses, others)
    anywhere = len(_anywhere(others))
    if request.connector == ANY_CONNECTOR:
        if not any_connector_allowed:
            return ReserveOutcome.REJECTED
        if len(free) > anywhere:
            return ReserveOutcome.ACCEPTED
        if all(s is ConnectorStatus.FAULTED for s in statuses.values()):
            return ReserveOutcome.FAULTED
        if all(s in _DOWN for s in statuses.values()):
            return ReserveOutcome.UNAVAILABLE
        return ReserveOutcome.OCCUPIED
    status = statuses[request.connector]
    if status is ConnectorStatus.FAULTED:
        return ReserveOutcome.FAULTED
    if status is ConnectorStatus.UNAVAILABLE:
        return ReserveOutcome.UNAVAILABLE
    if request.connector not in free or len(free) - 1 < anywhere:  # busy, or kept for another
        return ReserveOutcome.OCCUPIED
    return ReserveOutcome.ACCEPTED


def ended(
    reservations: Iterable[Reservation], statuses: Mapping[int, ConnectorStatus], now: datetime
) -> list[Reservation]:
    """Reservations that end now: expired, or their connector(s) Faulted / Unavailable.
    ``statuses`` holds only connectors whose status is known."""
    out = []
    for r in reservations:
        if r.connector == ANY_CONNECTOR:
            down = bool(statuses) and all(s in _DOWN for s in statuses.values())
        else:
            down = statuses.get(r.connector) in _DOWN
        if down or r.expires_at <= now:
            out.append(r)
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


class ReservationBook:
    """The reservations on disk; the station keeps the ones in force in memory."""

    def __init__(self, db: Database):
        db.migrate("reservations_0001", _DDL)
        self.db = db

    def load(self) -> list[Reservation]:
        rows = self.db.run_sync(lambda c: c.execute("SELECT * FROM reservations ORDER BY id").fetchall())
        return [
            Reservation(r["id"], r["connector"], r["id_tag"], parse_time(r["expires_at"]), r["parent_id_tag"])
            for r in rows
        ]

    async def save(self, r: Reservation) -> None:
        await self.db.run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?, ?)",
                (r.id, r.connector, r.id_tag, r.parent_id_tag, iso(r.expires_at)),
            )
        )

    async def delete(self, reservation_id: int) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM reservations WHERE id = ?", (reservation_id,)))

    def hook(self, conn: sqlite3.Connection, event: SessionEvent) -> None:
        """Ledger hook: a session that ends a reservation deletes it in the session's transaction."""
        if event.kind == "started" and event.session.reservation_id is not None:
            conn.execute("DELETE FROM reservations WHERE id = ?", (event.session.reservation_id,))
