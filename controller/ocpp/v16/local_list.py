"""The OCPP 1.6 Local Authorization List: SendLocalList and GetLocalListVersion, kept in SQLite.

Rules kept here (OCPP 1.6 edition 2 sections 3.5.2, 5.10, 5.15, 6.41, 7.1, 7.47, 9.2; errata 3.52):
- The list changes only through SendLocalList. Full replaces it with the entries sent and takes
  listVersion; Differential adds or updates the entries that carry idTagInfo, deletes those
  without, and needs a listVersion above the current one, else VersionMismatch.
- Requests the specification forbids get a CALLERROR and change nothing: listVersion 0 or -1
  (errata 3.52) or an unreadable expiryDate (PropertyConstraintViolation), an idTag twice in
  one request or a Full entry without idTagInfo (OccurenceConstraintViolation).
- More entries than SendLocalListMaxLength in one request, or a resulting list longer than
  LocalAuthListMaxLength: Failed, nothing changes.
- An empty list has version 0 (5.10: 0 means empty), whatever listVersion emptied it (a Full
  update without entries, a Differential deleting the last one).
- LocalAuthListEnabled = false: SendLocalList answers NotSupported and changes nothing; the list
  is kept, and GetLocalListVersion reports its version (0 before any list arrived).
- An update is one SQLite transaction (entries and version together): a power cut leaves the old
  list or the new one. Id tags compare case-insensitively.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.clock import iso, parse_time
from controller.ocpp.link import Refuse
from controller.ocpp.v16.authorization import TagInfo
from controller.ocpp.v16.configuration import Configuration
from controller.storage import Database

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import Handler

log = logging.getLogger(__name__)

_DDL = """
CREATE TABLE ocpp16_local_list (
    id_tag TEXT PRIMARY KEY COLLATE NOCASE,
    status TEXT NOT NULL,
    expires_at TEXT,
    parent_id_tag TEXT
);
CREATE TABLE ocpp16_local_list_version (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 0),
    version INTEGER NOT NULL
)
"""

Entries = Mapping[str, tuple[str, TagInfo]]  # casefolded id tag -> (id tag as sent, its info)


class BadList(ValueError):
    """A SendLocalList.req the specification forbids; ``code`` is the CALLERROR to answer."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ListState:
    version: int
    entries: Entries


def updated(state: ListState, payload: dict[str, Any], *, max_send: int, max_length: int) -> tuple[str, ListState]:
    """Apply a SendLocalList.req payload: (UpdateStatus, the list afterwards). Raises BadList."""
    version, full = payload["listVersion"], payload["updateType"] == "Full"
    items = payload.get("localAuthorizationList") or []
    if version in (0, -1):
        raise BadList("PropertyConstraintViolation", f"listVersion {version} is reserved (errata 3.52)")
    changes: dict[str, tuple[str, TagInfo | None]] = {}
    for item in items:
        tag, info = item["idTag"], item.get("idTagInfo")
        if tag.casefold() in changes:
            raise BadList("OccurenceConstraintViolation", f"idTag {tag} appears twice")
        if info is None and full:
            raise BadList("OccurenceConstraintViolation", f"idTag {tag} has no idTagInfo in a Full update")
        try:
            changes[tag.casefold()] = (tag, TagInfo.from_payload(info) if info is not None else None)
        except ValueError as exc:
            raise BadList("PropertyConstraintViolation", f"idTag {tag}: {exc}") from None
    if not full and version <= state.version:
        return "VersionMismatch", state
    if len(items) > max_send:
        return "Failed", state
    entries = {} if full else dict(state.entries)
    for key, (tag, info) in changes.items():
        if info is None:
            entries.pop(key, None)
        else:
            entries[key] = (tag, info)
    if len(entries) > max_length:
        return "Failed", state
    return "Accepted", ListState(version if entries else 0, entries)


class LocalList:
    """The list in memory (lookups never wait for the disk) and in SQLite; a Feature."""

    def __init__(self, db: Database, keys: Configuration):
        db.migrate("ocpp16_local_list_0001", _DDL)
        self.db, self.keys = db, keys
        self.state = db.run_sync(self._load)

    @staticmethod
    def _load(c: Any) -> ListState:
        row = c.execute("SELECT version FROM ocpp16_local_list_version").fetchone()
        entries = {
            tag.casefold(): (tag, TagInfo(status, parse_time(expires) if expires else None, parent))
            for tag, status, expires, parent in c.execute("SELECT * FROM ocpp16_local_list").fetchall()
        }
        return ListState(row[0] if row is not None and entries else 0, entries)  # an older version kept it

    def get(self, id_tag: str) -> TagInfo | None:
        entry = self.state.entries.get(id_tag.casefold())
        return entry[1] if entry is not None else None

    def handlers(self) -> dict[str, Handler]:
        return {"SendLocalList": self.send_local_list, "GetLocalListVersion": self.get_local_list_version}

    def attach(self, station: Station) -> None:
        """Nothing of the station is needed: the list only answers lookups."""

    async def get_local_list_version(self, _payload: dict[str, Any]) -> dict[str, Any]:
        return {"listVersion": self.state.version}

    async def send_local_list(self, payload: dict[str, Any]) -> dict[str, Any]:
        if not self.keys["LocalAuthListEnabled"]:
            return {"status": "NotSupported"}
        max_send, max_length = self.keys["SendLocalListMaxLength"], self.keys["LocalAuthListMaxLength"]
        assert isinstance(max_send, int) and isinstance(max_length, int)
        try:
            status, state = updated(self.state, payload, max_send=max_send, max_length=max_length)
        except BadList as exc:
            raise Refuse(exc.code, str(exc)) from None
        if status != "Accepted":
            log.info("SendLocalList %s version %s: %s", payload["updateType"], payload["listVersion"], status)
            return {"status": status}
        await self.db.run(lambda c: self._store(c, state))
        self.state = state
        log.info("local list version %s: %d ids", state.version, len(state.entries))
        return {"status": "Accepted"}

    @staticmethod
    def _store(c: Any, state: ListState) -> None:
        c.execute("DELETE FROM ocpp16_local_list")
        c.executemany(
            "INSERT INTO ocpp16_local_list VALUES (?, ?, ?, ?)",
            [
                (tag, info.status, iso(info.expires_at) if info.expires_at else None, info.parent_id_tag)
                for tag, info in state.entries.values()
            ],
        )
        c.execute("INSERT OR REPLACE INTO ocpp16_local_list_version VALUES (0, ?)", (state.version,))
