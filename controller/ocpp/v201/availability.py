"""How OCPP 2.0.1 reports availability (part 2 G01, G05, B01.FR.05, B04): every connector's
ConnectorStatus in StatusNotification, and the station's own AvailabilityState and the
Problem variables of the device model in NotifyEvent.

Rules kept here (errata 2.28 / 2.29):
- A connector's status is a pure function of its EVSE's view: Faulted while a fault stops
  charging, Unavailable while inoperative, Occupied while a transaction (or its end) holds it,
  Reserved while reserved (an EV plugged in without the reserving token does not change that,
  G01.FR.09), Occupied while an EV is plugged in, else Available. A token waiting for an EV
  does not occupy a connector: nothing is plugged into it. Not sampled yet: no status.
- An EVSE's AvailabilityState is its connector's (one connector per EVSE); the station's is
  Faulted when every EVSE is, Unavailable when no EVSE can charge (each Unavailable or
  Faulted: an inoperative station waits for its transactions to end, G04.FR.06), else
  Available.
- Connectors are reported with StatusNotification (a change once it held for
  OCPPCommCtrlr.MinimumStatusDuration). What StatusNotification cannot say goes in NotifyEvent
  from the station's built-in Delta monitors (monitors.py): ChargingStation.AvailabilityState
  (preconfigured), Problem of each EVSE (techCode: the fault) and of each
  ConnectorPlugRetentionLock (hard-wired, G05.FR.02), each only while its monitor is on and
  within the monitoring level (``monitor_of``); and the ChargingStation's Problem, a hard-wired
  notification. An EVSE's AvailabilityState is not sent: it is its connector's status.
- When (reported.py): every fact after each Accepted (a Problem only when true), after a
  reconnect all or the changed ones (OfflineThreshold), every change as it happens; nothing
  before the first Accepted (B01.FR.08) but what the CSMS triggers. Not journaled: they tell
  what is, and the reconnect rule tells what changed while the link was down.
- TriggerMessage StatusNotification: a connector's current status, whatever was sent; only
  for a connector (F06.FR.12: Rejected without evse.connectorId, and for a connector the
  station does not have).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.clock import iso
from controller.core.events import Event
from controller.core.view import EvseView, StationView
from controller.faults import Fault
from controller.ocpp.link import CallFailed, Link
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.enums import ConnectorStatusEnumType as ConnectorStatus
from controller.ocpp.v201.monitors import Monitor
from controller.ocpp.v201.notify_event import EventNotification, Events, VariableEvent
from controller.ocpp.v201.reported import Change, Reported
from controller.ocpp.v201.variables import Actual, Variable
from hal.types import Indication

if TYPE_CHECKING:
    from controller.core.station import Station

ACTION = "StatusNotification"
MINIMUM_STATUS_DURATION = "OCPPCommCtrlr.MinimumStatusDuration"
OFFLINE_THRESHOLD = "OCPPCommCtrlr.OfflineThreshold"
Key = tuple[int, int]  # (evse id, connector id)
HELD = frozenset({Indication.CHARGING, Indication.SUSPENDED, Indication.DONE})  # a transaction or its end
# (component, variable) of the hard-wired Delta monitors, and the value the CSMS may assume untold.
MONITORED: dict[tuple[str, str], str | None] = {
    ("ChargingStation", "AvailabilityState"): None,
    ("ChargingStation", "Problem"): "false",
    ("EVSE", "Problem"): "false",
    ("ConnectorPlugRetentionLock", "Problem"): "false",
}
NOTIFICATION = ("ChargingStation", "Problem")  # a hard-wired notification: no monitor
FollowUp = Callable[[], Awaitable[None]]


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
    if states and all(s is ConnectorStatus.faulted for s in states):
        return ConnectorStatus.faulted
    if states and all(s in (ConnectorStatus.unavailable, ConnectorStatus.faulted) for s in states):
        return ConnectorStatus.unavailable
    return ConnectorStatus.available


def connectors(views: tuple[EvseView, ...]) -> Iterator[tuple[Key, ConnectorStatus]]:
    for view in views:
        status = connector_status(view)
        if status is not None:
            for connector in view.connectors:
                yield (view.id, connector), status


def tech_code(row: Variable, view: EvseView | None) -> str | None:
    """What caused a Problem, in the station's words (the fault's name)."""
    if view is None or row.component.name == "ChargingStation":
        return None
    if row.component.name == "ConnectorPlugRetentionLock":
        return Fault.LOCK.value if Fault.LOCK in view.faults else None
    return view.fault.value if view.fault is not None else None


class StatusReports:
    """Connector statuses (StatusNotification) and the monitored variables (NotifyEvent), kept
    in step with the CSMS."""

    def __init__(self, station: Station, link: Link, model: DeviceModel, events: Events,
                 accepted: asyncio.Event, now: Callable[[], datetime]):  # fmt: skip
        self.station, self.link, self.model, self.events, self.now = station, link, model, events, now
        self.monitor_of: Callable[[str], Monitor | None] = lambda _address: None  # set by monitoring.py
        self.rows = [row for row in model.inventory if (row.component.name, row.variable.name) in MONITORED]
        self.connectors: Reported[Key, ConnectorStatus] = Reported(
            lambda: connectors(station.views()), self._send_statuses, accepted, link.connected, now,
            settle_s=lambda: float(model.value(MINIMUM_STATUS_DURATION) or 0),  # type: ignore[arg-type]
        )  # fmt: skip
        assumed = {r.address: v for r in self.rows if (v := MONITORED[(r.component.name, r.variable.name)])}
        self.variables: Reported[str, str] = Reported(
            self._variables, self._send_events, accepted, link.connected, now, assumed=assumed
        )

    def on_event(self, _event: Event) -> None:
        self.connectors.refresh()
        self.variables.refresh()

    def monitors_changed(self) -> None:
        self.variables.refresh()
        self.variables.forget(())  # wake the sender

    def status(self, key: Key) -> ConnectorStatus | None:
        return self.connectors.value(key)

    @property
    def reported(self) -> bool:
        """The CSMS has every connector's current status and every monitored variable's value."""
        return self.connectors.reported and self.variables.reported

    async def run(self) -> None:
        await asyncio.gather(self.connectors.run(), self.variables.run())

    async def report_all(self) -> None:
        await self.connectors.report_all()
        await self.variables.report_all()

    async def reconnected(self, offline_s: float) -> None:
        threshold = float(self.model.value(OFFLINE_THRESHOLD))  # type: ignore[arg-type]
        await self.connectors.reconnected(offline_s, threshold)
        await self.variables.reconnected(offline_s, threshold)

    def report_again(self) -> None:
        """Send every connector's status again, but where a transaction holds it (a change
        scheduled there is reported at its end)."""
        views = self.station.views()
        held = {v.id for v in views if v.transaction is not None}
        self.connectors.forget(key for key, _ in connectors(views) if key[0] not in held)

    def trigger_offer(self, evse: dict[str, Any] | None) -> FollowUp | None:
        """TriggerMessage StatusNotification: a connector's current status (None: Rejected)."""
        if evse is None or "connectorId" not in evse:  # connector level only (F06.FR.12)
            return None
        key = (evse["id"], evse["connectorId"])
        if key[1] not in self.station.view(key[0]).connectors:
            return None
        return lambda: self.connectors.send_now(key)

    # ---- the facts and how they go out ------------------------------------------------------

    def _variables(self) -> Iterator[tuple[str, str]]:
        now = self.now()
        for row in self.rows:
            if (row.component.name, row.variable.name) != NOTIFICATION and self.monitor_of(row.address) is None:
                continue
            text = self.model.text(row, Actual, now)
            if text:  # "": not known yet (the EVSE not sampled)
                yield row.address, text

    async def _send_statuses(self, changes: list[Change[Key, ConnectorStatus]]) -> int:
        for sent, change in enumerate(changes):
            payload = {"timestamp": iso(change.at), "connectorStatus": change.value.value,
                       "evseId": change.key[0], "connectorId": change.key[1]}  # fmt: skip
            try:
                await self.link.call(ACTION, payload)
            except CallFailed:
                return sent
        return len(changes)

    async def _send_events(self, changes: list[Change[str, str]]) -> int:
        events = []
        for change in changes:
            row = self.model.inventory[change.key]
            view = self.station.view(row.component.evse) if row.component.evse is not None else None
            problem = row.variable.name == "Problem"
            monitor = self.monitor_of(row.address)
            kind = EventNotification(monitor.kind.value) if monitor else EventNotification.hard_wired_notification
            events.append(VariableEvent(row, change.value, change.at, cleared=problem and change.value == "false",
                                        tech_code=tech_code(row, view) if problem else None, kind=kind,
                                        monitor=monitor.id if monitor else None))  # fmt: skip
        return len(changes) if await self.events.notify(events) else 0
