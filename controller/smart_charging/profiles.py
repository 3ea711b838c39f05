"""Charging profiles as version-neutral, immutable values, and their OCPP 1.6 JSON shape.

Rules kept here:
- A profile is data only: frozen dataclasses, no behaviour beyond reading and writing. It holds
  what either version can say: 2.0.1's schedule id and phaseToUse are None in a 1.6 profile.
  Each version has its codec (this module for 1.6, controller/ocpp/v201/profile_json.py for
  2.0.1); SQLite keeps the neutral record of ``store``.
- Purposes, kinds, recurrences and units are enums named from the domain; the tables below map
  them to the OCPP spellings. ``Purpose.STATION_MAX`` reads both the 1.6 name
  (ChargePointMaxProfile) and the 2.0.1 name (ChargingStationMaxProfile); it is written with the
  1.6 name. ExternalConstraints only exists in 2.0.1 and is written with that name.
- Transaction ids are ``int`` (1.6) or ``str`` (2.0.1); the engine only compares them.
- ``profile_from_dict`` accepts the csChargingProfiles object of a SetChargingProfile.req and
  raises ``ProfileFormatError`` (naming the field) for anything that is not that shape; semantic
  checks (stack level, period order, ...) belong to ``validation``.
- Datetimes are aware UTC, read and written by controller/clock.py's one rule (an offset is
  required; written with milliseconds and Z, like every timestamp the station sends).
- ``profile_to_dict(profile_from_dict(d)) == d`` for any well-formed ``d`` written in this
  module's spelling, so persistence and the front ends share one mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from controller import clock

E = TypeVar("E", bound=Enum)
T = TypeVar("T")


class Purpose(Enum):
    STATION_MAX = "STATION_MAX"
    TX_DEFAULT = "TX_DEFAULT"
    TX = "TX"
    EXTERNAL_CONSTRAINTS = "EXTERNAL_CONSTRAINTS"


class Kind(Enum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class Recurrency(Enum):
    DAILY = "Daily"
    WEEKLY = "Weekly"


class RateUnit(Enum):
    A = "A"
    W = "W"


# Written spelling of each purpose (1.6 where 1.6 has one).
PURPOSE_NAMES: dict[Purpose, str] = {
    Purpose.STATION_MAX: "ChargePointMaxProfile",
    Purpose.TX_DEFAULT: "TxDefaultProfile",
    Purpose.TX: "TxProfile",
    Purpose.EXTERNAL_CONSTRAINTS: "ChargingStationExternalConstraints",
}
# Read spellings: both protocol versions.
PURPOSES_BY_NAME: dict[str, Purpose] = {name: purpose for purpose, name in PURPOSE_NAMES.items()} | {
    "ChargingStationMaxProfile": Purpose.STATION_MAX
}

RECURRENCE_SECONDS: dict[Recurrency, int] = {Recurrency.DAILY: 86_400, Recurrency.WEEKLY: 604_800}


class ProfileFormatError(ValueError):
    """The input is not a charging profile in OCPP JSON shape; the message names the field."""


@dataclass(frozen=True, slots=True)
class SchedulePeriod:
    start_period: int  # seconds from the start of the schedule
    limit: float  # in the schedule's unit: A per phase, or W total
    number_phases: int | None = None  # None: the spec's default (3)
    phase_to_use: int | None = None  # 2.0.1: the phase of a single-phase period


@dataclass(frozen=True, slots=True)
class ChargingSchedule:
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    duration: int | None = None  # seconds; None: the last period continues
    start_schedule: datetime | None = None
    min_charging_rate: float | None = None
    id: int | None = None  # 2.0.1 ChargingScheduleType.id


@dataclass(frozen=True, slots=True)
class ChargingProfile:
    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: ChargingSchedule
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: int | str | None = None


@dataclass(frozen=True, slots=True)
class InstalledProfile:
    """A profile as installed on one connector (0: the whole station)."""

    connector_id: int
    profile: ChargingProfile


def parse_time(text: Any, field: str) -> datetime:
    if not isinstance(text, str):
        raise ProfileFormatError(f"{field}: expected an ISO 8601 dateTime string, got {text!r}")
    try:
        return clock.parse_time(text).astimezone(UTC)
    except ValueError as error:
        raise ProfileFormatError(f"{field}: {error}") from error


def _field(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise ProfileFormatError(f"{where}{key}: required field missing")
    return data[key]


def _int(value: Any, field: str) -> int:
    # bool is an int subclass in Python but never a valid OCPP integer.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileFormatError(f"{field}: expected an integer, got {value!r}")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileFormatError(f"{field}: expected a number, got {value!r}")
    return float(value)


def _enum(table: Mapping[str, E], value: Any, field: str) -> E:
    if value not in table:
        raise ProfileFormatError(f"{field}: {value!r} is not one of {sorted(table)}")
    return table[value]


def _optional(data: Mapping[str, Any], key: str, read: Callable[[Any, str], T]) -> T | None:
    return None if data.get(key) is None else read(data[key], key)


def period_from_dict(data: Any, where: str) -> SchedulePeriod:
    if not isinstance(data, Mapping):
        raise ProfileFormatError(f"{where}: expected an object, got {data!r}")
    return SchedulePeriod(
        start_period=_int(_field(data, "startPeriod", f"{where}."), f"{where}.startPeriod"),
        limit=_number(_field(data, "limit", f"{where}."), f"{where}.limit"),
        number_phases=_optional(data, "numberPhases", lambda v, k: _int(v, f"{where}.{k}")),
    )


def schedule_from_dict(data: Any) -> ChargingSchedule:
    where = "chargingSchedule"
    if not isinstance(data, Mapping):
        raise ProfileFormatError(f"{where}: expected an object, got {data!r}")
    periods = _field(data, "chargingSchedulePeriod", f"{where}.")
    if not isinstance(periods, list):
        raise ProfileFormatError(f"{where}.chargingSchedulePeriod: expected a list, got {periods!r}")
    units = {unit.value: unit for unit in RateUnit}
    return ChargingSchedule(
        unit=_enum(units, _field(data, "chargingRateUnit", f"{where}."), f"{where}.chargingRateUnit"),
        periods=tuple(period_from_dict(p, f"{where}.chargingSchedulePeriod[{i}]") for i, p in enumerate(periods)),
        duration=_optional(data, "duration", lambda v, k: _int(v, f"{where}.{k}")),
        start_schedule=_optional(data, "startSchedule", lambda v, k: parse_time(v, f"{where}.{k}")),
        min_charging_rate=_optional(data, "minChargingRate", lambda v, k: _number(v, f"{where}.{k}")),
    )


def _transaction_id(value: Any, field: str) -> int | str:
    if isinstance(value, str):
        return value
    return _int(value, field)


def profile_from_dict(data: Any) -> ChargingProfile:
    """Read the csChargingProfiles object of a SetChargingProfile.req (OCPP 1.6 JSON)."""
    if not isinstance(data, Mapping):
        raise ProfileFormatError(f"csChargingProfiles: expected an object, got {data!r}")
    kinds = {kind.value: kind for kind in Kind}
    recurrencies = {recurrency.value: recurrency for recurrency in Recurrency}
    return ChargingProfile(
        id=_int(_field(data, "chargingProfileId", ""), "chargingProfileId"),
        stack_level=_int(_field(data, "stackLevel", ""), "stackLevel"),
        purpose=_enum(PURPOSES_BY_NAME, _field(data, "chargingProfilePurpose", ""), "chargingProfilePurpose"),
        kind=_enum(kinds, _field(data, "chargingProfileKind", ""), "chargingProfileKind"),
        schedule=schedule_from_dict(_field(data, "chargingSchedule", "")),
        recurrency=_optional(data, "recurrencyKind", lambda v, k: _enum(recurrencies, v, k)),
        valid_from=_optional(data, "validFrom", parse_time),
        valid_to=_optional(data, "validTo", parse_time),
        transaction_id=_optional(data, "transactionId", _transaction_id),
    )


def _without_none(pairs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in pairs.items() if value is not None}


def _written(value: T | None, write: Callable[[T], Any]) -> Any:
    return None if value is None else write(value)


def _plain_number(value: float) -> int | float:
    # 16.0 is written as 16, as a CSMS would have sent it.
    return int(value) if value.is_integer() else value


def period_to_dict(period: SchedulePeriod) -> dict[str, Any]:
    return _without_none(
        {"startPeriod": period.start_period, "limit": _plain_number(period.limit), "numberPhases": period.number_phases}
    )


def schedule_to_dict(schedule: ChargingSchedule) -> dict[str, Any]:
    return _without_none(
        {
            "duration": schedule.duration,
            "startSchedule": _written(schedule.start_schedule, clock.iso),
            "chargingRateUnit": schedule.unit.value,
            "chargingSchedulePeriod": [period_to_dict(period) for period in schedule.periods],
            "minChargingRate": _written(schedule.min_charging_rate, _plain_number),
        }
    )


def profile_to_dict(profile: ChargingProfile) -> dict[str, Any]:
    """The csChargingProfiles object of a SetChargingProfile.req (OCPP 1.6 JSON)."""
    return _without_none(
        {
            "chargingProfileId": profile.id,
            "transactionId": profile.transaction_id,
            "stackLevel": profile.stack_level,
            "chargingProfilePurpose": PURPOSE_NAMES[profile.purpose],
            "chargingProfileKind": profile.kind.value,
            "recurrencyKind": _written(profile.recurrency, lambda recurrency: recurrency.value),
            "validFrom": _written(profile.valid_from, clock.iso),
            "validTo": _written(profile.valid_to, clock.iso),
            "chargingSchedule": schedule_to_dict(profile.schedule),
        }
    )
