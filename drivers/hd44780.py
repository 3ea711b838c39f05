"""``[board.display] type = "hd44780"``: an HD44780 character LCD (16x2, 20x4...) behind a PCF8574
I2C backpack, through smbus2.

Rules kept here:
- The backpack's eight outputs, as nearly every module wires them (``PINS``): P0 RS, P1 RW,
  P2 E, P3 backlight, P4-P7 D4-D7. The LCD runs in 4-bit mode: a byte goes as two nibbles,
  high first, each latched by a pulse of E (written high, then low: the falling edge latches).
  RW stays low: nothing is read back, so timing is by the datasheet's worst cases.
- Initialisation is the datasheet's "by instruction" sequence (HD44780U figure 24): 0x3 three
  times, 0x2 (4-bit), then function set (2 lines), display on, clear, entry mode. It runs at
  open and after a bus error, so an LCD that lost its power comes back.
- ``show`` writes only the rows that changed, each padded to its width: a full 20x4 redraw is
  84 bytes, about 500 I2C writes, tens of ms at 100 kHz. Called from a worker thread.
- Text is drawn with the LCD's ROM A00: ASCII 0x20-0x7D as is, other characters as their
  accent-less letter where Unicode has one, else ``?``.
- A bus error is raised as ``HardwareError``; ``close`` blanks the LCD and switches the
  backlight off, and never raises.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from drivers.adc import import_board_library
from hal.config import ConfigError, ConfigSection
from hal.errors import HardwareError
from hal.types import DisplaySize

log = logging.getLogger(__name__)

PINS = {"rs": 0x01, "rw": 0x02, "e": 0x04, "backlight": 0x08}  # P0-P3; P4-P7 carry D4-D7
SIZES = ((16, 2), (20, 2), (16, 4), (20, 4), (40, 2))  # (columns, rows) of the common modules
ROW_OFFSETS = (0x00, 0x40, 0x00, 0x40)  # DDRAM address of each row; rows 3-4 continue 1-2 (+ columns)
CLEAR, ENTRY_LEFT, DISPLAY_ON, FUNCTION_4BIT_2LINES, SET_ADDRESS = 0x01, 0x06, 0x0C, 0x28, 0x80
ADDRESSES = (*range(0x20, 0x28), *range(0x38, 0x40))  # PCF8574 and PCF8574A


class I2cBus(Protocol):
    """The part of ``smbus2.SMBus`` the driver uses."""

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None: ...

    def close(self) -> None: ...


def rom_text(text: str) -> str:
    """``text`` in the characters ROM A00 draws."""
    out = []
    for char in text:
        if " " <= char <= "}":
            out.append(char)
            continue
        plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
        out.append(plain[0] if plain and " " <= plain[0] <= "}" else "?")
    return "".join(out)


def row_address(row: int, columns: int) -> int:
    return ROW_OFFSETS[row] + (columns if row >= 2 else 0)


class Hd44780:
    def __init__(self, bus: I2cBus, address: int, size: DisplaySize, backlight: bool = True,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self._bus, self._address, self._size = bus, address, size
        self._light = PINS["backlight"] if backlight else 0
        self._sleep = sleep
        self._shown: list[str] = []  # what each row holds
        self._lost = True  # what the LCD holds is unknown: initialise it before the next write
        self._initialise()

    def size(self) -> DisplaySize:
        return self._size

    def show(self, lines: Sequence[str]) -> None:
        columns = self._size.columns
        wanted = [rom_text(line)[:columns].ljust(columns) for line in lines[: self._size.rows]]
        wanted += [" " * columns] * (self._size.rows - len(wanted))
        if self._lost:  # an earlier write failed half-way, or the LCD lost its power
            self._initialise()
        try:
            for row, text in enumerate(wanted):
                if self._shown[row] != text:
                    self._command(SET_ADDRESS | row_address(row, columns))
                    for char in text:
                        self._write(ord(char), PINS["rs"])
                    self._shown[row] = text
        except OSError as exc:
            self._lost = True
            raise HardwareError(f"HD44780 at {self._address:#x}: {exc}") from exc

    def close(self) -> None:
        try:
            self._light = 0
            self._command(CLEAR)
            self._sleep(0.002)
        except OSError as exc:
            log.warning("HD44780 at %#x: not blanked (%s)", self._address, exc)
        finally:
            try:
                self._bus.close()
            except OSError:
                pass

    # ---- the 4-bit protocol -------------------------------------------------------------

    def _initialise(self) -> None:
        try:
            self._sleep(0.05)  # > 40 ms after the supply rose
            for wait in (0.0045, 0.00015, 0.00015):
                self._nibble(0x30, 0)
                self._sleep(wait)
            self._nibble(0x20, 0)  # 4-bit from here on
            for command in (FUNCTION_4BIT_2LINES, DISPLAY_ON, CLEAR, ENTRY_LEFT):
                self._command(command)
            self._sleep(0.002)  # clear takes 1.52 ms
        except OSError as exc:
            raise HardwareError(f"HD44780 at {self._address:#x} does not answer: {exc}") from exc
        self._shown, self._lost = [" " * self._size.columns] * self._size.rows, False

    def _command(self, byte: int) -> None:
        self._write(byte, 0)
        if byte == CLEAR:
            self._sleep(0.002)

    def _write(self, byte: int, mode: int) -> None:
        self._nibble(byte & 0xF0, mode)
        self._nibble((byte << 4) & 0xF0, mode)

    def _nibble(self, high: int, mode: int) -> None:
        out = high | mode | self._light
        self._bus.write_byte(self._address, out | PINS["e"])
        self._bus.write_byte(self._address, out)


class _Unopened:
    """The bus of a dry build (``evsed check``): never written."""

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        del i2c_addr, value, force

    def close(self) -> None:
        """Nothing was opened."""


def build_display(
    section: ConfigSection, dry_run: bool = False, open_bus: Callable[[int], Any] | None = None
) -> Hd44780:
    """An HD44780 from ``[board.display]``: ``i2c_bus`` (1), ``address`` (0x27), ``columns`` (16),
    ``rows`` (2), ``backlight`` (true)."""
    section.get_str("type", choices=["hd44780"])
    bus_number = section.get_int("i2c_bus", 1, minval=0, maxval=255)
    address = section.get_int("address", 0x27, minval=0x20, maxval=0x3F)
    if address not in ADDRESSES:
        raise section.error("address", address, "a PCF8574 answers at 0x20-0x27, a PCF8574A at 0x38-0x3F")
    columns = section.get_int("columns", 16, minval=8, maxval=40)
    size = DisplaySize(columns, section.get_int("rows", 2, minval=1, maxval=4))
    if (size.columns, size.rows) not in SIZES:
        raise section.error("columns", size.columns, f"with rows = {size.rows}: one of "
                            + ", ".join(f"{c}x{r}" for c, r in SIZES))  # fmt: skip
    backlight = section.get_bool("backlight", True)
    if dry_run:
        return Hd44780(_Unopened(), address, size, backlight, sleep=lambda _s: None)
    if open_bus is None:
        open_bus = import_board_library("smbus2", "display 'hd44780'").SMBus
    try:
        bus = open_bus(bus_number)
    except OSError as exc:
        raise ConfigError(f"display 'hd44780': cannot open I2C bus {bus_number} ({exc}); is I2C enabled?") from exc
    try:
        return Hd44780(bus, address, size, backlight)
    except HardwareError:
        bus.close()
        raise
