"""The installed charging profiles in SQLite, so that they survive restarts (1.6 errata 3.37,
2.0.1 K01.FR.27).

Rules kept here:
- One row per installed profile: its connector (EVSE) and the profile as a version-neutral
  record (``to_record``: the dataclass fields, enums by name, times in ISO 8601), in
  installation order. Neither version's codec is involved, so a 2.0.1 profile keeps its schedule
  id and phaseToUse and a 1.6 one its integer transaction id.
- Rows written before the neutral record (the 1.6 JSON of a SetChargingProfile.req, ``form``
  'ocpp16') are read with the 1.6 codec and written back as records at the first load.
- ``save`` replaces the whole set in one transaction: the set is small (the station's maximum)
  and always written as the value the engine holds, so a crash leaves the old set or the new one.
- A row that cannot be read back (edited by hand, written by a future version) is logged and left
  out; it never stops the daemon.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from typing import Any

from controller.smart_charging.installed import InstalledProfiles
from controller.smart_charging.profiles import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    ProfileFormatError,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    profile_from_dict,
)
from controller.storage import Database

log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE charging_profiles (position INTEGER PRIMARY KEY, connector INTEGER NOT NULL, profile TEXT NOT NULL)"
)
_FORM_DDL = "ALTER TABLE charging_profiles ADD COLUMN form TEXT NOT NULL DEFAULT 'ocpp16'"
RECORD = "record"


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _read_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def to_record(profile: ChargingProfile) -> dict[str, Any]:
    schedule = profile.schedule
    return {
        "id": profile.id,
        "stack_level": profile.stack_level,
        "purpose": profile.purpose.name,
        "kind": profile.kind.name,
        "recurrency": None if profile.recurrency is None else profile.recurrency.name,
        "valid_from": _time(profile.valid_from),
        "valid_to": _time(profile.valid_to),
        "transaction_id": profile.transaction_id,
        "schedule": {
            "id": schedule.id,
            "unit": schedule.unit.name,
            "duration": schedule.duration,
            "start_schedule": _time(schedule.start_schedule),
            "min_charging_rate": schedule.min_charging_rate,
            "periods": [[p.start_period, p.limit, p.number_phases, p.phase_to_use] for p in schedule.periods],
        },
    }


def from_record(record: dict[str, Any]) -> ChargingProfile:
    """The profile ``to_record`` wrote; KeyError / ValueError / TypeError for anything else."""
    schedule = record["schedule"]
    return ChargingProfile(
        id=int(record["id"]),
        stack_level=int(record["stack_level"]),
        purpose=Purpose[record["purpose"]],
        kind=Kind[record["kind"]],
        recurrency=None if record["recurrency"] is None else Recurrency[record["recurrency"]],
        valid_from=_read_time(record["valid_from"]),
        valid_to=_read_time(record["valid_to"]),
        transaction_id=record["transaction_id"],
        schedule=ChargingSchedule(
            id=schedule["id"],
            unit=RateUnit[schedule["unit"]],
            duration=schedule["duration"],
            start_schedule=_read_time(schedule["start_schedule"]),
            min_charging_rate=schedule["min_charging_rate"],
            periods=tuple(SchedulePeriod(int(s), float(lim), n, u) for s, lim, n, u in schedule["periods"]),
        ),
    )


def _read_row(form: str, text: str) -> ChargingProfile:
    data = json.loads(text)
    return from_record(data) if form == RECORD else profile_from_dict(data)


class ProfileStore:
    def __init__(self, db: Database):
        db.migrate("smart_charging_profiles_0001", _DDL)
        db.migrate("smart_charging_profiles_0002_form", _FORM_DDL)
        self.db = db

    def load(self) -> InstalledProfiles:
        rows = self.db.run_sync(
            lambda c: c.execute(
                "SELECT position, connector, form, profile FROM charging_profiles ORDER BY position"
            ).fetchall()
        )
        entries = []
        for position, connector, form, text in rows:
            try:
                entries.append(InstalledProfile(connector, _read_row(form, text)))
            except (ValueError, KeyError, TypeError, ProfileFormatError) as exc:
                log.error("stored charging profile %s is unreadable and was left out: %s", position, exc)
        installed = InstalledProfiles(tuple(entries))
        if any(form != RECORD for _, _, form, _ in rows):
            self.save_sync(installed)  # the rows of an earlier version, as records from now on
        return installed

    async def save(self, installed: InstalledProfiles) -> None:
        await self.db.run(lambda c: _replace(c, installed))

    def save_sync(self, installed: InstalledProfiles) -> None:
        self.db.run_sync(lambda c: _replace(c, installed))


def _replace(conn: sqlite3.Connection, installed: InstalledProfiles) -> None:
    conn.execute("DELETE FROM charging_profiles")
    conn.executemany(
        "INSERT INTO charging_profiles (position, connector, form, profile) VALUES (?, ?, ?, ?)",
        [
            (position, entry.connector_id, RECORD, json.dumps(to_record(entry.profile)))
            for position, entry in enumerate(installed)
        ],
    )
