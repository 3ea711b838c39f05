"""Device monitoring (part 2 N02-N08, Advanced Device Management): SetVariableMonitoring,
ClearVariableMonitoring, SetMonitoringBase, SetMonitoringLevel, GetMonitoringReport, and the
NotifyEvents the monitors raise.

Rules kept here (the pure rules are monitors.py's, storage monitor_store.py's):
- The station's monitors: the hard-wired ones (always there, never replaced or cleared:
  Rejected, N04.FR.18, N06.FR.03), the preconfigured ones (the FactoryDefault set) and the
  custom ones. A preconfigured monitor the CSMS replaces becomes custom with the same id
  (N04.FR.15). Base All installs the missing preconfigured monitors and keeps the rest,
  FactoryDefault deletes the custom ones and reinstalls the preconfigured set, HardWiredOnly
  keeps only the hard-wired ones (N03.FR.03-05).
- Built-in monitors watch the facts availability.py keeps the CSMS told of (Problem,
  AvailabilityState): it asks ``built_in_active`` which are on. Custom monitors are evaluated
  here, and only their rows are read: at each station event and each new reading of their
  EVSE (meter values, loop snapshots), at each write of a stored variable, at each change of
  the link; a periodic monitor on a timer of its own. Nothing polls the model.
- A monitor fires only while MonitoringCtrlr.Enabled, for its EVSE's transaction only when it
  asked for it (``transaction``), and is told only when its severity is at most the
  monitoring level (N05.FR.03, N07.FR.15); its state (reference, exceeded) moves on anyway.
  Events go out in the order they happened (one sender); offline, those at most
  OfflineQueuingSeverity are journaled and the others dropped (notify_event.py ``alert``).
- A new or replaced threshold is checked against the value at once (N07.FR.11); a cleared
  monitor never sends its cleared event (N07.FR.12); an exceeded threshold persists, so the
  value back within it after a reboot is a cleared event (N07.FR.14).
- Requests: more items or bytes than ItemsPerMessage / BytesPerMessage
  [SetVariableMonitoring] / [ClearVariableMonitoring] is a CALLERROR (N04.FR.09, N06.FR.06/07);
  GetMonitoringReport is bounded like GetReport and answered in NotifyMonitoringReport parts of
  at most ItemsPerMessage[GetReport] monitors and BytesPerMessage[GetReport] bytes (N02).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.core.events import Event
from controller.ocpp.link import CallFailed, Link, Refuse, Reply
from controller.ocpp.v201.device_model import DeviceModel, Write
from controller.ocpp.v201.enums import EventNotificationEnumType as EventNotification
from controller.ocpp.v201.enums import EventTriggerEnumType as EventTrigger
from controller.ocpp.v201.enums import MonitorEnumType
from controller.ocpp.v201.framing import Refusal, check_request, status_info
from controller.ocpp.v201.monitor_store import MonitorStore
from controller.ocpp.v201.monitors import (
    CRITERIA,
    PERIODIC,
    SEVERITIES,
    THRESHOLDS,
    Kind,
    Monitor,
    built_in,
    crossed,
    duplicate,
    moved,
    next_aligned,
    refusal,
    report_entries,
    selected,
)
from controller.ocpp.v201.notify_event import Events, VariableEvent
from controller.ocpp.v201.notify_report import split
from controller.ocpp.v201.reports import BYTES_REPORT, ITEMS_REPORT
from controller.ocpp.v201.values import Value
from controller.ocpp.v201.variables import Actual, ComponentId, Variable, VariableId
from controller.tasks import Tasks

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
REPORT = "NotifyMonitoringReport"
ENABLED = "MonitoringCtrlr.Enabled"
OFFLINE_QUEUING_SEVERITY = "MonitoringCtrlr.OfflineQueuingSeverity"
LIMITS = {
    "SetVariableMonitoring": ("MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]",
                              "MonitoringCtrlr.BytesPerMessage[SetVariableMonitoring]"),
    "ClearVariableMonitoring": ("MonitoringCtrlr.ItemsPerMessage[ClearVariableMonitoring]",
                                "MonitoringCtrlr.BytesPerMessage[ClearVariableMonitoring]"),
}  # fmt: skip
BASES = ("All", "FactoryDefault", "HardWiredOnly")


@dataclass
class Watch:
    """A custom monitor and what it last saw."""

    monitor: Monitor
    reference: Value | None = None  # Delta: the value at the last event (or when set)
    tripped: bool = False  # thresholds: exceeded when last seen
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _result(item: Payload, status: str, reason: str = "", info: str = "", monitor_id: int | None = None) -> Payload:
    out: Payload = {"status": status, "type": item["type"], "severity": item["severity"],
                    "component": item["component"], "variable": item["variable"]}  # fmt: skip
    if monitor_id is not None:
        out["id"] = monitor_id
    if reason:
        out["statusInfo"] = status_info(reason, info)
    return out


class Monitoring:
    def __init__(self, model: DeviceModel, store_db: Any, station: Station, link: Link, events: Events,
                 now: Callable[[], datetime]):  # fmt: skip
        self.model, self.station, self.link, self.events, self.now = model, station, link, events, now
        self.built_in = built_in(model.inventory)
        self.hard_wired = [m for m in self.built_in if m.kind is Kind.HARD_WIRED]
        self.preconfigured = [m for m in self.built_in if m.kind is Kind.PRECONFIGURED]
        self.store = MonitorStore(store_db, model.inventory, self.preconfigured)
        self.stored: dict[int, Monitor] = {m.id: m for m in self.store.monitors}
        self.watches: dict[int, Watch] = {}
        self.changed: Callable[[], None] = lambda: None  # built-in monitors changed (availability.py refreshes)
        self._queue: asyncio.Queue[tuple[list[VariableEvent], bool]] = asyncio.Queue()
        self._tasks = Tasks("ocpp201 monitoring")
        for monitor in self.stored.values():
            if monitor.kind is Kind.CUSTOM:
                self._watch(monitor, tripped=monitor.id in self.store.tripped)

    def handlers(self) -> dict[str, Callable[[Payload], Any]]:
        return {
            "SetVariableMonitoring": self.set_variable_monitoring,
            "ClearVariableMonitoring": self.clear_variable_monitoring,
            "SetMonitoringBase": self.set_monitoring_base,
            "SetMonitoringLevel": self.set_monitoring_level,
            "GetMonitoringReport": self.get_monitoring_report,
        }

    def readers(self) -> dict[str, Callable[[], Value | None]]:
        return {"monitoring_base": lambda: self.store.setting("base"), "monitoring_level": lambda: self.level}

    @property
    def level(self) -> int:
        return int(self.store.setting("level"))

    @property
    def enabled(self) -> bool:
        return self.model.value(ENABLED) is not False

    def monitors(self) -> list[Monitor]:
        return sorted([*self.hard_wired, *self.stored.values()], key=lambda m: m.id)

    def built_in_active(self, address: str) -> Monitor | None:
        """The hard-wired or preconfigured monitor on ``address`` that reports now, if any."""
        for m in self.monitors():
            if m.row.address == address and m.kind is not Kind.CUSTOM and m.severity <= self.level:
                return m if self.enabled or m.kind is Kind.HARD_WIRED else None
        return None

    def start(self) -> None:
        self._tasks.spawn(self._send(), "ocpp201-monitor-events")
        for watch in self.watches.values():
            self._arm(watch)

    async def close(self) -> None:
        for watch in self.watches.values():
            watch.stop()
        await self._tasks.cancel()

    # ---- CSMS -> station ------------------------------------------------------------------

    def _check(self, action: str, payload: Payload, items: int) -> None:
        count, size = LIMITS[action]
        try:
            check_request(action, payload, items, self.model.limit(count), self.model.limit(size))
        except Refusal as exc:
            raise Refuse(exc.code, exc.description) from None

    async def set_variable_monitoring(self, payload: Payload) -> Payload:
        items = payload["setMonitoringData"]
        self._check("SetVariableMonitoring", payload, len(items))
        return {"setMonitoringResult": [await self._set(item) for item in items]}

    async def _set(self, item: Payload) -> Payload:
        component, variable = ComponentId.from_json(item["component"]), VariableId.from_json(item["variable"])
        row = self.model.inventory.find(component, variable)
        if row is None:
            known = self.model.inventory.has_component(component)
            return _result(item, "UnknownVariable" if known else "UnknownComponent", "NotFound")
        kind, severity, value, wanted = MonitorEnumType(item["type"]), item["severity"], item["value"], item.get("id")
        if severity not in SEVERITIES:
            return _result(item, "Rejected", "ValueOutOfRange", "severity 0..9")
        if wanted is not None:
            old = self.stored.get(wanted) or next((m for m in self.hard_wired if m.id == wanted), None)
            if old is None or old.kind is Kind.HARD_WIRED or old.row.address != row.address:
                why = "no such monitor" if old is None else "a hard-wired monitor" if old.kind is Kind.HARD_WIRED \
                    else f"monitor {wanted} watches {old.row.address}"  # fmt: skip
                return _result(item, "Rejected", "InvalidValue", why)
        refused = refusal(row, kind, value)
        if refused is not None:
            return _result(item, *refused)
        if duplicate(self.monitors(), row, kind, severity, wanted):
            return _result(item, "Duplicate", "InvalidValue", "a monitor of this type and severity exists")
        monitor = Monitor(wanted if wanted is not None else await self.store.take_id(), row, kind, float(value),
                          severity, Kind.CUSTOM, bool(item.get("transaction", False)))  # fmt: skip
        await self.store.save(monitor)
        self._forget(monitor.id)
        self.stored[monitor.id] = monitor
        watch = self._watch(monitor)
        self._arm(watch)
        if kind in THRESHOLDS:  # N07.FR.11: a new threshold against the value now
            self._evaluate([watch])
        self.changed()
        return _result(item, "Accepted", monitor_id=monitor.id)

    async def clear_variable_monitoring(self, payload: Payload) -> Payload:
        ids = payload["id"]
        self._check("ClearVariableMonitoring", payload, len(ids))
        results = []
        for monitor_id in ids:
            if any(m.id == monitor_id for m in self.hard_wired):
                results.append({"id": monitor_id, "status": "Rejected",
                                "statusInfo": status_info("InvalidValue", "a hard-wired monitor")})  # fmt: skip
            elif monitor_id not in self.stored:
                results.append({"id": monitor_id, "status": "NotFound", "statusInfo": status_info("NotFound")})
            else:
                await self.store.delete([monitor_id])
                self._forget(monitor_id)
                results.append({"id": monitor_id, "status": "Accepted"})
        self.changed()
        return {"clearMonitoringResult": results}

    async def set_monitoring_base(self, payload: Payload) -> Payload:
        base = payload["monitoringBase"]
        if base not in BASES:
            return {"status": "NotSupported", "statusInfo": status_info("UnsupportedParam", f"monitoringBase {base}")}
        keep = [] if base != "All" else list(self.stored)
        gone = [i for i in self.stored if i not in keep]
        await self.store.delete(gone)
        for monitor_id in gone:
            self._forget(monitor_id)
        if base != "HardWiredOnly":
            for monitor in self.preconfigured:
                if monitor.id not in self.stored:
                    await self.store.save(monitor)
                    self.stored[monitor.id] = monitor
        await self.store.set("base", base)
        self.changed()
        return {"status": "Accepted"}

    async def set_monitoring_level(self, payload: Payload) -> Payload:
        severity = payload["severity"]
        if severity not in SEVERITIES:
            reason = "ValueTooHigh" if severity > max(SEVERITIES) else "ValueTooLow"
            return {"status": "Rejected", "statusInfo": status_info(reason, "severity 0..9")}
        await self.store.set("level", str(severity))
        self.changed()
        return {"status": "Accepted"}

    async def get_monitoring_report(self, payload: Payload) -> Payload | Reply:
        wanted = payload.get("componentVariable") or []
        criteria = payload.get("monitoringCriteria") or []
        try:
            check_request("GetMonitoringReport", payload, len(wanted), self.model.limit(ITEMS_REPORT),
                          self.model.limit(BYTES_REPORT))  # fmt: skip
        except Refusal as exc:
            raise Refuse(exc.code, exc.description) from None
        unknown = [c for c in criteria if c not in CRITERIA]
        if unknown:
            return {"status": "NotSupported", "statusInfo": status_info("UnsupportedParam", f"criteria {unknown}")}
        entries = report_entries(selected(self.monitors(), criteria, wanted))
        if not entries:
            return {"status": "EmptyResultSet", "statusInfo": status_info("NotFound")}
        parts = split(entries, request_id=payload["requestId"], generated_at=self.now(),
                      items=self.model.limit(ITEMS_REPORT), max_bytes=self.model.limit(BYTES_REPORT),
                      action=REPORT, key="monitor")  # fmt: skip

        async def send_parts() -> None:
            for part in parts:
                try:
                    await self.link.call(REPORT, part)
                except CallFailed as exc:
                    log.warning("monitoring report %s ended at part %s: %s", part["requestId"], part["seqNo"], exc)
                    return

        return Reply({"status": "Accepted"}, after=send_parts)

    # ---- evaluation -----------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        self._evaluate(self._of_evse(event.evse))

    def on_readings(self, evse: int) -> None:
        self._evaluate(self._of_evse(evse))

    def on_write(self, write: Write) -> None:
        self._evaluate([w for w in self.watches.values() if w.monitor.row.address == write.row.address])

    def on_link(self) -> None:
        """The link went up or down: the station-wide live values (DataLink.Active)."""
        self._evaluate([w for w in self.watches.values() if w.monitor.row.component.evse is None])

    def _of_evse(self, evse: int | None) -> list[Watch]:
        return [w for w in self.watches.values()
                if w.monitor.type not in PERIODIC and _live(w.monitor.row)
                and (evse is None or w.monitor.row.component.evse in (None, evse))]  # fmt: skip

    def _watch(self, monitor: Monitor, tripped: bool = False) -> Watch:
        watch = Watch(monitor, self._read(monitor.row), tripped)
        self.watches[monitor.id] = watch
        return watch

    def _forget(self, monitor_id: int) -> None:
        watch = self.watches.pop(monitor_id, None)
        if watch is not None:
            watch.stop()
        self.stored.pop(monitor_id, None)

    def _read(self, row: Variable) -> Value | None:
        return self.model.read(row, Actual, self.now())

    def _transaction(self, row: Variable) -> str | None:
        if row.component.evse is None:
            return None
        tx = self.station.view(row.component.evse).transaction
        return tx.id if tx is not None else None

    def _evaluate(self, watches: list[Watch]) -> None:
        fired: list[tuple[Watch, bool, EventTrigger]] = []
        values: dict[str, Value | None] = {}
        for watch in watches:
            m = watch.monitor
            if m.transaction and self._transaction(m.row) is None:
                continue
            if m.row.address not in values:
                values[m.row.address] = self._read(m.row)
            value = values[m.row.address]
            if m.type in THRESHOLDS:
                now_crossed = crossed(m, value)
                if now_crossed is None or now_crossed == watch.tripped:
                    continue
                watch.tripped = now_crossed
                self._tasks.spawn(self.store.mark(m.id, now_crossed), f"monitor {m.id} state")
                fired.append((watch, not now_crossed, EventTrigger.alerting))
            elif m.type is MonitorEnumType.delta and watch.reference is None and _live(m.row):
                watch.reference = value  # first sight (not sampled when set, or after a restart)
            elif m.type is MonitorEnumType.delta and moved(m, watch.reference, value):
                watch.reference = value
                fired.append((watch, False, EventTrigger.delta))
        self._tell(fired)

    def _tell(self, fired: list[tuple[Watch, bool, EventTrigger]]) -> None:
        if not self.enabled:
            return
        told = [(w, cleared, trigger) for w, cleared, trigger in fired if w.monitor.severity <= self.level]
        if not told:
            return
        keep_up_to = self.model.value(OFFLINE_QUEUING_SEVERITY)
        now = self.now()
        for keep in (True, False):
            events = [self._event(w.monitor, cleared, trigger, now) for w, cleared, trigger in told
                      if (w.monitor.severity <= keep_up_to) is keep]  # type: ignore[operator]  # fmt: skip
            if events:
                self._queue.put_nowait((events, keep))

    def _event(self, m: Monitor, cleared: bool, trigger: EventTrigger, now: datetime) -> VariableEvent:
        text = self.model.text(m.row, Actual, now)
        return VariableEvent(m.row, text or "", now, cleared=cleared, trigger=trigger,
                             kind=EventNotification(m.kind.value), monitor=m.id,
                             transaction=self._transaction(m.row))  # fmt: skip

    async def _send(self) -> None:
        while True:
            events, keep = await self._queue.get()
            try:
                await self.events.alert(events, keep)
            except Exception:
                log.exception("monitor events of %s lost", ", ".join(e.row.address for e in events))

    # ---- periodic monitors ----------------------------------------------------------------

    def _arm(self, watch: Watch) -> None:
        m = watch.monitor
        if m.type not in PERIODIC:
            return
        watch.stop()
        delay = m.value if m.type is MonitorEnumType.periodic else next_aligned(self.now(), m.value)
        watch.timer = asyncio.get_running_loop().call_later(delay, self._period, watch)

    def _period(self, watch: Watch) -> None:
        watch.timer = None
        if self.watches.get(watch.monitor.id) is not watch:
            return
        self._arm(watch)
        if not watch.monitor.transaction or self._transaction(watch.monitor.row) is not None:
            self._tell([(watch, False, EventTrigger.periodic)])


def _live(row: Variable) -> bool:
    attribute = row.attribute(Actual)
    return attribute is not None and attribute.source is not None
