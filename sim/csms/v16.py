"""The bench CSMS's OCPP 1.6J handlers: what differs from 2.0.1 (the rest is ``session.py``).

Rules kept here:
- Configured id tags (``CsmsConfig.id_tags``) are Accepted, others Invalid; ``parents`` puts
  a parentIdTag in their idTagInfo.
- StartTransaction gets the next id of ``csms.transaction_ids`` (increasing from 1).
- After an accepted BootNotification, ``CsmsConfig.configure`` goes out as ChangeConfiguration,
  one key at a time, from a task the CSMS holds (an ``@on`` handler must not await a CALL).
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result

from sim.csms.session import Session

log = logging.getLogger(__name__)


class V16Session(Session, ChargePoint):
    def _tag_info(self, id_tag: str) -> dict[str, Any]:
        info = {"status": "Accepted" if id_tag in self.csms.config.id_tags else "Invalid"}
        parent = self.csms.config.parents.get(id_tag)
        return {**info, "parentIdTag": parent} if parent else info

    @after("BootNotification")
    def configure(self, **_: Any) -> None:
        if self.csms.config.configure and self.csms.config.boot_status == "Accepted":
            self.csms.spawn(self._change_configuration(dict(self.csms.config.configure)))

    async def _change_configuration(self, keys: dict[str, str]) -> None:
        for key, value in keys.items():
            answer = await self.call(call.ChangeConfiguration(key=key, value=value), suppress=False)
            log.info("ChangeConfiguration %s = %s at %s: %s", key, value, self.id, answer.status)

    @on("Authorize")
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(self._tag_info(id_tag))

    @on("StartTransaction")
    def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(next(self.csms.transaction_ids), self._tag_info(id_tag))

    @on("StopTransaction")
    def on_stop(self, id_tag: str | None = None, **_: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction(self._tag_info(id_tag) if id_tag else None)

    @on("DiagnosticsStatusNotification")
    def on_diagnostics_status(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @on("SignedFirmwareStatusNotification")
    def on_signed_firmware_status(self, **_: Any) -> call_result.SignedFirmwareStatusNotification:
        return call_result.SignedFirmwareStatusNotification()
