"""A connector's maximum current as the owner set it (web page or local API): kept, and obeyed.

Rules kept here:
- One value per EVSE, from 0 A up to the connector's configured ``max_current_a`` (its rating:
  never more); removing it gives the rating back. Below 6 A the EV is paused (IEC 61851).
- Persisted in SQLite before it applies, and applied from the daemon's start whether or not
  a browser ever connects.
- It is one of the station's limit sources, named ``OWNER``: the lowest limit of all sources
  wins (configuration, backend profiles, this), and the EVSE's view names the one that binds.
"""

from __future__ import annotations

import math
import sqlite3

from controller.realtime import Limit
from controller.storage import Database

OWNER = "owner setting"
_SCHEMA = "CREATE TABLE owner_limits (evse INTEGER PRIMARY KEY, max_current_a REAL NOT NULL)"


class OwnerLimits:
    def __init__(self, db: Database, ratings: dict[int, tuple[float, int]]):
        """``ratings``: EVSE -> (configured max_current_a, phases)."""
        self.db = db
        self.ratings = ratings
        db.migrate("0001_owner_limits", _SCHEMA)
        rows = db.run_sync(lambda c: c.execute("SELECT evse, max_current_a FROM owner_limits").fetchall())
        self.amps: dict[int, float] = {evse: amps for evse, amps in rows if evse in ratings}

    def limit(self, evse_id: int, now: float) -> Limit | None:
        amps = self.amps.get(evse_id)
        return None if amps is None else Limit(amps, self.ratings[evse_id][1], math.inf)

    def check(self, evse_id: int, amps: float | None) -> None:
        """ValueError naming what is wrong with ``amps`` for ``evse_id``."""
        if evse_id not in self.ratings:
            raise ValueError(f"no connector {evse_id}")
        rating = self.ratings[evse_id][0]
        if amps is not None and not (isinstance(amps, (int, float)) and not isinstance(amps, bool)
                                     and 0.0 <= amps <= rating):  # fmt: skip
            raise ValueError(f"amps must be a number from 0 to {rating:g} (connector {evse_id}'s rating), not {amps!r}")

    async def set(self, evse_id: int, amps: float | None) -> None:
        self.check(evse_id, amps)

        def write(c: sqlite3.Connection) -> None:
            if amps is None:
                c.execute("DELETE FROM owner_limits WHERE evse = ?", (evse_id,))
            else:
                c.execute("INSERT OR REPLACE INTO owner_limits VALUES (?, ?)", (evse_id, float(amps)))

        await self.db.run(write)
        if amps is None:
            self.amps.pop(evse_id, None)
        else:
            self.amps[evse_id] = float(amps)
