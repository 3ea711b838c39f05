"""Variable monitors, pure: what a monitor is, which ones the station brings, whether a
SetMonitoringData may install one, when a monitor fires, and what a monitoring report holds.

Rules kept here (part 2 N02, N03, N04, N07, N08; 2.34 MonitoringDataType, 2.52
VariableMonitoringType):
- A monitor watches one row of the device model (its Actual value) with a type, a value and a
  severity (0 Danger .. 9 Debug). Built-in monitors are data (``BUILT_IN``): hard-wired ones
  stay whatever the CSMS does; preconfigured ones are the FactoryDefault set. Their ids come
  from the table's order (1, 2, ...); ids the station gives custom monitors start at
  ``FIRST_CUSTOM_ID``, so a changed table never hands out an id twice.
- A monitor may be set only on a row that supports monitoring (UnsupportedMonitorType
  otherwise, N04.FR.05); thresholds and a numeric Delta only on integer / decimal rows;
  thresholds within the row's minLimit / maxLimit (N04.FR.06), a Delta or a period not
  negative (N04.FR.14), a period at least a second. Two monitors of one type and severity on
  one row are a Duplicate (N04.FR.10).
- Firing (``crossed``, ``moved``): an UpperThreshold when the value is above it, a
  LowerThreshold when below it, not on it (N07.FR.16/17), cleared once back (N07.FR.02); a
  Delta on a number when it moved more than the value since the reference (set, or the last
  event, N07.FR.18), on anything else at every change (N07.FR.19).
- A periodic monitor fires every ``value`` seconds from when it was set (N08.FR.06), a
  clock-aligned one at the multiples of ``value`` seconds past midnight (N08.FR.07).
- Reports (N02): criteria select types (Threshold: Upper/Lower, Delta, Periodic: both
  periodic kinds, N02.FR.12-14), componentVariable entries select rows as GetReport does;
  both given = both apply; one entry per row with its monitors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from controller.ocpp.v201.enums import DataEnumType, MonitorEnumType
from controller.ocpp.v201.enums import EventNotificationEnumType as EventNotification
from controller.ocpp.v201.reports import matches
from controller.ocpp.v201.values import Value
from controller.ocpp.v201.variables import Variable

NUMERIC = frozenset({DataEnumType.integer, DataEnumType.decimal})
THRESHOLDS = frozenset({MonitorEnumType.upper_threshold, MonitorEnumType.lower_threshold})
PERIODIC = frozenset({MonitorEnumType.periodic, MonitorEnumType.periodic_clock_aligned})
CRITERIA: dict[str, frozenset[MonitorEnumType]] = {
    "ThresholdMonitoring": THRESHOLDS,
    "DeltaMonitoring": frozenset({MonitorEnumType.delta}),
    "PeriodicMonitoring": PERIODIC,
}
SEVERITIES = range(10)
FIRST_CUSTOM_ID = 1000


class Kind(StrEnum):
    HARD_WIRED = EventNotification.hard_wired_monitor.value
    PRECONFIGURED = EventNotification.preconfigured_monitor.value
    CUSTOM = EventNotification.custom_monitor.value


@dataclass(frozen=True)
class Monitor:
    id: int
    row: Variable
    type: MonitorEnumType
    value: float
    severity: int
    kind: Kind = Kind.CUSTOM
    transaction: bool = False  # active only while a transaction runs on the row's EVSE

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "transaction": self.transaction, "value": self.value, "type": self.type.value,
                "severity": self.severity}  # fmt: skip


@dataclass(frozen=True)
class BuiltIn:
    """A monitor the station brings on every row named ``component.variable``."""

    component: str
    variable: str
    type: MonitorEnumType
    value: float
    severity: int
    kind: Kind


# The station's own monitors. ChargingStation.Problem is a hard-wired notification (no monitor).
BUILT_IN = (
    BuiltIn("EVSE", "Problem", MonitorEnumType.delta, 1, 2, Kind.HARD_WIRED),  # a fault stops charging
    BuiltIn("ConnectorPlugRetentionLock", "Problem", MonitorEnumType.delta, 1, 3, Kind.HARD_WIRED),
    BuiltIn("ChargingStation", "AvailabilityState", MonitorEnumType.delta, 1, 5, Kind.PRECONFIGURED),
)


def built_in(rows: Iterable[Variable]) -> list[Monitor]:
    """The built-in monitors of this station's table, numbered from 1 in its order."""
    found = []
    for row in rows:
        for b in BUILT_IN:
            if (row.component.name, row.variable.name) == (b.component, b.variable):
                found.append((row, b))
    return [Monitor(n, row, b.type, b.value, b.severity, b.kind) for n, (row, b) in enumerate(found, start=1)]


def numeric(row: Variable) -> bool:
    return row.characteristics.data_type in NUMERIC


def refusal(row: Variable, kind: MonitorEnumType, value: float) -> tuple[str, str, str] | None:
    """Why ``kind`` at ``value`` cannot watch ``row``: (status, reasonCode, info), or None."""
    if not row.characteristics.supports_monitoring:
        return ("UnsupportedMonitorType", "UnsupportedParam", f"{row.address} does not support monitoring")
    if kind in THRESHOLDS and not numeric(row):
        return ("UnsupportedMonitorType", "UnsupportedParam", f"{row.address} is not a number: no thresholds")
    if not math.isfinite(value):
        return ("Rejected", "ValueOutOfRange", "the value is not a number")
    if kind in THRESHOLDS:
        low, high = row.characteristics.min_limit, row.characteristics.max_limit
        if (low is not None and value < low) or (high is not None and value > high):
            return ("Rejected", "ValueOutOfRange", f"{value:g} outside {row.address}'s range {low}..{high}")
    if kind is MonitorEnumType.delta and value < 0:
        return ("Rejected", "ValuePositiveOnly", "a Delta is not negative")
    if kind in PERIODIC and value < 1:
        return ("Rejected", "ValueTooLow", "a period is at least 1 s")
    return None


def duplicate(monitors: Iterable[Monitor], row: Variable, kind: MonitorEnumType, severity: int,
              replacing: int | None) -> bool:  # fmt: skip
    return any(m.row.address == row.address and m.type is kind and m.severity == severity and m.id != replacing
               for m in monitors)  # fmt: skip


# ---- firing ---------------------------------------------------------------------------------


def as_number(value: Value | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def crossed(monitor: Monitor, value: Value | None) -> bool | None:
    """Whether a threshold is exceeded now (None: no number to compare)."""
    number = as_number(value)
    if number is None:
        return None
    if monitor.type is MonitorEnumType.upper_threshold:
        return number > monitor.value
    return number < monitor.value


def moved(monitor: Monitor, reference: Value | None, value: Value | None) -> bool:
    """Whether a Delta monitor fires for ``value`` against its reference."""
    if numeric(monitor.row):
        before, now = as_number(reference), as_number(value)
        if before is None or now is None:
            return before != now
        return abs(now - before) > monitor.value
    return reference != value


def next_aligned(now: datetime, period_s: float) -> float:
    """Seconds from ``now`` to the next multiple of ``period_s`` past midnight."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    return (math.floor(elapsed / period_s) + 1) * period_s - elapsed


# ---- reports --------------------------------------------------------------------------------


def selected(monitors: Iterable[Monitor], criteria: list[str], wanted: list[dict[str, Any]]) -> list[Monitor]:
    types = frozenset().union(*(CRITERIA[c] for c in criteria)) if criteria else None
    return [m for m in monitors if (types is None or m.type in types)
            and (not wanted or any(matches(m.row, w) for w in wanted))]  # fmt: skip


def report_entries(monitors: Iterable[Monitor]) -> list[dict[str, Any]]:
    """One MonitoringDataType per row, its monitors in id order, rows in first-seen order."""
    by_row: dict[str, list[Monitor]] = {}
    for monitor in sorted(monitors, key=lambda m: m.id):
        by_row.setdefault(monitor.row.address, []).append(monitor)
    return [{"component": ms[0].row.component.to_json(), "variable": ms[0].row.variable.to_json(),
             "variableMonitoring": [m.to_json() for m in ms]} for ms in by_row.values()]  # fmt: skip
