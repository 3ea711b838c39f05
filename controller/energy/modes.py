"""Each connector's charging mode (off / minpv / pv) as the owner set it at run time.

Rules kept here:
- One SQLite table (``energy_modes``), one row per connector; a change is written before the
  command that made it is answered, so it survives a restart.
- A connector without a row has ``[solar] mode``; a row for a connector that is gone, or with a
  word this version does not know, is ignored.
- The owner's maximum current is not kept here: it is the daemon's owner limit
  (controller/owner_limits.py), shared with the web page.
"""

from __future__ import annotations

import sqlite3

from controller.energy.solar import SolarMode
from controller.storage import Database

DDL = "CREATE TABLE energy_modes (evse INTEGER PRIMARY KEY, mode TEXT NOT NULL)"


class ModeStore:
    def __init__(self, db: Database):
        self.db = db
        db.migrate("energy_0001_modes", DDL)

    def load(self, defaults: dict[int, SolarMode]) -> dict[int, SolarMode]:
        def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            return conn.execute("SELECT evse, mode FROM energy_modes").fetchall()

        modes = dict(defaults)
        known = [m.value for m in SolarMode]
        for evse, mode in self.db.run_sync(read):
            if evse in defaults and mode in known:
                modes[evse] = SolarMode(mode)
        return modes

    async def save(self, evse: int, mode: SolarMode) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO energy_modes VALUES (?, ?)", (evse, mode.value))

        await self.db.run(write)
