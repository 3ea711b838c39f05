"""Per-connector energy settings the owner changes at run time: charging mode and maximum current.

Rules kept here:
- One SQLite table (``energy_settings``), one row per connector; a change is written before
  the command that made it is answered, so it survives a restart.
- A connector without a row has the configured defaults: ``[solar] mode`` and its own
  ``max_current_a``. A stored maximum above what the hardware allows now (the configuration
  changed) is cut down to it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from controller.energy.solar import SolarMode
from controller.storage import Database

DDL = """CREATE TABLE energy_settings (
    evse INTEGER PRIMARY KEY,
    mode TEXT NOT NULL,
    max_current_a REAL NOT NULL
)"""


@dataclass(frozen=True)
class Setting:
    mode: SolarMode
    max_current_a: float


class SettingsStore:
    def __init__(self, db: Database):
        self.db = db
        db.migrate("energy_0001_settings", DDL)

    def load(self, defaults: dict[int, Setting]) -> dict[int, Setting]:
        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute("SELECT evse, mode, max_current_a FROM energy_settings").fetchall()

        settings = dict(defaults)
        for row in self.db.run_sync(read):
            default = defaults.get(row["evse"])
            if default is None or row["mode"] not in [m.value for m in SolarMode]:
                continue  # a connector that is gone, or a word from another version
            settings[row["evse"]] = Setting(SolarMode(row["mode"]), min(row["max_current_a"], default.max_current_a))
        return settings

    async def save(self, evse: int, setting: Setting) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO energy_settings VALUES (?, ?, ?) ON CONFLICT(evse) DO UPDATE SET "
                "mode = excluded.mode, max_current_a = excluded.max_current_a",
                (evse, setting.mode.value, setting.max_current_a),
            )

        await self.db.run(write)
