"""The OCPP 2.0.1 JSON of a charging profile (part 2 2.10 ChargingProfileType, 2.12
ChargingScheduleType, 2.13 ChargingSchedulePeriodType) to and from the neutral profile
(controller/smart_charging/profiles.py).

Rules kept here:
- The payload was validated against the schema by the link, so types are right; what the schema
  cannot say (an ISO 8601 dateTime) raises ``ProfileFormatError`` naming the field.
- The first chargingSchedule is the profile's schedule; more than one is a question for the
  caller (K01.FR.34: several only with ISO 15118, which this station does not speak).
- ``profile_to_json(profile_from_json(d)) == d`` for a profile in the schema's shape with one
  schedule and no salesTariff (ISO 15118 only), times written as ``controller.clock.iso`` writes them:
  ReportChargingProfiles reports what the CSMS sent.
"""

from __future__ import annotations

from typing import Any

from controller.clock import iso
from controller.smart_charging.profiles import (
    ChargingProfile,
    ChargingSchedule,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    parse_time,
)

Payload = dict[str, Any]
PURPOSES: dict[Purpose, str] = {
    Purpose.STATION_MAX: "ChargingStationMaxProfile",
    Purpose.TX_DEFAULT: "TxDefaultProfile",
    Purpose.TX: "TxProfile",
    Purpose.EXTERNAL_CONSTRAINTS: "ChargingStationExternalConstraints",
}
PURPOSE_OF: dict[str, Purpose] = {name: purpose for purpose, name in PURPOSES.items()}


def _time(data: Payload, key: str, where: str) -> Any:
    return None if data.get(key) is None else parse_time(data[key], f"{where}{key}")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _without_none(pairs: Payload) -> Payload:
    return {key: value for key, value in pairs.items() if value is not None}


def schedule_from_json(data: Payload, where: str = "chargingSchedule[0].") -> ChargingSchedule:
    return ChargingSchedule(
        id=data["id"],
        unit=RateUnit(data["chargingRateUnit"]),
        periods=tuple(
            SchedulePeriod(p["startPeriod"], float(p["limit"]), p.get("numberPhases"), p.get("phaseToUse"))
            for p in data["chargingSchedulePeriod"]
        ),
        duration=data.get("duration"),
        start_schedule=_time(data, "startSchedule", where),
        min_charging_rate=None if data.get("minChargingRate") is None else float(data["minChargingRate"]),
    )


def profile_from_json(data: Payload) -> ChargingProfile:
    """SetChargingProfileRequest.chargingProfile (or RequestStartTransaction's) as a neutral profile."""
    return ChargingProfile(
        id=data["id"],
        stack_level=data["stackLevel"],
        purpose=PURPOSE_OF[data["chargingProfilePurpose"]],
        kind=Kind(data["chargingProfileKind"]),
        schedule=schedule_from_json(data["chargingSchedule"][0]),
        recurrency=None if data.get("recurrencyKind") is None else Recurrency(data["recurrencyKind"]),
        valid_from=_time(data, "validFrom", ""),
        valid_to=_time(data, "validTo", ""),
        transaction_id=data.get("transactionId"),
    )


def period_to_json(period: SchedulePeriod) -> Payload:
    return _without_none({"startPeriod": period.start_period, "limit": _number(period.limit),
                          "numberPhases": period.number_phases, "phaseToUse": period.phase_to_use})  # fmt: skip


def schedule_to_json(schedule: ChargingSchedule) -> Payload:
    return _without_none(
        {
            "id": schedule.id if schedule.id is not None else 0,  # a profile of the 1.6 front end has none
            "startSchedule": None if schedule.start_schedule is None else iso(schedule.start_schedule),
            "duration": schedule.duration,
            "chargingRateUnit": schedule.unit.value,
            "chargingSchedulePeriod": [period_to_json(p) for p in schedule.periods],
            "minChargingRate": None if schedule.min_charging_rate is None else _number(schedule.min_charging_rate),
        }
    )


def profile_to_json(profile: ChargingProfile) -> Payload:
    """ChargingProfileType of a ReportChargingProfilesRequest."""
    return _without_none(
        {
            "id": profile.id,
            "stackLevel": profile.stack_level,
            "chargingProfilePurpose": PURPOSES[profile.purpose],
            "chargingProfileKind": profile.kind.value,
            "recurrencyKind": None if profile.recurrency is None else profile.recurrency.value,
            "validFrom": None if profile.valid_from is None else iso(profile.valid_from),
            "validTo": None if profile.valid_to is None else iso(profile.valid_to),
            "transactionId": None if profile.transaction_id is None else str(profile.transaction_id),
            "chargingSchedule": [schedule_to_json(profile.schedule)],
        }
    )
