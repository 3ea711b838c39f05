"""Transaction-related OCPP messages that are never lost: a persistent FIFO in SQLite.

Rules kept here (OCPP 1.6 edition 2 section 3.7 + errata 3.18; OCPP-J errata 3.1, 3.3, 3.11;
2.0.1 E13 and OCPP-J errata 4.6, the same rules for TransactionEvent; DESIGN.md "Nothing is lost"):
- A message is committed to ``ocpp_journal`` before anything is sent; ``enqueue`` can commit
  the caller's own change (e.g. the session row) in the same transaction, and ``enqueue_in``
  works inside someone else's ``db.run``.
- Delivery is strictly in order, one message at a time, only while the link is up (and the
  optional ``ready`` event, e.g. "BootNotification accepted", is set).
- A message leaves the journal only when the CSMS confirmed it with a CALLRESULT. That
  confirmation (the delete and, for StartTransaction, the transactionId; one short SQLite
  transaction) is committed in the link's receive path the moment the answer is read, before
  anything else is scheduled. It is committed without an fsync (``durable=False``,
  controller/storage.py): a kill -9 cannot undo it; a power cut before the next durable commit
  (the next message queued, at the latest) can, and the message then goes once more with its
  id after the restart: a duplicate the CSMS can recognise, never a loss. One fsync per
  message instead of two.
- A periodic meter sample (1.6 MeterValues of Sample.Periodic / Sample.Clock, 2.0.1
  TransactionEvent of MeterValuePeriodic / MeterValueClock) that finds nothing queued ahead of
  it is committed without an fsync as well (``fsync_needed``): it is sent at once, so a power
  cut can lose that one sample and nothing else, and only until the next durable commit (at the
  latest the next sample, which then waits behind it) carries it to the disk. A kill -9 loses
  nothing. A charging hour at a 10 s interval then costs no fsync at all: each fsync cleaned the
  WAL's and the logs' last pages, and every next write dirtied a whole 4 KB page again.
- What a transmission that was not confirmed leads to is a table (``NEXT``), per kind of
  outcome and per message class:
  - not connected / connection lost: not delivered; the same message (same id) goes again
    once reconnected. Nothing is counted.
  - timeout: also "not delivered" (3.7.1 lets a station skip a transaction message only when
    the CSMS reports a failure to process it): the connection is presumed dead and dropped,
    the message goes again with the same id after the reconnect, however often that happens.
  - CALLERROR, any code (errata 3.3: that is the "failure to process"), or an invalid
    CALLRESULT: a failed attempt. A transaction message is retried after
    ``retry_interval`` x (transmissions so far), after a CALLERROR with a fresh id (the CSMS
    saw and rejected the first), and skipped after ``attempts`` transmissions, logged.
  - Messages that are not transaction-related (security events) must not hold the FIFO:
    skipped at the first CALLERROR or invalid answer, and after ``OTHER_TIMEOUTS`` timeouts.
  - An invalid payload of our own (a bug in evsed) is skipped at once, loudly.
- Messages of a local transaction carry its ``tx_key``. Who numbers transactions is the
  version's rule (``Ids``): 1.6 (``CSMS_IDS``) fills each message's ``transactionId`` in at
  send time from the confirmed StartTransaction (FIFO order means the Start was confirmed or
  dropped by then; dropped or never queued -> -1, errata 3.18); 2.0.1 (``STATION_IDS``) has the
  station's own id in the payload already.
- A ``Stamp`` is written into a message inside the enqueue's SQLite transaction: the
  transaction's next sequence number (from 0, counted in ``ocpp_sequence``, dropped with its
  last message) and an offline flag. ``flag_offline`` sets that flag on every message still
  queued when the link goes down (2.0.1 E11.FR.07).
- ``queued`` answers how many messages wait, for one transaction or of some actions (2.0.1 E14);
  every confirmation is told to each of the ``listen``-ers, after its commit.
- Each row keeps its message id; a resend whose outcome is unknown reuses it (OCPP-J errata
  3.1, 2025-04), so a CSMS can recognise the duplicate. The one window that cannot be closed
  without CSMS-side dedup -- the answer was sent, and the station was killed before the
  confirmation was written -- is the time from the answer reaching the station to that commit.
  ``tests/bench/kill_after_answer.py`` measures it (README, Figures): of kills landing 0-20 ms
  after the CSMS sent its answer, 4-6 % left a same-id resend (mostly within 4 ms of the
  answer); with the station's event loop saturated, 40-49 % (65-69 % when the confirmation
  still waited for the journal task's turn).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from controller.ocpp.link import CallErrorReceived, CallTimeout, ConnectionLost, Link, NotConnected, ResponseInvalid
from controller.ocpp.rpc import PayloadInvalid
from controller.storage import Database

log = logging.getLogger(__name__)
T = TypeVar("T")

START_ACTION = "StartTransaction"
STOP_ACTION = "StopTransaction"
UNKNOWN_TRANSACTION_ID = -1
TRANSACTION_ACTIONS = frozenset({START_ACTION, STOP_ACTION, "MeterValues", "TransactionEvent"})  # 1.6 3.7, 2.0.1 E13
OTHER_TIMEOUTS = 2  # a message that is not transaction-related is skipped after this many timeouts


class Outcome(enum.Enum):
    """How one transmission ended, when the CSMS did not confirm it."""

    LOST = "connection lost or not connected"
    TIMEOUT = "no answer within the call timeout"
    REFUSED = "CALLERROR or an invalid CALLRESULT"
    OURS = "our payload is invalid"


class Next(enum.Enum):
    """What the journal does next with the message at the head."""

    RESEND = "send the same message again once reconnected"
    RECONNECT = "drop the connection, send the same message again once reconnected"
    RETRY = "wait retry_interval x transmissions, send again"
    SKIP = "give up on it"


# (outcome, transaction-related) -> (what next, whether it counts as a failed attempt). A
# counted failure that reaches the limit (``attempts``; OTHER_TIMEOUTS for other messages) skips.
NEXT: dict[tuple[Outcome, bool], tuple[Next, bool]] = {
    (Outcome.LOST, True): (Next.RESEND, False),
    (Outcome.LOST, False): (Next.RESEND, False),
    (Outcome.TIMEOUT, True): (Next.RECONNECT, False),
    (Outcome.TIMEOUT, False): (Next.RECONNECT, True),
    (Outcome.REFUSED, True): (Next.RETRY, True),
    (Outcome.REFUSED, False): (Next.SKIP, True),
    (Outcome.OURS, True): (Next.SKIP, True),
    (Outcome.OURS, False): (Next.SKIP, True),
}


def outcome_of(exc: Exception) -> Outcome:
    if isinstance(exc, (NotConnected, ConnectionLost)):
        return Outcome.LOST
    if isinstance(exc, CallTimeout):
        return Outcome.TIMEOUT
    if isinstance(exc, (CallErrorReceived, ResponseInvalid)):
        return Outcome.REFUSED
    return Outcome.OURS


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
_SEQUENCE_DDL = """
CREATE TABLE ocpp_sequence (tx_key TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE INDEX ocpp_journal_tx_key ON ocpp_journal (tx_key)
"""
# Each row in one page, nothing else: an index and AUTOINCREMENT's counter each added a page to
# every commit (an SD card wears by pages written). Without AUTOINCREMENT a seq is reused only
# after the journal was empty (rows leave in seq order), when no message is in flight.
_LEAN_DDL = """
DROP INDEX ocpp_journal_tx_key;
CREATE TABLE ocpp_journal_lean (
    seq INTEGER PRIMARY KEY,
    action TEXT NOT NULL,
    payload TEXT NOT NULL,
    tx_key TEXT,
    message_id TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL
);
INSERT INTO ocpp_journal_lean SELECT seq, action, payload, tx_key, message_id, attempts, enqueued_at FROM ocpp_journal;
DROP TABLE ocpp_journal;
ALTER TABLE ocpp_journal_lean RENAME TO ocpp_journal;
DELETE FROM sqlite_sequence WHERE name = 'ocpp_journal'
"""
Listener = Callable[["Entry", dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    action: str
    payload: dict[str, Any]
    tx_key: str | None
    message_id: str
    attempts: int  # failed transmissions so far


@dataclass(frozen=True, slots=True)
class Stamp:
    """Fields the journal writes into a message in the enqueue's own SQLite transaction."""

    sequence: str | None = None  # the payload field of the transaction's sequence number (from 0)
    offline: str | None = None  # the payload field set to true: queued while the link is down
    last: bool = False  # the transaction's last message: its sequence counter goes


class Ids(Protocol):
    """Who numbers transactions, asked at each step in that step's SQLite transaction."""

    def enqueued(self, conn: sqlite3.Connection, action: str, tx_key: str | None) -> None: ...

    def payload(self, conn: sqlite3.Connection, entry: Entry) -> dict[str, Any]:
        """The payload as it is sent now."""
        ...

    def removed(self, conn: sqlite3.Connection, entry: Entry, response: dict[str, Any] | None) -> None:
        """``entry`` left the journal: confirmed with ``response``, or skipped (None)."""
        ...


class CsmsIds:
    """The CSMS numbers transactions (OCPP 1.6): its StartTransaction answer gives the id."""

    def enqueued(self, conn: sqlite3.Connection, action: str, tx_key: str | None) -> None:
        if action == START_ACTION and tx_key is not None:
            conn.execute("INSERT OR IGNORE INTO ocpp_transaction_ids VALUES (?, NULL)", (tx_key,))

    def payload(self, conn: sqlite3.Connection, entry: Entry) -> dict[str, Any]:
        if entry.tx_key is None or entry.action == START_ACTION:
            return entry.payload
        found = conn.execute(
            "SELECT transaction_id FROM ocpp_transaction_ids WHERE tx_key = ?", (entry.tx_key,)
        ).fetchone()
        known = found is not None and found["transaction_id"] is not None
        return {**entry.payload, "transactionId": found["transaction_id"] if known else UNKNOWN_TRANSACTION_ID}

    def removed(self, conn: sqlite3.Connection, entry: Entry, response: dict[str, Any] | None) -> None:
        if entry.tx_key is None:
            return
        if entry.action == START_ACTION:
            transaction_id = response.get("transactionId") if response is not None else None
            conn.execute(
                "UPDATE ocpp_transaction_ids SET transaction_id = ? WHERE tx_key = ?",
                (UNKNOWN_TRANSACTION_ID if transaction_id is None else transaction_id, entry.tx_key),
            )
        elif entry.action == STOP_ACTION:
            conn.execute("DELETE FROM ocpp_transaction_ids WHERE tx_key = ?", (entry.tx_key,))


class StationIds:
    """The station numbers its transactions (OCPP 2.0.1): the payload is sent as queued."""

    def enqueued(self, conn: sqlite3.Connection, action: str, tx_key: str | None) -> None:
        return None

    def payload(self, conn: sqlite3.Connection, entry: Entry) -> dict[str, Any]:
        return entry.payload

    def removed(self, conn: sqlite3.Connection, entry: Entry, response: dict[str, Any] | None) -> None:
        return None


CSMS_IDS: Ids = CsmsIds()
STATION_IDS: Ids = StationIds()


def enqueue_in(
    conn: sqlite3.Connection,
    action: str,
    payload: dict[str, Any],
    tx_key: str | None = None,
    *,
    stamp: Stamp | None = None,
    ids: Ids = CSMS_IDS,
) -> int:
    """Queue a message inside the caller's transaction; returns its sequence number.
    Call ``Journal.notify()`` after that transaction committed."""
    ids.enqueued(conn, action, tx_key)
    if stamp is not None:
        payload = {**payload, **_stamped(conn, stamp, tx_key)}
    cursor = conn.execute(
        "INSERT INTO ocpp_journal (action, payload, tx_key, message_id, enqueued_at) VALUES (?, ?, ?, ?, ?)",
        (action, json.dumps(payload, separators=(",", ":")), tx_key, str(uuid.uuid4()), time.time()),
    )
    return int(cursor.lastrowid or 0)


def _stamped(conn: sqlite3.Connection, stamp: Stamp, tx_key: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if stamp.sequence is not None:
        if tx_key is None:
            raise ValueError("a sequence number counts per transaction: tx_key is needed")
        row = conn.execute("SELECT next FROM ocpp_sequence WHERE tx_key = ?", (tx_key,)).fetchone()
        fields[stamp.sequence] = row[0] if row is not None else 0
        if stamp.last:
            conn.execute("DELETE FROM ocpp_sequence WHERE tx_key = ?", (tx_key,))
        else:
            conn.execute("INSERT OR REPLACE INTO ocpp_sequence VALUES (?, ?)", (tx_key, fields[stamp.sequence] + 1))
    if stamp.offline is not None:
        fields[stamp.offline] = True
    return fields


def sequence_open(conn: sqlite3.Connection, tx_key: str) -> bool:
    """Messages of ``tx_key`` have been stamped and its last one has not: it may have more."""
    return conn.execute("SELECT 1 FROM ocpp_sequence WHERE tx_key = ?", (tx_key,)).fetchone() is not None


def _head(conn: sqlite3.Connection, ids: Ids) -> Entry | None:
    row = conn.execute(
        "SELECT seq, action, payload, tx_key, message_id, attempts FROM ocpp_journal ORDER BY seq LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    entry = Entry(row["seq"], row["action"], json.loads(row["payload"]), row["tx_key"], row["message_id"],
                  row["attempts"])  # fmt: skip
    return replace(entry, payload=ids.payload(conn, entry))


def _remove(conn: sqlite3.Connection, ids: Ids, entry: Entry, response: dict[str, Any] | None) -> None:
    conn.execute("DELETE FROM ocpp_journal WHERE seq = ?", (entry.seq,))
    ids.removed(conn, entry, response)


class Journal:
    def __init__(
        self,
        db: Database,
        *,
        attempts: int = 3,
        retry_interval: float = 60.0,
        ids: Ids = CSMS_IDS,
    ):
        db.migrate("ocpp_journal_0001", _DDL)
        db.migrate("ocpp_journal_0002_sequence", _SEQUENCE_DDL)
        db.migrate("ocpp_journal_0003_lean", _LEAN_DDL)
        self.db, self.ids = db, ids
        # Plain attributes: the configuration listeners for TransactionMessageAttempts /
        # TransactionMessageRetryInterval set them and the next failure uses the new values.
        self.attempts = attempts
        self.retry_interval = retry_interval
        self._listeners: list[Listener] = []
        self._work = asyncio.Event()
        self._empty = asyncio.Event()  # set by the delivery task when it found nothing to send

    def listen(self, listener: Listener) -> None:
        """Await ``listener(entry, response)`` after every confirmation (in the delivery task)."""
        self._listeners.append(listener)

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
        stamp: Stamp | None = None,
        periodic_sample: bool = False,
    ) -> tuple[int, T | None]:
        """Commit the message (and ``also(conn)``, atomically) before returning; then deliver."""

        def write(conn: sqlite3.Connection) -> tuple[int, T | None]:
            extra = also(conn) if also is not None else None
            return enqueue_in(conn, action, payload, tx_key, stamp=stamp, ids=self.ids), extra

        result = await self.db.run(write, durable=self.fsync_needed(periodic_sample))
        self.notify()
        return result

    def fsync_needed(self, periodic_sample: bool) -> bool:
        """Whether a message queued now is committed durably: all but a periodic sample that finds
        nothing ahead of it (see the rules above). Ask when handing the write to the database."""
        return not (periodic_sample and self._empty.is_set())

    async def pending(self) -> list[Entry]:
        rows = await self.db.run(
            lambda conn: conn.execute(
                "SELECT seq, action, payload, tx_key, message_id, attempts FROM ocpp_journal"
            ).fetchall()
        )
        return [Entry(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows]

    async def queued(self, tx_key: str | None = None, actions: frozenset[str] | None = None) -> int:
        """How many messages wait: of the transaction ``tx_key`` (None: any), of ``actions`` (None: any)."""
        where, args = ["1"], []
        if tx_key is not None:
            where.append("tx_key = ?")
            args.append(tx_key)
        if actions is not None:
            where.append(f"action IN ({','.join('?' * len(actions))})")
            args.extend(sorted(actions))
        sql = f"SELECT count(*) FROM ocpp_journal WHERE {' AND '.join(where)}"
        return int(await self.db.run(lambda conn: conn.execute(sql, args).fetchone()[0]))

    def flag_offline(self, field: str, actions: frozenset[str]) -> asyncio.Future[None]:
        """Set ``field`` true in every queued message of ``actions`` (the link went down). Handed to
        the database thread at the call, so a head read after the reconnect sees it."""
        marks = ",".join("?" * len(actions))

        def flag(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"UPDATE ocpp_journal SET payload = json_set(payload, ?, json('true')) WHERE action IN ({marks})",
                (f"$.{field}", *sorted(actions)),
            )

        return self.db.submit(flag)

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
            entry = await self.db.run(lambda conn: _head(conn, self.ids))
            if entry is None:
                self._empty.set()
                await self._work.wait()
                continue
            if not link.connected.is_set() or (ready is not None and not ready.is_set()):
                await link.connected.wait()
                if ready is not None:
                    await ready.wait()
                continue  # read the head again: it may have changed meanwhile (flag_offline)
            await self._send(link, entry)

    async def _send(self, link: Link, entry: Entry) -> None:
        confirmed: list[dict[str, Any]] = []

        def confirm(response: dict[str, Any]) -> None:  # in the link's receive path: first thing done
            self.db.run_sync(lambda conn: _remove(conn, self.ids, entry, response), durable=False)
            confirmed.append(response)

        try:
            await link.call(entry.action, entry.payload, unique_id=entry.message_id, on_result=confirm)
        except (NotConnected, ConnectionLost, CallTimeout, CallErrorReceived, ResponseInvalid, PayloadInvalid) as exc:
            if not confirmed:  # (a timeout can fire just after the answer was read)
                await self._failed(link, entry, exc)
                return
        for listener in self._listeners:
            try:
                await listener(entry, confirmed[0])
            except Exception:
                log.exception("listener of the confirmed %s #%d failed", entry.action, entry.seq)

    async def _failed(self, link: Link, entry: Entry, exc: Exception) -> None:
        transaction = entry.action in TRANSACTION_ACTIONS
        outcome = outcome_of(exc)
        step, counts = NEXT[(outcome, transaction)]
        transmissions = entry.attempts + 1
        if counts and transmissions >= (self.attempts if transaction else OTHER_TIMEOUTS):
            step = Next.SKIP
        if step is Next.SKIP:
            level = logging.ERROR if outcome is Outcome.OURS else logging.WARNING
            log.log(level, "skipping queued %s #%d after %d transmission(s): %s", entry.action, entry.seq,
                    transmissions, exc)  # fmt: skip
            await self.db.run(lambda conn: _remove(conn, self.ids, entry, None))
            return
        if counts:
            # After a CALLERROR the CSMS saw and rejected the message: the retry is a new one, new id.
            message_id = str(uuid.uuid4()) if isinstance(exc, CallErrorReceived) else entry.message_id
            await self.db.run(
                lambda conn: conn.execute(
                    "UPDATE ocpp_journal SET attempts = ?, message_id = ? WHERE seq = ?",
                    (transmissions, message_id, entry.seq),
                )
            )
        if step is Next.RECONNECT:
            link.drop(f"no answer to {entry.action} #{entry.seq} within the call timeout")
        elif step is Next.RETRY:
            wait = self.retry_interval * transmissions
            log.info("%s #%d failed (%s); retry %d in %.0f s", entry.action, entry.seq, exc, transmissions, wait)
            await asyncio.sleep(wait)
