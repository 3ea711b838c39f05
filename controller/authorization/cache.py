"""The authorization cache: the backend's latest answer about each token, in SQLite.

Rules kept here (OCPP 1.6 section 3.5.1; 2.0.1 C10):
- Keyed by token id (ignoring case) and type; survives reboots, resets and power cuts.
- An Accepted answer whose expiry passed is kept as Expired (rewritten when read).
- At most ``capacity`` tokens: when full, the not-valid entries go first, then the least
  recently updated; the token just written stays.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime

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


class AuthCache:
    def __init__(self, db: Database, now: Callable[[], datetime], capacity: int = CAPACITY):
        db.migrate("auth_cache_0001", _DDL)
        self.db, self.now, self.capacity = db, now, capacity

    async def get(self, token: Token) -> TokenInfo | None:
        where = (token.id, token.type.value)
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT status, expires_at, token_group FROM auth_cache WHERE token_id = ? AND token_type = ?", where
            ).fetchone()
        )
        if row is None:
            return None
        cached = TokenInfo(AuthStatus(row[0]), parse_time(row[1]) if row[1] else None, row[2])
        if cached.status_at(self.now()) is not cached.status:  # its validity ran out: kept as Expired
            await self.db.run(
                lambda c: c.execute(
                    "UPDATE auth_cache SET status = 'Expired' WHERE token_id = ? AND token_type = ?", where
                )
            )
            cached = TokenInfo(AuthStatus.EXPIRED, cached.expires_at, cached.group)
        return cached

    async def put(self, token: Token, info: TokenInfo) -> None:
        now = self.now()
        expires = iso(info.expires_at) if info.expires_at is not None else None

        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO auth_cache VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(token_id, token_type) DO UPDATE SET"
                " status = excluded.status, token_group = excluded.token_group,"
                " expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (token.id, token.type.value, info.status.value, info.group, expires, now.timestamp()),
            )
            excess = c.execute("SELECT COUNT(*) FROM auth_cache").fetchone()[0] - self.capacity
            if excess > 0:  # NOT-valid entries first, then the least recently updated valid ones
                c.execute(
                    "DELETE FROM auth_cache WHERE rowid IN (SELECT rowid FROM auth_cache"
                    " WHERE NOT (token_id = ? AND token_type = ?)"
                    " ORDER BY (status = 'Accepted' AND (expires_at IS NULL OR expires_at > ?)), updated_at LIMIT ?)",
                    (token.id, token.type.value, iso(now), excess),
                )

        await self.db.run(write)

    async def clear(self) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM auth_cache"))
