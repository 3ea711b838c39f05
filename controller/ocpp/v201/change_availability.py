"""ChangeAvailability (part 2 G03, G04): the CSMS makes the station, an EVSE or a connector
operative or inoperative, through the core's availability for the operator's reason.

Rules kept here:
- Scope: no evse (or evse id 0 without a connector) is the station (G04.FR.01); an EVSE; a
  connector, which is its EVSE's only one, so it is its EVSE. An EVSE or connector the station
  does not have is Rejected.
- The answer comes first (Accepted, Scheduled while a transaction runs in scope and the state
  changes: G03.FR.05, G04.FR.06; Accepted when it is in that state already: G03.FR.03,
  G04.FR.04), then the change, persisted by the core (G03.FR.08, G04.FR.09), then the
  statuses it changed (G03.FR.04, G04.FR.05), so no StatusNotification overtakes the answer.
- For the station, every connector that no transaction holds is reported again, changed or
  not (TC_G_13 expects them after Inoperative to Inoperative); a connector a transaction holds
  is reported when the scheduled change applies at its end.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.core.commands import AvailabilityOutcome
from controller.core.vocabulary import AvailabilityReason
from controller.ocpp.link import Reply
from controller.ocpp.v201.availability import StatusReports
from controller.ocpp.v201.enums import ChangeAvailabilityStatusEnumType as ChangeAvailabilityStatus
from controller.ocpp.v201.enums import OperationalStatusEnumType as OperationalStatus

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
STATUS = {
    AvailabilityOutcome.ACCEPTED: ChangeAvailabilityStatus.accepted,
    AvailabilityOutcome.SCHEDULED: ChangeAvailabilityStatus.scheduled,
    AvailabilityOutcome.REJECTED: ChangeAvailabilityStatus.rejected,
}
UNKNOWN = -1  # an evse or connector the station does not have


def scope(station: Station, evse: Payload | None) -> int | None:
    """The EVSE a request is about (None: the station), or UNKNOWN."""
    if evse is None:
        return None
    evse_id, connector = evse["id"], evse.get("connectorId")
    if evse_id == 0:
        return None if connector is None else UNKNOWN
    if evse_id not in station.evse_ids or (connector is not None and connector not in station.view(evse_id).connectors):
        return UNKNOWN
    return int(evse_id)


class ChangeAvailability:
    def __init__(self, station: Station, statuses: StatusReports):
        self.station, self.statuses = station, statuses

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"ChangeAvailability": self.change_availability}

    async def change_availability(self, payload: Payload) -> Payload | Reply:
        evse_id = scope(self.station, payload.get("evse"))
        if evse_id == UNKNOWN:
            return {"status": ChangeAvailabilityStatus.rejected.value}
        operative = payload["operationalStatus"] == OperationalStatus.operative.value
        outcome = self.station.set_availability_check(evse_id, operative, AvailabilityReason.OPERATOR)

        async def change() -> None:
            await self.station.set_availability(evse_id, operative, AvailabilityReason.OPERATOR)
            log.info("ChangeAvailability %s of %s: %s", payload["operationalStatus"],
                     "the station" if evse_id is None else f"EVSE {evse_id}", outcome.value)  # fmt: skip
            if evse_id is None:
                self.statuses.report_again()

        return Reply({"status": STATUS[outcome].value}, after=change)
