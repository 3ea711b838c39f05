"""Session curves (controller/curves.py): the pure sample/thin/pack rules, then the duty against a
real SQLite file: few batched writes, the bound, the retention, gaps for a silent meter."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import eventually
from hypothesis import given
from hypothesis import strategies as st

from controller import curves
from controller.clock import WallClock
from controller.core.events import Event, EventKind
from controller.core.ledger import Transaction
from controller.core.view import EvseView
from controller.core.vocabulary import TxPoint
from controller.curves import BATCH, MAX_POINTS, Curves, Sample, pack, sample_of, thinned, unpack
from controller.storage import Database
from hal.types import MeterReading

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def tx(n: int = 1) -> Transaction:
    return Transaction(id=f"tx-{n}", evse=1, start_point=TxPoint.POWER_PATH_CLOSED, started_at=START,
                       meter_start_wh=0.0)  # fmt: skip


def view(transaction: Transaction | None, power_w: float = 7000.0, at: float = 100.0,
         current: tuple[float, ...] = (10.0, 10.5, 11.0)) -> EvseView:  # fmt: skip
    meter = MeterReading(voltage_v=(230.0,) * len(current), current_a=current, power_w=power_w,
                         energy_import_wh=1000.0, at=at)  # fmt: skip
    return EvseView(
        id=1, phases=3, max_current_a=32.0, snapshot=None, meter=meter, ev_connected=True, authorization=None,
        transaction=transaction, charging_state=None, indication=None, occupancy=None, operative=True,
        inoperative_reasons=frozenset(), scheduled_inoperative=False, finishing=False, stopping=False,
        plug_timed_out=False, token_waiting=False, reserved=False, faults=frozenset(), fault=None, paused=False,
        energy_cap_wh=None, limit=None, has_lock=False,
    )  # fmt: skip


samples = st.builds(
    Sample,
    t=st.integers(0, 2**32 - 1),
    power_w=st.integers(-(2**31), 2**31 - 1),
    current_a=st.tuples(*[st.integers(0, 65535).map(lambda c: c / 100)] * 3),
    offered_a=st.integers(0, 65535).map(lambda d: d / 10),
)


@given(st.lists(samples, max_size=50))
def test_pack_round_trips_at_16_bytes_a_sample(values: list[Sample]) -> None:
    blob = pack(values)
    assert len(blob) == 16 * len(values)
    assert unpack(blob) == values


def test_values_out_of_range_are_clamped_and_a_torn_blob_reads_whole_samples() -> None:
    wild = Sample(5, 100, (-3.0, 700.0, 1.234), 9999.0)
    assert unpack(pack([wild])) == [Sample(5, 100, (0.0, 655.35, 1.23), 6553.5)]
    blob = pack([wild, wild])
    assert len(unpack(blob[:-3])) == 1


def test_thinning_keeps_the_first_and_every_other() -> None:
    points = [Sample(t, 0, (0, 0, 0), 0) for t in range(7)]
    assert [s.t for s in thinned(points)] == [0, 2, 4, 6]


def test_a_sample_needs_a_transaction_and_a_fresh_reading() -> None:
    now = START + timedelta(seconds=90)
    assert sample_of(view(None), now, 100.0, 2.0) is None
    assert sample_of(view(tx(), at=90.0), now, 100.0, 2.0) is None, "a meter silent for 10 s gives a gap"
    one_phase = sample_of(view(tx(), current=(15.678,)), now, 100.5, 2.0)
    assert one_phase == Sample(90, 7000, (15.68, 0.0, 0.0), 0.0)


class Clockwork:
    """Drives Curves.tick as the duty would, one interval apart."""

    def __init__(self, c: Curves, interval: float = 60.0):
        self.c, self.interval, self.n = c, interval, 0

    def tick(self, *views: EvseView) -> None:
        self.n += 1
        at = self.n * self.interval
        fresh = [view(v.transaction, at=at) if v.transaction else v for v in views]
        self.c.tick(fresh, START + timedelta(seconds=at), at, 2 * self.interval)


def rows(db: Database) -> list[tuple[str, int, int]]:
    """(transaction, batch number, samples in the batch) as stored, oldest first."""
    query = "SELECT tx, seq, samples FROM curve_batches ORDER BY rowid"
    return db.run_sync(lambda c: [(r[0], r[1], len(r[2]) // 16) for r in c.execute(query)])


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = Database(tmp_path / "evsed.db")
    yield database
    database.close()


async def test_samples_are_written_in_batches_and_the_rest_at_the_end(db: Database) -> None:
    c = Curves(db, lambda: (), WallClock(), 60.0)
    heard: list[tuple[int, str, int]] = []
    c.subscribe(lambda evse, tid, points, s: heard.append((evse, tid, points)))
    work = Clockwork(c)
    for _ in range(2 * BATCH + 5):
        work.tick(view(tx()))
    await c.drain()
    assert rows(db) == [("tx-1", 0, BATCH), ("tx-1", 1, BATCH)], "one commit per BATCH samples, not per sample"
    assert len(await c.curve("tx-1")) == 2 * BATCH + 5, "the unwritten samples are part of the curve"
    assert heard[-1] == (1, "tx-1", 2 * BATCH + 5) and len(heard) == 2 * BATCH + 5
    assert c.points("tx-1")[0] == 2 * BATCH + 5

    c.on_event(Event(EventKind.TRANSACTION_ENDED, 1, START, 0.0, transaction=tx()))
    await c.drain()
    assert rows(db)[-1] == ("tx-1", 2, 5)
    stored = await c.curve("tx-1")
    assert [s.t for s in stored] == [60 * (i + 1) for i in range(2 * BATCH + 5)]
    assert stored[0].current_a == (10.0, 10.5, 11.0) and stored[0].power_w == 7000
    assert await c.curve("nope") == []


async def test_an_hour_of_charging_is_six_small_commits_at_60_s(db: Database) -> None:
    c = Curves(db, lambda: (), WallClock(), 60.0)
    work = Clockwork(c)
    for _ in range(60):
        work.tick(view(tx()))
    await c.drain()
    assert len(rows(db)) == 6
    assert sum(len(r) for r in db.run_sync(lambda c: [r[0] for r in c.execute("SELECT samples FROM curve_batches")])) \
        == 60 * 16  # fmt: skip


async def test_a_long_plug_in_is_thinned_to_the_bound_and_keeps_its_whole_span(db: Database) -> None:
    c = Curves(db, lambda: (), WallClock(), 60.0)
    work = Clockwork(c)
    for _ in range(MAX_POINTS):
        work.tick(view(tx()))
    await c.drain()
    curve = await c.curve("tx-1")
    assert len(curve) == MAX_POINTS // 2 and curve[0].t == 60 and curve[-1].t == 60 * (MAX_POINTS - 1)
    assert rows(db) == [("tx-1", 0, MAX_POINTS // 2)]
    for _ in range(4):  # the interval doubled: every other tick is too early
        work.tick(view(tx()))
    assert len(await c.curve("tx-1")) == MAX_POINTS // 2 + 2
    for _ in range(4 * MAX_POINTS):
        work.tick(view(tx()))
    assert len(await c.curve("tx-1")) <= MAX_POINTS, "bounded however long it runs"


async def test_only_the_newest_curves_are_kept(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(curves, "KEEP", 3)
    c = Curves(db, lambda: (), WallClock(), 60.0)
    work = Clockwork(c)
    for n in range(1, 6):
        for _ in range(BATCH):
            work.tick(view(tx(n)))
        work.tick(view(None))  # the transaction is gone: what is left is written
    work.tick(view(tx(6)))  # a new transaction starts: the old curves beyond KEEP go
    await c.drain()
    assert sorted({r[0] for r in rows(db)}) == ["tx-3", "tx-4", "tx-5"]


async def test_a_silent_meter_leaves_a_gap(db: Database) -> None:
    c = Curves(db, lambda: (), WallClock(), 60.0)
    c.tick([view(tx(), at=0.0)], START + timedelta(seconds=60), 60.0, 120.0)
    c.tick([view(tx(), at=0.0)], START + timedelta(seconds=180), 180.0, 120.0)  # the reading is 180 s old
    c.tick([view(tx(), at=240.0)], START + timedelta(seconds=240), 240.0, 120.0)
    assert [s.t for s in await c.curve("tx-1")] == [60, 240]


async def test_the_duty_samples_the_views_every_interval(db: Database) -> None:
    c = Curves(db, lambda: [view(tx(), at=time.monotonic())], WallClock(), 1.0)
    task = asyncio.create_task(c.run())
    try:
        await eventually(lambda: c.points("tx-1")[0] >= 2, 10, "two samples, one interval apart")
    finally:
        task.cancel()
