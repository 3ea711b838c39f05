"""Values that cross the hardware boundary.

Rules kept here:
- Plain frozen dataclasses and enums, no behaviour beyond derived properties: the
  HAL reports what the hardware says; deciding what it means is the controller's job.
- Electrical quantities carry their unit in the name (``_v``, ``_a``, ``_w``, ``_wh``).
- Timestamps taken by drivers are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class CpState(Enum):
    """IEC 61851-1 control-pilot state, from the positive level of the CP signal."""

    A = "A"  # 12 V: no EV
    B = "B"  # 9 V: EV connected, not asking for power
    C = "C"  # 6 V: EV asks for power
    D = "D"  # 3 V: EV asks for power, ventilation required
    E = "E"  # 0 V: short circuit or no supply
    F = "F"  # -12 V: EVSE signals an error (only seen when we drive it)


@dataclass(frozen=True)
class PilotReading:
    """One sample of the CP line.

    ``negative_v`` is the low level of the PWM square wave. It only exists while the
    PWM oscillates; with a constant +12 V (X1) drivers report ``None``. An EV's diode
    clamps it to about -12 V; a missing diode leaves it near the positive level.
    """

    state: CpState
    positive_v: float
    negative_v: float | None
    at: float  # time.monotonic() of the sample


class PilotMode(Enum):
    """What the EVSE drives onto the CP line."""

    X1 = "X1"  # constant +12 V: no current offered
    X2 = "X2"  # 1 kHz PWM, duty announces the current offered
    F = "F"  # constant -12 V: EVSE error / not available


@dataclass(frozen=True)
class PilotCommand:
    mode: PilotMode
    duty_percent: float = 100.0  # meaningful in X2 only

    @staticmethod
    def x1() -> PilotCommand:
        return PilotCommand(PilotMode.X1, 100.0)

    @staticmethod
    def state_f() -> PilotCommand:
        return PilotCommand(PilotMode.F, 0.0)

    @staticmethod
    def pwm(duty_percent: float) -> PilotCommand:
        return PilotCommand(PilotMode.X2, duty_percent)


@dataclass(frozen=True)
class MeterReading:
    """One consistent snapshot of an energy meter.

    Per-phase tuples are (L1, L2, L3); a single-phase meter reports one element.
    ``None`` means the meter does not measure that quantity.
    """

    voltage_v: tuple[float, ...]
    current_a: tuple[float, ...]
    power_w: float  # total active power, positive = import (to the EV)
    energy_import_wh: float  # monotonic register
    energy_export_wh: float | None = None
    frequency_hz: float | None = None
    at: float = 0.0  # time.monotonic() when read
    serial_number: str | None = None
    power_phase_w: tuple[float, ...] | None = None  # signed active power per phase, where the meter has it


@dataclass(frozen=True)
class DisplaySize:
    """A character display: ``rows`` lines of ``columns`` characters."""

    columns: int
    rows: int


class Indication(Enum):
    """What the status indicator shows; drivers map these to LEDs / displays."""

    OFF = "off"
    IDLE = "idle"  # free to use
    WAITING = "waiting"  # an EV or a token is there, charging has not begun
    CHARGING = "charging"
    SUSPENDED = "suspended"  # charging paused, by the EV or the station
    DONE = "done"  # charging ended, the EV is still plugged in
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"


@dataclass(frozen=True)
class SelfTestResult:
    passed: bool
    detail: str = ""
    measurements: dict[str, float] = field(default_factory=dict)
