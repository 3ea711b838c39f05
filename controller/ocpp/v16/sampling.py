"""When OCPP 1.6 MeterValues are taken: per-transaction samples and clock-aligned data.

Rules kept here (OCPP 1.6 edition 2 sections 3.16.1, 3.16.2, 9.1.5, 9.1.17):
- Sampled: every MeterValueSampleInterval s from the start of each transaction (0 = none),
  context Sample.Periodic. A change of the key takes effect at once: the next sample is one
  new interval after the change, not after the old interval ran out.
- Clock-aligned: at every multiple of ClockAlignedDataInterval s counted from 00:00:00 of the
  station's (UTC) day, restarting at each midnight (0 = none), context Sample.Clock with
  MeterValuesAlignedData, for every connector. A connector with a transaction queues it as a
  transaction message (journal, transactionId); an idle one sends it directly, best effort.
- Waits are monotonic sleeps recomputed from the wall clock at every wake-up, so a clock that
  is set (NTP, CSMS time) moves the next aligned instant instead of firing a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.aligned import next_aligned
from controller.clock import WallClock, iso
from controller.core.ledger import Transaction
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.metering import meter_value, sampled_values
from controller.ocpp.v16.transactions import Transactions
from controller.tasks import Tasks

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)


class Sampling:
    def __init__(
        self,
        keys: Configuration,
        clock: WallClock,
        transactions: Transactions,
        send: Callable[[str, dict[str, Any]], Awaitable[None]],
    ):
        self.keys, self.clock, self.transactions, self.send = keys, clock, transactions, send
        self.station: Station | None = None
        self._tasks = Tasks("ocpp sampling")
        self._samplers: dict[str, asyncio.Task[None]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        for name in ("MeterValueSampleInterval", "ClockAlignedDataInterval"):
            keys.on_change(name, functools.partial(self._wake, name))

    def _wake(self, name: str, _value: object = None) -> None:
        # Wake everyone waiting on the old event; later waiters get a fresh one.
        self._changed.pop(name, asyncio.Event()).set()

    async def _sleep(self, seconds: float | None, key: str) -> bool:
        """Sleep ``seconds`` (None: until ``key`` changes); True if ``key`` changed meanwhile."""
        changed = self._changed.setdefault(key, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()
                return True
        return False

    def _interval(self, key: str) -> int:
        return self.keys.integer(key)

    # ---- sampled, per transaction ---------------------------------------------------------

    def transaction_started(self, tx: Transaction) -> None:
        self._samplers[tx.id] = self._tasks.spawn(self._sample(tx), f"ocpp-sample-{tx.id}")

    def transaction_ended(self, tx: Transaction) -> None:
        task = self._samplers.pop(tx.id, None)
        if task is not None:
            task.cancel()

    async def _sample(self, tx: Transaction) -> None:
        while True:
            interval = self._interval("MeterValueSampleInterval")
            if await self._sleep(interval if interval > 0 else None, "MeterValueSampleInterval"):
                continue
            await self.transactions.queue_meter_values(tx, "Sample.Periodic")

    # ---- clock-aligned --------------------------------------------------------------------

    def start(self) -> None:
        self._tasks.spawn(self._clock_aligned(), "ocpp-clock-aligned")

    async def stop(self) -> None:
        await self._tasks.cancel()

    async def _clock_aligned(self) -> None:
        while True:
            interval = self._interval("ClockAlignedDataInterval")
            if interval <= 0:
                await self._sleep(None, "ClockAlignedDataInterval")
                continue
            due = next_aligned(self.clock.now(), interval)
            while (wait := (due - self.clock.now()).total_seconds()) > 0:
                if await self._sleep(wait, "ClockAlignedDataInterval"):
                    break
            else:
                await self.aligned_values(iso(due))

    async def aligned_values(self, timestamp: str) -> None:
        """One Sample.Clock MeterValues per connector, stamped with the aligned instant."""
        station = self.station
        if station is None:
            return
        measurands = self.keys.members("MeterValuesAlignedData")
        for view in station.views():
            if view.transaction is not None:
                await self.transactions.queue_meter_values(view.transaction, "Sample.Clock", timestamp)
                continue
            samples = sampled_values(measurands, view.meter, view.snapshot, "Sample.Clock")
            if samples:
                payload = {"connectorId": view.id, "meterValue": [meter_value(timestamp, samples)]}
                await self.send("MeterValues", payload)
