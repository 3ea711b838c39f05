"""Charging sessions on disk: the station's own record of who charged what.

Rules kept here:
- A session row is written when charging is authorized, before the contactor may
  close, and closed when it ends; both in one durable SQLite transaction.
- Protocol front ends register ``hooks`` that run inside the same transaction as the
  session change (to queue StartTransaction / StopTransaction atomically with it).
- ``recover`` closes every session a crash or power cut left open, with reason
  PowerLoss and the meter register read at restart (the register cannot have moved
  while the station was off), or the last value recorded when the meter is silent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from controller.clock import iso
from controller.storage import Database


class StopReason(StrEnum):
    """OCPP 1.6 Reason values; the 2.0.1 front end maps them to its own."""

    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"
    DEAUTHORIZED = "DeAuthorized"
    EMERGENCY_STOP = "EmergencyStop"
    UNLOCK_COMMAND = "UnlockCommand"
    OTHER = "Other"


@dataclass(frozen=True)
class Session:
    id: int
    connector: int
    id_tag: str
    started_at: str
    meter_start_wh: float
    parent_id_tag: str | None = None
    last_meter_wh: float = 0.0
    stopped_at: str | None = None
    meter_stop_wh: float | None = None
    stop_reason: StopReason | None = None
    max_current_a: float = 0.0
    reservation_id: int | None = None  # the reservation this session ended
    stop_id_tag: str | None = None  # the token that stopped it, when not the starting one

    @property
    def energy_wh(self) -> float:
        end = self.meter_stop_wh if self.meter_stop_wh is not None else self.last_meter_wh
        return max(0.0, end - self.meter_start_wh)

    @property
    def active(self) -> bool:
        return self.stopped_at is None


@dataclass(frozen=True)
class SessionEvent:
    kind: str  # "started" | "stopped"
    session: Session


Hook = Callable[[sqlite3.Connection, SessionEvent], None]

_SCHEMA = """
CREATE TABLE sessions (
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
    max_current_a REAL NOT NULL DEFAULT 0
);
CREATE INDEX sessions_open ON sessions (stopped_at) WHERE stopped_at IS NULL
"""
_SCHEMA_0002 = """
ALTER TABLE sessions ADD COLUMN reservation_id INTEGER;
ALTER TABLE sessions ADD COLUMN stop_id_tag TEXT
"""


def _row(r: sqlite3.Row) -> Session:
    return Session(
        id=r["id"],
        connector=r["connector"],
        id_tag=r["id_tag"],
        parent_id_tag=r["parent_id_tag"],
        started_at=r["started_at"],
        meter_start_wh=r["meter_start_wh"],
        last_meter_wh=r["last_meter_wh"],
        stopped_at=r["stopped_at"],
        meter_stop_wh=r["meter_stop_wh"],
        stop_reason=StopReason(r["stop_reason"]) if r["stop_reason"] else None,
        max_current_a=r["max_current_a"],
        reservation_id=r["reservation_id"],
        stop_id_tag=r["stop_id_tag"],
    )


class SessionLedger:
    def __init__(self, db: Database):
        self.db = db
        self.hooks: list[Hook] = []
        db.migrate("0001_sessions", _SCHEMA)
        db.migrate("0002_sessions_reservation_stop_tag", _SCHEMA_0002)

    def _emit(self, conn: sqlite3.Connection, event: SessionEvent) -> None:
        for hook in self.hooks:
            hook(conn, event)

    async def start(
        self,
        connector: int,
        id_tag: str,
        meter_wh: float,
        at: datetime,
        parent_id_tag: str | None = None,
        reservation_id: int | None = None,
    ) -> Session:
        def write(conn: sqlite3.Connection) -> Session:
            cur = conn.execute(
                "INSERT INTO sessions (connector, id_tag, parent_id_tag, started_at, meter_start_wh, last_meter_wh,"
                " reservation_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (connector, id_tag, parent_id_tag, iso(at), meter_wh, meter_wh, reservation_id),
            )
            session = Session(
                id=int(cur.lastrowid or 0),
                connector=connector,
                id_tag=id_tag,
                parent_id_tag=parent_id_tag,
                started_at=iso(at),
                meter_start_wh=meter_wh,
                last_meter_wh=meter_wh,
                reservation_id=reservation_id,
            )
            self._emit(conn, SessionEvent("started", session))
            return session

        return await self.db.run(write)

    async def progress(self, session: Session, meter_wh: float, max_current_a: float) -> Session:
        updated = replace(session, last_meter_wh=meter_wh, max_current_a=max(session.max_current_a, max_current_a))
        await self.db.run(
            lambda c: c.execute(
                "UPDATE sessions SET last_meter_wh = ?, max_current_a = ? WHERE id = ? AND stopped_at IS NULL",
                (updated.last_meter_wh, updated.max_current_a, session.id),
            )
        )
        return updated

    async def set_parent(self, session_id: int, parent_id_tag: str) -> None:
        """The session's group, learned after its start (the backend's answer to the start)."""
        await self.db.run(
            lambda c: c.execute("UPDATE sessions SET parent_id_tag = ? WHERE id = ?", (parent_id_tag, session_id))
        )

    def _stop_in(
        self,
        conn: sqlite3.Connection,
        session: Session,
        reason: StopReason,
        meter_wh: float,
        at: str,
        stop_id_tag: str | None = None,
    ) -> Session:
        stopped = replace(
            session,
            stopped_at=at,
            meter_stop_wh=meter_wh,
            last_meter_wh=meter_wh,
            stop_reason=reason,
            stop_id_tag=stop_id_tag,
        )
        conn.execute(
            "UPDATE sessions SET stopped_at = ?, meter_stop_wh = ?, last_meter_wh = ?, stop_reason = ?,"
            " max_current_a = ?, stop_id_tag = ? WHERE id = ? AND stopped_at IS NULL",
            (at, meter_wh, meter_wh, reason.value, stopped.max_current_a, stop_id_tag, session.id),
        )
        self._emit(conn, SessionEvent("stopped", stopped))
        return stopped

    async def stop(
        self, session: Session, reason: StopReason, meter_wh: float, at: datetime, stop_id_tag: str | None = None
    ) -> Session:
        return await self.db.run(lambda c: self._stop_in(c, session, reason, meter_wh, iso(at), stop_id_tag))

    def open_sessions(self) -> list[Session]:
        rows = self.db.run_sync(
            lambda c: c.execute("SELECT * FROM sessions WHERE stopped_at IS NULL ORDER BY id").fetchall()
        )
        return [_row(r) for r in rows]

    def recover(self, meter_wh: Callable[[int], float | None], at: datetime) -> list[Session]:
        """Close what a crash left open (reason PowerLoss); returns the closed sessions."""
        closed = []
        for session in self.open_sessions():
            reading = meter_wh(session.connector)
            value = reading if reading is not None and reading >= session.last_meter_wh else session.last_meter_wh
            closed.append(
                self.db.run_sync(lambda c, s=session, v=value: self._stop_in(c, s, StopReason.POWER_LOSS, v, iso(at)))
            )
        return closed

    def history(self, limit: int = 50) -> list[Session]:
        rows = self.db.run_sync(
            lambda c: c.execute("SELECT * FROM sessions ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        )
        return [_row(r) for r in rows]
