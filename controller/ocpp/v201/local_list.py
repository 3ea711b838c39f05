"""Local Authorization List Management (part 2 D01, D02): SendLocalList and GetLocalListVersion
on the station's local list (controller/authorization/local_list.py keeps the list's rules).

Rules kept here:
- LocalAuthListCtrlr.Enabled false: GetLocalListVersion answers 0 (D02.FR.03) and
  SendLocalList Failed; the list is kept as it is.
- More entries than LocalAuthListCtrlr.ItemsPerMessage, or a request larger than its
  BytesPerMessage (D01.FR.11): the station's message-limit CALLERRORs (framing.py).
- Failed, with a statusInfo saying why, and nothing changes: versionNumber not above 0
  (D01.FR.18), an idToken twice in one request (D01.FR.06: the same id ignoring case and the
  same type), a Full entry without idTokenInfo, a list that would hold more entries than
  LocalAuthListCtrlr.Entries' maxLimit or more bytes than Storage's. A Differential version
  not above the current one: VersionMismatch (D01.FR.19).
- An emptied list keeps the version it was sent (D01.FR.04/05, D02 remark): only a list never
  sent answers 0. The list survives reboots (D01.FR.10).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from controller.authorization.local_list import Change, Limits, LocalList, UpdateOutcome, key, updated
from controller.ocpp.link import Refuse
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.framing import Refusal, check_request, status_info
from controller.ocpp.v201.tokens import token_info, token_of

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ENABLED = "LocalAuthListCtrlr.Enabled"
ITEMS, BYTES = "LocalAuthListCtrlr.ItemsPerMessage", "LocalAuthListCtrlr.BytesPerMessage"


class BadList(ValueError):
    """A SendLocalListRequest whose content the specification forbids."""


def changes_of(payload: Payload) -> list[Change]:
    """The changes a SendLocalListRequest asks for. Raises BadList."""
    full = payload["updateType"] == "Full"
    changes: dict[object, Change] = {}
    for item in payload.get("localAuthorizationList") or []:
        token, info = token_of(item["idToken"]), item.get("idTokenInfo")
        if key(token) in changes:
            raise BadList(f"idToken {token.id} ({token.type.value}) appears twice")
        if info is None and full:
            raise BadList(f"idToken {token.id} has no idTokenInfo in a Full update")
        changes[key(token)] = (token, token_info(info)[0] if info is not None else None)
    return list(changes.values())


class LocalListManagement:
    def __init__(self, model: DeviceModel, local_list: LocalList):
        self.model, self.list = model, local_list

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"SendLocalList": self.send_local_list, "GetLocalListVersion": self.get_local_list_version}

    async def get_local_list_version(self, _payload: Payload) -> Payload:
        return {"versionNumber": self.list.state.version if self.model.value(ENABLED) is True else 0}

    async def send_local_list(self, payload: Payload) -> Payload:
        items, per_message = len(payload.get("localAuthorizationList") or []), self.model.limit(ITEMS)
        try:
            check_request("SendLocalList", payload, items, per_message, self.model.limit(BYTES))
        except Refusal as exc:
            raise Refuse(exc.code, exc.description) from None
        version, full = payload["versionNumber"], payload["updateType"] == "Full"
        if self.model.value(ENABLED) is not True:
            return _failed("Disabled", "LocalAuthListCtrlr.Enabled is false")
        if version <= 0:
            return _failed("InvalidValue", f"versionNumber {version}: it must be above 0 (D01.FR.18)")
        try:
            changes = changes_of(payload)
        except BadList as exc:
            return _failed("InvalidValue", str(exc))
        limits = Limits(per_message, self._max("LocalAuthListCtrlr.Entries"), self._max("LocalAuthListCtrlr.Storage"))
        outcome, state = updated(self.list.state, version, changes, full=full, limits=limits,
                                 empty_resets_version=False)  # fmt: skip
        if outcome is UpdateOutcome.VERSION_MISMATCH:
            return {"status": outcome.value}
        if outcome is not UpdateOutcome.ACCEPTED:
            return _failed(
                "NoCapacity", f"the list would exceed {limits.max_length} entries or {limits.max_bytes} bytes"
            )
        await self.list.store(state)
        log.info("local list version %s (%s): %d tokens", version, payload["updateType"], len(state.entries))
        return {"status": outcome.value}

    def _max(self, address: str) -> int:
        limit = self.model.inventory[address].characteristics.max_limit
        assert limit is not None, f"{address} has no maxLimit"
        return int(limit)


def _failed(reason: str, info: str) -> Payload:
    log.info("SendLocalList failed: %s", info)
    return {"status": UpdateOutcome.FAILED.value, "statusInfo": status_info(reason, info)}
