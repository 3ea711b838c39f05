"""OCPP 1.6 authorization of id tags: Local Authorization List, Authorization Cache and CSMS.

Rules kept here (OCPP 1.6 edition 2 sections 3.5, 4.1, 4.8, 4.10, 5.4, 9.1; errata 3.4, 3.73):
- What the station knows of a tag: its Local Authorization List entry while LocalAuthListEnabled,
  else its cache entry while AuthorizationCacheEnabled. The list has priority, and a tag in the
  (enabled) list never enters the cache.
- An Accepted entry past its expiryDate counts as Expired; a cache entry is rewritten as Expired.
- Online: with LocalPreauthorize a known Accepted tag is accepted without Authorize.req; else the
  CSMS decides and its idTagInfo updates the cache. An Authorize that fails (timeout, link lost)
  falls back to the offline rules.
- Offline: a known Accepted tag is accepted while LocalAuthorizeOffline; a known tag with any
  other status is rejected (3.5.4); an unknown tag (or a known Accepted one with
  LocalAuthorizeOffline = false) is accepted only while AllowOfflineTxForUnknownId.
- The cache takes every idTagInfo received (Authorize, StartTransaction and StopTransaction
  confirmations), lives in SQLite (survives reboots, resets, power cuts) and holds at most
  ``capacity`` tags: when full, NOT-valid entries go first, then the least recently updated.
  An idTagInfo whose expiryDate is unreadable is not cached. ClearCache empties it.
- A tag's parent (for a reservation's group, 5.13): its list or cache entry's, else what an
  Authorize.conf names (remembered like any idTagInfo).
- A confirmation that disagrees with an enabled list entry (Accepted vs not) is a conflict:
  ``on_conflict(id_tag)`` reports it (StatusNotification connector 0, LocalListConflict, 3.5.2).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.clock import iso, parse_time
from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus
from controller.ocpp.link import CallFailed
from controller.ocpp.v16.configuration import Configuration
from controller.storage import Database

if TYPE_CHECKING:
    from controller.ocpp.v16.local_list import LocalList

log = logging.getLogger(__name__)

CACHE_CAPACITY = 1000
Ask = Callable[[], Awaitable[dict[str, Any]]]  # sends Authorize.req, returns its payload
ACCEPTED = "Accepted"
_CACHE_DDL = "CREATE TABLE ocpp16_auth_cache (id_tag TEXT PRIMARY KEY, status TEXT NOT NULL, parent_id_tag TEXT)"
# Ids are case-insensitive (IdToken is a CiString20Type); expiry and age for 3.5.1.
_CACHE_0002 = """
CREATE TABLE ocpp16_auth_cache_new (
    id_tag TEXT PRIMARY KEY COLLATE NOCASE,
    status TEXT NOT NULL,
    parent_id_tag TEXT,
    expires_at TEXT,
    updated_at REAL NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO ocpp16_auth_cache_new (id_tag, status, parent_id_tag)
    SELECT id_tag, status, parent_id_tag FROM ocpp16_auth_cache;
DROP TABLE ocpp16_auth_cache;
ALTER TABLE ocpp16_auth_cache_new RENAME TO ocpp16_auth_cache
"""


@dataclass(frozen=True)
class TagInfo:
    """An IdTagInfo: status, optional expiry, optional parent (group) tag."""

    status: str
    expires_at: datetime | None = None
    parent_id_tag: str | None = None

    @staticmethod
    def from_payload(info: dict[str, Any]) -> TagInfo:
        """Raises ValueError when expiryDate is not a date-time."""
        expiry = info.get("expiryDate")
        return TagInfo(info["status"], parse_time(expiry) if expiry else None, info.get("parentIdTag"))

    def status_at(self, now: datetime) -> str:
        past = self.expires_at is not None and self.expires_at <= now
        return "Expired" if self.status == ACCEPTED and past else self.status

    def result(self, now: datetime, by: AuthorizedBy) -> AuthResult:
        return AuthResult(AuthStatus(self.status_at(now)), by, self.parent_id_tag)


def offline_decision(
    known: TagInfo | None,
    now: datetime,
    *,
    local_authorize_offline: bool,
    allow_unknown: bool,
    by: AuthorizedBy = AuthorizedBy.CACHE,
) -> AuthResult:
    """3.5 / 3.5.4 while the CSMS cannot be asked; ``by``: where ``known`` came from."""
    if known is not None:
        status = known.status_at(now)
        if status != ACCEPTED:
            return AuthResult(AuthStatus(status), by, known.parent_id_tag)
        if local_authorize_offline:
            return AuthResult(AuthStatus.ACCEPTED, by, known.parent_id_tag)
    if allow_unknown:
        return AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.OFFLINE, known.parent_id_tag if known else None)
    return AuthResult(AuthStatus.INVALID, AuthorizedBy.OFFLINE)


class Authorization:
    def __init__(
        self,
        db: Database,
        keys: Configuration,
        now: Callable[[], datetime],
        local_list: LocalList | None,
        capacity: int = CACHE_CAPACITY,
    ):
        db.migrate("ocpp16_auth_cache_0001", _CACHE_DDL)
        db.migrate("ocpp16_auth_cache_0002", _CACHE_0002)
        self.db, self.keys, self.now, self.local_list, self.capacity = db, keys, now, local_list, capacity
        self.on_conflict: Callable[[str], None] | None = None

    def _on(self, key: str) -> bool:
        """An optional key left out of the table counts as off."""
        return key in self.keys.keys and bool(self.keys[key])

    def listed(self, id_tag: str) -> TagInfo | None:
        """The tag's Local Authorization List entry, while the list is in use."""
        if self.local_list is None or not self._on("LocalAuthListEnabled"):
            return None
        return self.local_list.get(id_tag)

    async def known(self, id_tag: str) -> TagInfo | None:
        listed = self.listed(id_tag)
        if listed is not None or not self._on("AuthorizationCacheEnabled"):
            return listed
        row = await self.db.run(
            lambda c: c.execute(
                "SELECT status, expires_at, parent_id_tag FROM ocpp16_auth_cache WHERE id_tag = ?", (id_tag,)
            ).fetchone()
        )
        if row is None:
            return None
        cached = TagInfo(row[0], parse_time(row[1]) if row[1] else None, row[2])
        if cached.status_at(self.now()) != cached.status:  # its validity ran out: kept as Expired
            await self.db.run(
                lambda c: c.execute("UPDATE ocpp16_auth_cache SET status = 'Expired' WHERE id_tag = ?", (id_tag,))
            )
            cached = replace(cached, status="Expired")
        return cached

    async def authorize(self, id_tag: str, ask: Ask | None) -> AuthResult:
        """Decide for ``id_tag``; ``ask`` sends Authorize.req and returns its payload (None: offline)."""
        known = await self.known(id_tag)
        by = AuthorizedBy.LOCAL_LIST if self.listed(id_tag) is not None else AuthorizedBy.CACHE
        now = self.now()
        if ask is not None:
            if known is not None and known.status_at(now) == ACCEPTED and self._on("LocalPreauthorize"):
                return known.result(now, by)
            info = await self._asked(id_tag, ask)
            if info is not None:
                return AuthResult(AuthStatus(info["status"]), AuthorizedBy.BACKEND, info.get("parentIdTag"))
        return offline_decision(
            known,
            now,
            local_authorize_offline=self._on("LocalAuthorizeOffline"),
            allow_unknown=self._on("AllowOfflineTxForUnknownId"),
            by=by,
        )

    async def parent_of(self, id_tag: str, ask: Ask | None) -> str | None:
        """The tag's parent as the list or cache knows it, else as Authorize.conf names it."""
        known = await self.known(id_tag)
        info = await self._asked(id_tag, ask) if known is None and ask is not None else None
        if info is not None:
            return info.get("parentIdTag")
        return known.parent_id_tag if known is not None else None

    async def _asked(self, id_tag: str, ask: Ask) -> dict[str, Any] | None:
        """Authorize.conf's idTagInfo, remembered; None when the request failed."""
        try:
            response = await ask()
        except CallFailed as exc:
            log.info("Authorize %s failed (%s)", id_tag, exc)
            return None
        info: dict[str, Any] = response["idTagInfo"]
        await self.remember(id_tag, info)
        return info

    async def remember(self, id_tag: str, info: dict[str, Any]) -> None:
        """Take an idTagInfo from the CSMS: into the cache, or compared with the tag's list entry."""
        listed = self.listed(id_tag)
        if listed is not None:
            if (listed.status_at(self.now()) == ACCEPTED) != (info["status"] == ACCEPTED) and self.on_conflict:
                log.warning("%s: CSMS says %s, the local list %s", id_tag, info["status"], listed.status)
                self.on_conflict(id_tag)
            return
        if not self._on("AuthorizationCacheEnabled"):
            return
        try:
            tag = TagInfo.from_payload(info)
        except ValueError as exc:
            log.warning("idTagInfo of %s not cached: %s", id_tag, exc)
            return
        now = self.now()
        expires = iso(tag.expires_at) if tag.expires_at is not None else None

        def write(c: Any) -> None:
            c.execute(
                "INSERT INTO ocpp16_auth_cache VALUES (?, ?, ?, ?, ?) ON CONFLICT(id_tag) DO UPDATE SET"
                " status = excluded.status, parent_id_tag = excluded.parent_id_tag,"
                " expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                (id_tag, tag.status, tag.parent_id_tag, expires, now.timestamp()),
            )
            excess = c.execute("SELECT COUNT(*) FROM ocpp16_auth_cache").fetchone()[0] - self.capacity
            if excess > 0:  # NOT-valid entries first, then the least recently updated valid ones
                c.execute(
                    "DELETE FROM ocpp16_auth_cache WHERE id_tag IN (SELECT id_tag FROM ocpp16_auth_cache"
                    " WHERE id_tag != ? ORDER BY (status = 'Accepted' AND (expires_at IS NULL OR expires_at > ?)),"
                    " updated_at LIMIT ?)",
                    (id_tag, iso(now), excess),
                )

        await self.db.run(write)

    async def clear_cache(self) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM ocpp16_auth_cache"))
