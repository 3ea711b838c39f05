"""The authorization cache: the backend's latest answer about each token, in SQLite.

Rules kept here (OCPP 1.6 section 3.5.1; 2.0.1 C10, errata C10.FR.10/13):
- Keyed by token id (ignoring case) and type; survives reboots, resets and power cuts.
- An Accepted answer whose expiry passed is kept as Expired (rewritten when read).
- With a lifetime, an entry not updated for that long is forgotten when it is next read.
- At most ``capacity`` tokens: when full, the not-valid entries go first, then the least
  recently used (a decision taken on it, or its last update); the token just written stays.
- ``count`` and ``storage`` (bytes of its stored text) are kept current for reports without
  a database read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from controller.authorization.rules import TokenInfo
from controller.clock import iso, parse_time
from controller.core.vocabulary import AuthStatus, Token
from controller.storage import Database

CAPACITY = 1000
_DDL = """
CREATE TABLE auth_cache (
    token_id TEXT NOT NULL COLLATE NOCASE,
    token_type TEXT NOT NULL,
    status TEXT NOT NULL,
    token_group TEXT,
    expires_at TEXT,
    updated_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, token_type)
)
"""
# The EVSEs a token may charge at (comma separated, NULL: any), its charging priority, its last use.
_0002 = """
ALTER TABLE auth_cache ADD COLUMN evses TEXT;
ALTER TABLE auth_cache ADD COLUMN priority INTEGER;
ALTER TABLE auth_cache ADD COLUMN used_at REAL NOT NULL DEFAULT 0
"""
Measure = tuple[int, int]  # entries, bytes
_WHERE = "token_id = ? AND token_type = ?"
_BYTES = (
    "SELECT COUNT(*), IFNULL(SUM(length(CAST(token_id AS BLOB)) + length(token_type) + length(status)"
    " + IFNULL(length(CAST(token_group AS BLOB)), 0) + IFNULL(length(expires_at), 0) + IFNULL(length(evses), 0)"
    " + 24), 0) FROM auth_cache"
)


def evses_text(evses: frozenset[int]) -> str | None:
    return ",".join(str(e) for e in sorted(evses)) if evses else None


def evses_of(text: str | None) -> frozenset[int]:
    return frozenset(int(e) for e in text.split(",")) if text else frozenset()


class AuthCache:
    def __init__(self, db: Database, now: Callable[[], datetime], capacity: int = CAPACITY):
        db.migrate("auth_cache_0001", _DDL)
        db.migrate("auth_cache_0002", _0002)
        self.db, self.now, self.capacity = db, now, capacity
        self.count, self.storage = db.run_sync(lambda c: c.execute(_BYTES).fetchone())

    async def get(self, token: Token, lifetime_s: float | None = None) -> TokenInfo | None:
        where = (token.id, token.type.value)
        now = self.now()

        def read(c: sqlite3.Connection) -> tuple[Any, Measure | None]:
            row = c.execute(
                f"SELECT status, expires_at, token_group, evses, priority, updated_at FROM auth_cache WHERE {_WHERE}",
                where,
            ).fetchone()
            if row is not None and lifetime_s is not None and row[5] + lifetime_s <= now.timestamp():
                c.execute(f"DELETE FROM auth_cache WHERE {_WHERE}", where)  # its lifetime ran out: forgotten
                return None, c.execute(_BYTES).fetchone()
            return row, None

        row, measured = await self.db.run(read)
        if measured is not None:
            self.count, self.storage = measured
        if row is None:
            return None
        status, expires, group, evses, priority, _ = row
        cached = TokenInfo(AuthStatus(status), parse_time(expires) if expires else None, group, evses_of(evses),
                           priority)  # fmt: skip
        if cached.status_at(now) is not cached.status:  # its validity ran out: kept as Expired
            await self.db.run(lambda c: c.execute(f"UPDATE auth_cache SET status = 'Expired' WHERE {_WHERE}", where))
            cached = replace(cached, status=AuthStatus.EXPIRED)
        return cached

    async def touch(self, token: Token) -> None:
        """The entry of ``token`` decided something: it is the most recently used."""
        used = (self.now().timestamp(), token.id, token.type.value)
        await self.db.run(lambda c: c.execute(f"UPDATE auth_cache SET used_at = ? WHERE {_WHERE}", used))

    async def put(self, token: Token, info: TokenInfo) -> None:
        now = self.now()
        expires = iso(info.expires_at) if info.expires_at is not None else None

        def write(c: sqlite3.Connection) -> Measure:
            c.execute(
                "INSERT INTO auth_cache (token_id, token_type, status, token_group, expires_at, updated_at, evses,"
                " priority, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(token_id, token_type) DO UPDATE"
                " SET status = excluded.status, token_group = excluded.token_group,"
                " expires_at = excluded.expires_at, updated_at = excluded.updated_at, evses = excluded.evses,"
                " priority = excluded.priority, used_at = excluded.used_at",
                (token.id, token.type.value, info.status.value, info.group, expires, now.timestamp(),
                 evses_text(info.evses), info.priority, now.timestamp()),
            )  # fmt: skip
            excess = c.execute("SELECT COUNT(*) FROM auth_cache").fetchone()[0] - self.capacity
            if excess > 0:  # NOT-valid entries first, then the least recently used valid ones
                c.execute(
                    "DELETE FROM auth_cache WHERE rowid IN (SELECT rowid FROM auth_cache"
                    f" WHERE NOT ({_WHERE})"
                    " ORDER BY (status = 'Accepted' AND (expires_at IS NULL OR expires_at > ?)),"
                    " MAX(updated_at, used_at) LIMIT ?)",
                    (token.id, token.type.value, iso(now), excess),
                )
            return c.execute(_BYTES).fetchone()

        self.count, self.storage = await self.db.run(write)

    async def remove(self, token: Token) -> None:
        """Forget what the backend said about ``token`` (a customer's data cleared)."""
        where = (token.id, token.type.value)

        def remove(c: sqlite3.Connection) -> Measure:
            c.execute(f"DELETE FROM auth_cache WHERE {_WHERE}", where)
            return c.execute(_BYTES).fetchone()

        self.count, self.storage = await self.db.run(remove)

    async def clear(self) -> None:
        def clear(c: sqlite3.Connection) -> Measure:
            c.execute("DELETE FROM auth_cache")
            return c.execute(_BYTES).fetchone()

        self.count, self.storage = await self.db.run(clear)
