"""GPIO devices over both backends, against stand-ins of gpiod v2 and RPi.GPIO."""

from __future__ import annotations

import pytest
from hwfakes import FakeGpiod, FakeRpiGpio

from drivers.gpio import Debouncer, InputPin, OutputPin, open_backend
from hal.config import ConfigError


def test_gpiod_output_claimed_inactive_and_active_low_inverts_the_wire():
    gpiod = FakeGpiod()
    backend = open_backend("gpiod", "/dev/gpiochip0", module=gpiod)
    relay = OutputPin(backend, 17, active_low=True)
    assert gpiod.history == [(17, True)]  # claimed at the inactive (high) wire level
    relay.set(True)
    assert gpiod.wire(17) is False
    relay.set(False)
    assert gpiod.wire(17) is True
    relay.set(True)
    relay.close()
    assert gpiod.wire(17) is True  # left off
    assert ("/dev/gpiochip0", 17) not in gpiod.claimed


def test_gpiod_input_bias_active_low_and_double_claim():
    gpiod = FakeGpiod()
    backend = open_backend("gpiod", "/dev/gpiochip0", module=gpiod)
    button = InputPin(backend, 22, active_low=True, bias="pull-up")
    assert gpiod.settings[("/dev/gpiochip0", 22)].bias is gpiod.line.Bias.PULL_UP
    gpiod.drive(22, True)
    assert button.is_on() is False
    gpiod.drive(22, False)
    assert button.is_on() is True
    with pytest.raises(ConfigError, match="line 22"):
        OutputPin(backend, 22)
    backend.close()
    assert not gpiod.claimed


def test_gpiod_wrong_chip_is_a_config_error():
    backend = open_backend("gpiod", "/dev/gpiochip9", module=FakeGpiod())
    with pytest.raises(ConfigError, match="gpiochip9"):
        OutputPin(backend, 4)


def test_rpi_backend_bcm_pins_and_cleanup():
    gpio = FakeRpiGpio()
    backend = open_backend("rpi", module=gpio)
    out = OutputPin(backend, 5)
    assert gpio.mode == gpio.BCM and gpio.levels[5] == gpio.LOW and gpio.directions[5] == gpio.OUT
    out.set(True)
    assert gpio.levels[5] == gpio.HIGH
    inp = InputPin(backend, 6, bias="pull-down")
    assert gpio.pulls[6] == gpio.PUD_DOWN
    gpio.levels[6] = 1
    assert inp.is_on() is True
    backend.close()
    assert sorted(gpio.cleaned) == [5, 6]


def test_unknown_backend_and_missing_library_are_config_errors():
    with pytest.raises(ConfigError, match="expected one of"):
        open_backend("wiringpi")
    try:
        import RPi.GPIO  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"RPi\.GPIO.*not installed"):
            open_backend("rpi")
    else:
        print("RPi.GPIO is installed here: the missing-library message is not exercised")


def test_debounce_needs_the_level_to_hold():
    d = Debouncer(hold_s=0.02)
    assert d.update(False, 0.0) is False
    assert d.update(True, 0.001) is False  # a glitch starts a candidate
    assert d.update(False, 0.005) is False  # ... which goes away
    assert d.update(True, 0.010) is False
    assert d.update(True, 0.025) is False  # held 15 ms only
    assert d.update(True, 0.031) is True  # held 21 ms


def test_input_pin_debounces_with_an_injected_clock():
    gpiod = FakeGpiod()
    now = [0.0]
    pin = InputPin(open_backend("gpiod", module=gpiod), 3, debounce_s=0.05, clock=lambda: now[0])
    assert pin.is_on() is False
    gpiod.drive(3, True)
    now[0] = 0.01
    assert pin.is_on() is False
    now[0] = 0.07
    assert pin.is_on() is True
