"""Digital outputs and inputs over a GPIO backend chosen by name.

Rules kept here:
- Devices (``OutputPin``, ``InputPin``) are separate from backends (gpiozero's idea):
  a backend only claims lines and moves raw levels; active-low and debouncing live in
  the devices, so both backends behave the same.
- Backends: ``gpiod`` (libgpiod v2 bindings, every Pi including the Pi 5) and ``rpi``
  (RPi.GPIO, Pi 4 and older). Their library is imported lazily, only when chosen; a
  missing one is a ``ConfigError`` that names the package to install. Tests inject a
  stand-in module through the same constructor argument.
- An output is claimed at its inactive (safe) level, so a contactor never clicks on
  while the daemon starts. ``close()`` drives it inactive, releases it and never raises.
- Inputs are debounced in software: a new level counts only once it has held for
  ``debounce_s``. The real-time loop reads them every few ms, which is the sampling.
- Line numbers are BCM / chip offsets (the same number on both backends on a Pi).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from hal.config import ConfigError

log = logging.getLogger(__name__)

BIASES = ("none", "pull-up", "pull-down")


class GpioBackend(Protocol):
    """What a backend must do: claim a line, move or read its raw level, let it go."""

    def claim_output(self, line: int, level: bool) -> None: ...

    def claim_input(self, line: int, bias: str) -> None: ...

    def write(self, line: int, level: bool) -> None: ...

    def read(self, line: int) -> bool: ...

    def release(self, line: int) -> None: ...

    def close(self) -> None: ...


class GpiodBackend:
    """libgpiod v2: one line request per line, so each device releases its own line."""

    def __init__(self, chip: str, gpiod: Any, consumer: str = "evsed"):
        self._gpiod = gpiod
        self._chip = chip
        self._consumer = consumer
        self._requests: dict[int, Any] = {}

    def _request(self, line: int, settings: Any) -> None:
        if line in self._requests:
            raise ConfigError(f"GPIO line {line} on {self._chip} is used twice in the configuration")
        try:
            self._requests[line] = self._gpiod.request_lines(
                self._chip, consumer=self._consumer, config={line: settings}
            )
        except OSError as exc:
            raise ConfigError(f"GPIO line {line} on {self._chip}: cannot claim it ({exc})") from exc

    def claim_output(self, line: int, level: bool) -> None:
        gl = self._gpiod.line
        self._request(line, self._gpiod.LineSettings(direction=gl.Direction.OUTPUT, output_value=self._value(level)))

    def claim_input(self, line: int, bias: str) -> None:
        gl = self._gpiod.line
        bias_value = {"none": gl.Bias.DISABLED, "pull-up": gl.Bias.PULL_UP, "pull-down": gl.Bias.PULL_DOWN}[bias]
        self._request(line, self._gpiod.LineSettings(direction=gl.Direction.INPUT, bias=bias_value))

    def _value(self, level: bool) -> Any:
        return self._gpiod.line.Value.ACTIVE if level else self._gpiod.line.Value.INACTIVE

    def write(self, line: int, level: bool) -> None:
        self._requests[line].set_value(line, self._value(level))

    def read(self, line: int) -> bool:
        return bool(self._requests[line].get_value(line) == self._gpiod.line.Value.ACTIVE)

    def release(self, line: int) -> None:
        request = self._requests.pop(line, None)
        if request is not None:
            request.release()

    def close(self) -> None:
        for line in list(self._requests):
            self.release(line)


class RpiBackend:
    """RPi.GPIO in BCM numbering. It keeps global state, so cleanup is per pin."""

    def __init__(self, chip: str, gpio: Any):
        del chip  # RPi.GPIO knows only the Pi's one header
        self._gpio = gpio
        self._lines: set[int] = set()
        gpio.setwarnings(False)
        gpio.setmode(gpio.BCM)

    def _claim(self, line: int) -> None:
        if line in self._lines:
            raise ConfigError(f"GPIO line {line} is used twice in the configuration")
        self._lines.add(line)

    def claim_output(self, line: int, level: bool) -> None:
        self._claim(line)
        self._gpio.setup(line, self._gpio.OUT, initial=self._gpio.HIGH if level else self._gpio.LOW)

    def claim_input(self, line: int, bias: str) -> None:
        self._claim(line)
        pud = {"none": self._gpio.PUD_OFF, "pull-up": self._gpio.PUD_UP, "pull-down": self._gpio.PUD_DOWN}[bias]
        self._gpio.setup(line, self._gpio.IN, pull_up_down=pud)

    def write(self, line: int, level: bool) -> None:
        self._gpio.output(line, self._gpio.HIGH if level else self._gpio.LOW)

    def read(self, line: int) -> bool:
        return bool(self._gpio.input(line))

    def release(self, line: int) -> None:
        if line in self._lines:
            self._lines.discard(line)
            self._gpio.cleanup(line)

    def close(self) -> None:
        for line in list(self._lines):
            self.release(line)


# name -> (module to import, backend class). Adding a backend is one line here.
GPIO_BACKENDS: dict[str, tuple[str, Callable[[str, Any], GpioBackend]]] = {
    "gpiod": ("gpiod", GpiodBackend),
    "rpi": ("RPi.GPIO", RpiBackend),
}


def open_backend(name: str, chip: str = "/dev/gpiochip0", module: ModuleType | Any | None = None) -> GpioBackend:
    """Build the backend ``name``; ``module`` stands in for its library (tests)."""
    if name not in GPIO_BACKENDS:
        raise ConfigError(f"GPIO backend {name!r}: expected one of {', '.join(map(repr, GPIO_BACKENDS))}")
    module_name, factory = GPIO_BACKENDS[name]
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(
                f"GPIO backend {name!r} needs the Python package {module_name!r}, which is not installed "
                f"(install evsed with the 'pi' extra)"
            ) from exc
    return factory(chip, module)


class OutputPin:
    """A logical on/off output; ``active_low`` inverts the level on the wire."""

    def __init__(self, backend: GpioBackend, line: int, active_low: bool = False):
        self._backend = backend
        self.line = line
        self._active_low = active_low
        self._on = False
        backend.claim_output(line, active_low)  # logical off

    def set(self, on: bool) -> None:
        self._backend.write(self.line, on != self._active_low)
        self._on = on

    def is_on(self) -> bool:
        return self._on

    def close(self) -> None:
        try:
            self.set(False)
        finally:
            self._backend.release(self.line)


@dataclass
class Debouncer:
    """A level counts once it has held for ``hold_s``; until then the old one stands."""

    hold_s: float
    stable: bool | None = None
    _pending: bool | None = None
    _since: float = 0.0

    def update(self, level: bool, now: float) -> bool:
        if self.stable is None or self.hold_s <= 0:
            self.stable = level
        elif level == self.stable:
            self._pending = None
        elif level != self._pending:
            self._pending, self._since = level, now
        elif now - self._since >= self.hold_s:
            self.stable, self._pending = level, None
        return self.stable


class InputPin:
    """A logical, debounced input; ``active_low`` reads a low wire as on."""

    def __init__(
        self,
        backend: GpioBackend,
        line: int,
        active_low: bool = False,
        bias: str = "none",
        debounce_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if bias not in BIASES:
            raise ConfigError(f"GPIO line {line}: bias {bias!r}: expected one of {', '.join(BIASES)}")
        self._backend = backend
        self.line = line
        self._active_low = active_low
        self._debounce = Debouncer(debounce_s)
        self._clock = clock
        backend.claim_input(line, bias)

    def is_on(self) -> bool:
        return self._debounce.update(self._backend.read(self.line) != self._active_low, self._clock())

    def close(self) -> None:
        self._backend.release(self.line)
