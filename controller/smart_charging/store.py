"""The installed charging profiles in SQLite, so that they survive restarts (1.6 errata 3.37).

Rules kept here:
- One row per installed profile: its connector and the profile as the JSON of a
  SetChargingProfile.req (``profile_to_dict``), in installation order.
- ``save`` replaces the whole set in one transaction: the set is small (MaxChargingProfilesInstalled)
  and always written as the value the engine holds, so a crash leaves the old set or the new one.
- A row that cannot be read back (edited by hand, written by a future version) is logged and left
  out; it never stops the daemon.
"""

from __future__ import annotations

import json
import logging
import sqlite3

from controller.smart_charging.installed import InstalledProfiles
from controller.smart_charging.profiles import ProfileFormatError, profile_to_dict
from controller.storage import Database

log = logging.getLogger(__name__)

_DDL = (
    "CREATE TABLE charging_profiles (position INTEGER PRIMARY KEY, connector INTEGER NOT NULL, profile TEXT NOT NULL)"
)


class ProfileStore:
    def __init__(self, db: Database):
        db.migrate("smart_charging_profiles_0001", _DDL)
        self.db = db

    def load(self) -> InstalledProfiles:
        rows = self.db.run_sync(
            lambda c: c.execute(
                "SELECT position, connector, profile FROM charging_profiles ORDER BY position"
            ).fetchall()
        )
        installed = InstalledProfiles()
        for position, connector, text in rows:
            try:
                item = {"connectorId": connector, "csChargingProfiles": json.loads(text)}
                (entry,) = InstalledProfiles.from_dict({"profiles": [item]})
            except (ValueError, ProfileFormatError) as exc:
                log.error("stored charging profile %s is unreadable and was left out: %s", position, exc)
                continue
            installed = InstalledProfiles((*installed.entries, entry))
        return installed

    async def save(self, installed: InstalledProfiles) -> None:
        await self.db.run(lambda c: _replace(c, installed))

    def save_sync(self, installed: InstalledProfiles) -> None:
        self.db.run_sync(lambda c: _replace(c, installed))


def _replace(conn: sqlite3.Connection, installed: InstalledProfiles) -> None:
    conn.execute("DELETE FROM charging_profiles")
    conn.executemany(
        "INSERT INTO charging_profiles (position, connector, profile) VALUES (?, ?, ?)",
        [
            (position, entry.connector_id, json.dumps(profile_to_dict(entry.profile)))
            for position, entry in enumerate(installed)
        ],
    )
