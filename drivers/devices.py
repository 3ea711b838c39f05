"""GPIO- and ADC-backed devices of one connector, each built from its own config table.

Rules kept here:
- One ``[connector.X]`` table -> one small device (Klipper's ``load_config``). Pins are
  read by a shared naming scheme: ``<role>_pin``, ``<role>_active_low`` and, for
  inputs, ``<role>_bias`` (``none`` | ``pull-up`` | ``pull-down``).
- Every call the real-time thread makes returns at once: GPIO levels are read and
  written directly, the PP resistor is read from the ADC poller's latest sample, and
  a lock motor pulse ends on a timer thread instead of blocking the caller.
- Safe states on ``close()``: contactor coil off, LEDs off, lock unlocked (the
  contactor has been opened first by ``Board.close``), RCM test output off.
- Decisions that are data stay data: PP resistor bands and LED colours are tables.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.adc import AdcPoller, AdcSpec, Probe, read_adc_spec
from drivers.gpio import BIASES, GpioBackend, InputPin, OutputPin
from hal.config import REQUIRED, ConfigSection
from hal.errors import CableError, HardwareError
from hal.types import Indication, SelfTestResult

log = logging.getLogger(__name__)


def read_output(
    section: ConfigSection, backend: GpioBackend, role: str, default: object = REQUIRED
) -> OutputPin | None:
    line = section.get_int(f"{role}_pin", default, minval=0, maxval=511)
    active_low = section.get_bool(f"{role}_active_low", False)
    return None if line is None else OutputPin(backend, line, active_low)


def read_input(
    section: ConfigSection, backend: GpioBackend, role: str, default: object = REQUIRED, debounce_s: float = 0.01
) -> InputPin | None:
    line = section.get_int(f"{role}_pin", default, minval=0, maxval=511)
    active_low = section.get_bool(f"{role}_active_low", False)
    bias = section.get_str(f"{role}_bias", "none", choices=BIASES)
    return None if line is None else InputPin(backend, line, active_low, bias, debounce_s)


# -- contactor ---------------------------------------------------------------------
class GpioContactor:
    """A relay/contactor coil; the optional mirror contact reports the main contacts."""

    def __init__(self, coil: OutputPin, mirror: InputPin | None):
        self._coil = coil
        self._mirror = mirror

    def set_closed(self, closed: bool) -> None:
        self._coil.set(closed)

    def feedback(self) -> bool | None:
        return None if self._mirror is None else self._mirror.is_on()

    def may_carry_current(self) -> bool:
        """Commanded closed, or seen closed by the mirror contact (a weld)."""
        return self._coil.is_on() or self.feedback() is True

    def close(self) -> None:
        try:
            self._coil.close()
        finally:
            if self._mirror is not None:
                self._mirror.close()


class GpioPhaseSwitch:
    """The relay that connects L2 and L3 (``phase_switch_pin``: on = 3 phases, off = 1 phase).

    Refuses to move while its connector's contactor may carry current: never under load."""

    def __init__(self, relay: OutputPin, contactor: GpioContactor):
        self._relay = relay
        self._contactor = contactor
        self._relay.set(True)  # the wired default: all three phases

    def select(self, phases: int) -> None:
        if phases not in (1, 3):
            raise HardwareError(f"a phase switch selects 1 or 3 phases, not {phases!r}")
        if self._contactor.may_carry_current():
            raise HardwareError("phase switch refused under load (contactor closed)")
        self._relay.set(phases == 3)

    def selected(self) -> int:
        return 3 if self._relay.is_on() else 1

    def close(self) -> None:
        self._relay.close()  # relay off: one phase, the contactor being open already


def build_contactor(
    section: ConfigSection, backend: GpioBackend, wired_phases: int = 3
) -> tuple[GpioContactor, GpioPhaseSwitch | None]:
    """``[connector.contactor]``: coil_pin, coil_active_low, feedback_pin (mirror contact)...,
    and phase_switch_pin (+ _active_low) for 1-phase / 3-phase switching."""
    coil = read_output(section, backend, "coil")
    assert coil is not None
    # No debounce on the mirror contact: the controller compares it with the command itself.
    contactor = GpioContactor(coil, read_input(section, backend, "feedback", None, debounce_s=0.0))
    relay = read_output(section, backend, "phase_switch", None)
    if relay is not None and wired_phases != 3:
        raise section.error("phase_switch_pin", relay.line, "a phase switch needs a connector wired with phases = 3")
    return contactor, (GpioPhaseSwitch(relay, contactor) if relay is not None else None)


# -- residual current monitor ------------------------------------------------------
class GpioRcm:
    """An RCM module (e.g. 6 mA DC) with a trip output and a test input."""

    def __init__(
        self, trip: InputPin, test: OutputPin | None, trip_timeout_s: float = 0.5, reset_timeout_s: float = 1.0
    ):
        self._trip = trip
        self._test = test
        self._trip_timeout_s = trip_timeout_s
        self._reset_timeout_s = reset_timeout_s

    def tripped(self) -> bool:
        return self._trip.is_on()

    def _wait_for(self, level: bool, timeout_s: float) -> float | None:
        start = time.monotonic()
        while self._trip.is_on() != level:
            if time.monotonic() - start > timeout_s:
                return None
            time.sleep(0.002)  # polling a physical input: nothing to wait on
        return time.monotonic() - start

    def self_test(self) -> SelfTestResult:
        """Blocks up to trip + reset timeout: run it before a session, not every tick."""
        if self._test is None:
            return SelfTestResult(False, "no test output wired (rcd test_pin)")
        if self.tripped():
            return SelfTestResult(False, "already tripped before the test")
        self._test.set(True)
        try:
            trip_s = self._wait_for(True, self._trip_timeout_s)
        finally:
            self._test.set(False)
        if trip_s is None:
            return SelfTestResult(False, f"did not trip within {self._trip_timeout_s * 1000:.0f} ms")
        reset_s = self._wait_for(False, self._reset_timeout_s)
        measurements = {"trip_ms": round(trip_s * 1000, 1)}
        if reset_s is None:
            return SelfTestResult(False, "tripped but did not reset", measurements)
        return SelfTestResult(True, "tripped and reset", measurements)

    def close(self) -> None:
        try:
            if self._test is not None:
                self._test.close()
        finally:
            self._trip.close()


def build_rcd(section: ConfigSection, backend: GpioBackend) -> GpioRcm:
    """``[connector.rcd]``: trip_pin (input, on = tripped), test_pin (output), timeouts."""
    trip = read_input(section, backend, "trip")
    assert trip is not None
    return GpioRcm(
        trip,
        read_output(section, backend, "test", None),
        section.get_float("trip_timeout_s", 0.5, minval=0.01, maxval=5.0),
        section.get_float("reset_timeout_s", 1.0, minval=0.01, maxval=10.0),
    )


# -- connector lock ----------------------------------------------------------------
class GpioLock:
    """A motor lock on an H-bridge (lock and unlock pins, pulsed) or a held solenoid.

    Without an ``unlock`` pin the ``lock`` output is held on while locked (solenoid).
    """

    def __init__(self, lock: OutputPin, unlock: OutputPin | None, feedback: InputPin | None, pulse_s: float = 0.6):
        self._lock = lock
        self._unlock = unlock
        self._feedback = feedback
        self._pulse_s = pulse_s
        self._timer: threading.Timer | None = None
        self._guard = threading.Lock()
        self._commanded: bool | None = None
        self._pulses = 0

    def _end_pulse(self, pulse: int) -> None:
        with self._guard:
            if pulse != self._pulses:  # a later command started a new pulse; it ends on its own timer
                return
            self._lock.set(False)
            if self._unlock is not None:
                self._unlock.set(False)

    def set_locked(self, locked: bool) -> None:
        if locked == self._commanded:
            return
        self._commanded = locked
        if self._unlock is None:
            self._lock.set(locked)
            return
        with self._guard:
            if self._timer is not None:
                self._timer.cancel()
            # Never both half-bridges on: that shorts the motor supply.
            (self._unlock if locked else self._lock).set(False)
            (self._lock if locked else self._unlock).set(True)
            self._pulses += 1
            self._timer = threading.Timer(self._pulse_s, self._end_pulse, (self._pulses,))
            self._timer.daemon = True
            self._timer.start()

    def locked(self) -> bool | None:
        return None if self._feedback is None else self._feedback.is_on()

    def close(self) -> None:
        try:
            self.set_locked(False)
            if self._timer is not None:
                self._timer.join(self._pulse_s + 1.0)  # let the unlock pulse finish
        finally:
            for pin in (self._lock, self._unlock, self._feedback):
                if pin is not None:
                    pin.close()


def build_lock(section: ConfigSection, backend: GpioBackend) -> GpioLock:
    """``[connector.lock]``: lock_pin, unlock_pin (motor) or lock_pin alone (solenoid), feedback_pin."""
    lock = read_output(section, backend, "lock")
    assert lock is not None
    return GpioLock(
        lock,
        read_output(section, backend, "unlock", None),
        read_input(section, backend, "feedback", None),
        section.get_float("pulse_s", 0.6, minval=0.05, maxval=3.0),
    )


# -- proximity pilot (PP) ----------------------------------------------------------
# (lowest ohm, highest ohm, amps on a 3-phase connector, amps on a 1-phase connector)
PP_BANDS: tuple[tuple[float, float, float, float], ...] = (
    (60.0, 160.0, 63.0, 70.0),  # 100 ohm
    (160.0, 400.0, 32.0, 32.0),  # 220 ohm
    (400.0, 1100.0, 20.0, 20.0),  # 680 ohm
    (1100.0, 4500.0, 13.0, 13.0),  # 1.5 kohm
)


def pp_ampacity_a(ohm: float | None, phases: int) -> float | None:
    """Cable rating from the PP resistor; None (open circuit) = no cable plugged."""
    if ohm is None:
        return None
    for low, high, three_phase, one_phase in PP_BANDS:
        if low <= ohm < high:
            return three_phase if phases == 3 else one_phase
    raise CableError(f"PP resistor {ohm:.0f} ohm is outside every band (60-4500 ohm)")


@dataclass(frozen=True)
class PpCircuit:
    """PP pulled up to ``supply_v`` through ``pullup_ohm``; the cable's resistor goes to PE."""

    pullup_ohm: float
    supply_v: float
    open_ohm: float  # above this the line reads as open: no cable

    def resistance(self, volts: float) -> float | None:
        if volts >= self.supply_v:
            return None
        ohm = self.pullup_ohm * max(volts, 0.0) / (self.supply_v - volts)
        return None if ohm > self.open_ohm else ohm


class PpCableSense:
    def __init__(self, probe: Probe[float], circuit: PpCircuit, phases: int, max_age_s: float = 0.5):
        self._probe = probe
        self._circuit = circuit
        self._phases = phases
        self._max_age_s = max_age_s

    def ohm(self) -> float | None:
        sample = self._probe.fresh(self._max_age_s, time.monotonic())
        if sample is None:
            raise HardwareError("PP: no recent ADC sample")
        return self._circuit.resistance(sample.value)

    def ampacity_a(self) -> float | None:
        return pp_ampacity_a(self.ohm(), self._phases)

    def close(self) -> None:
        """The ADC belongs to its poller, which the board closes."""


def build_cable(section: ConfigSection, poller_for: Callable[[AdcSpec], AdcPoller], phases: int) -> PpCableSense:
    """``[connector.cable]``: ADC keys, channel, pullup_ohm, supply_v, open_ohm, max_age_s."""
    spec = read_adc_spec(section)
    channel = spec.read_channel(section, "channel")
    circuit = PpCircuit(
        section.get_float("pullup_ohm", minval=10.0, maxval=100_000.0),
        section.get_float("supply_v", minval=0.5, maxval=12.0),
        section.get_float("open_ohm", 10_000.0, minval=4500.0, maxval=1_000_000.0),
    )
    max_age_s = section.get_float("max_age_s", 0.5, minval=0.01, maxval=5.0)
    poller = poller_for(spec)
    probe = poller.add("proximity pilot", lambda: poller.adc.volts(channel))
    return PpCableSense(probe, circuit, phases, max_age_s)


# -- status LEDs -------------------------------------------------------------------
# Indication -> (red, green, blue). A two-LED box leaves blue unwired.
INDICATION_LEDS: dict[Indication, tuple[bool, bool, bool]] = {
    Indication.OFF: (False, False, False),
    Indication.IDLE: (False, True, False),
    Indication.WAITING: (False, True, True),
    Indication.CHARGING: (False, False, True),
    Indication.SUSPENDED: (True, True, False),
    Indication.DONE: (False, True, True),
    Indication.RESERVED: (True, False, True),
    Indication.UNAVAILABLE: (True, True, False),
    Indication.FAULTED: (True, False, False),
}


class LedIndicator:
    def __init__(self, leds: tuple[OutputPin | None, OutputPin | None, OutputPin | None]):
        self._leds = leds

    def show(self, indication: Indication) -> None:
        for led, on in zip(self._leds, INDICATION_LEDS[indication], strict=True):
            if led is not None:
                led.set(on)

    def close(self) -> None:
        for led in self._leds:
            if led is not None:
                led.close()


def build_leds(section: ConfigSection, backend: GpioBackend) -> LedIndicator:
    """``[connector.leds]``: red_pin, green_pin, blue_pin (each optional), *_active_low."""
    return LedIndicator(
        (
            read_output(section, backend, "red", None),
            read_output(section, backend, "green", None),
            read_output(section, backend, "blue", None),
        )
    )
