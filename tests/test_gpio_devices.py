"""Contactor, RCM, lock, PP cable sense and LEDs over the fake gpiod / ADC boundaries."""

from __future__ import annotations

import threading

import pytest
from hwfakes import FakeGpiod, FakeSpiDev, wait_until

from drivers.adc import AdcPoller, SpiAdc
from drivers.devices import (
    PpCircuit,
    build_cable,
    build_contactor,
    build_leds,
    build_lock,
    build_rcd,
    pp_ampacity_a,
)
from drivers.gpio import open_backend
from hal.config import ConfigError, ConfigSection
from hal.errors import CableError, HardwareError
from hal.types import Indication


def section(name: str, table: dict) -> ConfigSection:
    return ConfigSection("box.toml", f"connector.{name}", table, {})


@pytest.fixture
def gpiod():
    return FakeGpiod()


@pytest.fixture
def backend(gpiod):
    return open_backend("gpiod", module=gpiod)


def test_contactor_coil_and_mirror_contact(gpiod, backend):
    # An active-low relay board whose mirror contact pulls the feedback line low when closed.
    gpiod.wiring[17] = lambda wire: gpiod.drive(27, wire)
    s = section("contactor", {"coil_pin": 17, "coil_active_low": True, "feedback_pin": 27, "feedback_active_low": True})
    contactor, phase_switch = build_contactor(s, backend)
    s.check_unused()
    assert phase_switch is None
    assert gpiod.wire(17) is True and contactor.feedback() is False
    contactor.set_closed(True)
    assert gpiod.wire(17) is False and contactor.feedback() is True
    contactor.close()
    assert gpiod.wire(17) is True and not gpiod.claimed


def test_contactor_without_feedback_and_bad_keys(backend):
    s = section("contactor", {"coil_pin": 5})
    assert build_contactor(s, backend)[0].feedback() is None
    with pytest.raises(ConfigError, match="coil_pin is required"):
        build_contactor(section("contactor", {"pin": 5}), backend)
    s = section("contactor", {"coil_pin": 6, "coil_activelow": True})
    build_contactor(s, backend)
    with pytest.raises(ConfigError, match="coil_activelow"):
        s.check_unused()


def test_phase_switch_moves_only_with_the_contactor_open(gpiod, backend):
    # The mirror contact follows the coil; the phase relay (on = 3 phases) sits on line 22.
    gpiod.wiring[17] = lambda wire: gpiod.drive(27, wire)
    s = section("contactor", {"coil_pin": 17, "feedback_pin": 27, "phase_switch_pin": 22})
    contactor, switch = build_contactor(s, backend)
    s.check_unused()
    assert switch is not None
    assert switch.selected() == 3 and gpiod.wire(22) is True  # all phases until told otherwise
    switch.select(1)
    assert switch.selected() == 1 and gpiod.wire(22) is False
    contactor.set_closed(True)
    with pytest.raises(HardwareError, match="under load"):
        switch.select(3)
    assert gpiod.wire(22) is False  # refused: nothing moved
    contactor.set_closed(False)
    gpiod.drive(27, True)  # a welded contactor: the mirror still says closed
    with pytest.raises(HardwareError, match="under load"):
        switch.select(3)
    gpiod.drive(27, False)
    switch.select(3)
    assert gpiod.wire(22) is True
    switch.close()
    contactor.close()
    assert not gpiod.claimed


def test_phase_switch_needs_three_wired_phases(backend):
    with pytest.raises(ConfigError, match="phases = 3"):
        build_contactor(section("contactor", {"coil_pin": 5, "phase_switch_pin": 6}), backend, wired_phases=1)


def test_rcd_self_test_trips_and_resets(gpiod, backend):
    gpiod.wiring[23] = lambda wire: gpiod.drive(24, wire)  # test current -> module trips while injected
    rcd = build_rcd(section("rcd", {"trip_pin": 24, "test_pin": 23}), backend)
    assert rcd.tripped() is False
    result = rcd.self_test()
    assert result.passed and "trip_ms" in result.measurements
    assert gpiod.wire(23) is False  # test current removed
    assert [lvl for line, lvl in gpiod.history if line == 23] == [False, True, False]


def test_rcd_self_test_fails_when_the_module_does_not_trip(backend):
    rcd = build_rcd(section("rcd", {"trip_pin": 24, "test_pin": 23, "trip_timeout_s": 0.02}), backend)
    result = rcd.self_test()
    assert not result.passed and "did not trip" in result.detail


def test_rcd_that_stays_tripped_fails_and_no_test_pin_fails(gpiod, backend):
    gpiod.wiring[23] = lambda wire: wire and gpiod.drive(24, True)  # latches
    rcd = build_rcd(section("rcd", {"trip_pin": 24, "test_pin": 23, "reset_timeout_s": 0.02}), backend)
    assert rcd.self_test().detail == "tripped but did not reset"
    assert rcd.tripped() is True
    other = build_rcd(section("rcd", {"trip_pin": 25}), backend)
    assert not other.self_test().passed


def test_motor_lock_pulses_one_half_bridge_at_a_time(gpiod, backend):
    lock = build_lock(section("lock", {"lock_pin": 12, "unlock_pin": 13, "feedback_pin": 16, "pulse_s": 0.05}), backend)
    shorts: list[int] = []
    ended = threading.Event()

    def watch(line: int, other: int):
        def on_change(wire: bool) -> None:
            if wire and gpiod.wire(other):
                shorts.append(line)
            if not wire and line == 12:
                ended.set()

        return on_change

    gpiod.wiring[12], gpiod.wiring[13] = watch(12, 13), watch(13, 12)
    lock.set_locked(True)
    assert gpiod.wire(12) is True and gpiod.wire(13) is False
    assert ended.wait(1.0)  # the pulse ends by itself
    assert gpiod.wire(12) is False
    gpiod.drive(16, True)
    assert lock.locked() is True
    lock.set_locked(False)
    lock.set_locked(True)  # reversing mid-pulse
    lock.close()  # unlocks, waits for the pulse to end
    pulses = [(line, lvl) for line, lvl in gpiod.history if lvl]
    assert pulses == [(12, True), (13, True), (12, True), (13, True)]
    assert shorts == [] and not gpiod.wire(12) and not gpiod.wire(13)


def test_solenoid_lock_holds_while_locked(gpiod, backend):
    lock = build_lock(section("lock", {"lock_pin": 12}), backend)
    lock.set_locked(True)
    assert gpiod.wire(12) is True and lock.locked() is None
    lock.set_locked(False)
    assert gpiod.wire(12) is False


@pytest.mark.parametrize(
    ("ohm", "phases", "amps"),
    [(None, 3, None), (1500, 3, 13), (680, 3, 20), (220, 1, 32), (100, 3, 63), (100, 1, 70)],
)
def test_pp_table(ohm, phases, amps):
    assert pp_ampacity_a(ohm, phases) == amps


@pytest.mark.parametrize("ohm", [40.0, 5000.0])
def test_pp_out_of_band_is_a_cable_error(ohm):
    with pytest.raises(CableError, match="outside every band"):
        pp_ampacity_a(ohm, 3)


def test_pp_divider_resistance():
    c = PpCircuit(pullup_ohm=1000.0, supply_v=3.3, open_ohm=10_000.0)
    assert c.resistance(3.3 * 680 / 1680) == pytest.approx(680)
    assert c.resistance(3.3) is None
    assert c.resistance(3.3 * 20_000 / 21_000) is None  # open: no cable


def test_cable_sense_through_the_poller():
    spi = FakeSpiDev("mcp3008", vref=3.3)
    spi.open(0, 0)
    spi.volts[3] = 3.3 * 220 / 1220
    pollers = {}

    def poller_for(spec):
        return pollers.setdefault(spec, AdcPoller(SpiAdc(spi, spec.kind), "pp", 0.001))

    s = section("cable", {"adc": "mcp3008", "channel": 3, "pullup_ohm": 1000, "supply_v": 3.3})
    cable = build_cable(s, poller_for, phases=3)
    s.check_unused()
    with pytest.raises(HardwareError, match="no recent"):
        cable.ampacity_a()
    (poller,) = pollers.values()
    poller.start()
    try:
        wait_until(lambda: poller._probes[0].latest is not None)
        assert cable.ampacity_a() == 32
    finally:
        poller.close()


def test_leds_follow_the_table(gpiod, backend):
    leds = build_leds(section("leds", {"red_pin": 2, "green_pin": 3, "green_active_low": True}), backend)
    leds.show(Indication.FAULTED)
    assert (gpiod.wire(2), gpiod.wire(3)) == (True, True)  # green off = high wire
    leds.show(Indication.IDLE)
    assert (gpiod.wire(2), gpiod.wire(3)) == (False, False)
    leds.close()
    assert not gpiod.claimed
