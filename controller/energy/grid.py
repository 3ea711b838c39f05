"""What the house connection carries: one signed reading per phase, and where readings come from.

Rules kept here:
- Import is positive, export negative, per phase (L1, L2, L3); a single-phase house reports
  L1 only and the other phases read 0.
- A reading carries the monotonic instant it was taken (``at``); its age decides whether it
  may be used (``fresh``), never the time it arrived.
- ``from_meter`` turns a Modbus meter's snapshot into a reading: the meter's current registers
  are magnitudes, so each phase takes the sign of that phase's active power (a single-phase
  meter's total is its phase). A three-phase meter without per-phase power cannot tell import
  from export per phase: its currents are taken as import (the safe side for the fuse) and
  the total power as measured.
- ``from_json`` parses what an outside energy manager sends (MQTT or ``POST /api/grid``):
  ``{"power_w": [..], "current_a": [..]}`` with 1 or 3 signed numbers each, at least one of
  the two; a missing one is derived at the nominal voltage. Anything else is a ``ValueError``
  that names the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hal.types import MeterReading

PHASES = 3
MAX_GRID_A = 2000.0  # beyond any house connection: a decoding error, not a fact


@dataclass(frozen=True)
class GridReading:
    current_a: tuple[float, float, float]  # signed, + import
    power_w: tuple[float, float, float]  # signed, + import
    at: float  # time.monotonic() when measured

    @property
    def total_power_w(self) -> float:
        return sum(self.power_w)

    def fresh(self, now: float, max_age_s: float) -> bool:
        return now - self.at <= max_age_s

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "current_a": [round(a, 2) for a in self.current_a],
            "power_w": [round(p, 1) for p in self.power_w],
            "total_power_w": round(self.total_power_w, 1),
            "age_s": round(max(0.0, now - self.at), 2),
        }


def _three(values: tuple[float, ...]) -> tuple[float, float, float]:
    padded = (*values, 0.0, 0.0, 0.0)[:PHASES]
    return (padded[0], padded[1], padded[2])


def from_meter(reading: MeterReading, voltage_v: float) -> GridReading:
    """A house-connection meter's snapshot as a signed grid reading."""
    phase_power = reading.power_phase_w
    if phase_power is None and len(reading.current_a) == 1:
        phase_power = (reading.power_w,)
    if phase_power is None:
        signed = tuple(abs(a) for a in reading.current_a)
        share = reading.power_w / max(1, len(reading.current_a))
        power = (share,) * len(reading.current_a)
    else:
        signed = tuple(math.copysign(abs(a), p) for a, p in zip(reading.current_a, phase_power, strict=False))
        power = phase_power
    return GridReading(_three(tuple(signed)), _three(tuple(power)), reading.at)


def _numbers(body: dict[str, Any], key: str) -> tuple[float, ...] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) not in (1, PHASES):
        raise ValueError(f"{key} must be a list of 1 or 3 numbers (L1, L2, L3), not {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise ValueError(f"{key} must hold finite numbers, not {item!r}")
    return tuple(float(v) for v in value)


def from_json(body: object, at: float, voltage_v: float) -> GridReading:
    """An outside energy manager's grid reading (see the rules above)."""
    if not isinstance(body, dict):
        raise ValueError('a grid reading is a JSON object: {"power_w": [L1, L2, L3], "current_a": [...]}')
    unknown = sorted(set(body) - {"power_w", "current_a"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: power_w, current_a)")
    power = _numbers(body, "power_w")
    current = _numbers(body, "current_a")
    if power is None and current is None:
        raise ValueError("a grid reading needs power_w or current_a (or both)")
    if power is not None and current is not None and len(power) != len(current):
        raise ValueError("power_w and current_a must name the same phases")
    if current is None:
        assert power is not None
        current = tuple(p / voltage_v for p in power)
    if power is None:
        power = tuple(a * voltage_v for a in current)
    if any(abs(a) > MAX_GRID_A for a in current):
        raise ValueError(f"current_a beyond {MAX_GRID_A:g} A is not a house connection: {list(current)}")
    return GridReading(_three(current), _three(power), at)
