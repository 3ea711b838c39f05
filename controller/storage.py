"""The station's SQLite database: one file, one connection, one writer thread.

Rules kept here:
- WAL journal with ``synchronous=FULL``: a commit that returned is on disk, so a power
  cut (kill -9) after it loses nothing; one before it leaves the previous state.
- A commit may be made ``durable=False`` (the OCPP journal's confirmations, and a periodic meter
  sample that goes out at once: controller/ocpp/journal.py): it is written to the WAL without
  waiting for the disk. A kill -9
  cannot undo it (its pages are in the kernel's cache); a power cut can undo it, and the other
  commits after the last durable one, never anything before: the WAL is a sequence, and the
  next durable commit's fsync carries every frame before it. Such a commit saves the fsync
  and the flash pages it would rewrite (an SD card wears by pages written, not by bytes).
- Pages of PAGE_SIZE bytes: a commit appends every page it changed to the WAL, and a journaled
  message changes a few hundred bytes, so 4 KB pages wrote several times what was needed (an
  SD card wears by what is written). A database with other pages is rebuilt once when opened.
- Every access runs on the database's own thread, inside one transaction per call
  (``with conn``): asyncio code ``await db.run(fn)`` and never blocks on an fsync, and
  the real-time thread never touches the database at all.
- Each module owns its tables and creates them with ``db.migrate(name, ddl)``; schema
  changes are new migrations, never edits of old ones.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

PAGE_SIZE = 1024


class Database:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evsed-db")
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self.durable_commits = 0  # commits that wrote and waited for the disk: what wears an SD card most
        self._executor.submit(self._open).result()
        self.migrate(
            "0000_migrations",
            "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        if conn.execute("PRAGMA page_size").fetchone()[0] != PAGE_SIZE:
            # A new file takes the size at its first write; an existing one only through VACUUM,
            # which needs the rollback journal (and is atomic with it).
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.row_factory = sqlite3.Row
        self._conn = conn
        self._thread = threading.current_thread()

    def _transaction(self, fn: Callable[[sqlite3.Connection], T], durable: bool = True) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("database is closed")
        if not durable:
            conn.execute("PRAGMA synchronous=NORMAL")  # per connection; no I/O
        try:
            changes = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self.durable_commits += durable and conn.total_changes != changes  # a read makes no fsync
            return result
        finally:
            if not durable:
                conn.execute("PRAGMA synchronous=FULL")

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``fn(conn)`` in one transaction on the database thread (``durable=False``: see above)."""
        return await asyncio.wrap_future(self._executor.submit(self._transaction, fn, durable))

    def submit(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> asyncio.Future[T]:
        """The same, handed to the database thread now (in call order), awaited later or never: for
        event listeners, which must not await and whose writes must keep the events' order."""
        return asyncio.wrap_future(self._executor.submit(self._transaction, fn, durable))

    def run_sync(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """The same, blocking: for startup, shutdown, tests, and the OCPP journal's confirmation
        (which must be committed before anything else happens; ``durable=False``: see above)."""
        if threading.current_thread() is self._thread:
            return self._transaction(fn, durable)
        return self._executor.submit(self._transaction, fn, durable).result()

    def migrate(self, name: str, ddl: str) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            if name != "0000_migrations":
                row = conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone()
                if row:
                    return
            for statement in ddl.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if name != "0000_migrations":
                conn.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (name,))

        self.run_sync(apply)

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            self._executor.submit(shut).result()
        finally:
            self._executor.shutdown(wait=True)
