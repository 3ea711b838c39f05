"""Transactions in SQLite: what started, where, for whom, and how it ended.

Rules kept here:
- Every transaction has a station-made id, a random UUID (36 characters), so an id never
  repeats across restarts, a lost database or a firmware update (2.0.1 E01.FR.08).
- A row is written when the transaction starts, with its start point, its token when known,
  the meter register and the remote-start / reservation ids; changes of its EVSE (bound at
  plug-in) or token (authorized inside it) are updated; it is closed with its stop cause, the
  stopping token and the register. ``hooks`` run inside the very SQLite transaction of each
  change: a front end queues the protocol message that announces it there, so the row and
  the message are committed together or not at all.
- ``progress`` mirrors the running meter value now and then; nothing hooks into it, and it
  waits for no fsync (controller/storage.py ``durable``).
- ``recover`` closes every transaction a crash or power cut left open, whatever its start
  point, with PowerLoss and the register read at restart (it cannot have moved while the
  station was off), else the last value recorded; the hooks run as for any end.
- A customer's transactions are those their token started or stopped (the same token: id
  ignoring case, and type). ``forget`` removes a token (and the group it named) from every
  ended transaction, for a customer's right to erasure; a running transaction keeps its token
  until it ends (its end and its messages need it).
- Migration from the ``sessions`` table of earlier versions: every row becomes a transaction
  with a new UUID (``legacy_id`` keeps the old integer, so a front end can re-key what it had
  queued), start point PowerPathClosed, the id tag as an ISO14443 token (the free-vend id tag
  as the free-vend token), the 1.6 reason as the stop cause. Then ``sessions`` is dropped.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from controller.clock import iso, parse_time
from controller.core.vocabulary import StopCause, Token, TokenType, TxPoint
from controller.storage import Database


@dataclass(frozen=True)
class Transaction:
    id: str
    evse: int | None  # None: started at Authorized before an EV chose an EVSE
    start_point: TxPoint
    started_at: datetime
    meter_start_wh: float
    token: Token | None = None  # None until someone is authorized inside it
    last_meter_wh: float = 0.0
    max_current_a: float = 0.0
    remote_start_id: int | None = None
    reservation_id: int | None = None  # the reservation its token used
    stopped_at: datetime | None = None
    meter_stop_wh: float | None = None
    stop_cause: StopCause | None = None
    stop_token: Token | None = None  # the token that ended it, when not its own (a group member)

    @property
    def energy_wh(self) -> float:
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.last_meter_wh
        return max(0.0, end - self.meter_start_wh)


class Change(Enum):
    STARTED = "started"
    UPDATED = "updated"  # bound to an EVSE, a token, its group or a reservation
    ENDED = "ended"


Hook = Callable[[sqlite3.Connection, Change, Transaction], None]

# A version-4 UUID made by SQLite itself, for rows migrated in one statement.
_UUID4 = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)"
    " || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || substr(lower(hex(randomblob(2))), 2) || '-'"
    " || lower(hex(randomblob(6)))"
)
_SCHEMA = f"""
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,
    legacy_id INTEGER UNIQUE,
    evse INTEGER,
    start_point TEXT NOT NULL,
    started_at TEXT NOT NULL,
    token_id TEXT,
    token_type TEXT,
    token_group TEXT,
    meter_start_wh REAL NOT NULL,
    last_meter_wh REAL NOT NULL,
    max_current_a REAL NOT NULL DEFAULT 0,
    remote_start_id INTEGER,
    reservation_id INTEGER,
    stopped_at TEXT,
    meter_stop_wh REAL,
    stop_cause TEXT,
    stop_token_id TEXT,
    stop_token_type TEXT
);
CREATE INDEX transactions_open ON transactions (stopped_at) WHERE stopped_at IS NULL;
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connector INTEGER NOT NULL,
    id_tag TEXT NOT NULL,
    parent_id_tag TEXT,
    started_at TEXT NOT NULL,
    meter_start_wh REAL NOT NULL,
    last_meter_wh REAL NOT NULL,
    stopped_at TEXT,
    meter_stop_wh REAL,
    stop_reason TEXT,
    max_current_a REAL NOT NULL DEFAULT 0,
    reservation_id INTEGER,
    stop_id_tag TEXT
);
INSERT INTO transactions (id, legacy_id, evse, start_point, started_at, token_id, token_type, token_group,
    meter_start_wh, last_meter_wh, max_current_a, reservation_id, stopped_at, meter_stop_wh, stop_cause,
    stop_token_id, stop_token_type)
SELECT {_UUID4}, id, connector, '{TxPoint.POWER_PATH_CLOSED.value}', started_at,
    CASE id_tag WHEN 'FreeVend' THEN '' ELSE id_tag END,
    CASE id_tag WHEN 'FreeVend' THEN '{TokenType.NO_AUTHORIZATION.value}' ELSE '{TokenType.ISO14443.value}' END,
    parent_id_tag, meter_start_wh, last_meter_wh, max_current_a, reservation_id, stopped_at, meter_stop_wh,
    stop_reason, stop_id_tag, CASE WHEN stop_id_tag IS NULL THEN NULL ELSE '{TokenType.ISO14443.value}' END
FROM sessions ORDER BY id;
DROP TABLE sessions
"""


def _token(id_: str | None, type_: str | None, group: str | None = None) -> Token | None:
    return None if id_ is None or type_ is None else Token(id_, TokenType(type_), group)


def _row(r: sqlite3.Row) -> Transaction:
    return Transaction(
        id=r["id"],
        evse=r["evse"],
        start_point=TxPoint(r["start_point"]),
        started_at=parse_time(r["started_at"]),
        meter_start_wh=r["meter_start_wh"],
        token=_token(r["token_id"], r["token_type"], r["token_group"]),
        last_meter_wh=r["last_meter_wh"],
        max_current_a=r["max_current_a"],
        remote_start_id=r["remote_start_id"],
        reservation_id=r["reservation_id"],
        stopped_at=parse_time(r["stopped_at"]) if r["stopped_at"] else None,
        meter_stop_wh=r["meter_stop_wh"],
        stop_cause=StopCause(r["stop_cause"]) if r["stop_cause"] else None,
        stop_token=_token(r["stop_token_id"], r["stop_token_type"]),
    )


class Ledger:
    def __init__(self, db: Database):
        self.db = db
        self.hooks: list[Hook] = []
        db.migrate("ledger_0001_transactions", _SCHEMA)

    def _emit(self, conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        for hook in self.hooks:
            hook(conn, change, tx)

    async def start(
        self,
        evse: int | None,
        point: TxPoint,
        meter_wh: float,
        at: datetime,
        *,
        token: Token | None = None,
        remote_start_id: int | None = None,
        reservation_id: int | None = None,
    ) -> Transaction:
        tx = Transaction(
            id=str(uuid.uuid4()),
            evse=evse,
            start_point=point,
            started_at=at,
            meter_start_wh=meter_wh,
            token=token,
            last_meter_wh=meter_wh,
            remote_start_id=remote_start_id,
            reservation_id=reservation_id,
        )

        def write(conn: sqlite3.Connection) -> Transaction:
            t = tx.token
            conn.execute(
                "INSERT INTO transactions (id, evse, start_point, started_at, token_id, token_type, token_group,"
                " meter_start_wh, last_meter_wh, remote_start_id, reservation_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (tx.id, evse, point.value, iso(at), t and t.id, t and t.type.value, t and t.group, meter_wh,
                 meter_wh, remote_start_id, reservation_id),
            )  # fmt: skip
            self._emit(conn, Change.STARTED, tx)
            return tx

        return await self.db.run(write)

    async def update(self, tx: Transaction) -> Transaction:
        """Store what changed of an open transaction: its EVSE (and meter start, taken when an EV
        bound it to one), token (and group), reservation."""

        def write(conn: sqlite3.Connection) -> Transaction:
            t = tx.token
            conn.execute(
                "UPDATE transactions SET evse = ?, meter_start_wh = ?, last_meter_wh = ?, token_id = ?, token_type = ?,"
                " token_group = ?, reservation_id = ? WHERE id = ? AND stopped_at IS NULL",
                (tx.evse, tx.meter_start_wh, tx.last_meter_wh, t and t.id, t and t.type.value, t and t.group,
                 tx.reservation_id, tx.id),
            )  # fmt: skip
            self._emit(conn, Change.UPDATED, tx)
            return tx

        return await self.db.run(write)

    async def progress(self, tx: Transaction) -> None:
        """The running transaction's meter value, the fallback of a PowerLoss end when the meter is
        silent at the restart. Not worth an fsync of its own: a kill -9 cannot undo it, and the
        next durable commit (a queued meter value, at the latest the transaction's end) carries it."""
        await self.db.run(
            lambda c: c.execute(
                "UPDATE transactions SET last_meter_wh = ?, max_current_a = ? WHERE id = ? AND stopped_at IS NULL",
                (tx.last_meter_wh, tx.max_current_a, tx.id),
            ),
            durable=False,
        )

    def _end_in(
        self, conn: sqlite3.Connection, tx: Transaction, cause: StopCause, meter_wh: float, at: datetime,
        stop_token: Token | None,
    ) -> Transaction:  # fmt: skip
        ended = replace(
            tx, stopped_at=at, meter_stop_wh=meter_wh, last_meter_wh=meter_wh, stop_cause=cause, stop_token=stop_token
        )
        conn.execute(
            "UPDATE transactions SET stopped_at = ?, meter_stop_wh = ?, last_meter_wh = ?, stop_cause = ?,"
            " max_current_a = ?, stop_token_id = ?, stop_token_type = ? WHERE id = ? AND stopped_at IS NULL",
            (iso(at), meter_wh, meter_wh, cause.value, ended.max_current_a, stop_token and stop_token.id,
             stop_token and stop_token.type.value, tx.id),
        )  # fmt: skip
        self._emit(conn, Change.ENDED, ended)
        return ended

    async def end(
        self, tx: Transaction, cause: StopCause, meter_wh: float, at: datetime, stop_token: Token | None = None
    ) -> Transaction:
        return await self.db.run(lambda c: self._end_in(c, tx, cause, meter_wh, at, stop_token))

    def open_transactions(self) -> list[Transaction]:
        rows = self.db.run_sync(
            lambda c: c.execute("SELECT * FROM transactions WHERE stopped_at IS NULL ORDER BY rowid").fetchall()
        )
        return [_row(r) for r in rows]

    def recover(self, meter_wh: Callable[[int], float | None], at: datetime) -> list[Transaction]:
        """Close what a crash left open (PowerLoss); returns the closed transactions."""
        closed = []
        for tx in self.open_transactions():
            reading = meter_wh(tx.evse) if tx.evse is not None else None
            value = reading if reading is not None and reading >= tx.last_meter_wh else tx.last_meter_wh

            def close(c: sqlite3.Connection, t: Transaction = tx, v: float = value) -> Transaction:
                return self._end_in(c, t, StopCause.POWER_LOSS, v, at, None)

            closed.append(self.db.run_sync(close))
        return closed

    def history(self, limit: int = 50) -> list[Transaction]:
        rows = self.db.run_sync(
            lambda c: c.execute("SELECT * FROM transactions ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
        )
        return [_row(r) for r in rows]

    def _of_token(self, c: sqlite3.Connection, token: Token) -> list[Transaction]:
        rows = c.execute(
            "SELECT * FROM transactions WHERE token_type = ? OR stop_token_type = ? ORDER BY rowid",
            (token.type.value, token.type.value),
        ).fetchall()
        return [t for t in map(_row, rows) if any(k is not None and k.same(token) for k in (t.token, t.stop_token))]

    async def of_token(self, token: Token) -> list[Transaction]:
        """The transactions ``token`` started or stopped, oldest first."""
        return await self.db.run(lambda c: self._of_token(c, token))

    async def forget(self, token: Token) -> list[Transaction]:
        """Remove ``token`` from the ended transactions that name it; returns them as they were."""

        def write(c: sqlite3.Connection) -> list[Transaction]:
            ended = [t for t in self._of_token(c, token) if t.stopped_at is not None]
            for t in ended:
                own = t.token is not None and t.token.same(token)
                stopped = t.stop_token is not None and t.stop_token.same(token)
                c.execute(
                    "UPDATE transactions SET token_id = CASE WHEN ? THEN NULL ELSE token_id END,"
                    " token_type = CASE WHEN ? THEN NULL ELSE token_type END,"
                    " token_group = CASE WHEN ? THEN NULL ELSE token_group END,"
                    " stop_token_id = CASE WHEN ? THEN NULL ELSE stop_token_id END,"
                    " stop_token_type = CASE WHEN ? THEN NULL ELSE stop_token_type END WHERE id = ?",
                    (own, own, own, stopped, stopped, t.id),
                )
            return ended

        return await self.db.run(write)
