"""Where the CSMS's writes to the device model live: SQLite, and secret files for WriteOnly
values.

Rules kept here (part 2 "Referenced Components and Variables": writable variables are
persistent; controller/storage.py, controller/secret_files.py):
- Only writes are stored (what the CSMS set), one row per (address, attribute) in
  ``ocpp201_variables``; defaults and presets are never copied in, so a new default or preset
  applies to every variable the CSMS never set.
- All writes of one SetVariables are one SQLite transaction, committed before the response
  leaves (the caller awaits ``save`` first): a power cut loses either all of them or none.
- A WriteOnly value (BasicAuthPassword) never enters SQLite: it is a 0600 file under the
  secrets directory, written (fsync + rename) before the transaction commits.
- Rows for variables the station no longer has are kept, not deleted: a configuration change
  back restores them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from controller.ocpp.v201.device_model import Slot, Write
from controller.ocpp.v201.enums import AttributeEnumType
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.variables import WriteOnly
from controller.secret_files import read_secret, write_secret
from controller.storage import Database

_ATTRIBUTES = frozenset(a.value for a in AttributeEnumType)
_DDL = """CREATE TABLE ocpp201_variables (
    address TEXT NOT NULL,
    attribute TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (address, attribute)
)"""


def secret_file(secrets_dir: Path, address: str) -> Path:
    """Where the WriteOnly value of ``address`` lives."""
    return secrets_dir / address.replace("/", "-")


class VariableStore:
    def __init__(self, db: Database, secrets_dir: Path):
        db.migrate("ocpp201_variables_0001", _DDL)
        self.db = db
        self.secrets_dir = secrets_dir

    def _secret_path(self, address: str) -> Path:
        return secret_file(self.secrets_dir, address)

    def load(self, inventory: Inventory) -> dict[Slot, str]:
        """Everything the CSMS wrote, for ``DeviceModel(stored=...)`` (blocking: at startup)."""
        rows = self.db.run_sync(
            lambda conn: conn.execute("SELECT address, attribute, value FROM ocpp201_variables").fetchall()
        )
        stored: dict[Slot, str] = {}
        for address, attribute, value in rows:
            if attribute in _ATTRIBUTES:
                stored[(address, AttributeEnumType(attribute))] = value
        for row in inventory:
            for spec in row.attributes:
                if spec.mutability == WriteOnly:
                    raw = read_secret(self._secret_path(row.address))
                    if raw is not None:
                        stored[(row.address, spec.type)] = raw.decode()
        return stored

    def _apply(self, conn: sqlite3.Connection, writes: Sequence[Write]) -> None:
        for write in writes:
            spec = write.row.attribute(write.attribute)
            if spec is not None and spec.mutability == WriteOnly:
                write_secret(self._secret_path(write.row.address), write.text)
                continue
            conn.execute(
                "INSERT INTO ocpp201_variables VALUES (?, ?, ?) "
                "ON CONFLICT(address, attribute) DO UPDATE SET value = excluded.value",
                (write.row.address, write.attribute.value, write.text),
            )

    async def save(self, writes: Sequence[Write]) -> None:
        """Persist decided writes, all or none; then the caller commits them to the model."""
        if writes:
            await self.db.run(lambda conn: self._apply(conn, writes))
