"""Smart charging: charging profiles, their validation, the installed set and the composite schedule.

Rules kept here: everything in this package is version-neutral (OCPP 1.6 and 2.0.1 front ends
translate messages into these calls); time is always passed in as aware UTC datetimes. The modules
exported here are pure; ``enforcement`` (the station's limit source, timers) and ``store`` (SQLite)
are the I/O edges and are imported by name.
"""

from controller.smart_charging.composite import (
    MIN_CHARGING_AMPS,
    CompositePeriod,
    CompositeSchedule,
    Limit,
    composite_schedule,
    limit_at,
    share_station_limit,
    station_limit_at,
)
from controller.smart_charging.installed import InstalledProfiles
from controller.smart_charging.profiles import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    ProfileFormatError,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    profile_from_dict,
    profile_to_dict,
)
from controller.smart_charging.validation import ProfileStatus, StationContext, Verdict, validate

__all__ = [
    "MIN_CHARGING_AMPS",
    "ChargingProfile",
    "ChargingSchedule",
    "CompositePeriod",
    "CompositeSchedule",
    "InstalledProfile",
    "InstalledProfiles",
    "Kind",
    "Limit",
    "ProfileFormatError",
    "ProfileStatus",
    "Purpose",
    "RateUnit",
    "Recurrency",
    "SchedulePeriod",
    "StationContext",
    "Verdict",
    "composite_schedule",
    "limit_at",
    "profile_from_dict",
    "profile_to_dict",
    "share_station_limit",
    "station_limit_at",
    "validate",
]
