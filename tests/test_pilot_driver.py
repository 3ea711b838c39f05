"""PwmPilot: sysfs PWM out, a CP circuit model behind a fake ADC in, the poller thread between."""

from __future__ import annotations

import time

import pytest
from hwfakes import CpCircuit, FakeAds1115Bus, FakePwmSysfs, FakeSpiDev, wait_until

from drivers.adc import AdcPoller, Ads1115, SpiAdc
from drivers.pilot import Calibration, PwmPilot, build_pilot, classify
from drivers.pwm import SysfsPwm, sysfs_opener
from hal.config import ConfigError, ConfigSection
from hal.types import CpState, PilotCommand


@pytest.fixture
def sysfs(tmp_path):
    fake = FakePwmSysfs(tmp_path / "pwm")
    yield fake
    fake.close()


@pytest.mark.parametrize(
    ("volts", "state"),
    [
        (12.0, CpState.A),
        (11.4, CpState.A),
        (12.7, CpState.E),  # above A: no valid level
        (9.0, CpState.B),
        (10.5, CpState.E),  # between A and B
        (6.0, CpState.C),
        (3.0, CpState.D),
        (0.2, CpState.E),
        (-12.0, CpState.F),
    ],
)
def test_bands(volts, state):
    assert classify(volts) is state


def spi_pilot(sysfs, circuit_kwargs=None, **pilot_kwargs):
    pwm = SysfsPwm(0, 0, root=sysfs.root)
    circuit = CpCircuit(sysfs, **(circuit_kwargs or {}))
    spi = FakeSpiDev("mcp3202", vref=3.3)
    spi.open(0, 0)
    spi.source = circuit.adc_v
    poller = AdcPoller(SpiAdc(spi, "mcp3202"), "cp", interval_s=0.001)
    pilot = PwmPilot(pwm, poller, 0, Calibration(circuit.divider, circuit.offset_v), **pilot_kwargs)
    return pilot, poller, circuit


def next_reading(pilot: PwmPilot):
    """A reading from a burst that began after this call (the second sample to end after it)."""
    start = time.monotonic()
    wait_until(lambda: pilot.probe.latest is not None and pilot.probe.latest.at > start)
    first = pilot.probe.latest.at
    wait_until(lambda: pilot.probe.latest.at > first)
    return pilot.read()


def test_commands_write_the_duty(sysfs):
    pilot, poller, _ = spi_pilot(sysfs)
    assert sysfs.file(0, 0, "duty_cycle") == "1000000"  # X1 at start
    pilot.command(PilotCommand.pwm(53.3))
    assert sysfs.file(0, 0, "duty_cycle") == "533000"
    pilot.command(PilotCommand.state_f())
    assert sysfs.file(0, 0, "duty_cycle") == "0"
    pilot.close()
    assert sysfs.file(0, 0, "duty_cycle") == "1000000"
    poller.close()


def test_states_and_negative_level_through_the_poller(sysfs):
    pilot, poller, circuit = spi_pilot(sysfs)
    poller.start()
    try:
        r = next_reading(pilot)
        assert r.state is CpState.A and r.positive_v == pytest.approx(12.0, abs=0.1) and r.negative_v is None
        circuit.ev_v = 9.0
        pilot.command(PilotCommand.pwm(16.0))
        r = next_reading(pilot)
        assert r.state is CpState.B and r.negative_v == pytest.approx(-12.0, abs=0.1)
        circuit.ev_v = 6.0
        assert next_reading(pilot).state is CpState.C
        circuit.diode = False  # the EV's resistors load the low half too
        assert next_reading(pilot).negative_v == pytest.approx(-6.0, abs=0.1)
        circuit.diode = True
        pilot.command(PilotCommand.state_f())
        r = next_reading(pilot)
        assert r.state is CpState.F and r.negative_v is None
        circuit.shorted = True
        assert next_reading(pilot).state is CpState.E
    finally:
        poller.close()


def test_no_sample_or_a_stale_one_reads_as_state_e(sysfs):
    now = [100.0]
    pilot, poller, _ = spi_pilot(sysfs, max_age_s=0.05, clock=lambda: now[0])
    assert pilot.read().state is CpState.E  # nothing sampled yet
    poller.poll_once()
    now[0] = pilot.probe.latest.at + 0.01
    assert pilot.read().state is CpState.A
    now[0] += 0.05
    stale = pilot.read()
    assert stale.state is CpState.E and stale.at == now[0]
    poller.close()


def test_the_watcher_hears_of_a_new_state_once_read_returns_it(sysfs):
    pilot, poller, circuit = spi_pilot(sysfs)
    told: list[CpState] = []
    assert pilot.watch(lambda: told.append(pilot.read().state)) is True
    poller.poll_once()
    poller.poll_once()  # A again: nothing new to tell
    circuit.ev_v = 9.0
    poller.poll_once()
    poller.poll_once()
    circuit.shorted = True
    poller.poll_once()
    assert told == [CpState.A, CpState.B, CpState.E]
    poller.close()


def test_ads1115_with_peak_hold_channels(sysfs):
    bus = FakeAds1115Bus(volts={0: 9.0 / 8 + 1.65, 1: -12.0 / 8 + 1.65, 2: 0, 3: 0})
    poller = AdcPoller(Ads1115(bus), "cp")
    pilot = PwmPilot(SysfsPwm(0, 0, root=sysfs.root), poller, 0, Calibration(8.0, 1.65), 1, negative_channel=1)
    pilot.command(PilotCommand.pwm(50))
    poller.poll_once()
    r = pilot.read()
    assert r.state is CpState.B and r.negative_v == pytest.approx(-12.0, abs=0.01)
    assert [(w >> 12) & 7 for w in bus.config_writes] == [4, 5]  # AIN0 then AIN1


def section(table: dict) -> ConfigSection:
    return ConfigSection("box.toml", "connector.pilot", table, {})


def test_build_pilot_from_config(sysfs):
    spi = FakeSpiDev("mcp3008")
    spi.open(0, 0)
    polled = []

    def poller_for(spec):
        polled.append(spec)
        return AdcPoller(SpiAdc(spi, spec.kind), "cp")

    open_pwm = sysfs_opener(sysfs.root)
    s = section({"adc": "mcp3008", "channel": 7, "divider": 8.0, "offset_v": 1.65, "pwm_chip": 0, "pwm_channel": 1})
    build_pilot(s, poller_for, open_pwm)
    s.check_unused()
    assert polled[0].kind == "mcp3008" and sysfs.file(0, 1, "enable") == "1"
    with pytest.raises(ConfigError, match=r"negative_channel.*peak-hold"):
        build_pilot(section({"adc": "ads1115", "channel": 0, "divider": 8, "offset_v": 1.6}), poller_for, open_pwm)
    with pytest.raises(ConfigError, match="divider is required"):
        build_pilot(section({"adc": "mcp3202", "channel": 0}), poller_for, open_pwm)
    bad = section({"adc": "mcp3202", "channel": 0, "divider": 8, "offset_v": 1.6, "pwm_chanel": 1})
    build_pilot(bad, poller_for, open_pwm)
    with pytest.raises(ConfigError, match="pwm_chanel"):
        bad.check_unused()
