"""OCPP 1.6 MeterValue building from the station's samples (controller/measurands.py).

Rules kept here (OCPP 1.6 edition 2 sections 3.16, 7.17, 7.31 SampledValue, 7.45 Measurand):
- ``value`` is a decimal string without exponent; ``context`` is always written out (the
  default Sample.Periodic too); ``format`` is left at its default Raw.
- ``unit`` only where 1.6's UnitOfMeasure has it: Frequency (Hz) goes without one.
- What the station cannot measure is left out (the neutral table's rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller.measurands import samples
from controller.realtime import ConnectorSnapshot
from hal.types import MeterReading

UNITS_16 = frozenset({"Wh", "W", "A", "V", "Celsius"})  # of the units the table uses


def number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def sampled_values(
    measurands: Iterable[str],
    reading: MeterReading | None,
    snapshot: ConnectorSnapshot | None,
    context: str,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in samples(measurands, reading, snapshot):
        value: dict[str, Any] = {"value": number(s.value), "context": context, "measurand": s.measurand}
        value["location"] = s.location
        if s.unit in UNITS_16:
            value["unit"] = s.unit
        if s.phase is not None:
            value["phase"] = s.phase
        out.append(value)
    return out


def meter_value(timestamp: str, values: list[dict[str, Any]]) -> dict[str, Any]:
    return {"timestamp": timestamp, "sampledValue": values}
