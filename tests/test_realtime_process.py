"""The real-time process (controller/safety): the board and the loop in a process of their own.

Device calls and errors cross the socket unchanged; a configuration error comes back raised and
leaves no process behind; when the daemon is killed (kill -9) or stops feeding the process
(SIGSTOP), the process switches an EVSE-DIN board off by itself, observed on the emulated board
over Modbus TCP."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import eventually, wait_until

from controller.config import parse
from controller.realtime import ConnectorControl, ConnectorLimits, ConnectorSnapshot, Limit, LoopSettings
from controller.safety.process import child_interpreter, open_board, renewal_due
from hal.config import ConfigError
from hal.errors import HardwareError, MeterError
from hal.types import CpState
from sim.evse_din_emulator import EmulatedEvseDin
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

SIM = """
[board]
type = "sim"
ev_reaction_s = 0.01
[[connector]]
id = 1
max_current_a = 32
"""


def children() -> set[int]:
    """The processes this test process started and that are still there."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        found.update(int(pid) for pid in (task / "children").read_text().split())
    return found


def test_device_calls_and_their_errors_cross_to_the_process() -> None:
    board = open_board(parse(SIM, "sim.toml"))
    try:
        hw, sim = board.connector(1), board.simulation
        assert board.kind == "sim" and board.child.pid in children()
        assert hw.pilot.read().state is CpState.A
        sim.plug_in(1, 16.0, 3, 60.0, 0.2)
        assert hw.pilot.read().state is CpState.B and sim.snapshot(1)["plugged"] is True
        with pytest.raises(ValueError, match="already plugged in"):
            sim.plug_in(1, 16.0, 3, 60.0, 0.2)
        sim.set_fault(1, "meter_offline", True)
        with pytest.raises(MeterError, match="does not answer"):
            hw.meter.read()
        with pytest.raises(AttributeError):
            hw.meter._world  # noqa: B018  (only device methods cross)
    finally:
        board.close()
    assert board.child.process.returncode == 0 and board.child.pid not in children()


def test_the_process_on_a_simulated_board_does_not_load_typing() -> None:
    """Started as open_board starts it (``-S``, the daemon's path): typing would cost it 0.6 MB."""
    code = "import sys, controller.safety.child, sim.board\nprint([m for m in sys.modules if m.startswith('typing')])"
    interpreter, env = child_interpreter()
    loaded = subprocess.run([*interpreter, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_misspelled_board_key_is_reported_here_and_no_process_is_left() -> None:
    before = children()
    with pytest.raises(ConfigError, match=r"\[board\] ev_reaction = .*unknown key"):
        open_board(parse(SIM.replace("ev_reaction_s", "ev_reaction"), "sim.toml"))
    assert children() == before


async def test_the_loop_runs_there_reports_snapshots_and_its_logs_reach_ours(caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    board = open_board(parse(SIM, "sim.toml"))
    seen: list[ConnectorSnapshot] = []
    loop = asyncio.get_running_loop()
    rt = board.realtime(
        [(1, ConnectorLimits(32.0))], LoopSettings(), lambda s: loop.call_soon_threadsafe(seen.append, s)
    )
    try:
        rt.set_control(1, ConnectorControl(True, Limit(32.0, 3, float("inf"))))
        rt.start()
        assert rt.healthy()
        await eventually(lambda: seen, what="the first snapshot")
        board.simulation.plug_in(1, 32.0, 3, 60.0, 0.2)
        await eventually(lambda: rt.snapshot(1).contactor_feedback, what="contacts closed")  # type: ignore[union-attr]
        # Only material changes reach the station, each once, in order.
        cps = [s.cp for s in seen]
        assert cps[0] is CpState.A and CpState.B in cps and cps[-1] is CpState.C
        assert len(seen) == len({s.material() for s in seen})
        await eventually(
            lambda: any(r.name == "sim.world" and "EV plugged in" in r.getMessage() for r in caplog.records),
            what="the process's log line",
        )

        os.kill(board.child.pid, signal.SIGKILL)
        await eventually(lambda: not rt.healthy(), what="unhealthy")
        with pytest.raises(HardwareError, match="real-time process has ended"):
            board.connector(1).meter.read()
        assert any("real-time process ended" in r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL)
    finally:
        rt.stop()
        board.close()


async def test_the_process_is_fed_by_the_controls_set_and_else_by_a_timer() -> None:
    """Its watchdog (1 s here) hears the daemon's loop whether or not the station sets controls."""
    board = open_board(parse(SIM, "sim.toml"))
    rt = board.realtime([(1, ConnectorLimits(32.0))], LoopSettings(), feed_timeout_s=1.0)
    control = ConnectorControl(True, Limit(32.0, 3, float("inf")))  # renewals of it never cross
    try:
        rt.set_control(1, control)
        rt.start()
        await asyncio.sleep(2.5)  # a window of time with no control set, not a synchronisation
        assert board.child.alive and rt.healthy(), "the feed timer did not keep the process fed"
        for _ in range(25):  # the station's cadence, faster: each call pushes the timer back
            rt.set_control(1, control)
            await asyncio.sleep(0.1)
        assert board.child.alive and rt.healthy(), "the controls set did not keep the process fed"
    finally:
        rt.stop()
        board.close()


# ---- the watchdog of the process, seen on an EVSE-DIN board over Modbus TCP ------------------------


EVSE_DIN = """
[board]
type = "evse-din"
[[connector]]
id = 1
phases = 1
max_current_a = 16
[connector.evse]
host = "127.0.0.1"
port = {port}
unit = 1
poll_interval_s = 0.02
[connector.meter]
model = "sdm120"
host = "127.0.0.1"
port = {port}
unit = 2
[charging]
authorize = "any"
[loop]
feed_timeout_s = 3
"""


def charging_on_a_din_board(evsed_process: Any, din: EmulatedEvseDin, bus: EmulatedBus) -> Any:
    daemon = evsed_process(EVSE_DIN.format(port=bus.port))
    wait_until(lambda: din.control & 1 == 1, 10, "the board switched off at start")
    din.vehicle = 2  # B: free vend starts a session and offers 16 A
    wait_until(lambda: din.amps == 16 and din.control == 0, 10, "PWM on")
    din.vehicle = 3  # C: the EV asks for power
    wait_until(lambda: din.relay, 10, "charging")
    [child] = [int(p) for p in Path(f"/proc/{daemon.proc.pid}/task/{daemon.proc.pid}/children").read_text().split()]
    return daemon, child


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # ended, not yet reaped
    except FileNotFoundError:
        return True


def test_the_process_switches_the_board_off_when_the_daemon_is_killed(evsed_process: Any) -> None:
    din = EmulatedEvseDin(unit=1, vehicle=1)
    meter = EmulatedMeter("sdm120", unit=2, values=MeterValues(voltage_v=(230.0,), current_a=(0.0,)))
    with EmulatedBus([din, meter]) as bus:
        daemon, child = charging_on_a_din_board(evsed_process, din, bus)
        daemon.proc.kill()
        wait_until(lambda: din.control & 1 == 1 and not din.relay, 5, "the board switched off")
        wait_until(lambda: gone(child), 5, "the real-time process ended")


def test_the_process_switches_the_board_off_when_the_daemon_stops_feeding_it(evsed_process: Any) -> None:
    din = EmulatedEvseDin(unit=1, vehicle=1)
    meter = EmulatedMeter("sdm120", unit=2, values=MeterValues(voltage_v=(230.0,), current_a=(0.0,)))
    with EmulatedBus([din, meter]) as bus:
        daemon, child = charging_on_a_din_board(evsed_process, din, bus)
        daemon.proc.send_signal(signal.SIGSTOP)  # alive, holding its socket, silent
        try:
            wait_until(lambda: din.control & 1 == 1 and not din.relay, 10, "the board switched off")
            wait_until(lambda: gone(child), 5, "the real-time process ended")
        finally:
            daemon.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: daemon.api("GET", "/api/status")[1]["realtime_healthy"] is False, 10, "reported")
        assert "no word from the daemon for 3.0 s" in daemon.log()


ALLOWED = ConnectorControl(charge_allowed=True, limit=Limit(16.0, 3, 105.0))


@pytest.mark.parametrize(
    ("sent", "control", "due"),
    [
        (None, ALLOWED, True),  # the loop has nothing yet
        (ALLOWED, ALLOWED, False),  # the same again
        # Renewals (only valid_until later): at 100 s the loop's one lasts 5 s more.
        (ALLOWED, ConnectorControl(True, Limit(16.0, 3, 106.0)), False),  # 5 s left of the new 6 s
        (ALLOWED, ConnectorControl(True, Limit(16.0, 3, 111.0)), True),  # 5 s left of the new 11 s
        (ALLOWED, ConnectorControl(True, Limit(16.0, 3, 104.0)), True),  # shortened: at once
        # Anything else: at once.
        (ALLOWED, ConnectorControl(True, Limit(15.0, 3, 106.0)), True),
        (ALLOWED, ConnectorControl(True, Limit(16.0, 1, 106.0)), True),
        (ALLOWED, ConnectorControl(False, Limit(16.0, 3, 106.0)), True),
        (ALLOWED, ConnectorControl(True, Limit(16.0, 3, 106.0), hold_lock=True), True),
        (ALLOWED, ConnectorControl(True, Limit(16.0, 3, 106.0), lock_attempt=1), True),
    ],
)
def test_a_renewed_control_goes_to_the_loop_at_half_its_lifetime_any_change_at_once(
    sent: ConnectorControl | None, control: ConnectorControl, due: bool
) -> None:
    assert renewal_due(sent, control, now=100.0) is due
