"""Meter polling: every meter read runs on a worker thread, never on the loop threads.

Rules kept here:
- One worker thread per meter; a read that hangs past its deadline is abandoned (the
  thread may finish later) and counts as a failure: no second read is started on that
  meter until the first returned, so a dead bus cannot pile up threads.
- Every result goes to the real-time loop (over-current supervision, meter-offline
  detection by age) and to the station (energy, sessions, MeterValues).
- A meter whose connector is idle (no EV, contactor open: ``set_idle``) is read every
  ``idle_interval_s`` instead: nothing flows through it, and each read wakes both processes.
  Its connector leaving idle has it read at once and at ``interval_s`` from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from hal.errors import HardwareError
from hal.interfaces import Meter
from hal.types import MeterReading

log = logging.getLogger(__name__)

Sink = Callable[[int, MeterReading | None], None]
IDLE_INTERVAL_S = 5.0  # at most, and so that a healthy idle meter's age stays well under its timeout


def idle_interval(interval_s: float, deadline_s: float, timeout_s: float) -> float:
    """How often an idle connector's meter is read: two reads that each took their whole deadline
    still come within ``timeout_s`` (the real-time loop's meter-offline age)."""
    return max(interval_s, min(IDLE_INTERVAL_S, (timeout_s - deadline_s) / 2))


class MeterPoller:
    def __init__(
        self,
        meters: dict[int, Meter],
        sinks: list[Sink],
        interval_s: float,
        deadline_s: float = 5.0,
        label: str = "connector",  # how logs name a meter: "connector 2", "grid 0"
        idle_interval_s: float | None = None,  # None: always interval_s
    ):
        self.meters = meters
        self.label = label
        self.sinks = sinks
        self.interval_s = interval_s
        self.idle_interval_s = idle_interval_s or interval_s
        self.deadline_s = deadline_s
        self.failures: dict[int, int] = dict.fromkeys(meters, 0)
        self._executor = ThreadPoolExecutor(max_workers=max(1, len(meters)), thread_name_prefix="evsed-meter")
        self._inflight: dict[int, Future[MeterReading]] = {}
        self._idle: set[int] = set()
        self._woken = asyncio.Event()

    def set_idle(self, connector: int, idle: bool) -> None:
        """Whether ``connector`` is idle (see the rules above); call on the event loop."""
        if idle:
            self._idle.add(connector)
        elif connector in self._idle:
            self._idle.discard(connector)
            self._woken.set()

    def read_blocking(self, connector: int) -> MeterReading | None:
        """One direct read for startup recovery, before the loops run."""
        try:
            return self.meters[connector].read()
        except HardwareError as exc:
            log.warning("%s %s: meter unreadable at startup: %s", self.label, connector, exc)
            return None

    async def run(self) -> None:
        polled = dict.fromkeys(self.meters, float("-inf"))  # when each meter's last read started
        while True:
            now = time.monotonic()
            due = {cid: at + self._interval(cid) for cid, at in polled.items()}
            ready = [cid for cid, at in due.items() if at <= now]
            if ready:
                polled.update(dict.fromkeys(ready, now))
                await asyncio.gather(*(self._poll(cid) for cid in ready))
                continue
            self._woken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), min(due.values(), default=now + self.interval_s) - now)

    def _interval(self, connector: int) -> float:
        return self.idle_interval_s if connector in self._idle else self.interval_s

    async def read(self, connector: int) -> MeterReading | None:
        """A fresh reading now (for a session's start and stop values), shared with the poll."""
        return await self._poll(connector)

    async def _poll(self, connector: int) -> MeterReading | None:
        future = self._inflight.get(connector)
        if future is None or future.done():
            future = self._executor.submit(self.meters[connector].read)
            self._inflight[connector] = future
        reading: MeterReading | None = None
        try:
            reading = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.deadline_s)
            if self.failures[connector]:
                log.info("%s %s: meter answers again", self.label, connector)
            self.failures[connector] = 0
        except TimeoutError:
            self._failed(connector, f"no answer within {self.deadline_s:.1f} s")
        except HardwareError as exc:
            self._failed(connector, str(exc))
        for sink in self.sinks:
            sink(connector, reading)
        return reading

    def _failed(self, connector: int, why: str) -> None:
        self.failures[connector] += 1
        if self.failures[connector] == 1:
            log.warning("%s %s: meter read failed: %s", self.label, connector, why)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
