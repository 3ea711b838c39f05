"""DataTransfer (part 2 P01): vendor-specific messages from the CSMS.

Rules kept here:
- evsed implements no vendor-specific function (everything it does is OCPP), so it sends no
  DataTransfer of its own (P02.FR.02) and accepts none.
- A vendorId other than the station's own vendor (BootNotification's vendorName, ``[station]
  vendor``; compared ignoring case, as reversed DNS names are): UnknownVendorId (P01.FR.05).
- The station's own vendorId: UnknownMessageId, whatever the messageId (P01.FR.06: none is used).
- The data is never interpreted, whatever its JSON type or size (P01.FR.04).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from controller.ocpp.v201.enums import DataTransferStatusEnumType as DataTransferStatus

log = logging.getLogger(__name__)

Payload = dict[str, Any]


def answer(vendor: str, payload: Payload) -> DataTransferStatus:
    if payload["vendorId"].casefold() != vendor.casefold():
        return DataTransferStatus.unknown_vendor_id
    return DataTransferStatus.unknown_message_id


class DataTransfer:
    def __init__(self, vendor: str):
        self.vendor = vendor

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"DataTransfer": self.data_transfer}

    async def data_transfer(self, payload: Payload) -> Payload:
        status = answer(self.vendor, payload)
        log.info("DataTransfer %s / %s: %s", payload["vendorId"], payload.get("messageId"), status.value)
        return {"status": status.value}
