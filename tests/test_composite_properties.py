"""Properties of the composite schedule, checked against a naive instant-by-instant reading of the spec."""

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.smart_charging import (
    ChargingProfile,
    ChargingSchedule,
    CompositeSchedule,
    InstalledProfile,
    InstalledProfiles,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    composite_schedule,
)

BASE = datetime(2024, 5, 1, tzinfo=UTC)
VOLTAGE = 230.0
CONNECTOR = 1
TX_ID = 42
SETTINGS = settings(max_examples=200, deadline=None)

# Where a profile may be installed, as seen from connector 1 (2 is another connector).
SLOTS = [
    (Purpose.STATION_MAX, 0),
    (Purpose.TX_DEFAULT, 0),
    (Purpose.TX_DEFAULT, 1),
    (Purpose.TX_DEFAULT, 2),
    (Purpose.TX, 1),
    (Purpose.EXTERNAL_CONSTRAINTS, 0),
    (Purpose.EXTERNAL_CONSTRAINTS, 1),
]


def minutes(low: int, high: int) -> st.SearchStrategy[timedelta]:
    return st.integers(low, high).map(lambda m: timedelta(minutes=m))


@st.composite
def schedules(draw: st.DrawFn, kind: Kind) -> ChargingSchedule:
    unit = draw(st.sampled_from(RateUnit))
    gaps = draw(st.lists(st.integers(1, 600), min_size=0, max_size=4))
    starts = [0, *(60 * sum(gaps[: i + 1]) for i in range(len(gaps)))]
    top = 64 if unit is RateUnit.A else 40_000
    periods = tuple(
        SchedulePeriod(start, draw(st.integers(0, top)), draw(st.sampled_from([None, 1, 2, 3]))) for start in starts
    )
    return ChargingSchedule(
        unit=unit,
        periods=periods,
        duration=draw(st.none() | st.integers(1, 3 * 24 * 60).map(lambda m: 60 * m)),
        start_schedule=None if kind is Kind.RELATIVE else BASE + draw(minutes(-10 * 24 * 60, 2 * 24 * 60)),
    )


@st.composite
def profiles(draw: st.DrawFn, profile_id: int) -> InstalledProfile:
    purpose, connector = draw(st.sampled_from(SLOTS))
    kind = draw(st.sampled_from(Kind))
    valid_from = draw(st.none() | minutes(-24 * 60, 3 * 24 * 60).map(lambda d: BASE + d))
    valid_to = draw(st.none() | minutes(1, 3 * 24 * 60).map(lambda d: (valid_from or BASE) + d))
    return InstalledProfile(
        connector,
        ChargingProfile(
            id=profile_id,
            stack_level=draw(st.integers(0, 3)),
            purpose=purpose,
            kind=kind,
            schedule=draw(schedules(kind)),
            recurrency=draw(st.sampled_from(Recurrency)) if kind is Kind.RECURRING else None,
            valid_from=valid_from,
            valid_to=valid_to,
            transaction_id=draw(st.sampled_from([None, TX_ID, 43])) if purpose is Purpose.TX else None,
        ),
    )


@st.composite
def installations(draw: st.DrawFn) -> InstalledProfiles:
    # Installed through the real replacement rules, so no two profiles share a slot.
    installed = InstalledProfiles()
    for profile_id in range(draw(st.integers(0, 8))):
        placed = draw(profiles(profile_id))
        installed = installed.add(placed.connector_id, placed.profile)
    return installed


@st.composite
def windows(draw: st.DrawFn) -> tuple[datetime, int, datetime]:
    """(start, duration in seconds, transaction start)"""
    start = BASE + draw(minutes(0, 24 * 60)) + timedelta(seconds=draw(st.integers(0, 59)))
    return start, draw(st.integers(1, 2 * 24 * 3600)), start - draw(minutes(0, 12 * 60))


# --- the naive reading --------------------------------------------------------------------------


def naive_value(profile: ChargingProfile, t: datetime, tx_start: datetime) -> tuple[float, int] | None:
    """The limit (A per phase, phases) one profile sets at ``t``, or None where it does not cover."""
    if (profile.valid_from and t < profile.valid_from) or (profile.valid_to and t >= profile.valid_to):
        return None
    schedule = profile.schedule
    begin = tx_start if profile.kind is Kind.RELATIVE else schedule.start_schedule
    assert begin is not None
    elapsed = (t - begin).total_seconds()
    if elapsed < 0:
        return None
    length = math.inf if schedule.duration is None else schedule.duration
    if profile.kind is Kind.RECURRING:
        cycle = {Recurrency.DAILY: 86400, Recurrency.WEEKLY: 7 * 86400}[profile.recurrency]
        elapsed %= cycle
        length = min(length, cycle)
    if elapsed >= length:
        return None
    period = [p for p in schedule.periods if p.start_period <= elapsed][-1]
    phases = period.number_phases or 3
    amps = period.limit if schedule.unit is RateUnit.A else period.limit / (VOLTAGE * phases)
    return amps, phases


def prevailing(candidates: list[InstalledProfile], t: datetime, tx_start: datetime) -> tuple[float, int] | None:
    for entry in sorted(candidates, key=lambda e: e.profile.stack_level, reverse=True):
        value = naive_value(entry.profile, t, tx_start)
        if value is not None:
            return value
    return None


def is_valid(profile: ChargingProfile, t: datetime) -> bool:
    return not ((profile.valid_from and t < profile.valid_from) or (profile.valid_to and t >= profile.valid_to))


def applicable_limits(installed: InstalledProfiles, t: datetime, tx_start: datetime) -> list[tuple[float, int]]:
    """The prevailing StationMax, ExternalConstraints and Tx-or-TxDefault limits on connector 1 at ``t``."""

    def slot(purpose: Purpose, connector: int) -> list[InstalledProfile]:
        return [e for e in installed if e.profile.purpose is purpose and e.connector_id == connector]

    tx = [e for e in slot(Purpose.TX, CONNECTOR) if e.profile.transaction_id in (None, TX_ID)]
    own = slot(Purpose.TX_DEFAULT, CONNECTOR)
    own_valid_levels = {e.profile.stack_level for e in own if is_valid(e.profile, t)}
    shared = [e for e in slot(Purpose.TX_DEFAULT, 0) if e.profile.stack_level not in own_valid_levels]
    limits = [
        prevailing(slot(Purpose.STATION_MAX, 0), t, tx_start),
        prevailing(slot(Purpose.EXTERNAL_CONSTRAINTS, 0), t, tx_start),
        prevailing(slot(Purpose.EXTERNAL_CONSTRAINTS, CONNECTOR), t, tx_start),
        prevailing(tx, t, tx_start) or prevailing(own + shared, t, tx_start),
    ]
    return [limit for limit in limits if limit is not None]


def composite_at(schedule: CompositeSchedule, offset: int) -> tuple[float | None, int]:
    period = [p for p in schedule.periods if p.start_period <= offset][-1]
    return period.limit, period.number_phases


def compute(
    installed: object, window: tuple[datetime, int, datetime], unit: RateUnit = RateUnit.A
) -> CompositeSchedule:
    start, duration, tx_start = window
    return composite_schedule(
        installed, CONNECTOR, start, duration, unit, now=start, tx_start=tx_start, tx_id=TX_ID, voltage_v=VOLTAGE
    )


# --- properties ---------------------------------------------------------------------------------


@SETTINGS
@given(installed=installations(), window=windows(), probes=st.lists(st.floats(0, 1), max_size=20))
def test_composite_never_exceeds_an_applicable_limit(
    installed: InstalledProfiles, window: tuple[datetime, int, datetime], probes: list[float]
) -> None:
    start, duration, tx_start = window
    schedule = compute(installed, window)
    offsets = {int(p * (duration - 1)) for p in probes}
    offsets |= {p.start_period for p in schedule.periods} | {p.start_period - 1 for p in schedule.periods[1:]}
    for offset in offsets:
        limits = applicable_limits(installed, start + timedelta(seconds=offset), tx_start)
        limit, phases = composite_at(schedule, offset)
        if not limits:
            assert limit is None, offset
            continue
        assert limit is not None, offset
        assert all(limit <= amps + 1e-9 for amps, _ in limits), (offset, limit, limits)
        # ...and it is that minimum, rounded down to one decimal, on the fewest phases.
        assert limit == math.floor(min(amps for amps, _ in limits) * 10 + 1e-6) / 10, (offset, limit, limits)
        assert phases == min(n for _, n in limits)


@SETTINGS
@given(installed=installations(), window=windows(), unit=st.sampled_from(RateUnit))
def test_periods_ascend_from_zero_and_adjacent_ones_differ(
    installed: InstalledProfiles, window: tuple[datetime, int, datetime], unit: RateUnit
) -> None:
    periods = compute(installed, window, unit).periods
    assert periods[0].start_period == 0
    assert all(before.start_period < after.start_period for before, after in pairwise(periods))
    assert all(p.start_period < window[1] for p in periods)
    assert all((a.limit, a.number_phases) != (b.limit, b.number_phases) for a, b in pairwise(periods))
    assert all(p.limit is None or p.limit >= 0 for p in periods)


@st.composite
def inert_profiles(draw: st.DrawFn, start: datetime) -> InstalledProfile:
    """A profile that can never apply to connector 1 within a window opening at ``start``."""
    placed = draw(profiles(1000))
    way = draw(st.sampled_from(["expired", "other connector", "other transaction"]))
    if way == "expired":
        valid_to = start - draw(minutes(0, 24 * 60))
        return replace(placed, profile=replace(placed.profile, valid_from=None, valid_to=valid_to))
    if way == "other connector":
        purpose = draw(st.sampled_from([Purpose.TX_DEFAULT, Purpose.TX, Purpose.EXTERNAL_CONSTRAINTS]))
        return InstalledProfile(2, replace(placed.profile, purpose=purpose))
    return InstalledProfile(CONNECTOR, replace(placed.profile, purpose=Purpose.TX, transaction_id=99))


@SETTINGS
@given(installed=installations(), window=windows(), data=st.data())
def test_a_profile_that_never_applies_changes_nothing(
    installed: InstalledProfiles, window: tuple[datetime, int, datetime], data: st.DataObject
) -> None:
    inert = data.draw(inert_profiles(window[0]))
    # Appended as is: the installation rules must not get a chance to replace anything.
    assert compute([*installed, inert], window) == compute(installed, window)
