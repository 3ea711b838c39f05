"""NotifyEvent (part 2 N07; G01 alternative scenario, G05): the station tells the CSMS that a
variable of its device model changed.

Rules kept here:
- Every event carries an eventId unique across restarts: the next free id is stored in SQLite
  before the message that uses it goes out, so a restart never hands out an id again.
- An event names what raised it: the monitor (variableMonitoringId, trigger Alerting for a
  threshold, Delta, Periodic for both periodic kinds) and its kind (eventNotificationType:
  HardWiredMonitor, PreconfiguredMonitor, CustomMonitor; HardWiredNotification without a
  monitor); a situation that returned to normal is a cleared event (a Problem back to false,
  a value back within its threshold, N07.FR.02); an event on an EVSE with a transaction carries
  its transactionId; a WriteOnly variable's actualValue is "" (N07.FR.10).
- One NotifyEvent per batch (seqNo 0, no tbc, N07.FR.07): a batch is the few events at once.
- ``notify`` sends now and is not queued: its caller (reported.py) knows what the CSMS was told
  and sends again what it lacks after a reconnect. ``alert`` is for monitors (monitoring.py):
  sent now while the CSMS can hear it; otherwise, or when the send failed, journaled when
  ``keep`` (the monitor's severity is at most OfflineQueuingSeverity, N07.FR.04, N08.FR.03:
  delivered in order once back online, never lost across a restart) and dropped if not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.clock import iso
from controller.ocpp.journal import Journal
from controller.ocpp.link import CallFailed, Link
from controller.ocpp.v201.enums import EventNotificationEnumType as EventNotification
from controller.ocpp.v201.enums import EventTriggerEnumType as EventTrigger
from controller.ocpp.v201.variables import Variable
from controller.storage import Database

log = logging.getLogger(__name__)

ACTION = "NotifyEvent"
TECH_CODE_LENGTH = 50  # EventDataType.techCode
_DDL = "CREATE TABLE ocpp201_event_id (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL)"


@dataclass(frozen=True)
class VariableEvent:
    row: Variable
    value: str  # the variable's new value, as the device model reports it
    at: datetime
    cleared: bool = False  # a monitored situation returned to normal
    tech_code: str | None = None  # what the station knows of the cause (a fault's name)
    trigger: EventTrigger = EventTrigger.delta
    kind: EventNotification = EventNotification.hard_wired_monitor
    monitor: int | None = None  # variableMonitoringId
    transaction: str | None = None  # the transaction on the variable's EVSE


def event_data(event_id: int, event: VariableEvent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "eventId": event_id,
        "timestamp": iso(event.at),
        "trigger": event.trigger.value,
        "actualValue": event.value,
        "eventNotificationType": event.kind.value,
        "component": event.row.component.to_json(),
        "variable": event.row.variable.to_json(),
    }
    if event.cleared:
        data["cleared"] = True
    if event.tech_code:
        data["techCode"] = event.tech_code[:TECH_CODE_LENGTH]
    if event.monitor is not None:
        data["variableMonitoringId"] = event.monitor
    if event.transaction is not None:
        data["transactionId"] = event.transaction
    return data


class EventIds:
    """The next eventId, kept in SQLite."""

    def __init__(self, db: Database):
        db.migrate("ocpp201_event_id_0001", _DDL)
        self.db = db
        row = db.run_sync(lambda c: c.execute("SELECT next FROM ocpp201_event_id").fetchone())
        self._next = int(row[0]) if row is not None else 1

    async def take(self, count: int) -> list[int]:
        ids = list(range(self._next, self._next + count))
        self._next += count
        following = self._next
        await self.db.run(lambda c: c.execute("INSERT OR REPLACE INTO ocpp201_event_id VALUES (1, ?)", (following,)))
        return ids


class Events:
    def __init__(self, link: Link, ids: EventIds, now: Callable[[], datetime], journal: Journal,
                 hearing: Callable[[], bool]):  # fmt: skip
        self.link, self.ids, self.now, self.journal = link, ids, now, journal
        self.hearing = hearing  # the CSMS takes our messages now (Accepted and connected)

    async def _payload(self, events: list[VariableEvent]) -> dict[str, Any]:
        ids = await self.ids.take(len(events))
        return {"generatedAt": iso(self.now()), "seqNo": 0,
                "eventData": [event_data(i, e) for i, e in zip(ids, events, strict=True)]}  # fmt: skip

    async def notify(self, events: list[VariableEvent]) -> bool:
        """One NotifyEvent with ``events``; True once the CSMS confirmed it."""
        if not events:
            return True
        payload = await self._payload(events)
        try:
            await self.link.call(ACTION, payload)
        except CallFailed as exc:
            log.info("NotifyEvent of %s not sent: %s", ", ".join(e.row.address for e in events), exc)
            return False
        return True

    async def alert(self, events: list[VariableEvent], keep: bool) -> None:
        """Monitor events: sent now if the CSMS hears us, else journaled when ``keep``, else dropped."""
        if not events:
            return
        if self.hearing() and await self.notify(events):
            return
        if keep:
            await self.journal.enqueue(ACTION, await self._payload(events))
        else:
            log.info("NotifyEvent of %s dropped while offline", ", ".join(e.row.address for e in events))
