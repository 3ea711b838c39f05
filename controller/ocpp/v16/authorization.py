"""OCPP 1.6 authorization of id tags: the station's authorization engine
(controller/authorization/) with the 1.6 keys and the 1.6 idTagInfo.

Rules kept here (OCPP 1.6 edition 2 sections 3.5, 4.1, 4.8, 4.10, 5.4, 9.1; errata 3.4, 3.73):
- The engine's rules are the keys: LocalAuthListEnabled (the list), AuthorizationCacheEnabled
  (the cache), LocalPreauthorize, LocalAuthorizeOffline, AllowOfflineTxForUnknownId; an optional
  key left out of the table counts as off. They are read at every decision.
- An idTagInfo is a token's information: status, expiryDate, parentIdTag (the group). One whose
  expiryDate is unreadable still answers with its status but is not cached.
- The cache kept by earlier versions in the front end's own table is moved into the station's
  cache once (as ISO14443 tokens).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from controller.authorization.cache import AuthCache
from controller.authorization.engine import Authorization
from controller.authorization.local_list import LocalList
from controller.authorization.rules import AuthorizationPolicy, TokenInfo
from controller.clock import parse_time
from controller.core.vocabulary import AuthStatus
from controller.ocpp.v16.configuration import Configuration
from controller.storage import Database

log = logging.getLogger(__name__)

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
_CACHE_TO_STATION = """
INSERT OR IGNORE INTO auth_cache (token_id, token_type, status, token_group, expires_at, updated_at)
    SELECT id_tag, 'ISO14443', status, parent_id_tag, expires_at, updated_at FROM ocpp16_auth_cache;
DROP TABLE ocpp16_auth_cache
"""


def tag_info(info: dict[str, Any]) -> TokenInfo:
    """An idTagInfo. Raises ValueError when expiryDate is not a date-time (requests never get here
    with one: rpc.py refuses them; a CSMS answer's time without offset is taken as UTC)."""
    expiry = info.get("expiryDate")
    expires_at = parse_time(expiry, assume_utc=True) if expiry else None
    return TokenInfo(AuthStatus(info["status"]), expires_at, info.get("parentIdTag"))


def readable_tag_info(id_tag: str, info: dict[str, Any]) -> tuple[TokenInfo, bool]:
    """An idTagInfo and whether it may be cached (its expiryDate, if any, is readable)."""
    try:
        return tag_info(info), True
    except ValueError as exc:
        log.warning("idTagInfo of %s not cached: %s", id_tag, exc)
        return TokenInfo(AuthStatus(info["status"]), None, info.get("parentIdTag")), False


def policy(keys: Configuration) -> AuthorizationPolicy:
    def on(name: str) -> bool:
        return keys.flag(name, unwired=False)

    return AuthorizationPolicy(
        local_list=on("LocalAuthListEnabled"),
        cache=on("AuthorizationCacheEnabled"),
        local_preauthorize=on("LocalPreauthorize"),
        local_authorize_offline=on("LocalAuthorizeOffline"),
        offline_unknown=on("AllowOfflineTxForUnknownId"),
    )


def build(db: Database, keys: Configuration, now: Callable[[], datetime], local_list: LocalList | None,
          capacity: int | None = None) -> Authorization:  # fmt: skip
    """The station's engine with the 1.6 keys as its rules (the cache moved over first)."""
    cache = AuthCache(db, now) if capacity is None else AuthCache(db, now, capacity)
    db.migrate("ocpp16_auth_cache_0001", _CACHE_DDL)
    db.migrate("ocpp16_auth_cache_0002", _CACHE_0002)
    db.migrate("ocpp16_auth_cache_0003_to_station", _CACHE_TO_STATION)
    return Authorization(local_list, cache, lambda: policy(keys), now)
