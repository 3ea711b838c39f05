"""Each transaction's power and current over time, kept small: the curve the web page draws.

Rules kept here:
- While a transaction runs on an EVSE, one sample every ``[storage] curve_interval_s``
  (default 60 s): seconds since its start, active power, current per phase and the offered
  current, read from the EVSE's view. A meter reading older than two intervals gives no
  sample (the curve shows a gap, it never invents one).
- Few writes (SD cards wear): samples wait in memory and go to SQLite in one transaction per
  ``BATCH`` samples and at the transaction's end, packed as 16 bytes each in one row per
  batch. At 60 s that is one small commit per 10 minutes of charging. A crash loses at most
  the unwritten part of a curve, never energy (the ledger has it).
- Bounded: a curve keeps at most ``MAX_POINTS`` samples; at the bound every other sample is
  dropped (memory and disk) and that curve's interval doubles, so any plug-in fits. The
  curves of the newest ``KEEP`` transactions are kept; older ones go when a new one starts.
- Decisions (sample, thin, pack) are pure functions; ``Curves`` is the thin asyncio duty.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from controller.clock import WallClock
from controller.core.events import Event, EventKind
from controller.core.view import EvseView
from controller.storage import Database

log = logging.getLogger(__name__)

BATCH = 10
MAX_POINTS = 1440  # a day at 60 s
KEEP = 500  # transactions whose curves are kept
_PACK = struct.Struct("<IiHHHH")  # t s, power W, 3 x current cA, offered dA
_SCHEMA = """
CREATE TABLE curve_batches (
    tx TEXT NOT NULL,
    seq INTEGER NOT NULL,
    samples BLOB NOT NULL,
    UNIQUE (tx, seq)
)
"""


@dataclass(frozen=True)
class Sample:
    t: int  # seconds since the transaction started
    power_w: int
    current_a: tuple[float, float, float]
    offered_a: float


def sample_of(view: EvseView, now_wall: datetime, now_mono: float, max_age_s: float) -> Sample | None:
    """The EVSE's sample now, or None (no transaction, no fresh meter reading)."""
    tx, meter = view.transaction, view.meter
    if tx is None or meter is None or now_mono - meter.at > max_age_s:
        return None
    phases = (*meter.current_a[:3], 0.0, 0.0, 0.0)[:3]
    offered = view.snapshot.offered_a if view.snapshot is not None else 0.0
    t = max(0, int((now_wall - tx.started_at).total_seconds()))
    return Sample(t, round(meter.power_w), (round(phases[0], 2), round(phases[1], 2), round(phases[2], 2)),
                  round(offered, 1))  # fmt: skip


def thinned(samples: list[Sample]) -> list[Sample]:
    """Every other sample, the first kept: half the points over the same time."""
    return samples[::2]


def pack(samples: Iterable[Sample]) -> bytes:
    return b"".join(
        _PACK.pack(
            s.t,
            s.power_w,
            *(min(65535, max(0, round(a * 100))) for a in s.current_a),
            min(65535, max(0, round(s.offered_a * 10))),
        )
        for s in samples
    )


def unpack(blob: bytes) -> list[Sample]:
    return [
        Sample(t, p, (a1 / 100, a2 / 100, a3 / 100), o / 10)
        for t, p, a1, a2, a3, o in _PACK.iter_unpack(blob[: len(blob) - len(blob) % _PACK.size])
    ]


@dataclass
class _Running:
    tx: str
    evse: int
    interval_s: float
    stored: list[Sample] = field(default_factory=list)  # what SQLite has (or is being sent)
    pending: list[Sample] = field(default_factory=list)
    seq: int = 0

    @property
    def samples(self) -> list[Sample]:
        return self.stored + self.pending


CurveListener = Callable[[int, str, int, Sample], None]  # evse, transaction, points, newest sample


class Curves:
    def __init__(self, db: Database, views: Callable[[], Iterable[EvseView]], clock: WallClock, interval_s: float):
        self.db = db
        self.views = views
        self.clock = clock
        self.interval_s = interval_s
        self._running: dict[str, _Running] = {}
        self._listeners: list[CurveListener] = []
        self._writes: set[asyncio.Future[object]] = set()
        db.migrate("0001_curve_batches", _SCHEMA)

    def subscribe(self, listener: CurveListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def on_event(self, event: Event) -> None:
        """A transaction's end writes what is left of its curve at once."""
        if event.kind is EventKind.TRANSACTION_ENDED and event.transaction is not None:
            running = self._running.pop(event.transaction.id, None)
            if running is not None:
                self._write(running)

    async def run(self) -> None:
        max_age = 2 * self.interval_s
        while True:
            self.tick(self.views(), self.clock.now(), time.monotonic(), max_age)
            await asyncio.sleep(self.interval_s)

    def tick(self, views: Iterable[EvseView], now_wall: datetime, now_mono: float, max_age_s: float) -> None:
        live = set()
        for view in views:
            tx = view.transaction
            if tx is None:
                continue
            live.add(tx.id)
            running = self._running.get(tx.id)
            if running is None:
                running = self._running[tx.id] = _Running(tx.id, view.id, self.interval_s)
                self._forget_old()
            sample = sample_of(view, now_wall, now_mono, max_age_s)
            last = running.samples[-1] if running.samples else None
            if sample is None or (last is not None and sample.t - last.t < running.interval_s * 0.9):
                continue
            running.pending.append(sample)
            if len(running.samples) >= MAX_POINTS:
                self._thin(running)
            elif len(running.pending) >= BATCH:
                self._write(running)
            for listener in list(self._listeners):
                listener(running.evse, tx.id, len(running.samples), sample)
        for gone in set(self._running) - live:  # ended without our hearing of it
            self._write(self._running.pop(gone))

    def points(self, transaction_id: str) -> tuple[int, Sample | None]:
        running = self._running.get(transaction_id)
        if running is None or not running.samples:
            return 0, None
        return len(running.samples), running.samples[-1]

    async def curve(self, transaction_id: str) -> list[Sample]:
        """Every sample of a transaction's curve: the stored ones and those waiting to be."""
        running = self._running.get(transaction_id)
        if running is not None:
            return list(running.samples)
        rows = await self.db.run(
            lambda c: c.execute("SELECT samples FROM curve_batches WHERE tx = ? ORDER BY seq", (transaction_id,))
            .fetchall()
        )  # fmt: skip
        return [s for row in rows for s in unpack(row[0])]

    async def drain(self) -> None:
        """Wait for every write submitted so far (shutdown, tests)."""
        if self._writes:
            await asyncio.gather(*self._writes)

    # ---- writes ---------------------------------------------------------------------------

    def _write(self, running: _Running) -> None:
        if not running.pending:
            return
        batch, seq = pack(running.pending), running.seq
        running.stored += running.pending
        running.pending, running.seq = [], seq + 1
        self._submit(lambda c: c.execute("INSERT INTO curve_batches VALUES (?, ?, ?)", (running.tx, seq, batch)))

    def _thin(self, running: _Running) -> None:
        kept = thinned(running.samples)
        running.stored, running.pending, running.seq = kept, [], 1
        running.interval_s *= 2
        blob, tx = pack(kept), running.tx
        log.info("curve of transaction %s thinned to %d samples, one per %.0f s", tx, len(kept), running.interval_s)

        def rewrite(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM curve_batches WHERE tx = ?", (tx,))
            c.execute("INSERT INTO curve_batches VALUES (?, 0, ?)", (tx, blob))

        self._submit(rewrite)

    def _forget_old(self) -> None:
        self._submit(
            lambda c: c.execute(
                "DELETE FROM curve_batches WHERE tx IN (SELECT tx FROM curve_batches GROUP BY tx"
                " ORDER BY MIN(rowid) DESC LIMIT -1 OFFSET ?)",
                (KEEP,),
            )
        )

    def _submit(self, fn: Callable[[sqlite3.Connection], object]) -> None:
        future = asyncio.ensure_future(self.db.run(fn))
        self._writes.add(future)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[object]) -> None:
        self._writes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("curve write failed: %s", future.exception())
