"""How OCPP 2.0.1 reports availability: the ConnectorStatus of every connector, projected from the
core's views, in StatusNotification; the AvailabilityState of the station, its EVSEs and
connectors for the device model.

Rules kept here (part 2 G01, B01.FR.05, B04; errata 2.28 / 2.29):
- A connector's status is a pure function of its EVSE's view: Faulted while a fault stops
  charging, Unavailable while inoperative, Occupied while a transaction (or its end) holds it,
  Reserved while reserved (an EV plugged in without the reserving token does not change that,
  G01.FR.09), Occupied while an EV is plugged in, else Available. A token waiting for an EV
  does not occupy a connector: nothing is plugged into it. Not sampled yet: no status.
- An EVSE's AvailabilityState is its connector's (one connector per EVSE); the station's is
  Unavailable when it is inoperative as a whole or every EVSE is, Faulted when every EVSE is,
  else Available.
- After a BootNotification is Accepted every connector's status is sent (B01.FR.05). After a
  reconnect: every connector's when the station was offline longer than OfflineThreshold
  (B04.FR.01), else those whose status differs from the last one sent (B04.FR.02). Meanwhile
  every change goes out as it happens, one at a time, with the time it happened; a change
  while offline waits for the reconnect rule. Nothing is sent before the first Accepted
  (B01.FR.08) unless the CSMS triggers it.
- StatusNotifications are not journaled: they tell what is, and the reconnect rule reports
  what changed while the link was down.
- ChangeAvailability (G03, G04) is the core's availability for the operator's reason: the
  station (no evse), an EVSE, or a connector (its EVSE: one connector each); persisted by the
  core (G03.FR.08, G04.FR.09); Scheduled while a transaction runs there (G03.FR.05,
  G04.FR.06), Accepted when it is in that state already (G03.FR.03); an EVSE or connector the
  station does not have is Rejected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.v201.enums import ChangeAvailabilityStatusEnumType as ChangeAvailabilityStatus
from ocpp.v201.enums import ConnectorStatusEnumType as ConnectorStatus
from ocpp.v201.enums import OperationalStatusEnumType as OperationalStatus

from controller.clock import iso
from controller.core.commands import AvailabilityOutcome
from controller.core.events import Event
from controller.core.view import EvseView, StationView
from controller.core.vocabulary import AvailabilityReason
from controller.ocpp.link import CallFailed, Link
from hal.types import Indication

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

ACTION = "StatusNotification"
Key = tuple[int, int]  # (evse id, connector id)
HELD = frozenset({Indication.CHARGING, Indication.SUSPENDED, Indication.DONE})  # a transaction or its end


def connector_status(view: EvseView) -> ConnectorStatus | None:
    shown = view.indication
    if shown is None:
        return None
    if shown is Indication.FAULTED:
        return ConnectorStatus.faulted
    if shown in (Indication.UNAVAILABLE, Indication.OFF):
        return ConnectorStatus.unavailable
    if shown in HELD:
        return ConnectorStatus.occupied
    if view.reserved:
        return ConnectorStatus.reserved
    return ConnectorStatus.occupied if view.ev_connected else ConnectorStatus.available


def station_state(view: StationView) -> ConnectorStatus:
    states = [connector_status(e) for e in view.evses]
    if not view.operative or (states and all(s is ConnectorStatus.unavailable for s in states)):
        return ConnectorStatus.unavailable
    if states and all(s is ConnectorStatus.faulted for s in states):
        return ConnectorStatus.faulted
    return ConnectorStatus.available


def connectors(views: tuple[EvseView, ...]) -> Iterator[tuple[Key, ConnectorStatus | None]]:
    for view in views:
        status = connector_status(view)
        for connector in view.connectors:
            yield (view.id, connector), status


class StatusReports:
    def __init__(
        self,
        station: Station,
        link: Link,
        accepted: asyncio.Event,
        now: Callable[[], datetime],
        offline_threshold_s: Callable[[], int],
    ):
        self.station, self.link, self.accepted, self.now = station, link, accepted, now
        self.offline_threshold_s = offline_threshold_s
        self._seen: dict[Key, tuple[ConnectorStatus, str]] = {}  # current status and since when
        self._sent: dict[Key, ConnectorStatus] = {}
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()  # one report at a time: a change never overtakes the boot report

    def on_event(self, _event: Event) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Project every connector again; a status that changed is noted with the time now."""
        for key, status in connectors(self.station.views()):
            if status is not None and self._seen.get(key, (None,))[0] is not status:
                self._seen[key] = (status, iso(self.now()))
                self._changed.set()

    def status(self, key: Key) -> ConnectorStatus | None:
        seen = self._seen.get(key)
        return seen[0] if seen is not None else None

    @property
    def reported(self) -> bool:
        """The CSMS has every connector's current status (the last one sent is the current one)."""
        self.refresh()
        return bool(self._seen) and all(self._sent.get(key) is status for key, (status, _at) in self._seen.items())

    async def run(self) -> None:
        """Send every change once the registration is accepted and the link is up."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self.accepted.wait()
            if self.link.connected.is_set():
                await self._send_changed()

    async def report_all(self) -> None:
        """Every connector, as it is now (after a boot, after a long time offline)."""
        self.refresh()
        async with self._lock:
            self._sent.clear()
        await self._send_changed()

    async def reconnected(self, offline_s: float) -> None:
        if offline_s > self.offline_threshold_s():
            await self.report_all()
        else:
            await self._send_changed()

    async def _send_changed(self) -> None:
        async with self._lock:
            for key, (status, since) in list(self._seen.items()):
                if self._sent.get(key) is not status:
                    await self.send(key, status, since)

    async def send(self, key: Key, status: ConnectorStatus, timestamp: str | None = None) -> bool:
        payload: dict[str, Any] = {"timestamp": timestamp or iso(self.now()), "connectorStatus": status.value,
                                   "evseId": key[0], "connectorId": key[1]}  # fmt: skip
        try:
            await self.link.call(ACTION, payload)
        except CallFailed as exc:
            log.info("StatusNotification %s of EVSE %s connector %s not sent: %s", status.value, *key, exc)
            return False
        self._sent[key] = status
        return True

    async def triggered(self, key: Key) -> None:
        """TriggerMessage StatusNotification: the connector's current status, whatever was sent."""
        view = self.station.view(key[0])
        status = connector_status(view)
        if status is not None:
            async with self._lock:
                await self.send(key, status)


class ChangeAvailability:
    def __init__(self, station: Station):
        self.station = station

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {"ChangeAvailability": self.change_availability}

    async def change_availability(self, payload: dict[str, Any]) -> dict[str, Any]:
        evse = payload.get("evse")
        evse_id = evse["id"] if evse is not None and evse["id"] != 0 else None
        known = evse_id is None or (
            evse_id in self.station.evse_ids and evse.get("connectorId", 1) in self.station.view(evse_id).connectors  # type: ignore[union-attr]
        )
        if not known:
            return {"status": ChangeAvailabilityStatus.rejected.value}
        operative = payload["operationalStatus"] == OperationalStatus.operative.value
        outcome = await self.station.set_availability(evse_id, operative, AvailabilityReason.OPERATOR)
        return {"status": STATUS[outcome].value}


STATUS = {
    AvailabilityOutcome.ACCEPTED: ChangeAvailabilityStatus.accepted,
    AvailabilityOutcome.SCHEDULED: ChangeAvailabilityStatus.scheduled,
    AvailabilityOutcome.REJECTED: ChangeAvailabilityStatus.rejected,
}
