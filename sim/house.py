"""The house around a simulated wallbox: its other loads and its solar panels, as functions of time.

Rules kept here:
- Pure values: ``House`` answers what the house draws per phase at an instant; the world
  (sim/world.py) adds the EVs' currents and serves the sum as the grid meter's reading.
- Loads are per phase, in amperes, import positive. The bench changes them in steps
  (``with_load``): an oven switched on is a step of +20 A, not a ramp.
- A solar day is compressed: ``day_s`` seconds from sunrise to sunset, production
  ``peak_w * sin(pi * x)`` at the fraction ``x`` of the day, zero before and after. A cloud
  covers a part of the day (start and length as fractions of it) and removes ``depth`` of the
  production meanwhile. The inverter is three-phase: each phase gets a third, as export.
- Bad values raise ``ValueError`` naming the field, and change nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

PHASES = 3
MAX_LOAD_A = 200.0
MAX_PEAK_W = 100_000.0


def _bounded(name: str, value: object, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} = {value!r}: expected a number")
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value!r}: expected a value in [{lo:g}, {hi:g}]")
    return float(value)


@dataclass(frozen=True)
class Cloud:
    start: float  # fraction of the day
    length: float  # fraction of the day
    depth: float  # share of the production it removes, 0..1

    def __post_init__(self) -> None:
        _bounded("cloud start", self.start, 0.0, 1.0)
        _bounded("cloud length", self.length, 0.0, 1.0)
        _bounded("cloud depth", self.depth, 0.0, 1.0)

    def covers(self, x: float) -> bool:
        return self.start <= x < self.start + self.length


@dataclass(frozen=True)
class SolarDay:
    peak_w: float
    day_s: float
    sunrise_at: float  # the clock's time at sunrise
    clouds: tuple[Cloud, ...] = ()

    def __post_init__(self) -> None:
        _bounded("peak_w", self.peak_w, 0.0, MAX_PEAK_W)
        _bounded("day_s", self.day_s, 1.0, 86_400.0)

    def fraction(self, t: float) -> float:
        return (t - self.sunrise_at) / self.day_s

    def production_w(self, t: float) -> float:
        x = self.fraction(t)
        if not 0.0 <= x <= 1.0:
            return 0.0
        shade = 1.0
        for cloud in self.clouds:
            if cloud.covers(x):
                shade *= 1.0 - cloud.depth
        return self.peak_w * math.sin(math.pi * x) * shade


# A day with three clouds: a short thin one in the morning, a long thick one at noon, one late.
CLOUDY = (Cloud(0.25, 0.04, 0.6), Cloud(0.45, 0.08, 0.85), Cloud(0.7, 0.05, 0.7))


@dataclass(frozen=True)
class House:
    load_a: tuple[float, float, float] = (2.0, 2.0, 2.0)
    day: SolarDay | None = None
    voltage_v: float = 230.0

    def with_load(self, load_a: object) -> House:
        if not isinstance(load_a, (list, tuple)) or len(load_a) != PHASES:
            raise ValueError(f"load_a = {load_a!r}: expected 3 numbers (L1, L2, L3) in amperes")
        amps = tuple(_bounded("load_a", a, 0.0, MAX_LOAD_A) for a in load_a)
        return replace(self, load_a=(amps[0], amps[1], amps[2]))

    def with_day(self, peak_w: object, day_s: object, at: float, clouds: tuple[Cloud, ...] = ()) -> House:
        return replace(self, day=SolarDay(_bounded("peak_w", peak_w, 0.0, MAX_PEAK_W),
                                          _bounded("day_s", day_s, 1.0, 86_400.0), at, clouds))  # fmt: skip

    def solar_w(self, t: float) -> float:
        return 0.0 if self.day is None else self.day.production_w(t)

    def current_a(self, t: float) -> tuple[float, float, float]:
        """What the house alone draws per phase (import +), solar included."""
        solar_a = self.solar_w(t) / PHASES / self.voltage_v
        return (self.load_a[0] - solar_a, self.load_a[1] - solar_a, self.load_a[2] - solar_a)

    def snapshot(self, t: float) -> dict[str, object]:
        return {
            "load_a": list(self.load_a),
            "solar_w": round(self.solar_w(t), 1),
            "day_fraction": None if self.day is None else round(self.day.fraction(t), 4),
        }
