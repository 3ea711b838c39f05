"""OCPP 1.6 MeterValue building from the core's meter reading: one table of measurands.

Rules kept here (OCPP 1.6 edition 2 sections 3.16, 7.17, 7.31 SampledValue, 7.45 Measurand):
- One row per measurand the station can deliver: where its number comes from, its unit, its
  location, and whether it is reported per phase. No per-measurand code.
- Per-phase quantities carry ``phase``: currents L1/L2/L3, voltages L1-N/L2-N/L3-N (phase to
  neutral, what the meter measures). A configured "Voltage.L1" selects one phase only.
- ``value`` is a decimal string without exponent; ``context`` is always written out (the
  default Sample.Periodic too); ``format`` is left at its default Raw.
- Frequency has no unit in the 1.6 UnitOfMeasure enumeration, so none is sent.
- A measurand the reading cannot supply (meter silent, quantity not measured) is left out,
  never sent as 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from controller.realtime import ConnectorSnapshot
from hal.types import MeterReading

Source = Callable[[MeterReading | None, ConnectorSnapshot | None], "float | tuple[float, ...] | None"]


@dataclass(frozen=True)
class Measurand:
    name: str
    source: Source
    unit: str | None
    location: str = "Outlet"
    phases: tuple[str, ...] = ()  # per-phase names; empty = one total value


def _meter(fn: Callable[[MeterReading], Any]) -> Source:
    return lambda m, _s: None if m is None else fn(m)


def _snap(fn: Callable[[ConnectorSnapshot], Any]) -> Source:
    return lambda _m, s: None if s is None else fn(s)


MEASURANDS: dict[str, Measurand] = {
    m.name: m
    for m in (
        Measurand("Energy.Active.Import.Register", _meter(lambda m: m.energy_import_wh), "Wh"),
        Measurand("Energy.Active.Export.Register", _meter(lambda m: m.energy_export_wh), "Wh"),
        Measurand("Power.Active.Import", _meter(lambda m: max(0.0, m.power_w)), "W"),
        Measurand("Current.Import", _meter(lambda m: m.current_a or None), "A", phases=("L1", "L2", "L3")),
        Measurand("Voltage", _meter(lambda m: m.voltage_v or None), "V", phases=("L1-N", "L2-N", "L3-N")),
        Measurand("Frequency", _meter(lambda m: m.frequency_hz), None),
        Measurand("Current.Offered", _snap(lambda s: s.offered_a), "A"),
        Measurand("Temperature", _snap(lambda s: s.temperature_c), "Celsius", location="Body"),
    )
}
SUPPORTED = tuple(MEASURANDS)


def supported_measurands() -> tuple[str, ...]:
    """What ChangeConfiguration may put in MeterValues*Data (with per-phase variants)."""
    out = list(SUPPORTED)
    for m in MEASURANDS.values():
        out += [f"{m.name}.{p}" for p in ("L1", "L2", "L3")] if m.phases else []
    return tuple(out)


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
    for item in measurands:
        name, _, only = item.partition(".L") if item.startswith(("Voltage.L", "Current.Import.L")) else (item, "", "")
        row = MEASURANDS.get(name)
        if row is None:
            continue
        value = row.source(reading, snapshot)
        if value is None:
            continue
        values = value if isinstance(value, tuple) else (value,)
        for i, v in enumerate(values):
            if row.phases and only and str(i + 1) != only:
                continue
            sample: dict[str, Any] = {"value": number(v), "context": context, "measurand": name}
            sample["location"] = row.location
            if row.unit is not None:
                sample["unit"] = row.unit
            if row.phases and len(values) > 0 and i < len(row.phases):
                sample["phase"] = row.phases[i]
            out.append(sample)
    return out


def meter_value(timestamp: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {"timestamp": timestamp, "sampledValue": samples}
