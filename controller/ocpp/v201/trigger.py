"""TriggerMessage (part 2 F06): the CSMS asks for a message now.

Rules kept here:
- Each block that can send a message on request registers it here (``offer``, one block per
  message, named as MessageTriggerEnumType spells it): a function of the request's ``evse``
  that returns the work to do once the answer is on the wire, or None to refuse (Rejected).
  A message nobody registered is NotImplemented (F06.FR.08).
  Who offers what: registration BootNotification (Rejected once Accepted, F06.FR.17) and
  Heartbeat; availability StatusNotification; the transaction and meter-value blocks
  TransactionEvent and MeterValues; the firmware and log blocks FirmwareStatusNotification and
  LogStatusNotification; security SignChargingStationCertificate. SignV2GCertificate and
  SignCombinedCertificate (ISO 15118) and PublishFirmwareStatusNotification (local controller)
  are not built.
- The response goes first, then the message (F06.FR.04): the work runs as the response's
  follow-up, and what was Accepted is sent (F06.FR.10).
- ``evse`` matters only to the messages of ``PER_EVSE``: for those an EVSE the station does
  not have is Rejected, and none means every EVSE (F06.FR.11; the offer decides). Any other
  message ignores it and is sent anyway (F06.FR.03).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from controller.ocpp.link import Reply
from controller.ocpp.v201.enums import MessageTriggerEnumType as MessageTrigger
from controller.ocpp.v201.enums import TriggerMessageStatusEnumType as TriggerStatus

Payload = dict[str, Any]
FollowUp = Callable[[], Awaitable[None]]
Offer = Callable[[Payload | None], FollowUp | None]  # the request's evse -> the work, or None: Rejected
PER_EVSE = frozenset(
    {MessageTrigger.status_notification, MessageTrigger.meter_values, MessageTrigger.transaction_event}
)


class Triggers:
    def __init__(self, evse_ids: Callable[[], tuple[int, ...]]):
        self.evse_ids = evse_ids
        self._offers: dict[MessageTrigger, Offer] = {}

    def offer(self, message: str, offer: Offer) -> None:
        """``message`` can be triggered; ValueError for a name TriggerMessage does not know, or twice."""
        requested = MessageTrigger(message)
        if requested in self._offers:
            raise ValueError(f"TriggerMessage {message} is offered twice")
        self._offers[requested] = offer

    @property
    def offered(self) -> frozenset[str]:
        return frozenset(m.value for m in self._offers)

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"TriggerMessage": self.trigger_message}

    async def trigger_message(self, payload: Payload) -> Payload | Reply:
        requested = MessageTrigger(payload["requestedMessage"])
        offer = self._offers.get(requested)
        if offer is None:
            return {"status": TriggerStatus.not_implemented.value}
        evse = payload.get("evse")
        if requested in PER_EVSE and evse is not None and evse["id"] not in self.evse_ids():
            return {"status": TriggerStatus.rejected.value}
        work = offer(evse)
        if work is None:
            return {"status": TriggerStatus.rejected.value}
        return Reply({"status": TriggerStatus.accepted.value}, after=work)
