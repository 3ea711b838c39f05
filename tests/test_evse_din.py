"""EVSE-DIN board driver against the pymodbus emulator, on loopback TCP and an emulated RS-485 line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hwfakes import wait_until

from drivers.evse_din import Setpoint, board_setpoint, duty_to_amps
from drivers.modbus_bus import BusPool, ExceptionReply
from hal.board import ConnectorSlot, build_board
from hal.config import ConfigSection
from hal.types import CpState, PilotCommand, PilotMode
from sim.evse_din_emulator import EmulatedEvseDin
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

EXAMPLE = Path(__file__).parent.parent / "systemd" / "examples" / "pi-evse-din-sdm120.toml"


@pytest.mark.parametrize(
    ("duty", "amps"), [(10.0, 6), (16.0, 9), (53.3, 32), (100 * 32 / 60, 32), (90.0, 65), (5.0, 3)]
)
def test_duty_to_amps(duty, amps):
    assert duty_to_amps(duty) == amps


@pytest.mark.parametrize(
    ("cmd", "closed", "vehicle", "want"),
    [
        (PilotCommand.x1(), False, CpState.B, Setpoint(0, True)),
        (PilotCommand.state_f(), True, CpState.C, Setpoint(0, True)),
        (PilotCommand.pwm(5.0), False, CpState.B, Setpoint(0, True)),  # digital communication: not this board
        (PilotCommand.pwm(16.0), False, CpState.B, Setpoint(9, False)),
        (PilotCommand.pwm(16.0), False, CpState.C, Setpoint(9, True)),  # EV asks, we have not closed: veto
        (PilotCommand.pwm(16.0), True, CpState.C, Setpoint(9, False)),
        (PilotCommand.pwm(96.0), True, CpState.D, Setpoint(80, False)),
        (PilotCommand(PilotMode.X2, 26.7), False, None, Setpoint(16, False)),
    ],
)
def test_board_setpoint(cmd, closed, vehicle, want):
    assert board_setpoint(cmd, closed, vehicle) == want


def slot(table: dict, phases: int = 1) -> tuple[ConfigSection, ConnectorSlot]:
    s = ConfigSection("box.toml", "connector[0]", table, {})
    return s, ConnectorSlot(1, phases, 16.0, s)


def board_over(bus: EmulatedBus, **evse_keys):
    evse = {**bus.keys, "unit": 1, "poll_interval_s": 0.02, "max_age_s": 0.5, **evse_keys}
    s, connector = slot({"evse": evse, "meter": {**bus.keys, "model": "sdm120", "unit": 2}})
    board_section = ConfigSection("box.toml", "board", {"type": "evse-din"}, {})
    board = build_board(board_section, [connector])
    board_section.check_unused()
    s.check_unused()
    return board


def test_commands_reach_the_board_and_its_state_comes_back():
    din = EmulatedEvseDin(unit=1, vehicle=1)
    meter = EmulatedMeter("sdm120", unit=2, values=MeterValues(voltage_v=(230.0,), current_a=(0.0,)))
    with EmulatedBus([din, meter]) as bus:
        board = board_over(bus)
        hw = board.connector(1)
        try:
            wait_until(lambda: din.control == 1)  # X1 at start: switched off
            wait_until(lambda: hw.pilot.read().state is CpState.A)
            assert hw.pilot.read().negative_v is None
            din.vehicle = 2
            hw.pilot.command(PilotCommand.pwm(100 * 16 / 60))
            wait_until(lambda: din.amps == 16 and din.control == 0)
            wait_until(lambda: hw.pilot.read().state is CpState.B)
            assert hw.pilot.read().negative_v == -12.0
            din.vehicle = 3  # EV asks for power before we closed: the board's relay is vetoed within a poll
            wait_until(lambda: din.control == 1)
            wait_until(lambda: hw.contactor.feedback() is False and not din.relay)
            hw.contactor.set_closed(True)
            wait_until(lambda: din.relay and hw.contactor.feedback() is True)
            hw.contactor.set_closed(False)  # e.g. over-current: open now
            wait_until(lambda: not din.relay)
            din.diode_fail, din.vehicle = True, 2
            wait_until(lambda: hw.pilot.read().negative_v == 9.0)
            assert hw.meter.read().voltage_v == (230.0,)  # the meter shares the line
        finally:
            board.close()
        assert din.control == 1  # left switched off


def test_a_silent_board_reads_as_state_e_and_recovers():
    din = EmulatedEvseDin(unit=1, vehicle=2)
    with EmulatedBus([din, EmulatedMeter("sdm120", unit=2)]) as bus:
        board = board_over(bus, max_age_s=0.1, timeout_s=0.05, retries=0)
        pilot = board.connector(1).pilot
        try:
            wait_until(lambda: pilot.read().state is CpState.B)
            din.mode = "silent"
            wait_until(lambda: pilot.read().state is CpState.E)
            din.mode = "ok"
            wait_until(lambda: pilot.read().state is CpState.B)
        finally:
            board.close()


def test_the_pilot_watcher_hears_of_each_new_vehicle_state_once_read_returns_it():
    din = EmulatedEvseDin(unit=1, vehicle=1)
    with EmulatedBus([din, EmulatedMeter("sdm120", unit=2)]) as bus:
        board = board_over(bus)
        pilot = board.connector(1).pilot
        told: list[CpState] = []
        try:
            wait_until(lambda: pilot.read().state is CpState.A)
            assert pilot.watch(lambda: told.append(pilot.read().state)) is True
            din.vehicle = 2
            wait_until(lambda: len(told) == 1)
            din.vehicle = 3
            wait_until(lambda: len(told) == 2)
            for _ in range(2):  # two more polls of the same state: nothing new to tell
                polled = pilot.read().at
                wait_until(lambda polled=polled: pilot.read().at > polled)
            assert told == [CpState.B, CpState.C]
        finally:
            board.close()


def test_emulator_refuses_what_the_board_refuses():
    din = EmulatedEvseDin(unit=1)
    with EmulatedBus([din]) as bus:
        pool = BusPool()
        device = pool.device(ConfigSection("t", "evse", {**bus.keys, "unit": 1}, {}))
        try:
            with pytest.raises(ExceptionReply):
                device.write_registers(1002, [3])  # vehicle state is read-only
            with pytest.raises(ExceptionReply):
                device.write_registers(1000, [4])  # below 6 A
            assert din.writes == [] and din.amps == 16
            device.write_registers(1000, [10])
            assert device.read_holding_registers(1000, 2) == [10, 10]
        finally:
            pool.close()


def test_example_config_builds_over_an_rs485_line():
    table = tomllib.loads(EXAMPLE.read_text())
    din = EmulatedEvseDin(unit=1, vehicle=2)
    with EmulatedBus([din, EmulatedMeter("sdm120", unit=2)], "rtu") as bus:
        connector = table["connector"][0]
        for part in ("evse", "meter"):
            connector[part].update(bus.keys)
        s, c = slot(connector)
        for key in ("id", "phases", "max_current_a"):
            s.get_float(key)  # the lead's loader reads these
        board_section = ConfigSection("box.toml", "board", table["board"], {})
        board = build_board(board_section, [c])
        try:
            board_section.check_unused()
            s.check_unused()
            wait_until(lambda: board.connector(1).pilot.read().state is CpState.B, timeout=5)
        finally:
            board.close()
