"""UnlockConnector (part 2 F05): the CSMS asks the station to release a cable, through the
core's unlock, which never ends a transaction.

Rules kept here:
- A connector the station does not have: UnknownConnector (F05.FR.03).
- An authorized transaction runs on it: OngoingAuthorizedTransaction, and nothing is tried
  (F05.FR.02); a transaction whose authorization ended (it waits for the EV to leave) does
  not stop the unlock, and goes on.
- Otherwise the lock is driven open, even with no cable there (F05.FR.06), and the answer is
  what the lock reports: Unlocked (F05.FR.04), or UnlockFailed when it stays closed
  (F05.FR.05). A socket without a lock, or a fixed cable, cannot be unlocked: UnlockFailed,
  with the reason in statusInfo.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.core.commands import UnlockOutcome
from controller.ocpp.v201.enums import UnlockStatusEnumType as UnlockStatus

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
STATUS = {
    UnlockOutcome.UNLOCKED: UnlockStatus.unlocked,
    UnlockOutcome.FAILED: UnlockStatus.unlock_failed,
    UnlockOutcome.NOT_SUPPORTED: UnlockStatus.unlock_failed,
    UnlockOutcome.ONGOING_TRANSACTION: UnlockStatus.ongoing_authorized_transaction,
    UnlockOutcome.UNKNOWN_EVSE: UnlockStatus.unknown_connector,
}
NO_LOCK = {"reasonCode": "NoLock", "additionalInfo": "this connector has no cable lock to release"}


class UnlockConnector:
    def __init__(self, station: Station):
        self.station = station

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"UnlockConnector": self.unlock_connector}

    async def unlock_connector(self, payload: Payload) -> Payload:
        evse, connector = payload["evseId"], payload["connectorId"]
        known = evse in self.station.evse_ids and connector in self.station.view(evse).connectors
        outcome = await self.station.unlock(evse) if known else UnlockOutcome.UNKNOWN_EVSE
        log.info("UnlockConnector EVSE %s connector %s: %s", evse, connector, outcome.value)
        answer: Payload = {"status": STATUS[outcome].value}
        if outcome is UnlockOutcome.NOT_SUPPORTED:
            answer["statusInfo"] = NO_LOCK
        return answer
