"""Stand-ins for board-only libraries and kernel interfaces, at the API the drivers use.

Rules kept here:
- Each fake implements the library's own call shapes (gpiod v2 ``request_lines`` /
  ``LineSettings`` / ``line.Value``, RPi.GPIO ``setup`` / ``output`` / ``input``, the
  ADS1115 register protocol over smbus2 calls, the MCP3x0x SPI frames, a sysfs PWM
  tree) and refuses what the real thing refuses (a line claimed twice, a write to an
  input, a wrong I2C address or register), so a broken driver fails its test.
- The outside world is played through ``drive``/``set_voltage`` methods; what the
  driver did is observable as levels, register words and file contents.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any


# -- gpiod v2 ---------------------------------------------------------------------
class _Direction(enum.Enum):
    INPUT = "input"
    OUTPUT = "output"


class _Value(enum.Enum):
    INACTIVE = 0
    ACTIVE = 1


class _Bias(enum.Enum):
    DISABLED = "disabled"
    PULL_UP = "pull-up"
    PULL_DOWN = "pull-down"


@dataclass
class _LineSettings:
    direction: _Direction = _Direction.INPUT
    output_value: _Value = _Value.INACTIVE
    bias: _Bias = _Bias.DISABLED


class _Request:
    def __init__(self, chip: FakeGpiod, path: str, config: dict[int, _LineSettings]):
        self._chip, self._path, self._config, self.released = chip, path, config, False

    def set_value(self, line: int, value: _Value) -> None:
        assert not self.released and line in self._config
        if self._config[line].direction is not _Direction.OUTPUT:
            raise OSError(1, "line is an input")
        self._chip.set_level(self._path, line, value is _Value.ACTIVE)

    def get_value(self, line: int) -> _Value:
        assert not self.released and line in self._config
        return _Value.ACTIVE if self._chip.level(self._path, line) else _Value.INACTIVE

    def release(self) -> None:
        self.released = True
        for line in self._config:
            self._chip.claimed.discard((self._path, line))


class FakeGpiod:
    """A module-shaped stand-in for ``gpiod`` v2 with a wire level per (chip, line)."""

    def __init__(self, chips: tuple[str, ...] = ("/dev/gpiochip0",)):
        self.line = SimpleNamespace(Direction=_Direction, Value=_Value, Bias=_Bias)
        self.LineSettings = _LineSettings
        self.chips = chips
        self.levels: dict[tuple[str, int], bool] = {}
        self.history: list[tuple[int, bool]] = []  # (line, level) of every output write
        self.claimed: set[tuple[str, int]] = set()
        self.settings: dict[tuple[str, int], _LineSettings] = {}
        # output line -> what the outside world does when it changes (a relay's mirror contact)
        self.wiring: dict[int, Any] = {}

    def request_lines(self, path: str, consumer: str, config: dict[int, _LineSettings]) -> _Request:
        if path not in self.chips:
            raise FileNotFoundError(2, "No such file or directory", path)
        for line, settings in config.items():
            if (path, line) in self.claimed:
                raise OSError(16, "Device or resource busy")
            self.claimed.add((path, line))
            self.settings[(path, line)] = settings
            if settings.direction is _Direction.OUTPUT:
                self.set_level(path, line, settings.output_value is _Value.ACTIVE)
        return _Request(self, path, dict(config))

    def set_level(self, path: str, line: int, level: bool) -> None:
        self.levels[(path, line)] = level
        self.history.append((line, level))
        if line in self.wiring:
            self.wiring[line](level)

    def level(self, path: str, line: int) -> bool:
        return self.levels.get((path, line), False)

    def drive(self, line: int, level: bool, path: str = "/dev/gpiochip0") -> None:
        """The outside world puts ``level`` on an input line."""
        self.levels[(path, line)] = level

    def wire(self, line: int, path: str = "/dev/gpiochip0") -> bool:
        return self.level(path, line)


# -- RPi.GPIO ----------------------------------------------------------------------
class FakeRpiGpio:
    BCM, BOARD = 11, 10
    OUT, IN = 0, 1
    HIGH, LOW = 1, 0
    PUD_OFF, PUD_DOWN, PUD_UP = 20, 21, 22

    def __init__(self) -> None:
        self.mode: int | None = None
        self.directions: dict[int, int] = {}
        self.pulls: dict[int, int] = {}
        self.levels: dict[int, int] = {}
        self.cleaned: list[int] = []

    def setwarnings(self, flag: bool) -> None:
        pass

    def setmode(self, mode: int) -> None:
        self.mode = mode

    def setup(self, pin: int, direction: int, initial: int = 0, pull_up_down: int = 20) -> None:
        assert self.mode == self.BCM, "setmode(BCM) must come first"
        self.directions[pin] = direction
        if direction == self.OUT:
            self.levels[pin] = initial
        else:
            self.pulls[pin] = pull_up_down

    def output(self, pin: int, value: int) -> None:
        if self.directions.get(pin) != self.OUT:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        self.levels[pin] = value

    def input(self, pin: int) -> int:
        if pin not in self.directions:
            raise RuntimeError("You must setup() the GPIO channel first")
        return self.levels.get(pin, 0)

    def cleanup(self, pin: int) -> None:
        self.cleaned.append(pin)
        self.directions.pop(pin, None)


# -- sysfs PWM ---------------------------------------------------------------------
class FakePwmSysfs:
    """A tmp dir laid out like /sys/class/pwm; a thread plays the kernel's export."""

    def __init__(self, root: Path, chips: int = 1, npwm: int = 2):
        self.root = root
        for c in range(chips):
            chip = root / f"pwmchip{c}"
            chip.mkdir(parents=True)
            (chip / "npwm").write_text(f"{npwm}\n")
            (chip / "export").write_text("")
            (chip / "unexport").write_text("")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._kernel, daemon=True)
        self._thread.start()

    def _kernel(self) -> None:
        while not self._stop.wait(0.002):
            for chip in self.root.glob("pwmchip*"):
                text = (chip / "export").read_text().strip()
                if text and not (chip / f"pwm{text}").exists():
                    self.make_channel(chip, int(text))

    @staticmethod
    def make_channel(chip: Path, n: int) -> None:
        tmp = chip / f".pwm{n}"
        tmp.mkdir()
        for name, value in (("period", "0"), ("duty_cycle", "0"), ("enable", "0"), ("polarity", "normal")):
            (tmp / name).write_text(value + "\n")
        tmp.rename(chip / f"pwm{n}")  # appears complete, like the kernel's device node

    def file(self, chip: int, channel: int, name: str) -> str:
        return (self.root / f"pwmchip{chip}" / f"pwm{channel}" / name).read_text().strip()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


# -- ADS1115 over smbus2 -----------------------------------------------------------
FSR_V = {0: 6.144, 1: 4.096, 2: 2.048, 3: 1.024, 4: 0.512, 5: 0.256, 6: 0.256, 7: 0.256}
SINGLE_ENDED_MUX = {4: 0, 5: 1, 6: 2, 7: 3}


@dataclass
class FakeAds1115Bus:
    """An SMBus with one ADS1115: config register (1) and conversion register (0); and the
    PCF8574 backpacks of LCDs (``backpacks``: address -> every byte written, in order)."""

    address: int = 0x48
    volts: dict[int, float] = field(default_factory=lambda: {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0})
    config_writes: list[int] = field(default_factory=list)
    config: int = 0x8583  # power-on default
    conversion: int = 0
    closed: bool = False
    source: Any = None  # optional callable(channel) -> volts, for waveforms
    backpacks: dict[int, list[int]] = field(default_factory=lambda: {0x27: []})

    def write_byte(self, addr: int, value: int, force: bool | None = None) -> None:
        assert not self.closed
        if addr not in self.backpacks:
            raise OSError(121, "Remote I/O error")
        self.backpacks[addr].append(value)

    def _check(self, addr: int) -> None:
        assert not self.closed
        if addr != self.address:
            raise OSError(121, "Remote I/O error")  # no ACK at that address

    def write_i2c_block_data(self, addr: int, register: int, data: list[int], force: bool | None = None) -> None:
        self._check(addr)
        if register != 1 or len(data) != 2:
            raise OSError(121, "Remote I/O error")
        word = (data[0] << 8) | data[1]
        self.config_writes.append(word)
        self.config = word & 0x7FFF
        if word & 0x8000:  # OS: start a single-shot conversion; done at once here
            mux = (word >> 12) & 7
            if mux not in SINGLE_ENDED_MUX:
                raise AssertionError(f"differential mux {mux} not expected")
            ch = SINGLE_ENDED_MUX[mux]
            v = self.source(ch) if self.source else self.volts[ch]
            fsr = FSR_V[(word >> 9) & 7]
            code = max(-32768, min(32767, round(v / fsr * 32768)))
            self.conversion = code & 0xFFFF
            self.config |= 0x8000  # OS reads 1: conversion complete

    def read_i2c_block_data(self, addr: int, register: int, length: int, force: bool | None = None) -> list[int]:
        self._check(addr)
        if register not in (0, 1) or length != 2:
            raise OSError(121, "Remote I/O error")
        word = self.conversion if register == 0 else self.config
        return [word >> 8, word & 0xFF]

    def close(self) -> None:
        self.closed = True


# -- MCP3202 / MCP3008 over spidev -------------------------------------------------
class FakeSpiDev:
    """spidev.SpiDev with an MCP3202 (12 bit, 2 ch) or MCP3008 (10 bit, 8 ch) behind it."""

    def __init__(self, model: str = "mcp3202", vref: float = 3.3):
        self.model, self.vref = model, vref
        self.volts: dict[int, float] = {}
        self.source: Any = None
        self.opened: tuple[int, int] | None = None
        self.max_speed_hz = 0
        self.mode = 3
        self.frames: list[list[int]] = []

    def open(self, bus: int, device: int) -> None:
        self.opened = (bus, device)

    def xfer2(self, data: list[int]) -> list[int]:
        assert self.opened is not None
        self.frames.append(list(data))
        assert data[0] == 0x01 and len(data) == 3, f"bad start frame {data}"
        if self.model == "mcp3202":
            assert data[1] & 0xA0 == 0xA0, "single-ended, MSB first expected"
            ch, bits, mask = (data[1] >> 6) & 1, 12, 0x0F
        else:
            assert data[1] & 0x80, "single-ended expected"
            ch, bits, mask = (data[1] >> 4) & 7, 10, 0x03
        v = self.source(ch) if self.source else self.volts.get(ch, 0.0)
        code = max(0, min((1 << bits) - 1, round(v / self.vref * (1 << bits))))
        return [0, (code >> 8) & mask, code & 0xFF]

    def close(self) -> None:
        self.opened = None


def wait_until(predicate: Any, timeout: float = 2.0) -> None:
    """Poll a condition another thread makes true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.001)


# -- the analog CP circuit ---------------------------------------------------------
@dataclass
class CpCircuit:
    """The +-12 V CP line between a sysfs PWM and an ADC input, with an EV model.

    ``ev_v`` is the positive level the EV's resistors pull the line to (12 = none,
    9 = B, 6 = C, 3 = D). Without an EV diode the EV's resistors load the negative
    half as well. ``adc_v`` is what the sense divider shows the ADC; each call steps
    the phase so a burst of conversions sweeps the 1 kHz period.
    """

    pwm: FakePwmSysfs
    chip: int = 0
    channel: int = 0
    divider: float = 8.0
    offset_v: float = 1.65
    ev_v: float = 12.0
    diode: bool = True
    shorted: bool = False
    _phase: float = 0.0

    _duty: float = 1.0

    def line_v(self) -> float:
        duty_ns = self.pwm.file(self.chip, self.channel, "duty_cycle")
        if duty_ns:  # an empty read is the driver's write caught mid-way (sysfs writes are atomic)
            self._duty = int(duty_ns) / int(self.pwm.file(self.chip, self.channel, "period"))
        duty = self._duty
        self._phase = (self._phase + 0.0371) % 1.0
        if self.shorted:
            return 0.0
        if self._phase < duty:
            return self.ev_v
        return -12.0 if self.diode or self.ev_v == 12.0 else -self.ev_v

    def adc_v(self, channel: int = 0) -> float:
        return self.line_v() / self.divider + self.offset_v
