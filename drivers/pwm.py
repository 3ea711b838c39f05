"""Kernel hardware PWM through sysfs (``/sys/class/pwm/pwmchipN/pwmM``).

Rules kept here:
- The kernel generates the waveform; Python only writes three numbers, so a busy
  interpreter never jitters the CP signal. Each write is one short sysfs ``write``.
- Bring-up order is the kernel's: export the channel (if not yet exported), wait for
  its directory, set ``period`` (default 1_000_000 ns = 1 kHz), ``duty_cycle``, then
  ``enable`` = 1. The duty is written after the period so it is never longer than it.
- ``inverted`` flips the duty for CP circuits whose output stage inverts (a transistor
  stage instead of a non-inverting op-amp), so callers always speak "fraction high".
- There is no ``close()``: the kernel keeps the last waveform after the process ends, so
  the owner (the pilot) sets its safe level last; disabling would leave the pin idle at
  an undefined CP level.
- On a Pi, PWM needs ``dtoverlay=pwm-2chan`` (GPIO 18 = channel 0, GPIO 19 = channel 1);
  on a Pi 5 the RP1 chip is a different ``pwmchipN``: check ``/sys/class/pwm``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from hal.config import ConfigError
from hal.errors import HardwareError

log = logging.getLogger(__name__)

SYSFS_PWM = Path("/sys/class/pwm")
PERIOD_1KHZ_NS = 1_000_000


class Pwm(Protocol):
    """What the pilot drives: the fraction of each period the output is high."""

    def set_high_fraction(self, fraction: float) -> None: ...


# (chip, channel, inverted) -> an open channel: the board picks sysfs, a dry build a stand-in.
PwmOpener = Callable[[int, int, bool], Pwm]


class SysfsPwm:
    """One PWM channel. ``set_high_fraction`` is the only call on the real-time path."""

    def __init__(
        self,
        chip: int,
        channel: int,
        root: Path = SYSFS_PWM,
        period_ns: int = PERIOD_1KHZ_NS,
        inverted: bool = False,
        export_timeout_s: float = 2.0,
    ):
        self._chip_dir = root / f"pwmchip{chip}"
        self._dir = self._chip_dir / f"pwm{channel}"
        self.period_ns = period_ns
        self._inverted = inverted
        if not self._chip_dir.is_dir():
            raise ConfigError(f"PWM chip {self._chip_dir} does not exist (is the pwm overlay enabled?)")
        if not self._dir.is_dir():
            self._write(self._chip_dir / "export", str(channel))
            self._wait_for_channel(export_timeout_s)
        self._duty_ns: int | None = None
        self._write(self._dir / "period", str(period_ns))
        self.set_high_fraction(1.0)  # +12 V on a CP line: no current offered until asked
        self._write(self._dir / "enable", "1")

    def _wait_for_channel(self, timeout_s: float) -> None:
        # udev creates the channel (and fixes its permissions) asynchronously after export.
        deadline = time.monotonic() + timeout_s
        while not (self._dir / "enable").exists():
            if time.monotonic() > deadline:
                raise HardwareError(f"{self._dir} did not appear after export")
            time.sleep(0.005)

    @staticmethod
    def _write(path: Path, value: str) -> None:
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as exc:
            raise HardwareError(f"writing {value!r} to {path} failed: {exc}") from exc

    def set_high_fraction(self, fraction: float) -> None:
        """Fraction of each period the output is high (0.0 .. 1.0)."""
        fraction = min(1.0, max(0.0, fraction))
        if self._inverted:
            fraction = 1.0 - fraction
        duty_ns = round(self.period_ns * fraction)
        if duty_ns != self._duty_ns:  # sysfs writes cost a syscall each; skip repeats
            self._write(self._dir / "duty_cycle", str(duty_ns))
            self._duty_ns = duty_ns


def sysfs_opener(root: Path = SYSFS_PWM) -> PwmOpener:
    """Channels of the chips under ``root`` (a fake tree in tests)."""
    return lambda chip, channel, inverted: SysfsPwm(chip, channel, root=root, inverted=inverted)
