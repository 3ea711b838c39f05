"""``evsed check`` is read-only: it validates every key of the board examples off the device,
opening no GPIO line, I2C bus, PWM channel or serial port; only ``--hardware`` touches the
hardware (an EVSE-DIN board emulated on an RS-485 null modem, driven by real processes)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO, run_cli
from hwfakes import FakeGpiod, FakePwmSysfs

from controller.cli import main
from sim.evse_din_emulator import EmulatedEvseDin
from sim.meter_emulator import EmulatedBus, EmulatedMeter

EXAMPLES = REPO / "systemd" / "examples"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_plain_check_passes_every_example_off_the_device(example: str) -> None:
    # This machine has no GPIO chip, no /sys/class/pwm/pwmchip0, no I2C bus 1, no /dev/ttyUSB0 and no gpiod.
    result = run_cli("check", "--config", str(EXAMPLES / example), timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].endswith("connector(s); hardware not opened)")
    assert "[board]" in result.stdout and result.stderr == ""


@pytest.fixture
def gpio_box(tmp_path, monkeypatch):
    """The libraries of a Pi, recording what is opened; the example config pointed at them."""
    gpiod = FakeGpiod()
    opened: list[str] = []
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "smbus2", SimpleNamespace(SMBus=lambda n: opened.append(f"i2c-{n}")))
    pwm = FakePwmSysfs(tmp_path / "pwm")
    text = (EXAMPLES / "pi-sdm630-ads1115.toml").read_text()
    text = text.replace("adc_interval_s = 0.005", f'adc_interval_s = 0.005\npwm_sysfs = "{pwm.root}"')
    text += f'\n[storage]\nstate_dir = "{tmp_path / "state"}"\n'
    yield SimpleNamespace(gpiod=gpiod, opened=opened, pwm=pwm, text=text, path=tmp_path / "box.toml")
    pwm.close()


def test_plain_check_opens_no_gpio_line_adc_or_pwm_channel(gpio_box, capsys) -> None:
    gpio_box.path.write_text(gpio_box.text)
    assert main(["check", "--config", str(gpio_box.path)]) == 0, capsys.readouterr().err
    assert gpio_box.gpiod.claimed == set() and gpio_box.gpiod.history == []
    assert gpio_box.opened == []
    assert (gpio_box.pwm.root / "pwmchip0" / "export").read_text() == ""
    assert not (gpio_box.pwm.root / "pwmchip0" / "pwm0").exists()
    assert not (gpio_box.path.parent / "state").exists()  # nothing written anywhere


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("pwm_channel = 0 ", "pwm_chanel = 0 "), "pwm_chanel"),  # a misspelt key in a builder's table
        (("blue_pin = 26", "blue_pin = 17"), "GPIO line 17 on /dev/gpiochip0 is used twice"),
        (("channel = 2 ", "channel = 7 "), "channel = 7"),  # the ADS1115 has 4 channels
        (("range_v = 4.096                # PGA", "range_v = 2.048  # PGA"), "ADC ads1115 on bus 1 at 0x48"),
    ],
)
def test_plain_check_finds_what_a_start_would_find(gpio_box, capsys, change, error) -> None:
    gpio_box.path.write_text(gpio_box.text.replace(*change, 1))
    assert main(["check", "--config", str(gpio_box.path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evsed: ") and error in err and len(err.splitlines()) == 1, err
    assert gpio_box.gpiod.claimed == set() and gpio_box.opened == []


def test_plain_check_leaves_an_evse_din_board_alone_and_check_hardware_drives_it(tmp_path: Path) -> None:
    din = EmulatedEvseDin(unit=1, vehicle=3, amps=16)  # an EV charging at 16 A under another controller
    with EmulatedBus([din, EmulatedMeter("sdm120", unit=2)], "rtu") as bus:
        text = (EXAMPLES / "pi-evse-din-sdm120.toml").read_text().replace("/dev/ttyUSB0", bus.keys["serial"])
        config = tmp_path / "evse-din.toml"
        config.write_text(text + f'\n[storage]\nstate_dir = "{tmp_path / "state"}"\n')

        result = run_cli("check", "--config", str(config), timeout=30)
        assert result.returncode == 0, result.stderr
        assert din.writes == [] and (din.amps, din.control, din.relay) == (16, 0, True)

        # The control: the same setup sees the board being driven when --hardware asks for it.
        hardware = run_cli("check", "--hardware", "--config", str(config), timeout=60)
        assert "connector 1" in hardware.stdout, hardware.stdout + hardware.stderr
        assert din.writes != []
