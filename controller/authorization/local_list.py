"""The local authorization list: tokens and what is known of them, with a version, in SQLite.

Rules kept here (OCPP 1.6 sections 3.5.2, 5.10, 5.15; 2.0.1 D01-D03):
- Entries are keyed by token id (ignoring case) and type. A full update replaces the list with
  its entries and takes its version; a differential one adds or updates the entries with
  information, deletes those without, and needs a version above the current one, else
  VersionMismatch.
- More entries than ``max_send`` in one update, or a resulting list longer than ``max_length``:
  Failed, nothing changes. An empty list has version 0, however it got empty.
- An update is one SQLite transaction (entries and version together): a power cut leaves the
  old list or the new one. Lookups never wait for the disk: the list is kept in memory too.
- ``updated`` is pure; a front end checks its wire's own rules (reserved versions, repeated
  ids) before handing over the changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from controller.authorization.rules import TokenInfo
from controller.clock import iso, parse_time
from controller.core.vocabulary import AuthStatus, Token, TokenType
from controller.storage import Database

Key = tuple[str, TokenType]
Entries = Mapping[Key, tuple[Token, TokenInfo]]  # key -> (the token as sent, what is known of it)
Change = tuple[Token, TokenInfo | None]  # None: delete

_DDL = """
CREATE TABLE local_list (
    token_id TEXT NOT NULL COLLATE NOCASE,
    token_type TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at TEXT,
    token_group TEXT,
    PRIMARY KEY (token_id, token_type)
);
CREATE TABLE local_list_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    version INTEGER NOT NULL
)
"""


class UpdateOutcome(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    VERSION_MISMATCH = "VersionMismatch"


def key(token: Token) -> Key:
    return token.id.casefold(), token.type


@dataclass(frozen=True)
class ListState:
    version: int
    entries: Entries


def updated(
    state: ListState, version: int, changes: Sequence[Change], *, full: bool, max_send: int, max_length: int
) -> tuple[UpdateOutcome, ListState]:
    """The list after an update (the outcome, the new state; refused: the old one)."""
    if not full and version <= state.version:
        return UpdateOutcome.VERSION_MISMATCH, state
    if len(changes) > max_send:
        return UpdateOutcome.FAILED, state
    entries = {} if full else dict(state.entries)
    for token, info in changes:
        if info is None:
            entries.pop(key(token), None)
        else:
            entries[key(token)] = (token, info)
    if len(entries) > max_length:
        return UpdateOutcome.FAILED, state
    return UpdateOutcome.ACCEPTED, ListState(version if entries else 0, entries)


class LocalList:
    def __init__(self, db: Database):
        db.migrate("local_list_0001", _DDL)
        self.db = db
        self.state = db.run_sync(self._load)

    def reload(self) -> None:
        """Read the list again (a front end moved entries in)."""
        self.state = self.db.run_sync(self._load)

    @staticmethod
    def _load(c: sqlite3.Connection) -> ListState:
        row = c.execute("SELECT version FROM local_list_version").fetchone()
        entries: dict[Key, tuple[Token, TokenInfo]] = {}
        for r in c.execute("SELECT token_id, token_type, status, expires_at, token_group FROM local_list").fetchall():
            token = Token(r[0], TokenType(r[1]))
            entries[key(token)] = (token, TokenInfo(AuthStatus(r[2]), parse_time(r[3]) if r[3] else None, r[4]))
        return ListState(row[0] if row is not None and entries else 0, entries)

    def get(self, token: Token) -> TokenInfo | None:
        entry = self.state.entries.get(key(token))
        return entry[1] if entry is not None else None

    async def store(self, state: ListState) -> None:
        def write(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM local_list")
            c.executemany(
                "INSERT INTO local_list VALUES (?, ?, ?, ?, ?)",
                [
                    (t.id, t.type.value, i.status.value, iso(i.expires_at) if i.expires_at else None, i.group)
                    for t, i in state.entries.values()
                ],
            )
            c.execute("INSERT OR REPLACE INTO local_list_version VALUES (0, ?)", (state.version,))

        await self.db.run(write)
        self.state = state
