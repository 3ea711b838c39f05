"""Charging profiles as a CSMS writes them (csChargingProfiles JSON), for tests."""

from typing import Any


def profile(
    profile_id: int,
    purpose: str,
    periods: list[tuple[int, float] | tuple[int, float, int]],
    *,
    stack: int = 0,
    kind: str = "Absolute",
    start: str | None = None,
    unit: str = "A",
    duration: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A csChargingProfiles object as a CSMS would send it."""
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p[0], "limit": p[1], **({"numberPhases": p[2]} if len(p) == 3 else {})} for p in periods
        ],
    }
    if start is not None:
        schedule["startSchedule"] = start
    if duration is not None:
        schedule["duration"] = duration
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
        **extra,
    }
