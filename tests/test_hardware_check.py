"""`evsed check --hardware` on the example GPIO box, against the fakes and an emulated meter."""

from __future__ import annotations

import io
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from hwfakes import FakeAds1115Bus, FakeGpiod, FakePwmSysfs

from drivers.hardware_check import hardware_check_main
from hal.board import ConnectorSlot, build_board
from hal.config import ConfigSection
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

EXAMPLE = Path(__file__).parent.parent / "systemd" / "examples" / "pi-sdm630-ads1115.toml"


@pytest.fixture
def box(tmp_path, monkeypatch):
    gpiod = FakeGpiod()
    pwm = FakePwmSysfs(tmp_path / "pwm")

    def peak_hold(channel: int) -> float:
        duty = int(pwm.file(0, 0, "duty_cycle") or 1)  # empty: a write caught mid-way
        line = {0: 12.0 if duty else -12.0, 1: -12.0 if duty < 1_000_000 else 12.0}.get(channel)
        return 3.3 * 680 / 1680 if line is None else line / 8 + 1.65

    i2c = FakeAds1115Bus(source=peak_hold)
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "smbus2", SimpleNamespace(SMBus=lambda n: i2c))
    meter = EmulatedMeter("sdm630", values=MeterValues(energy_import_wh=1234.0))
    with EmulatedBus([meter]) as bus:
        table = tomllib.loads(EXAMPLE.read_text())
        table["board"]["pwm_sysfs"] = str(pwm.root)
        c = table["connector"][0]
        c["meter"] = {"model": "sdm630", **bus.keys}
        section = ConfigSection("box.toml", "connector[0]", c, {})
        board = build_board(ConfigSection("box.toml", "board", table["board"], {}), [ConnectorSlot(1, 3, 32, section)])
        yield SimpleNamespace(board=board, gpiod=gpiod, pwm=pwm)
        board.close()
    pwm.close()


def test_a_well_wired_box_passes(box):
    box.gpiod.wiring[17] = lambda wire: box.gpiod.drive(27, wire)  # mirror contact follows the coil
    box.gpiod.drive(27, box.gpiod.wire(17))
    box.gpiod.wiring[23] = lambda wire: box.gpiod.drive(22, wire)  # RCM trips while tested
    out = io.StringIO()
    assert hardware_check_main(box.board, out) == 0, out.getvalue()
    text = out.getvalue()
    for what in ("X1", "PWM 1 kHz", "state F", "relay click", "RCD self-test", "cable rated 20 A", "1.234 kWh"):
        assert what in text
    assert "FAIL" not in text and text.strip().endswith("all checks passed")


def test_a_miswired_box_fails_and_is_left_safe(box):
    # No mirror contact wired back (the pull-up holds the line high: open), the RCM never trips.
    box.gpiod.drive(27, True)
    out = io.StringIO()
    assert hardware_check_main(box.board, out) == 1
    text = out.getvalue()
    assert "FAIL  connector 1: relay click with feedback: feedback did not report closed" in text
    assert "FAIL  connector 1: RCD self-test: did not trip" in text
    assert "2 check(s) failed" in text
    assert box.gpiod.wire(17) is True  # active-low coil: off
    assert box.pwm.file(0, 0, "duty_cycle") == "1000000"  # X1


def test_feedback_that_reads_closed_with_the_coil_off_fails(box):
    box.gpiod.drive(27, False)  # active-low mirror contact stuck low: looks closed
    out = io.StringIO()
    assert hardware_check_main(box.board, out) == 1
    assert "feedback reports closed while the coil is off" in out.getvalue()
