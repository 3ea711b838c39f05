"""What a dry build puts where hardware would be opened: plain ``evsed check`` builds on these.

Rules kept here:
- A dry build runs the same board builders over the same config sections as a real start,
  so every key is read, bounded and checked for conflicts (a GPIO line used twice, one ADC
  chip with two settings, two line settings on one RS-485 bus) exactly as at start-up.
  Only the openings are replaced: no GPIO chip, I2C / SPI bus, PWM channel or serial port is
  opened, no thread is started, nothing is written. So it works off the device.
- GPIO lines are booked, not claimed: a line used twice is the same error as on the chip.
- Modbus needs no stand-in: a pymodbus client opens its port at the first transaction, and
  nothing on a dry board makes one.
- A dry board is only closed, and closing it touches nothing.
"""

from __future__ import annotations

from hal.config import ConfigError
from hal.errors import HardwareError


class BookedLines:
    """A ``GpioBackend`` that only books line numbers."""

    def __init__(self, chip: str):
        self._chip = chip
        self._lines: set[int] = set()

    def _book(self, line: int) -> None:
        if line in self._lines:
            raise ConfigError(f"GPIO line {line} on {self._chip} is used twice in the configuration")
        self._lines.add(line)

    def claim_output(self, line: int, level: bool) -> None:
        self._book(line)

    def claim_input(self, line: int, bias: str) -> None:
        self._book(line)

    def write(self, line: int, level: bool) -> None:
        """Nothing is driven."""

    def read(self, line: int) -> bool:
        raise HardwareError(f"GPIO line {line}: a dry build reads no input")

    def release(self, line: int) -> None:
        self._lines.discard(line)

    def close(self) -> None:
        self._lines.clear()


class UnopenedAdc:
    """An ``Adc`` whose chip stays closed; a dry board starts no poller that would read it."""

    def volts(self, channel: int) -> float:
        raise HardwareError(f"ADC channel {channel}: a dry build reads no input")

    def close(self) -> None:
        """Nothing was opened."""


class UnopenedPwm:
    """A PWM channel that is neither exported nor written."""

    def set_high_fraction(self, fraction: float) -> None:
        """Nothing is driven."""


def unopened_pwm(chip: int, channel: int, inverted: bool) -> UnopenedPwm:
    return UnopenedPwm()
