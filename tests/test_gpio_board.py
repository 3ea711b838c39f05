"""The example GPIO wallbox config, built through hal.board.build_board against the fakes."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from hwfakes import FakeAds1115Bus, FakeGpiod, FakePwmSysfs, wait_until

from hal.board import ConnectorSlot, build_board
from hal.config import ConfigError, ConfigSection
from hal.types import CpState, DisplaySize, PilotCommand

EXAMPLE = Path(__file__).parent.parent / "systemd" / "examples" / "pi-sdm630-ads1115.toml"


def sections(table: dict) -> tuple[ConfigSection, list[ConnectorSlot], list[ConfigSection]]:
    """What the lead's loader does: the top-level connector keys, then a slot per connector."""
    board = ConfigSection("box.toml", "board", table["board"], {})
    root = ConfigSection("box.toml", "root", {"connector": table["connector"]}, {})
    connectors = root.sections("connector")
    slots = [ConnectorSlot(s.get_int("id"), s.get_int("phases"), s.get_float("max_current_a"), s) for s in connectors]
    return board, slots, connectors


@pytest.fixture
def hardware(tmp_path, monkeypatch):
    gpiod = FakeGpiod()
    i2c = FakeAds1115Bus(address=0x48, volts={0: 12 / 8 + 1.65, 1: -12 / 8 + 1.65, 2: 3.3 * 680 / 1680, 3: 0.0})
    buses: list[int] = []
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "smbus2", SimpleNamespace(SMBus=lambda n: buses.append(n) or i2c))
    pwm = FakePwmSysfs(tmp_path / "pwm")
    yield SimpleNamespace(gpiod=gpiod, i2c=i2c, pwm=pwm, buses=buses)
    pwm.close()


def example(pwm: FakePwmSysfs) -> dict:
    table = tomllib.loads(EXAMPLE.read_text())
    table["board"]["pwm_sysfs"] = str(pwm.root)
    return table


def test_example_builds_every_device_and_closes_safe(hardware):
    board_section, slots, connectors = sections(example(hardware.pwm))
    board = build_board(board_section, slots)
    try:
        board_section.check_unused()
        for c in connectors:
            c.check_unused()
        hw = board.connector(1)
        assert hardware.buses == [1, 1]  # the ADC chip (shared by pilot and PP), then the LCD's backpack
        assert board.display is not None and board.display.size() == DisplaySize(20, 4)
        before = len(hardware.i2c.backpacks[0x27])
        board.display.show(["evsed"])
        # DDRAM address 0 (command 0x80), then "e" (0x65) as data (RS set), backlight on, E pulsed
        assert hardware.i2c.backpacks[0x27][before : before + 8] == [0x8C, 0x88, 0x0C, 0x08, 0x6D, 0x69, 0x5D, 0x59]
        assert hardware.gpiod.wire(17) is True  # active-low coil held off
        hw.contactor.set_closed(True)
        assert hardware.gpiod.wire(17) is False
        wait_until(lambda: hw.pilot.read().state is CpState.A)
        wait_until(lambda: hw.cable is not None and hw.cable.ampacity_a() == 20)
        assert hw.rcd is not None and hw.lock is not None and hw.indicator is not None
        assert hardware.pwm.file(0, 0, "enable") == "1"
    finally:
        board.close()
    assert hardware.gpiod.wire(17) is True  # contactor open
    assert hardware.pwm.file(0, 0, "duty_cycle") == "1000000"  # X1
    assert not hardware.gpiod.claimed and hardware.i2c.closed


def test_same_chip_with_different_settings_is_an_error_and_nothing_stays_claimed(hardware):
    table = example(hardware.pwm)
    table["connector"][0]["cable"]["range_v"] = 6.144
    board_section, slots, _ = sections(table)
    with pytest.raises(ConfigError, match="configured twice"):
        build_board(board_section, slots)
    assert not hardware.gpiod.claimed


def test_missing_gpio_library_names_the_package(hardware, monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiod", None)
    board_section, slots, _ = sections(example(hardware.pwm))
    with pytest.raises(ConfigError, match=r"'gpiod'.*not installed"):
        build_board(board_section, slots)


def test_missing_pilot_table_is_named(hardware):
    table = example(hardware.pwm)
    del table["connector"][0]["pilot"]
    board_section, slots, _ = sections(table)
    with pytest.raises(ConfigError, match=r"connector\[0\]\.pilot\] is required"):
        build_board(board_section, slots)


def test_tcp_meter_example_with_rpi_gpio_and_mcp3202(tmp_path, monkeypatch):
    from hwfakes import CpCircuit, FakeRpiGpio, FakeSpiDev

    gpio, spi = FakeRpiGpio(), FakeSpiDev("mcp3202")
    monkeypatch.setitem(sys.modules, "RPi", SimpleNamespace(GPIO=gpio))
    monkeypatch.setitem(sys.modules, "RPi.GPIO", gpio)
    monkeypatch.setitem(sys.modules, "spidev", SimpleNamespace(SpiDev=lambda: spi))
    pwm = FakePwmSysfs(tmp_path / "pwm")
    table = tomllib.loads((EXAMPLE.parent / "modbus-tcp-meter.toml").read_text())
    table["board"]["pwm_sysfs"] = str(pwm.root)
    circuit = CpCircuit(pwm, ev_v=9.0)
    spi.source = circuit.adc_v
    board_section, slots, connectors = sections(table)
    board = build_board(board_section, slots)
    try:
        board_section.check_unused()
        connectors[0].check_unused()
        hw = board.connector(1)
        hw.pilot.command(PilotCommand.pwm(25.0))
        wait_until(lambda: hw.pilot.read().negative_v is not None)
        assert hw.pilot.read().state is CpState.B and spi.opened == (0, 0)
        hw.contactor.set_closed(True)
        assert gpio.levels[17] == gpio.HIGH
    finally:
        board.close()
        pwm.close()
    assert gpio.levels[17] == gpio.LOW and 17 in gpio.cleaned
