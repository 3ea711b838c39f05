"""The OCPP 1.6 Reservation profile: ReserveNow and CancelReservation on the core's reservations.

Rules kept here (OCPP 1.6 edition 2 sections 3.11, 5.1, 5.13, 9.3.1; the rules themselves are
the core's, controller/core/reservations.py):
- ReserveNow answers what the station decides: Accepted / Occupied / Faulted / Unavailable /
  Rejected. connectorId 0 is "any connector" and needs ReserveConnectorZeroSupported = true,
  else Rejected; a connectorId the station does not have is Rejected.
- An expiryDate that is not an RFC 3339 date-time never gets here: rpc.py answers it with
  TypeConstraintViolation, as every bad date-time.
- CancelReservation: Accepted when a reservation with that id was in force, else Rejected.
- The StartTransaction of a session that ends a reservation carries its reservationId
  (transactions.py); expiry and the Reserved / Available StatusNotifications come from the
  core's status changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controller.clock import parse_time
from controller.core.reservations import ANY_EVSE, Reservation
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.idtag import token

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import Handler

Payload = dict[str, Any]


class ReservationProfile:
    def __init__(self, keys: Configuration):
        self.keys = keys
        self.station: Station | None = None

    def handlers(self) -> dict[str, Handler]:
        return {"ReserveNow": self.reserve_now, "CancelReservation": self.cancel_reservation}

    def attach(self, station: Station) -> None:
        self.station = station

    async def reserve_now(self, payload: Payload) -> Payload:
        connector = payload["connectorId"]
        station = self.station
        if station is None or (connector != ANY_EVSE and connector not in station.evse_ids):
            return {"status": "Rejected"}
        expires_at = parse_time(payload["expiryDate"])
        reservation = Reservation(
            payload["reservationId"], connector, token(payload["idTag"], payload.get("parentIdTag")), expires_at
        )
        zero = self.keys.flag("ReserveConnectorZeroSupported", unwired=False)
        outcome = await station.reserve(reservation, any_evse_allowed=zero)
        return {"status": outcome.value}

    async def cancel_reservation(self, payload: Payload) -> Payload:
        if self.station is None:
            return {"status": "Rejected"}
        cancelled = await self.station.cancel_reservation(payload["reservationId"])
        return {"status": "Accepted" if cancelled else "Rejected"}
