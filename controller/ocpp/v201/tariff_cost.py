"""Tariff and cost (part 2 I01-I06) on the box's display (controller/display/).

Rules kept here:
- Before charging: the authorization's personalMessage (the core keeps it with the
  authorization, the display shows it; I01), else TariffCostCtrlr.TariffFallbackMessage (I04).
  An updatedPersonalMessage in a TransactionEventResponse replaces it (I06).
- During charging: the running cost from CostUpdated (I02.FR.02/03) or from totalCost in the
  response to a Started or Updated TransactionEvent (I02.FR.04).
- After it: totalCost in the response to the Ended TransactionEvent (I03.FR.03), shown only when
  the station was online when the transaction ended: an Ended sent later (``offline``) shows
  TotalCostFallbackMessage instead, as does an end while the link is down (I05).
- All amounts in TariffCostCtrlr.Currency; Enabled[Tariff] / Enabled[Cost] false hide them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from controller.core.events import Event, EventKind
from controller.display.session import Rules
from controller.ocpp.journal import Entry
from controller.ocpp.link import Link

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.display.screen import Screen

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Read = Callable[[str], Any]
EFFECTS = ("tariff_enabled", "cost_enabled", "tariff_fallback_message", "total_cost_fallback_message", "currency")


def rules(value: Read) -> Rules:
    """The display's rules from the TariffCostCtrlr variables."""
    return Rules(
        tariff=value("TariffCostCtrlr.Enabled[Tariff]") is True,
        cost=value("TariffCostCtrlr.Enabled[Cost]") is True,
        currency=value("TariffCostCtrlr.Currency") or "EUR",
        tariff_fallback=value("TariffCostCtrlr.TariffFallbackMessage") or None,
        total_cost_fallback=value("TariffCostCtrlr.TotalCostFallbackMessage") or None,
    )


class TariffCost:
    def __init__(self, station: Station, link: Link, screen: Screen, value: Read) -> None:
        self.station, self.link, self.screen, self.value = station, link, screen, value
        self._evses: dict[str, int] = {}  # transaction id -> its EVSE, until its Ended is answered

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"CostUpdated": self.cost_updated}

    def changed(self, _write: object = None) -> None:
        self.screen.set_rules(rules(self.value))

    async def cost_updated(self, payload: Payload) -> Payload:
        evse = self._evse_of(payload["transactionId"])
        if evse is None:
            log.info("CostUpdated for transaction %s, which does not run here", payload["transactionId"])
        else:
            self.screen.running_cost(evse, Decimal(str(payload["totalCost"])))
        return {}

    def on_event(self, event: Event) -> None:
        tx = event.transaction
        if tx is None or tx.evse is None:
            return
        if event.kind in (EventKind.TRANSACTION_STARTED, EventKind.TRANSACTION_UPDATED):
            self._evses[tx.id] = tx.evse
        elif event.kind is EventKind.TRANSACTION_ENDED:
            self._evses[tx.id] = tx.evse
            fallback = self.screen.rules.total_cost_fallback
            if not self.link.connected.is_set() and fallback:
                self.screen.final_cost(tx.evse, fallback)

    async def confirmed(self, entry: Entry, response: Payload) -> None:
        """A TransactionEventResponse: its totalCost and updatedPersonalMessage."""
        if entry.action != "TransactionEvent":
            return
        transaction_id = entry.payload["transactionInfo"]["transactionId"]
        ended = entry.payload["eventType"] == "Ended"
        evse = self._evses.pop(transaction_id, None) if ended else self._evse_of(transaction_id)
        if evse is None:
            return
        message = response.get("updatedPersonalMessage")
        if message is not None and not ended:
            self.screen.tariff(evse, message["content"])
        total = response.get("totalCost")
        if total is None:
            return
        if not ended:
            self.screen.running_cost(evse, Decimal(str(total)))
        elif entry.payload.get("offline"):
            fallback = self.screen.rules.total_cost_fallback
            if fallback:
                self.screen.final_cost(evse, fallback)
        else:
            self.screen.final_cost(evse, Decimal(str(total)))

    def _evse_of(self, transaction_id: str) -> int | None:
        known = self._evses.get(transaction_id)
        if known is not None:
            return known
        return next((v.id for v in self.station.views()
                     if v.transaction is not None and v.transaction.id == transaction_id), None)  # fmt: skip
