"""What the station can measure: one table of measurands, read from a meter reading and the
real-time loop's snapshot, in the words both OCPP versions share (their Measurand names, phases,
locations, units).

Rules kept here:
- One row per measurand the station can deliver: where its number comes from, its unit, its
  location, and whether it is reported per phase. No per-measurand code.
- Per-phase quantities carry their phase: currents L1/L2/L3, voltages L1-N/L2-N/L3-N (phase to
  neutral, what the meter measures). A selector such as "Voltage.L1" picks one phase only.
- A measurand the reading cannot supply (meter silent, quantity not measured) is left out,
  never given as 0.
- Each front end formats samples for its own wire (1.6: value text, no unit a version lacks;
  2.0.1: value number, unitOfMeasure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from controller.realtime import ConnectorSnapshot
from hal.types import MeterReading

Source = Callable[[MeterReading | None, ConnectorSnapshot | None], "float | tuple[float, ...] | None"]
PHASE_SELECTORS = ("L1", "L2", "L3")


@dataclass(frozen=True)
class Measurand:
    name: str
    source: Source
    unit: str
    location: str = "Outlet"
    phases: tuple[str, ...] = ()  # per-phase names; empty = one total value


@dataclass(frozen=True)
class Sample:
    measurand: str
    value: float
    unit: str
    location: str
    phase: str | None = None


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
        Measurand("Frequency", _meter(lambda m: m.frequency_hz), "Hz"),
        Measurand("Current.Offered", _snap(lambda s: s.offered_a), "A"),
        Measurand("Temperature", _snap(lambda s: s.temperature_c), "Celsius", location="Body"),
    )
}


def supported() -> tuple[str, ...]:
    """Every measurand, and the per-phase selectors of the per-phase ones ("Voltage.L1")."""
    out = list(MEASURANDS)
    for m in MEASURANDS.values():
        out += [f"{m.name}.{p}" for p in PHASE_SELECTORS] if m.phases else []
    return tuple(out)


def samples(
    measurands: Iterable[str], reading: MeterReading | None, snapshot: ConnectorSnapshot | None
) -> list[Sample]:
    """The values of ``measurands`` (names or per-phase selectors) now; unknown names are skipped."""
    out: list[Sample] = []
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
            phase = row.phases[i] if row.phases and i < len(row.phases) else None
            out.append(Sample(name, float(v), row.unit, row.location, phase))
    return out
