"""TriggerMessage (part 2 F06): the CSMS asks for a message now.

Rules kept here:
- Each block that can send a message on request registers it here (``offer``): a function of
  the request's ``evse`` that returns the work to do once the answer is on the wire, or None
  to refuse (Rejected). A message nobody registered is NotImplemented (F06.FR.08).
- The response goes first, then the message (F06.FR.04): the work runs as the response's
  follow-up.
- An evse the station does not have is Rejected; an evse the message does not need is
  ignored by that message (F06.FR.03).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ocpp.v201.enums import TriggerMessageStatusEnumType as TriggerStatus

from controller.ocpp.link import Reply

Payload = dict[str, Any]
FollowUp = Callable[[], Awaitable[None]]
Offer = Callable[[Payload | None], FollowUp | None]  # the request's evse -> the work, or None: Rejected


class Triggers:
    def __init__(self, evse_ids: Callable[[], tuple[int, ...]]):
        self.evse_ids = evse_ids
        self._offers: dict[str, Offer] = {}

    def offer(self, message: str, offer: Offer) -> None:
        self._offers[message] = offer

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"TriggerMessage": self.trigger_message}

    async def trigger_message(self, payload: Payload) -> Payload | Reply:
        offer = self._offers.get(payload["requestedMessage"])
        if offer is None:
            return {"status": TriggerStatus.not_implemented.value}
        evse = payload.get("evse")
        if evse is not None and evse["id"] not in self.evse_ids():
            return {"status": TriggerStatus.rejected.value}
        work = offer(evse)
        if work is None:
            return {"status": TriggerStatus.rejected.value}
        return Reply({"status": TriggerStatus.accepted.value}, after=work)
