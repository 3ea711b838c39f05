"""NotifyEvent (part 2 N07; G01 alternative scenario, G05): the station tells the CSMS that a
variable of its device model changed.

Rules kept here:
- Every event carries an eventId unique across restarts: the next free id is stored in SQLite
  before the message that uses it goes out, so a restart never hands out an id again.
- The events the station raises by itself come from hard-wired Delta monitors (trigger
  Delta, eventNotificationType HardWiredMonitor, as part 6 checks them: TC_G_20, TC_G_21);
  a Problem that returns to false is a cleared event.
- One NotifyEvent per batch (seqNo 0, no tbc): a batch is the few variables that changed.
- NotifyEvents are not queued: the caller (reported.py) knows what the CSMS was told and sends
  again what it lacks after a reconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp.v201.enums import EventNotificationEnumType as EventNotification
from ocpp.v201.enums import EventTriggerEnumType as EventTrigger

from controller.clock import iso
from controller.ocpp.link import CallFailed, Link
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


def event_data(event_id: int, event: VariableEvent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "eventId": event_id,
        "timestamp": iso(event.at),
        "trigger": EventTrigger.delta.value,
        "actualValue": event.value,
        "eventNotificationType": EventNotification.hard_wired_monitor.value,
        "component": event.row.component.to_json(),
        "variable": event.row.variable.to_json(),
    }
    if event.cleared:
        data["cleared"] = True
    if event.tech_code:
        data["techCode"] = event.tech_code[:TECH_CODE_LENGTH]
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
    def __init__(self, link: Link, ids: EventIds, now: Callable[[], datetime]):
        self.link, self.ids, self.now = link, ids, now

    async def notify(self, events: list[VariableEvent]) -> bool:
        """One NotifyEvent with ``events``; True once the CSMS confirmed it."""
        if not events:
            return True
        ids = await self.ids.take(len(events))
        payload = {"generatedAt": iso(self.now()), "seqNo": 0,
                   "eventData": [event_data(i, e) for i, e in zip(ids, events, strict=True)]}  # fmt: skip
        try:
            await self.link.call(ACTION, payload)
        except CallFailed as exc:
            log.info("NotifyEvent of %s not sent: %s", ", ".join(e.row.address for e in events), exc)
            return False
        return True
