"""Availability: who wants an EVSE (or the station) out of service, kept across restarts.

Rules kept here:
- Several parties may make an EVSE inoperative for their own reason (``AvailabilityReason``:
  the operator through the backend or the API, a firmware install, a reset, a fault). The
  strictest wins: an EVSE is inoperative while any reason holds for it; each party lifts only
  its own reason, so a firmware install and an operator never undo each other.
- Scope: one EVSE, or the station (``None``), which sets or lifts the reason on the station and
  on every EVSE at once; a later EVSE-scope command changes that EVSE alone (as OCPP 1.6
  ChangeAvailability of connector 0, then of one connector, does).
- The wanted state is stored at once (one row per held reason; EVSE 0 is the station). Whether
  it applies now or after the running transaction is the station's business (Scheduled).
- A firmware install or a reset cannot outlive the process that began it: their reasons
  (``TRANSIENT``) are lifted when the rows are loaded at start.
- ``inoperative`` is a pure function of the rows; the ``AvailabilityBook`` only stores them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from controller.core.vocabulary import AvailabilityReason
from controller.storage import Database

STATION = 0
TRANSIENT = frozenset({AvailabilityReason.FIRMWARE, AvailabilityReason.RESET})
Held = frozenset[tuple[int, AvailabilityReason]]  # (EVSE or STATION, reason) pairs in force

_DDL = "CREATE TABLE availability (evse INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (evse, reason))"


def changed(held: Held, evses: Iterable[int], scope: int | None, operative: bool, reason: AvailabilityReason) -> Held:
    """The reasons in force after making ``scope`` (None: the station) operative or not for ``reason``."""
    targets = [STATION, *evses] if scope is None else [scope]
    rows = {(t, reason) for t in targets}
    return frozenset(held - rows if operative else held | rows)


def reasons(held: Held, evse: int) -> frozenset[AvailabilityReason]:
    """Why ``evse`` (or STATION) is inoperative; empty: operative."""
    return frozenset(r for e, r in held if e == evse)


class AvailabilityBook:
    def __init__(self, db: Database):
        db.migrate("availability_0001", _DDL)
        self.db = db

    def load(self) -> Held:
        rows = self.db.run_sync(lambda c: c.execute("SELECT evse, reason FROM availability").fetchall())
        return frozenset((e, r) for e, r in ((r[0], AvailabilityReason(r[1])) for r in rows) if r not in TRANSIENT)

    async def save(self, held: Held) -> None:
        def write(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM availability")
            c.executemany("INSERT INTO availability VALUES (?, ?)", [(e, r.value) for e, r in sorted(held)])

        await self.db.run(write)
