"""Should a SetChargingProfile be accepted? A pure verdict with the reason.

Rules kept here (OCPP 1.6 sections 3.13, 5.16, 7.8-7.14, 9.4, errata 3.39/3.56; 2.0.1 K01):
- Every check is a pure function in the ``CHECKS`` table, tried in order; the first failure is the
  verdict. Nothing raises for bad values: a bad profile gets Rejected with a reason.
- NotSupported is answered only where the station lacks a capability the CSMS asked for: a
  chargingRateUnit outside ChargingScheduleAllowedChargingRateUnit (1.6 lists the "supported
  quantities"). 2.0.1 has no NotSupported status; its front end answers Rejected (K01.FR.26).
- An unknown connector is Rejected here; the 1.6 front end may turn it into the CALLERROR
  PropertyConstraintViolation that errata 3.39 asks for.
- ChargePointMaxProfile only on connector 0, TxProfile only on a connector > 0 with a running
  transaction whose id matches the profile's transactionId when it names one (K01.FR.09/33).
  ExternalConstraints are set by local energy management, never by the CSMS (K01.FR.22).
- Schedule shape: 1..ChargingScheduleMaxPeriods periods, the first at 0, strictly ascending,
  limits >= 0, numberPhases 1..3, duration >= 0. Absolute and Recurring need startSchedule,
  Relative has none (K01.FR.40/41); recurrencyKind exactly when Recurring (errata 3.56); a station
  maximum is never Relative (K01.FR.38). validFrom < validTo, and validTo still ahead.
- stackLevel in 0..ChargeProfileMaxStackLevel; MaxChargingProfilesInstalled counts the installed
  set after the spec's replacements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from itertools import pairwise

from controller.smart_charging.installed import InstalledProfiles
from controller.smart_charging.profiles import ChargingProfile, Kind, Purpose, RateUnit


class ProfileStatus(Enum):
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    NOT_SUPPORTED = "NotSupported"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: ProfileStatus
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.status is ProfileStatus.ACCEPTED


@dataclass(frozen=True, slots=True)
class StationContext:
    """What the station knows when a profile arrives."""

    max_stack_level: int  # ChargeProfileMaxStackLevel
    max_periods: int  # ChargingScheduleMaxPeriods
    allowed_units: frozenset[RateUnit]  # ChargingScheduleAllowedChargingRateUnit
    max_installed: int  # MaxChargingProfilesInstalled
    connectors: frozenset[int]  # existing connector ids (> 0)
    now: datetime
    installed: InstalledProfiles = field(default_factory=InstalledProfiles)
    # Connector -> id of its running transaction (None while the id is not yet known).
    transactions: Mapping[int, int | str | None] = field(default_factory=dict)


Check = Callable[[ChargingProfile, int, StationContext], str | None]


def _connector_exists(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    if connector_id != 0 and connector_id not in ctx.connectors:
        return f"connector {connector_id} does not exist"
    return None


def _purpose_allowed(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    if profile.purpose is Purpose.EXTERNAL_CONSTRAINTS:
        return "ExternalConstraints profiles come from local energy management, not from the CSMS"
    if profile.purpose is Purpose.STATION_MAX and connector_id != 0:
        return "ChargePointMaxProfile can only be set on connector 0"
    if profile.purpose is Purpose.TX and connector_id == 0:
        return "TxProfile can only be set on a connector > 0"
    if profile.purpose is not Purpose.TX and profile.transaction_id is not None:
        return "transactionId is only valid in a TxProfile"
    return None


def _transaction_matches(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    if profile.purpose is not Purpose.TX:
        return None
    if connector_id not in ctx.transactions:
        return f"TxProfile needs a transaction on connector {connector_id}, none is running"
    running = ctx.transactions[connector_id]
    if profile.transaction_id is not None and profile.transaction_id != running:
        return f"transactionId {profile.transaction_id!r} is not the transaction on connector {connector_id}"
    return None


def _stack_level(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    if not 0 <= profile.stack_level <= ctx.max_stack_level:
        return f"stackLevel {profile.stack_level} outside 0..{ctx.max_stack_level} (ChargeProfileMaxStackLevel)"
    return None


def _unit_supported(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    if profile.schedule.unit not in ctx.allowed_units:
        allowed = ",".join(sorted(unit.value for unit in ctx.allowed_units))
        return (
            f"chargingRateUnit {profile.schedule.unit.value} not in ChargingScheduleAllowedChargingRateUnit ({allowed})"
        )
    return None


def _periods(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    periods = profile.schedule.periods
    if not periods:
        return "chargingSchedulePeriod is empty"
    if len(periods) > ctx.max_periods:
        return f"{len(periods)} periods, more than ChargingScheduleMaxPeriods ({ctx.max_periods})"
    if periods[0].start_period != 0:
        return f"the first startPeriod is {periods[0].start_period}, it must be 0"
    for before, after in pairwise(periods):
        if after.start_period <= before.start_period:
            return f"startPeriod {after.start_period} does not follow {before.start_period} in ascending order"
    for period in periods:
        if period.limit < 0:
            return f"limit {period.limit} at startPeriod {period.start_period} is negative"
        if period.number_phases is not None and not 1 <= period.number_phases <= 3:
            return f"numberPhases {period.number_phases} at startPeriod {period.start_period} is not 1..3"
    return None


def _schedule_numbers(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    schedule = profile.schedule
    if schedule.duration is not None and schedule.duration < 0:
        return f"duration {schedule.duration} is negative"
    if schedule.min_charging_rate is not None and schedule.min_charging_rate < 0:
        return f"minChargingRate {schedule.min_charging_rate} is negative"
    return None


def _kind(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    start = profile.schedule.start_schedule
    if profile.kind is Kind.RECURRING and profile.recurrency is None:
        return "a Recurring profile needs recurrencyKind"
    if profile.kind is not Kind.RECURRING and profile.recurrency is not None:
        return f"recurrencyKind is only used with Recurring, not {profile.kind.value}"
    if profile.kind is not Kind.RELATIVE and start is None:
        return f"an {profile.kind.value} profile needs startSchedule"
    if profile.kind is Kind.RELATIVE and start is not None:
        return "a Relative profile has no startSchedule"
    if profile.kind is Kind.RELATIVE and profile.purpose is Purpose.STATION_MAX:
        return "a ChargePointMaxProfile cannot be Relative"
    return None


def _validity(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    if profile.valid_from is not None and profile.valid_to is not None and profile.valid_from >= profile.valid_to:
        return "validFrom is not before validTo"
    if profile.valid_to is not None and profile.valid_to <= ctx.now:
        return "validTo is already past"
    return None


def _room(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> str | None:
    count = len(ctx.installed.add(connector_id, profile))
    if count > ctx.max_installed:
        return f"{count} profiles would be installed, more than MaxChargingProfilesInstalled ({ctx.max_installed})"
    return None


CHECKS: tuple[tuple[Check, ProfileStatus], ...] = (
    (_connector_exists, ProfileStatus.REJECTED),
    (_purpose_allowed, ProfileStatus.REJECTED),
    (_transaction_matches, ProfileStatus.REJECTED),
    (_stack_level, ProfileStatus.REJECTED),
    (_unit_supported, ProfileStatus.NOT_SUPPORTED),
    (_periods, ProfileStatus.REJECTED),
    (_schedule_numbers, ProfileStatus.REJECTED),
    (_kind, ProfileStatus.REJECTED),
    (_validity, ProfileStatus.REJECTED),
    (_room, ProfileStatus.REJECTED),
)


def validate(profile: ChargingProfile, connector_id: int, ctx: StationContext) -> Verdict:
    """The answer to SetChargingProfile(connector_id, profile); install it only when accepted."""
    for check, status in CHECKS:
        reason = check(profile, connector_id, ctx)
        if reason is not None:
            return Verdict(status, reason)
    return Verdict(ProfileStatus.ACCEPTED)
