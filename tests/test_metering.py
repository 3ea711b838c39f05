"""Meter polling: an idle connector's meter is read seldom, and at once again when the
connector leaves idle (the simulated meter, through the HAL's Meter interface)."""

import asyncio
import itertools
import time

import pytest
from conftest import eventually

from controller.metering import MeterPoller, idle_interval
from hal.types import MeterReading
from sim.board import SimMeter
from sim.world import World


class TimedMeter:
    """The simulated meter, noting when each read came."""

    def __init__(self) -> None:
        self.meter = SimMeter(World({1: 3}), 1)
        self.reads: list[float] = []

    def read(self) -> MeterReading:
        self.reads.append(time.monotonic())
        return self.meter.read()

    def close(self) -> None:
        self.meter.close()


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


async def polling(poller: MeterPoller):
    task = asyncio.create_task(poller.run())
    try:
        yield
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        poller.close()


async def test_an_idle_connector_is_read_at_the_idle_interval() -> None:
    meter = TimedMeter()
    readings: list[MeterReading | None] = []
    poller = MeterPoller({1: meter}, [lambda _cid, r: readings.append(r)], 0.05, idle_interval_s=0.4)
    poller.set_idle(1, True)
    async for _ in polling(poller):
        await eventually(lambda: len(meter.reads) >= 4, what="four idle reads")
    assert min(gaps(meter.reads)) >= 0.4 - 0.01, gaps(meter.reads)  # never sooner than the idle interval
    assert len(readings) >= 4 and all(r is not None and r.serial_number == "SIM-1" for r in readings)


async def test_a_connector_leaving_idle_is_read_at_once_then_at_the_interval() -> None:
    meter = TimedMeter()
    poller = MeterPoller({1: meter}, [], 0.05, idle_interval_s=600.0)
    poller.set_idle(1, True)
    async for _ in polling(poller):
        await eventually(lambda: meter.reads, what="the first read")
        await asyncio.sleep(0.2)  # the poller now waits for the idle interval: ten minutes
        assert len(meter.reads) == 1
        left_idle = time.monotonic()
        poller.set_idle(1, False)
        await eventually(lambda: len(meter.reads) >= 6, what="reads at the interval after leaving idle")
    assert meter.reads[1] - left_idle < 60, "the first read after leaving idle waited for the idle interval"
    assert min(gaps(meter.reads[1:])) >= 0.05 - 0.01


@pytest.mark.parametrize(
    ("interval", "deadline", "timeout", "idle"),
    [
        (1.0, 2.0, 10.0, 4.0),  # the defaults: two reads that took their whole deadline fit in the timeout
        (1.0, 2.0, 60.0, 5.0),  # never more than IDLE_INTERVAL_S
        (1.0, 2.0, 4.0, 1.0),  # never less than the interval itself
        (10.0, 10.0, 10.0, 10.0),
    ],
)
def test_idle_interval(interval: float, deadline: float, timeout: float, idle: float) -> None:
    assert idle_interval(interval, deadline, timeout) == idle
