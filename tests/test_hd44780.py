"""The HD44780 driver at the smbus2 boundary: the exact bytes of the 4-bit protocol through a
PCF8574 backpack (no I2C bus exists on the test machine), per the HD44780U datasheet."""

from __future__ import annotations

import pytest

from drivers.hd44780 import Hd44780, build_display, rom_text
from hal.config import ConfigError, ConfigSection
from hal.errors import HardwareError
from hal.types import DisplaySize

ADDRESS = 0x27
BL, E, RS = 0x08, 0x04, 0x01


class RecordingBus:
    """smbus2.SMBus as the driver uses it: every write_byte, in order; can fail on demand."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, int]] = []
        self.fail_after: int | None = None
        self.closed = False

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        if self.fail_after is not None and len(self.writes) >= self.fail_after:
            raise OSError(121, "Remote I/O error")
        self.writes.append((i2c_addr, value))

    def close(self) -> None:
        self.closed = True

    def take(self) -> list[int]:
        out = [value for addr, value in self.writes]
        assert all(addr == ADDRESS for addr, _ in self.writes)
        self.writes.clear()
        return out


def pulse(nibble_bits: int, rs: int = 0, light: int = BL) -> list[int]:
    """One nibble on D4-D7 (P4-P7), latched by E high then low."""
    return [nibble_bits | rs | light | E, nibble_bits | rs | light]


def byte(value: int, rs: int = 0, light: int = BL) -> list[int]:
    return pulse(value & 0xF0, rs, light) + pulse((value << 4) & 0xF0, rs, light)


# HD44780U figure 24 (4-bit initialisation by instruction), then function set 2 lines,
# display on / cursor off, clear, entry mode increment.
INIT = [*pulse(0x30), *pulse(0x30), *pulse(0x30), *pulse(0x20),
        *byte(0x28), *byte(0x0C), *byte(0x01), *byte(0x06)]  # fmt: skip


LCD_16X2 = DisplaySize(16, 2)


def lcd(size: DisplaySize = LCD_16X2) -> tuple[Hd44780, RecordingBus, list[float]]:
    bus, waits = RecordingBus(), []
    display = Hd44780(bus, ADDRESS, size, sleep=waits.append)
    return display, bus, waits


def test_initialisation_is_the_datasheet_sequence_with_its_waits() -> None:
    display, bus, waits = lcd()
    assert bus.take() == INIT
    assert INIT[:2] == [0x3C, 0x38]  # D7-D4 = 0011, backlight on, E high then low; RS and RW low
    assert waits[0] >= 0.040 and waits[1] >= 0.0041 and waits[2] >= 0.0001  # power-up, then 4.1 ms, 100 us
    assert sum(waits[4:]) >= 0.00152  # the clear's execution time
    assert display.size() == DisplaySize(16, 2)


def test_a_row_is_its_address_then_its_characters_padded_to_the_width() -> None:
    display, bus, _ = lcd()
    bus.take()
    display.show(["Hi"])
    assert bus.take() == byte(0x80 | 0x00) + byte(ord("H"), RS) + byte(ord("i"), RS) + byte(ord(" "), RS) * 14
    display.show(["Hi", "A"])  # row 1 changed only: DDRAM 0x40
    assert bus.take() == byte(0x80 | 0x40) + byte(ord("A"), RS) + byte(ord(" "), RS) * 15
    display.show(["Hi", "A"])
    assert bus.take() == []  # nothing changed, nothing written


def test_rows_three_and_four_of_a_20x4_continue_rows_one_and_two() -> None:
    display, bus, _ = lcd(DisplaySize(20, 4))
    bus.take()
    display.show(["", "", "x", "y"])
    sent = bus.take()
    assert sent[:4] == byte(0x80 | 0x14) and sent[4:8] == byte(ord("x"), RS)
    assert sent[84:88] == byte(0x80 | 0x54) and sent[88:92] == byte(ord("y"), RS)
    assert len(sent) == 2 * (1 + 20) * 4


def test_characters_outside_the_rom_are_drawn_plain_or_as_a_question_mark() -> None:
    assert rom_text("Café 1,50 €") == "Cafe 1,50 ?"
    assert rom_text("Größe ~") == "Gro?e ?"  # ß has no plain letter, ~ (0x7E) is an arrow in ROM A00


def test_a_bus_error_is_a_hardware_error_and_the_next_show_initialises_again() -> None:
    display, bus, _ = lcd()
    bus.take()
    bus.fail_after = 3
    with pytest.raises(HardwareError, match="0x27"):
        display.show(["Hello"])
    bus.fail_after = None
    bus.take()
    display.show(["Hello"])
    sent = bus.take()
    assert sent[: len(INIT)] == INIT  # the LCD's state is unknown after a torn write
    assert sent[len(INIT) : len(INIT) + 4] == byte(0x80)


def test_close_blanks_it_with_the_backlight_off_and_never_raises() -> None:
    display, bus, _ = lcd()
    bus.take()
    display.close()
    assert bus.take() == byte(0x01, light=0) and bus.closed
    display, bus, _ = lcd()
    bus.fail_after = 0
    display.close()  # logged, not raised
    assert bus.closed


def section(**keys: object) -> ConfigSection:
    table = {"type": "hd44780", **keys}
    return ConfigSection("test.toml", "board.display", table, {})


def test_config_builds_on_the_named_bus_with_its_keys() -> None:
    opened: list[int] = []
    bus = RecordingBus()

    def open_bus(number: int) -> RecordingBus:
        opened.append(number)
        return bus

    display = build_display(section(i2c_bus=3, address=0x3F, columns=20, rows=4, backlight=False), open_bus=open_bus)
    assert opened == [3] and display.size() == DisplaySize(20, 4)
    assert {value & BL for _, value in bus.writes} == {0}  # backlight off
    assert {addr for addr, _ in bus.writes} == {0x3F}


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"address": 0x30}, "PCF8574A at 0x38-0x3F"),
        ({"columns": 16, "rows": 3}, "16x2, 20x2, 16x4, 20x4, 40x2"),
        ({"i2c_bus": -1}, "i2c_bus"),
        ({"type": "ssd1306"}, "hd44780"),
    ],
)
def test_config_errors_name_the_key_and_what_is_allowed(keys: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_display(section(**keys), dry_run=True)


def test_a_dry_build_opens_no_bus() -> None:
    def refuse(_number: int) -> None:
        raise AssertionError("a dry build opened the bus")

    assert build_display(section(), dry_run=True, open_bus=refuse).size() == DisplaySize(16, 2)


def test_a_bus_that_cannot_be_opened_is_a_config_error() -> None:
    def missing(number: int) -> None:
        raise FileNotFoundError(2, f"No such file or directory: '/dev/i2c-{number}'")

    with pytest.raises(ConfigError, match="is I2C enabled"):
        build_display(section(), open_bus=missing)
