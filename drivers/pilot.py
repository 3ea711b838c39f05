"""The control pilot of a GPIO board: kernel PWM out, ADC in.

Rules kept here:
- The CP circuit: the PWM pin drives an op-amp (or comparator) powered from +-12 V,
  so the line swings rail to rail with the pin: pin high -> +12 V, pin low -> -12 V.
  X1 (constant +12 V) is therefore duty 100 %, X2 is the duty asked for, and state F
  (constant -12 V) is duty 0 %. An inverting output stage is handled by the PWM's
  ``inverted`` flag, not here.
- The sense path divides and shifts the +-12 V line into the ADC's range:
  ``v_line = (v_adc - offset_v) * divider``. Both are calibration values from config.
- A sample is a burst of ``samples`` conversions: the highest is the positive level,
  the lowest the negative one. A fast SPI ADC catches both halves of the 1 kHz wave
  this way; a slow ADS1115 averages them, so with an ADS1115 the circuit needs
  peak-hold stages and ``negative_channel`` names the one holding the low level.
- ``negative_v`` is reported only for samples taken wholly under X2 (the line has no
  low half otherwise, hal.types.PilotReading).
- The state is the band the positive level falls in (DESIGN.md): A 11.4-12.6,
  B 8.36-9.56, C 5.48-6.49, D 2.62-3.25, E -1.5..1.5, F -13.5..-10.5 V. A level in no
  band, or a sample older than ``max_age_s``, is reported as E: the controller treats
  it as a fault and opens the contactor, which is the safe reading of "unknown".
- ``command`` writes sysfs directly (microseconds); ``read`` only looks at the latest
  sample. Neither touches the ADC: the poller thread does (drivers.adc), and tells the
  ``watch`` callback of a sample whose state differs from the one before, once ``read``
  returns it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.adc import Adc, AdcPoller, AdcSpec, Probe, read_adc_spec
from drivers.pwm import Pwm, PwmOpener
from hal.config import ConfigSection
from hal.types import CpState, PilotCommand, PilotMode, PilotReading

log = logging.getLogger(__name__)

# (state, lowest volts, highest volts) of the positive CP level.
CP_BANDS: tuple[tuple[CpState, float, float], ...] = (
    (CpState.A, 11.4, 12.6),
    (CpState.B, 8.36, 9.56),
    (CpState.C, 5.48, 6.49),
    (CpState.D, 2.62, 3.25),
    (CpState.E, -1.5, 1.5),
    (CpState.F, -13.5, -10.5),
)

# PWM "fraction high" per mode; X2 takes the commanded duty.
MODE_FRACTION: dict[PilotMode, float | None] = {PilotMode.X1: 1.0, PilotMode.X2: None, PilotMode.F: 0.0}


def classify(positive_v: float) -> CpState:
    for state, low, high in CP_BANDS:
        if low <= positive_v <= high:
            return state
    return CpState.E


@dataclass(frozen=True)
class Calibration:
    divider: float
    offset_v: float

    def line_v(self, adc_v: float) -> float:
        return (adc_v - self.offset_v) * self.divider


@dataclass(frozen=True)
class CpLevels:
    positive_v: float
    negative_v: float | None


class PwmPilot:
    """hal.interfaces.Pilot over a PWM channel (kernel sysfs on a board) and an ADC probe."""

    def __init__(
        self,
        pwm: Pwm,
        poller: AdcPoller,
        channel: int,
        calibration: Calibration,
        samples: int = 32,
        negative_channel: int | None = None,
        max_age_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._pwm = pwm
        self._adc = poller.adc
        self._channel = channel
        self._negative_channel = negative_channel
        self._cal = calibration
        self._samples = samples
        self._max_age_s = max_age_s
        self._clock = clock
        self._mode = PilotMode.X1
        self._pwm.set_high_fraction(1.0)
        self._changed: Callable[[], None] | None = None
        self._state: CpState | None = None  # of the latest sample
        self.probe: Probe[CpLevels] = poller.add("control pilot", self._measure)
        self.probe.on_sample = self._sampled

    def command(self, cmd: PilotCommand) -> None:
        fraction = MODE_FRACTION[cmd.mode]
        self._pwm.set_high_fraction(cmd.duty_percent / 100.0 if fraction is None else fraction)
        self._mode = cmd.mode

    def _burst(self, adc: Adc, channel: int) -> list[float]:
        return [self._cal.line_v(adc.volts(channel)) for _ in range(self._samples)]

    def _measure(self) -> CpLevels:
        mode_before = self._mode
        highs = self._burst(self._adc, self._channel)
        lows = highs if self._negative_channel is None else self._burst(self._adc, self._negative_channel)
        oscillating = mode_before is PilotMode.X2 and self._mode is PilotMode.X2
        return CpLevels(max(highs), min(lows) if oscillating else None)

    def _sampled(self, levels: CpLevels) -> None:
        state = classify(levels.positive_v)
        if state is not self._state:
            self._state = state
            if self._changed is not None:
                self._changed()

    def watch(self, changed: Callable[[], None]) -> bool:
        self._changed = changed
        return True

    def read(self) -> PilotReading:
        now = self._clock()
        sample = self.probe.fresh(self._max_age_s, now)
        if sample is None:
            return PilotReading(CpState.E, 0.0, None, now)
        levels = sample.value
        return PilotReading(classify(levels.positive_v), levels.positive_v, levels.negative_v, sample.at)

    def close(self) -> None:
        # X1: +12 V, no current offered; the kernel holds it after we exit.
        self.command(PilotCommand.x1())


def build_pilot(section: ConfigSection, poller_for: Callable[[AdcSpec], AdcPoller], open_pwm: PwmOpener) -> PwmPilot:
    """``[connector.pilot]``: pwm_chip, pwm_channel, pwm_inverted, the ADC keys, calibration."""
    spec = read_adc_spec(section)
    channel = spec.read_channel(section, "channel")
    negative_channel = spec.read_channel(section, "negative_channel", None)
    if spec.kind == "ads1115" and negative_channel is None:
        raise section.error(
            "negative_channel",
            None,
            "required with an ADS1115: it averages the 1 kHz wave, so the CP circuit needs peak-hold stages "
            "(positive on 'channel', negative on 'negative_channel')",
        )
    calibration = Calibration(
        divider=section.get_float("divider", minval=0.1, maxval=100.0),
        offset_v=section.get_float("offset_v", minval=-5.0, maxval=5.0),
    )
    samples = section.get_int("samples", 1 if spec.kind == "ads1115" else 32, minval=1, maxval=256)
    max_age_s = section.get_float("max_age_s", 0.1, minval=0.01, maxval=2.0)
    pwm = open_pwm(
        section.get_int("pwm_chip", 0, minval=0, maxval=63),
        section.get_int("pwm_channel", 0, minval=0, maxval=15),
        section.get_bool("pwm_inverted", False),
    )
    return PwmPilot(pwm, poller_for(spec), channel, calibration, samples, negative_channel, max_age_s)
