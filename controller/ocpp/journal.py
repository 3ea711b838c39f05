"""Transaction-related OCPP messages that are never lost: a persistent FIFO in SQLite.

Rules kept here (OCPP 1.6 edition 2 section 3.7 + errata 3.18; DESIGN.md "Nothing is lost"):
- A message is committed to ``ocpp_journal`` before anything is sent; ``enqueue`` can commit
  the caller's own change (e.g. the session row) in the same transaction, and ``enqueue_in``
  works inside someone else's ``db.run``.
- Delivery is strictly in order, one message at a time, only while the link is up (and the
  optional ``ready`` event, e.g. "BootNotification accepted", is set).
- A message leaves the journal only when the CSMS confirmed it with a CALLRESULT; the delete
  (and, for StartTransaction, the transactionId) is committed in one transaction right after.
- A CALLERROR, a timeout or an invalid CALLRESULT is a "failure to process": retry after
  ``retry_interval`` x (transmissions so far), give up after ``attempts`` transmissions and log
  the dropped message. A lost connection is not a failure: the message waits for the next one.
- A CALLERROR NotImplemented / NotSupported (OCPP-J 4.2.3: the CSMS does not know or does not
  support the action, e.g. SecurityEventNotification at a CSMS without the security extension)
  drops the message at once: every retry would get the same answer while holding the whole
  FIFO, transaction messages included, for TransactionMessageRetryInterval x attempt.
- transactionId: messages of a local transaction carry ``tx_key``; their ``transactionId`` is
  filled in at send time from the confirmed StartTransaction. FIFO order means the Start was
  confirmed or dropped by then; dropped (or never queued) -> -1 (errata 3.18).
- Each row keeps its message id. A resend whose outcome is unknown (connection lost, timeout,
  or a kill -9 between sending and committing the confirmation) reuses it, which OCPP-J errata
  3.1 (2025-04) allows, so a CSMS can recognise the duplicate. That window -- sent, answered,
  killed before the delete committed -- cannot be closed without a CSMS-side dedup: 1.6 has
  none, so a CSMS that ignores the id sees that one message twice. It is kept to one fsync.
  After a CALLERROR the retry gets a fresh id: the CSMS did see and reject the first one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from controller.ocpp.link import CallErrorReceived, CallTimeout, ConnectionLost, Link, NotConnected, ResponseInvalid
from controller.ocpp.rpc import PayloadInvalid
from controller.storage import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

START_ACTION = "StartTransaction"
STOP_ACTION = "StopTransaction"
UNKNOWN_TRANSACTION_ID = -1
ACTION_NOT_HANDLED = frozenset({"NotImplemented", "NotSupported"})  # CALLERROR codes no retry can change

_DDL = """
CREATE TABLE ocpp_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    tx_key TEXT,
    message_id TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL
);
CREATE TABLE ocpp_transaction_ids (
    tx_key TEXT PRIMARY KEY,
    transaction_id INTEGER
)
"""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    action: str
    payload: dict[str, Any]
    tx_key: str | None
    message_id: str
    attempts: int  # failed transmissions so far


def enqueue_in(conn: sqlite3.Connection, action: str, payload: dict[str, Any], tx_key: str | None = None) -> int:
    """Queue a message inside the caller's transaction; returns its sequence number.
    Call ``Journal.notify()`` after that transaction committed."""
    if action == START_ACTION and tx_key is not None:
        conn.execute("INSERT OR IGNORE INTO ocpp_transaction_ids VALUES (?, NULL)", (tx_key,))
    cursor = conn.execute(
        "INSERT INTO ocpp_journal (action, payload, tx_key, message_id, enqueued_at) VALUES (?, ?, ?, ?, ?)",
        (action, json.dumps(payload, separators=(",", ":")), tx_key, str(uuid.uuid4()), time.time()),
    )
    return int(cursor.lastrowid or 0)


def _head(conn: sqlite3.Connection) -> Entry | None:
    row = conn.execute(
        "SELECT seq, action, payload, tx_key, message_id, attempts FROM ocpp_journal ORDER BY seq LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    payload = json.loads(row["payload"])
    if row["tx_key"] is not None and row["action"] != START_ACTION:
        found = conn.execute(
            "SELECT transaction_id FROM ocpp_transaction_ids WHERE tx_key = ?", (row["tx_key"],)
        ).fetchone()
        known = found is not None and found["transaction_id"] is not None
        payload["transactionId"] = found["transaction_id"] if known else UNKNOWN_TRANSACTION_ID
    return Entry(row["seq"], row["action"], payload, row["tx_key"], row["message_id"], row["attempts"])


def _remove(conn: sqlite3.Connection, entry: Entry, transaction_id: int | None) -> None:
    conn.execute("DELETE FROM ocpp_journal WHERE seq = ?", (entry.seq,))
    if entry.tx_key is None:
        return
    if entry.action == START_ACTION:
        conn.execute(
            "UPDATE ocpp_transaction_ids SET transaction_id = ? WHERE tx_key = ?",
            (UNKNOWN_TRANSACTION_ID if transaction_id is None else transaction_id, entry.tx_key),
        )
    elif entry.action == STOP_ACTION:
        conn.execute("DELETE FROM ocpp_transaction_ids WHERE tx_key = ?", (entry.tx_key,))


class Journal:
    def __init__(
        self,
        db: Database,
        *,
        attempts: int = 3,
        retry_interval: float = 60.0,
        on_confirmed: Callable[[Entry, dict[str, Any]], Awaitable[None]] | None = None,
    ):
        db.migrate("ocpp_journal_0001", _DDL)
        self.db = db
        # Plain attributes: the configuration listeners for TransactionMessageAttempts /
        # TransactionMessageRetryInterval set them and the next failure uses the new values.
        self.attempts = attempts
        self.retry_interval = retry_interval
        self.on_confirmed = on_confirmed
        self._work = asyncio.Event()
        self._empty = asyncio.Event()  # set by the delivery task when it found nothing to send

    def notify(self) -> None:
        """Something was queued with ``enqueue_in``: wake the delivery task."""
        self._empty.clear()
        self._work.set()

    async def wait_empty(self) -> None:
        """Return once the delivery task found the journal empty (e.g. before a reset)."""
        await self._empty.wait()

    async def enqueue(
        self,
        action: str,
        payload: dict[str, Any],
        tx_key: str | None = None,
        also: Callable[[sqlite3.Connection], T] | None = None,
    ) -> tuple[int, T | None]:
        """Commit the message (and ``also(conn)``, atomically) before returning; then deliver."""

        def write(conn: sqlite3.Connection) -> tuple[int, T | None]:
            extra = also(conn) if also is not None else None
            return enqueue_in(conn, action, payload, tx_key), extra

        result = await self.db.run(write)
        self.notify()
        return result

    async def pending(self) -> list[Entry]:
        rows = await self.db.run(
            lambda conn: conn.execute(
                "SELECT seq, action, payload, tx_key, message_id, attempts FROM ocpp_journal"
            ).fetchall()
        )
        return [Entry(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    async def transaction_id(self, tx_key: str) -> int | None:
        """The CSMS's transactionId for a local transaction: None while unconfirmed, -1 if never."""
        row = await self.db.run(
            lambda conn: conn.execute(
                "SELECT transaction_id FROM ocpp_transaction_ids WHERE tx_key = ?", (tx_key,)
            ).fetchone()
        )
        return None if row is None else row[0]

    async def deliver(self, link: Link, ready: asyncio.Event | None = None) -> None:
        """Send queued messages forever (run it as a task; cancel to stop)."""
        while True:
            self._work.clear()  # before looking, so an enqueue during the look is not missed
            entry = await self.db.run(_head)
            if entry is None:
                self._empty.set()
                await self._work.wait()
                continue
            await link.connected.wait()
            if ready is not None:
                await ready.wait()
            await self._send(link, entry)

    async def _send(self, link: Link, entry: Entry) -> None:
        try:
            response = await link.call(entry.action, entry.payload, unique_id=entry.message_id)
        except (NotConnected, ConnectionLost):
            return  # not the CSMS's failure; the same message (and id) goes again once reconnected
        except CallErrorReceived as exc:
            if exc.code in ACTION_NOT_HANDLED:
                log.warning("dropping queued %s #%d: the CSMS answered %s", entry.action, entry.seq, exc)
                await self.db.run(lambda conn: _remove(conn, entry, None))
            else:
                await self._failed(entry, str(exc), fresh_id=True)
            return
        except (CallTimeout, ResponseInvalid) as exc:
            await self._failed(entry, str(exc), fresh_id=False)
            return
        except PayloadInvalid as exc:
            # A bug in evsed: it would block the queue forever, so it goes now, loudly.
            log.error("dropping invalid queued %s #%d: %s", entry.action, entry.seq, exc)
            await self.db.run(lambda conn: _remove(conn, entry, None))
            return
        transaction_id = response.get("transactionId") if entry.action == START_ACTION else None
        await self.db.run(lambda conn: _remove(conn, entry, transaction_id))
        if self.on_confirmed is not None:
            await self.on_confirmed(entry, response)

    async def _failed(self, entry: Entry, reason: str, fresh_id: bool) -> None:
        transmissions = entry.attempts + 1
        if transmissions >= self.attempts:
            log.warning("dropping %s #%d after %d failed attempts: %s", entry.action, entry.seq, transmissions, reason)
            await self.db.run(lambda conn: _remove(conn, entry, None))
            return
        message_id = str(uuid.uuid4()) if fresh_id else entry.message_id
        await self.db.run(
            lambda conn: conn.execute(
                "UPDATE ocpp_journal SET attempts = ?, message_id = ? WHERE seq = ?",
                (transmissions, message_id, entry.seq),
            )
        )
        log.info(
            "%s #%d failed (%s); retry %d in %.0f s",
            entry.action,
            entry.seq,
            reason,
            transmissions,
            self.retry_interval * transmissions,
        )
        await asyncio.sleep(self.retry_interval * transmissions)
