"""The real-time loop on the simulated board, on an injected clock: one pass at a time
(``RealtimeLoop.tick``) for the slow ticks while nothing is energized and the device-failure
log lines; on its own thread for what wakes a quiet loop and its health while it waits."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hwfakes import wait_until

from controller.faults import Fault
from controller.realtime import (
    ConnectorControl,
    ConnectorLimits,
    ConnectorSnapshot,
    Limit,
    LoopSettings,
    RealtimeLoop,
)
from hal.board import ConnectorHardware, ConnectorSlot
from hal.config import ConfigSection
from hal.errors import HardwareError
from hal.interfaces import Pilot
from hal.types import CpState, PilotCommand, PilotReading
from sim.board import build_board
from sim.world import World

SETTINGS = LoopSettings(period_s=0.005, idle_period_s=0.05, quiet_full_s=0.5)


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sensor:
    """A temperature sensor that counts its reads and fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.reads = 0
        self.failing = False

    def celsius(self) -> float:
        self.reads += 1
        if self.failing:
            raise HardwareError("no answer on the I2C bus")
        return 35.0

    def close(self) -> None:
        """Nothing to release."""


class PolledPilot:
    """The simulated pilot as a driver that cannot tell of changes (``watch`` says False)."""

    def __init__(self, pilot: Pilot) -> None:
        self._pilot = pilot

    def command(self, cmd: PilotCommand) -> None:
        self._pilot.command(cmd)

    def read(self) -> PilotReading:
        return self._pilot.read()

    def watch(self, changed: Callable[[], None]) -> bool:
        return False

    def close(self) -> None:
        self._pilot.close()


def loop_on_sim(
    settings: LoopSettings = SETTINGS,
    polled: bool = False,
    on_change: Callable[[ConnectorSnapshot], None] | None = None,
) -> tuple[RealtimeLoop, World, FakeClock, ConnectorHardware, Sensor]:
    clock = FakeClock()
    section = ConfigSection("t.toml", "board", {"ev_reaction_s": 0.0}, {})
    board = build_board(section, [ConnectorSlot(1, 3, 32.0, ConfigSection("t.toml", "connector[0]", {}, {}))], clock)
    assert isinstance(board.simulation, World)
    hw = board.connector(1)
    if polled:
        hw.pilot = PolledPilot(hw.pilot)
    sensor = Sensor()
    hw.temperature = sensor
    rt = RealtimeLoop(
        [(hw, ConnectorLimits(32.0))], settings, on_change, clock=clock, change=ConnectorSnapshot.observable
    )
    rt.set_control(1, ConnectorControl(True, Limit(32.0, 3, float("inf"))))
    return rt, board.simulation, clock, hw, sensor


def run(rt: RealtimeLoop, clock: FakeClock, seconds: float) -> list[float]:
    """Tick as the loop thread would for ``seconds`` (less than the 10 s meter timeout); the periods it asked for."""
    periods: list[float] = []
    end = clock.t + seconds
    while clock.t < end:
        periods.append(rt.tick(clock.t))
        clock.t += periods[-1]
    return periods


def test_with_nothing_energized_the_loop_waits_for_the_pilot_and_reads_all_inputs_twice_a_second() -> None:
    rt, _world, clock, _hw, sensor = loop_on_sim()
    periods = run(rt, clock, 2.0)
    assert rt.waits and set(periods) == {SETTINGS.quiet_full_s}  # at most that long: a change ends the wait
    assert sensor.reads == pytest.approx(2.0 / SETTINGS.quiet_full_s, abs=1)


def test_with_a_pilot_that_cannot_tell_the_loop_ticks_slowly_and_reads_all_inputs_twice_a_second() -> None:
    rt, _world, clock, _hw, sensor = loop_on_sim(polled=True)
    periods = run(rt, clock, 2.0)
    assert not rt.waits and set(periods) == {SETTINGS.idle_period_s}
    assert len(periods) == pytest.approx(2.0 / SETTINGS.idle_period_s, abs=1)
    assert sensor.reads == pytest.approx(2.0 / SETTINGS.quiet_full_s, abs=1)  # not at every tick


@pytest.mark.parametrize("polled", [False, True], ids=["pilot tells", "pilot polled"])
def test_a_new_control_is_applied_at_the_next_slow_tick(polled: bool) -> None:
    rt, _world, clock, _hw, sensor = loop_on_sim(polled=polled)
    run(rt, clock, 0.2)
    reads = sensor.reads
    rt.set_control(1, ConnectorControl(True, Limit(10.0, 3, float("inf"))))
    assert rt.tick(clock.t) == (SETTINGS.idle_period_s if polled else SETTINGS.quiet_full_s)  # a full tick now
    assert rt.snapshot(1).limit_a == 10.0 and sensor.reads == reads + 1  # type: ignore[union-attr]


def test_a_plug_in_is_seen_at_the_next_slow_tick_and_the_loop_speeds_up() -> None:
    rt, world, clock, _hw, sensor = loop_on_sim()
    run(rt, clock, 0.2)
    reads = sensor.reads
    world.plug_in(1, 32.0, 3, 60.0, 0.2)
    plugged_at = clock.t
    assert rt.tick(clock.t) == SETTINGS.period_s
    snapshot = rt.snapshot(1)
    assert snapshot is not None and snapshot.cp is CpState.B and snapshot.at == plugged_at
    assert sensor.reads == reads + 1  # the tick that saw the EV read every input
    periods = run(rt, clock, 1.0)
    assert set(periods) == {SETTINGS.period_s}  # charging: every input, every 5 ms
    assert rt.snapshot(1).contactor and sensor.reads == reads + 1 + len(periods)  # type: ignore[union-attr]


def test_a_fault_with_nothing_energized_is_seen_within_the_full_tick_interval() -> None:
    rt, world, clock, _hw, _sensor = loop_on_sim()
    run(rt, clock, 0.2)
    world.set_fault(1, "rcd", True)
    tripped_at = clock.t
    while Fault.RCD not in rt.snapshot(1).faults:  # type: ignore[union-attr]
        clock.t += rt.tick(clock.t)
    assert clock.t - tripped_at <= SETTINGS.quiet_full_s + SETTINGS.idle_period_s


def test_a_contactor_closed_after_the_ev_left_keeps_the_loop_fast() -> None:
    rt, world, clock, _hw, _sensor = loop_on_sim()
    world.plug_in(1, 32.0, 3, 60.0, 0.2)
    run(rt, clock, 0.5)
    assert rt.snapshot(1).contactor  # type: ignore[union-attr]
    world.set_fault(1, "contactor_weld", True)
    world.unplug(1)
    periods = run(rt, clock, 1.0)
    snapshot = rt.snapshot(1)
    assert snapshot is not None and snapshot.cp is CpState.A and snapshot.contactor_feedback is True
    assert set(periods) == {SETTINGS.period_s}  # the welded contacts are live: watched every 5 ms


def test_a_device_that_fails_again_after_working_is_logged_again(caplog: Any) -> None:
    rt, _world, clock, _hw, sensor = loop_on_sim()
    caplog.set_level(logging.INFO, logger="controller.realtime")

    def lines(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == level and "temperature" in r.getMessage()]

    sensor.failing = True
    run(rt, clock, 2.0)  # failing at every full tick: one line
    assert lines(logging.WARNING) == ["connector 1: temperature unreadable: no answer on the I2C bus"]
    assert Fault.OVERTEMP in rt.snapshot(1).faults  # type: ignore[union-attr]
    sensor.failing = False
    run(rt, clock, 1.0)
    assert lines(logging.INFO) == ["connector 1: temperature works again"]
    sensor.failing = True
    run(rt, clock, 1.0)
    assert len(lines(logging.WARNING)) == 2


# -- on the loop's own thread, the injected clock standing still ---------------------------------
# With quiet_full_s an hour, a quiet loop ticks again within a test's lifetime only when woken.
HOUR = LoopSettings(period_s=0.005, idle_period_s=0.05, quiet_full_s=3600.0)


def started(polled: bool = False) -> tuple[RealtimeLoop, World, FakeClock, queue.Queue[ConnectorSnapshot]]:
    seen: queue.Queue[ConnectorSnapshot] = queue.Queue()
    rt, world, clock, _hw, _sensor = loop_on_sim(HOUR, polled, seen.put)
    rt.start()
    assert seen.get(timeout=5).cp is CpState.A
    return rt, world, clock, seen


def test_a_plug_in_wakes_the_quiet_loop() -> None:
    rt, world, _clock, seen = started()
    try:
        world.plug_in(1, 32.0, 3, 60.0, 0.2)
        assert seen.get(timeout=5).cp is CpState.B
    finally:
        rt.stop()


def test_a_new_control_wakes_the_quiet_loop() -> None:
    rt, _world, _clock, seen = started()
    try:
        rt.set_control(1, ConnectorControl(True, Limit(10.0, 3, float("inf"))))
        assert seen.get(timeout=5).limit_a == 10.0
    finally:
        rt.stop()


def test_a_quiet_loop_is_healthy_until_its_next_tick_is_late_and_stops_at_once() -> None:
    rt, _world, clock, _seen = started()
    clock.t += 10.0  # past the 0.5 s a fast loop may be late, well before the quiet wait ends
    wait_until(rt.healthy)  # once the thread has begun to wait
    clock.t += HOUR.quiet_full_s
    assert not rt.healthy()
    stopped = threading.Event()
    threading.Thread(target=lambda: (rt.stop(timeout=60), stopped.set()), daemon=True).start()
    assert stopped.wait(timeout=5), "stop() waited for the quiet wait to end"
