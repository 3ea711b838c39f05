"""The monitors the CSMS set and the station's preconfigured ones, with the monitoring base and
level, in SQLite (N07.FR.13: monitors persist across a reboot).

Rules kept here:
- One row per stored monitor: its id, the device-model row it watches (by address), type,
  value, severity, kind (PreconfiguredMonitor, or CustomMonitor: set by the CSMS, or a
  preconfigured one it replaced, N04.FR.15), the transaction flag and whether a threshold was
  exceeded when last seen (N07.FR.14 sends the cleared event after a reboot). Hard-wired
  monitors are never stored: they are always there.
- A stored monitor whose row no longer exists or no longer supports monitoring (a firmware
  update changed the table) is dropped at load (N04 remark), logged.
- Settings: the monitoring base last set (FactoryDefault until one is), the monitoring level
  (9: every severity) and the next custom id; the first start installs the preconfigured set.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from controller.ocpp.v201.enums import MonitorEnumType
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.monitors import FIRST_CUSTOM_ID, Kind, Monitor
from controller.storage import Database

log = logging.getLogger(__name__)

_DDL = """
CREATE TABLE ocpp201_monitors (
    id INTEGER PRIMARY KEY, address TEXT NOT NULL, type TEXT NOT NULL, value REAL NOT NULL,
    severity INTEGER NOT NULL, kind TEXT NOT NULL, tx INTEGER NOT NULL, tripped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE ocpp201_monitoring (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
DEFAULTS = {"base": "FactoryDefault", "level": "9", "next_id": str(FIRST_CUSTOM_ID)}


class MonitorStore:
    def __init__(self, db: Database, inventory: Inventory, preconfigured: Iterable[Monitor]):
        db.migrate("ocpp201_monitors_0001", _DDL)
        self.db = db

        def load(conn: sqlite3.Connection) -> tuple[dict[str, str], list[Any]]:  # rows as SQLite gives them
            settings = dict(conn.execute("SELECT key, value FROM ocpp201_monitoring").fetchall())
            if not settings:  # the first start: the factory's monitors
                conn.executemany("INSERT INTO ocpp201_monitoring VALUES (?, ?)", DEFAULTS.items())
                conn.executemany(_INSERT, [_columns(m) for m in preconfigured])
                settings = dict(DEFAULTS)
            return settings, conn.execute("SELECT * FROM ocpp201_monitors ORDER BY id").fetchall()

        settings, rows = db.run_sync(load)
        self.settings = settings
        self.monitors: list[Monitor] = []
        self.tripped: set[int] = set()
        dropped: list[tuple[int]] = []
        for id_, address, type_, value, severity, kind, tx, tripped in rows:
            row = inventory[address] if address in inventory else None  # noqa: SIM401 (no .get)
            if row is None or not row.characteristics.supports_monitoring:
                log.warning("monitor %s on %s dropped: the variable is gone or not monitored", id_, address)
                dropped.append((id_,))
                continue
            self.monitors.append(Monitor(id_, row, MonitorEnumType(type_), value, severity, Kind(kind), bool(tx)))
            if tripped:
                self.tripped.add(id_)
        if dropped:
            db.run_sync(lambda c: c.executemany("DELETE FROM ocpp201_monitors WHERE id = ?", dropped))

    def setting(self, key: str) -> str:
        return self.settings[key]

    async def set(self, key: str, value: str) -> None:
        self.settings[key] = value
        await self.db.run(lambda c: c.execute("INSERT OR REPLACE INTO ocpp201_monitoring VALUES (?, ?)", (key, value)))

    async def take_id(self) -> int:
        taken = int(self.settings["next_id"])
        await self.set("next_id", str(taken + 1))
        return taken

    async def save(self, monitor: Monitor) -> None:
        await self.db.run(lambda c: c.execute("INSERT OR REPLACE INTO ocpp201_monitors VALUES " + _VALUES,
                                              _columns(monitor)))  # fmt: skip

    async def delete(self, ids: Iterable[int]) -> None:
        gone = [(i,) for i in ids]
        await self.db.run(lambda c: c.executemany("DELETE FROM ocpp201_monitors WHERE id = ?", gone))

    async def mark(self, monitor_id: int, tripped: bool) -> None:
        await self.db.run(lambda c: c.execute("UPDATE ocpp201_monitors SET tripped = ? WHERE id = ?",
                                              (int(tripped), monitor_id)))  # fmt: skip


_VALUES = "(?, ?, ?, ?, ?, ?, ?, 0)"
_INSERT = "INSERT OR REPLACE INTO ocpp201_monitors VALUES " + _VALUES


def _columns(m: Monitor) -> tuple[object, ...]:
    return (m.id, m.row.address, m.type.value, m.value, m.severity, m.kind.value, int(m.transaction))
