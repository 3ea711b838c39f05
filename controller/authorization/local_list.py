"""The local authorization list: tokens and what is known of them, with a version, in SQLite.

Rules kept here (OCPP 1.6 sections 3.5.2, 5.10, 5.15; 2.0.1 D01-D03):
- Entries are keyed by token id (ignoring case) and type. A full update replaces the list with
  its entries and takes its version; a differential one adds or updates the entries with
  information, deletes those without, and needs a version above the current one, else
  VersionMismatch.
- More entries than ``max_send`` in one update, or a resulting list longer than ``max_length``
  entries or ``max_bytes`` bytes of stored text: Failed, nothing changes. An empty list has
  version 0 however it got empty where the protocol says so (1.6, ``empty_resets_version``);
  2.0.1 keeps the version it was sent (D01.FR.04/05).
- An update is one SQLite transaction (entries and version together): a power cut leaves the
  old list or the new one. Only what changed is written. Lookups never wait for the disk: the
  list is kept in memory too.
- ``updated`` is pure; a front end checks its wire's own rules (reserved versions, repeated
  ids) before handing over the changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from controller.authorization.cache import evses_of, evses_text
from controller.authorization.rules import TokenInfo
from controller.clock import iso, parse_time
from controller.core.vocabulary import AuthStatus, Token, TokenType
from controller.storage import Database

Key = tuple[str, TokenType]
Entries = Mapping[Key, tuple[Token, TokenInfo]]  # key -> (the token as sent, what is known of it)
Change = tuple[Token, TokenInfo | None]  # None: delete
ENTRY_OVERHEAD = 16  # bytes counted per entry beyond its text (the version, the row)

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
_0002 = """
ALTER TABLE local_list ADD COLUMN evses TEXT;
ALTER TABLE local_list ADD COLUMN priority INTEGER
"""


class UpdateOutcome(StrEnum):
    ACCEPTED = "Accepted"
    FAILED = "Failed"
    VERSION_MISMATCH = "VersionMismatch"


def key(token: Token) -> Key:
    return token.id.casefold(), token.type


def _row(token: Token, info: TokenInfo) -> tuple[object, ...]:
    expires = iso(info.expires_at) if info.expires_at else None
    return (token.id, token.type.value, info.status.value, expires, info.group, evses_text(info.evses), info.priority)


def entry_bytes(token: Token, info: TokenInfo) -> int:
    """What an entry takes in storage: its stored text, plus a fixed overhead."""
    text = (str(v) for v in _row(token, info) if v is not None)
    return sum(len(t.encode()) for t in text) + ENTRY_OVERHEAD


@dataclass(frozen=True)
class ListState:
    version: int
    entries: Entries
    storage: int = -1  # bytes its entries take (``entry_bytes``); counted when not given

    def __post_init__(self) -> None:
        if self.storage < 0:
            object.__setattr__(self, "storage", sum(entry_bytes(t, i) for t, i in self.entries.values()))


@dataclass(frozen=True)
class Limits:
    max_send: int  # entries in one update
    max_length: int  # entries in the list
    max_bytes: int | None = None  # stored bytes of the list


def updated(state: ListState, version: int, changes: Sequence[Change], *, full: bool, limits: Limits,
            empty_resets_version: bool = True) -> tuple[UpdateOutcome, ListState]:  # fmt: skip
    """The list after an update (the outcome, the new state; refused: the old one)."""
    if not full and version <= state.version:
        return UpdateOutcome.VERSION_MISMATCH, state
    if len(changes) > limits.max_send:
        return UpdateOutcome.FAILED, state
    entries, storage = ({}, 0) if full else (dict(state.entries), state.storage)
    for token, info in changes:
        old = entries.pop(key(token), None)
        storage -= entry_bytes(*old) if old is not None else 0
        if info is not None:
            entries[key(token)] = (token, info)
            storage += entry_bytes(token, info)
    after = ListState(version if entries or not empty_resets_version else 0, entries, storage)
    if len(entries) > limits.max_length or (limits.max_bytes is not None and after.storage > limits.max_bytes):
        return UpdateOutcome.FAILED, state
    return UpdateOutcome.ACCEPTED, after


class LocalList:
    def __init__(self, db: Database):
        db.migrate("local_list_0001", _DDL)
        db.migrate("local_list_0002", _0002)
        self.db = db
        self.state = db.run_sync(self._load)

    def reload(self) -> None:
        """Read the list again (a front end moved entries in)."""
        self.state = self.db.run_sync(self._load)

    @staticmethod
    def _load(c: sqlite3.Connection) -> ListState:
        row = c.execute("SELECT version FROM local_list_version").fetchone()
        entries: dict[Key, tuple[Token, TokenInfo]] = {}
        rows = c.execute(
            "SELECT token_id, token_type, status, expires_at, token_group, evses, priority FROM local_list"
        )
        for r in rows.fetchall():
            token = Token(r[0], TokenType(r[1]))
            info = TokenInfo(AuthStatus(r[2]), parse_time(r[3]) if r[3] else None, r[4], evses_of(r[5]), r[6])
            entries[key(token)] = (token, info)
        return ListState(row[0] if row is not None else 0, entries)

    def get(self, token: Token) -> TokenInfo | None:
        entry = self.state.entries.get(key(token))
        return entry[1] if entry is not None else None

    async def store(self, state: ListState) -> None:
        """Make ``state`` the list, writing only the entries that differ from the current one."""
        before = self.state.entries
        gone = [k for k in before if k not in state.entries]
        changed = [_row(*v) for k, v in state.entries.items() if before.get(k) != v]

        def write(c: sqlite3.Connection) -> None:
            c.executemany("DELETE FROM local_list WHERE token_id = ? AND token_type = ?",
                          [(before[k][0].id, k[1].value) for k in gone])  # fmt: skip
            c.executemany("INSERT OR REPLACE INTO local_list (token_id, token_type, status, expires_at, token_group,"
                          " evses, priority) VALUES (?, ?, ?, ?, ?, ?, ?)", changed)  # fmt: skip
            c.execute("INSERT OR REPLACE INTO local_list_version VALUES (0, ?)", (state.version,))

        await self.db.run(write)
        self.state = state
