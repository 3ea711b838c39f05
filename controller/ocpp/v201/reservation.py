"""Reservations (part 2 H01-H04, errata 2.30-2.32): ReserveNow and CancelReservation on the core's
reservations, and ReservationStatusUpdate when one ends unused.

Rules kept here (who may use which EVSE, what shows Reserved, when a reservation ends: the
core's rules, controller/core/reservations.py):
- ReservationCtrlr.Enabled false: every ReserveNow is Rejected (H01.FR.01).
- ReserveNow with an evseId reserves that EVSE; an evseId the station does not have is
  Rejected, and so is one whose connector is not of the connectorType asked along with it.
- Without an evseId it reserves any EVSE (H01.FR.04), narrowed to the EVSEs with a connector
  of the connectorType when one is given (H01.FR.06); both need
  ReservationCtrlr.NonEvseSpecific (H01.FR.18/19). A connectorType no EVSE here has is
  Rejected. (A connectorType outside ConnectorEnumType fails the schema: a CALLERROR.)
- The answer is the core's: Accepted, Occupied (H01.FR.11), Faulted (H01.FR.12), Unavailable
  (H01.FR.14), Rejected (also for an expiryDateTime already past). The same id replaces a
  reservation (H01.FR.02). groupIdToken is the reservation's group (H03.FR.04-06): a token
  whose group the authorization learns (cache, local list, AuthorizeRequest) may use it.
- CancelReservation: Accepted when a reservation with that id was in force (H02.FR.02), else
  Rejected (H02.FR.01); no ReservationStatusUpdate follows (H02 remark).
- ReservationStatusUpdate Expired when the expiry passed unused (H04.FR.01), Removed when the
  station removed it because its EVSE(s) went Faulted or Unavailable (H01.FR.16/17). Queued in
  the journal as the core tells the end (on the database thread ahead of the deletion of the
  reservation's row, so a crash can only repeat it, never lose it).
- The connector statuses that follow (Reserved, Available) are availability.py's projection
  of the core's views; the reservationId in TransactionEvent is transactions.py's.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from controller.clock import parse_time
from controller.core.events import Event, EventKind
from controller.core.reservations import ANY_EVSE, Reservation
from controller.core.vocabulary import ReservationEnd
from controller.ocpp.journal import Journal, enqueue_in
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.enums import CancelReservationStatusEnumType as CancelStatus
from controller.ocpp.v201.enums import ReservationUpdateStatusEnumType as UpdateStatus
from controller.ocpp.v201.enums import ReserveNowStatusEnumType as ReserveStatus
from controller.ocpp.v201.tokens import token_of

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.storage import Database

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ACTION = "ReservationStatusUpdate"
ENABLED = "ReservationCtrlr.Enabled"
NON_EVSE_SPECIFIC = "ReservationCtrlr.NonEvseSpecific"
EFFECTS = ("reservations_enabled",)  # read at each ReserveNow
UPDATES = {ReservationEnd.EXPIRED: UpdateStatus.expired, ReservationEnd.REMOVED: UpdateStatus.removed}
REJECTED: Payload = {"status": ReserveStatus.rejected.value}


class Reservations:
    def __init__(self, station: Station, model: DeviceModel, db: Database, journal: Journal,
                 connector_types: Mapping[int, frozenset[str]]):  # fmt: skip
        self.station, self.model, self.db, self.journal = station, model, db, journal
        self.connector_types = connector_types  # EVSE id -> the types of its connectors

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"ReserveNow": self.reserve_now, "CancelReservation": self.cancel_reservation}

    async def reserve_now(self, payload: Payload) -> Payload:
        reservation = self._reservation(payload)
        if reservation is None:
            return REJECTED
        allowed = self.model.value(NON_EVSE_SPECIFIC) is True
        outcome = await self.station.reserve(reservation, any_evse_allowed=allowed)
        log.info("ReserveNow %s (EVSE %s, %s): %s", reservation.id, payload.get("evseId", "any"),
                 payload.get("connectorType", "any type"), outcome.value)  # fmt: skip
        return {"status": outcome.value}

    def _reservation(self, payload: Payload) -> Reservation | None:
        """The core's reservation for ``payload``, or None when it must be Rejected as it is."""
        if self.model.value(ENABLED) is not True:
            return None
        evse: int | None = payload.get("evseId")
        kind: str | None = payload.get("connectorType")
        of_kind = frozenset(e for e, types in self.connector_types.items() if kind is None or kind in types)
        if evse is not None and (evse == ANY_EVSE or evse not in of_kind):
            return None  # no such EVSE, or not of that connector type
        who = token_of(payload["idToken"], payload.get("groupIdToken"))
        expires = parse_time(payload["expiryDateTime"])
        among = of_kind if kind is not None else None
        return Reservation(payload["id"], evse if evse is not None else ANY_EVSE, who, expires, among)

    async def cancel_reservation(self, payload: Payload) -> Payload:
        cancelled = await self.station.cancel_reservation(payload["reservationId"])
        return {"status": (CancelStatus.accepted if cancelled else CancelStatus.rejected).value}

    def on_event(self, event: Event) -> None:
        if event.kind is not EventKind.RESERVATION_ENDED or event.reservation is None:
            return
        status = UPDATES.get(event.reservation_end) if event.reservation_end is not None else None
        if status is None:
            return  # used (the transaction tells it) or cancelled (the CSMS asked)
        message = {"reservationId": event.reservation.id, "reservationUpdateStatus": status.value}

        def write(conn: sqlite3.Connection) -> None:
            enqueue_in(conn, ACTION, message, ids=self.journal.ids)

        self.db.submit(write).add_done_callback(self._queued)

    def _queued(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("ReservationStatusUpdate not queued", exc_info=future.exception())
            return
        self.journal.notify()
