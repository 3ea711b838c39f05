"""The OCPP 1.6 Local Authorization List profile: SendLocalList and GetLocalListVersion on the
station's local list (controller/authorization/local_list.py, which keeps the list's rules).

Rules kept here (OCPP 1.6 edition 2 sections 3.5.2, 5.10, 5.15, 6.41, 7.1, 7.47, 9.2; errata 3.52):
- Requests the specification forbids get a CALLERROR and change nothing: listVersion 0 or -1
  (errata 3.52; PropertyConstraintViolation), an idTag twice in one request or a Full entry
  without idTagInfo (OccurenceConstraintViolation). A bad expiryDate is rpc.py's
  TypeConstraintViolation, as every bad date-time.
- The limits are SendLocalListMaxLength (entries per request) and LocalAuthListMaxLength.
- LocalAuthListEnabled = false: SendLocalList answers NotSupported and changes nothing; the list
  is kept, and GetLocalListVersion reports its version (0 while it is empty).
- An idTag is an ISO14443 token (controller/ocpp/v16/idtag.py). The list kept by earlier
  versions in the profile's own tables is moved into the station's list once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from controller.authorization.local_list import Change, Limits, ListState, LocalList, UpdateOutcome, key, updated
from controller.ocpp.link import Refuse
from controller.ocpp.v16.authorization import tag_info
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.idtag import token
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
_TO_STATION = """
INSERT OR IGNORE INTO local_list (token_id, token_type, status, expires_at, token_group)
    SELECT id_tag, 'ISO14443', status, expires_at, parent_id_tag FROM ocpp16_local_list;
INSERT OR REPLACE INTO local_list_version SELECT * FROM ocpp16_local_list_version;
DROP TABLE ocpp16_local_list;
DROP TABLE ocpp16_local_list_version
"""


class BadList(ValueError):
    """A SendLocalList.req the specification forbids; ``code`` is the CALLERROR to answer."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def changes_of(payload: dict[str, Any]) -> list[Change]:
    """The changes a SendLocalList.req asks for. Raises BadList."""
    version, full = payload["listVersion"], payload["updateType"] == "Full"
    if version in (0, -1):
        raise BadList("PropertyConstraintViolation", f"listVersion {version} is reserved (errata 3.52)")
    changes: dict[object, Change] = {}
    for item in payload.get("localAuthorizationList") or []:
        tag, info = token(item["idTag"]), item.get("idTagInfo")
        if key(tag) in changes:
            raise BadList("OccurenceConstraintViolation", f"idTag {tag.id} appears twice")
        if info is None and full:
            raise BadList("OccurenceConstraintViolation", f"idTag {tag.id} has no idTagInfo in a Full update")
        changes[key(tag)] = (tag, tag_info(info) if info is not None else None)
    return list(changes.values())


def apply(state: ListState, payload: dict[str, Any], *, max_send: int, max_length: int) -> tuple[str, ListState]:
    """A SendLocalList.req applied to ``state``: (UpdateStatus, the list afterwards). Raises BadList."""
    changes = changes_of(payload)
    full = payload["updateType"] == "Full"
    outcome, after = updated(state, payload["listVersion"], changes, full=full, limits=Limits(max_send, max_length))
    return outcome.value, after


class LocalListProfile:
    """The profile's handlers (a ``frontend.Feature``) over the station's list."""

    def __init__(self, db: Database, local_list: LocalList, keys: Configuration):
        db.migrate("ocpp16_local_list_0001", _DDL)
        db.migrate("ocpp16_local_list_0002_to_station", _TO_STATION)
        local_list.reload()  # with what the migration brought
        self.list, self.keys = local_list, keys

    def handlers(self) -> dict[str, Handler]:
        return {"SendLocalList": self.send_local_list, "GetLocalListVersion": self.get_local_list_version}

    def attach(self, station: Station) -> None:
        """Nothing of the station is needed: the list only answers lookups."""

    async def get_local_list_version(self, _payload: dict[str, Any]) -> dict[str, Any]:
        return {"listVersion": self.list.state.version}

    async def send_local_list(self, payload: dict[str, Any]) -> dict[str, Any]:
        if not self.keys.flag("LocalAuthListEnabled"):
            return {"status": "NotSupported"}
        max_send, max_length = self.keys.integer("SendLocalListMaxLength"), self.keys.integer("LocalAuthListMaxLength")
        try:
            status, state = apply(self.list.state, payload, max_send=max_send, max_length=max_length)
        except BadList as exc:
            raise Refuse(exc.code, str(exc)) from None
        if status != UpdateOutcome.ACCEPTED:
            log.info("SendLocalList %s version %s: %s", payload["updateType"], payload["listVersion"], status)
            return {"status": status}
        await self.list.store(state)
        log.info("local list version %s: %d ids", state.version, len(state.entries))
        return {"status": "Accepted"}
