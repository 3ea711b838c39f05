"""Composite schedule, limit_at and station sharing: the spec's worked examples and the edges."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from charging_profiles import profile

from controller.smart_charging import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfiles,
    Kind,
    Limit,
    Purpose,
    RateUnit,
    SchedulePeriod,
    composite_schedule,
    limit_at,
    profile_from_dict,
    share_station_limit,
    station_limit_at,
)

HOUR = 3600
DAY = 24 * HOUR


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def install(*placed: tuple[int, dict[str, Any]]) -> InstalledProfiles:
    installed = InstalledProfiles()
    for connector, data in placed:
        installed = installed.add(connector, profile_from_dict(data))
    return installed


def periods_of(
    installed: InstalledProfiles, connector: int, start: datetime, duration: int, unit: str = "A", **kwargs: Any
) -> list[tuple[int, float | None, int]]:
    schedule = composite_schedule(installed, connector, start, duration, RateUnit(unit), now=start, **kwargs)
    return [(p.start_period, p.limit, p.number_phases) for p in schedule.periods]


# --- OCPP 1.6 section 3.13.7: the daily TxDefault example (6 kW 08:00-20:00, else 11 kW) --------

DAILY_EXAMPLE = profile(
    100,
    "TxDefaultProfile",
    [(0, 11000, 3), (28800, 6000, 3), (72000, 11000, 3)],
    kind="Recurring",
    recurrencyKind="Daily",
    start="2013-01-01T00:00:00Z",
    unit="W",
    duration=86400,
)


def test_spec_daily_example_in_watts() -> None:
    installed = install((0, DAILY_EXAMPLE))
    start = at("2024-05-01T06:00")
    assert periods_of(installed, 1, start, DAY, "W") == [
        (0, 11000, 3),
        (2 * HOUR, 6000, 3),  # 08:00
        (14 * HOUR, 11000, 3),  # 20:00
    ]


def test_spec_daily_example_in_amps_per_phase() -> None:
    installed = install((0, DAILY_EXAMPLE))
    # 11000 W / (230 V * 3) = 15.94 A, 6000 W / 690 V = 8.69 A, rounded down to one decimal.
    assert periods_of(installed, 1, at("2024-05-01T00:00"), DAY) == [
        (0, 15.9, 3),
        (8 * HOUR, 8.6, 3),
        (20 * HOUR, 15.9, 3),
    ]


# --- OCPP 1.6 section 3.13.2 / 2.0.1 section 3.4: stacking ---------------------------------------


def test_higher_stack_level_wins_while_valid_and_lower_shows_through_outside() -> None:
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 16)], start="2024-01-01T00:00:00Z")),
        (
            0,
            profile(
                2,
                "TxDefaultProfile",
                [(0, 8)],
                stack=1,
                start="2024-01-01T00:00:00Z",
                validFrom="2024-05-01T10:00:00Z",
                validTo="2024-05-01T12:00:00Z",
            ),
        ),
    )
    assert periods_of(installed, 1, at("2024-05-01T09:00"), 4 * HOUR) == [(0, 16, 3), (HOUR, 8, 3), (3 * HOUR, 16, 3)]


def test_higher_stack_level_past_its_duration_lets_lower_show_through() -> None:
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 16)], start="2024-05-01T00:00:00Z")),
        # Periods at and after the duration are never executed (K01.FR.11).
        (
            0,
            profile(
                2,
                "TxDefaultProfile",
                [(0, 10), (1200, 12), (2400, 6)],
                stack=1,
                start="2024-05-01T00:00:00Z",
                duration=1800,
            ),
        ),
    )
    assert periods_of(installed, 1, at("2024-05-01T00:00"), HOUR) == [(0, 10, 3), (1200, 12, 3), (1800, 16, 3)]


def test_highest_stack_level_without_duration_never_falls_back() -> None:
    # 1.6 section 3.13.2: "If you use Stacking without a duration, on the highest stack level, the
    # Charge Point will never fall back to a lower stack level profile."
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 16)], start="2024-05-01T00:00:00Z")),
        (0, profile(2, "TxDefaultProfile", [(0, 10), (HOUR, 12)], stack=1, start="2024-05-01T00:00:00Z")),
    )
    assert periods_of(installed, 1, at("2024-05-01T00:00"), 30 * DAY) == [(0, 10, 3), (HOUR, 12, 3)]


def test_replacement_with_future_valid_from_reverts_to_default_until_then() -> None:
    # 1.6 section 3.13.2: same stackLevel and purpose replaces; until validFrom there is no limit.
    old = profile(1, "TxDefaultProfile", [(0, 16)], start="2024-01-01T00:00:00Z")
    new = profile(2, "TxDefaultProfile", [(0, 10)], start="2024-01-01T00:00:00Z", validFrom="2024-05-01T01:00:00Z")
    installed = install((0, old), (0, new))
    assert periods_of(installed, 1, at("2024-05-01T00:00"), 2 * HOUR) == [(0, None, 3), (HOUR, 10, 3)]


def test_201_stacked_calendar_example() -> None:
    # OCPP 2.0.1 part 2 section 3.6.1: 2 kW from 17:00 to 20:00 every day, except Sundays and
    # Christmas Day 2020. (The spec's duration 1080 is a typo for three hours.)
    installed = install(
        (
            0,
            profile(
                10,
                "TxDefaultProfile",
                [(0, 2000)],
                stack=1,
                kind="Recurring",
                recurrencyKind="Daily",
                start="2020-01-09T17:00:00Z",
                unit="W",
                duration=3 * HOUR,
            ),
        ),
        (
            0,
            profile(
                11,
                "TxDefaultProfile",
                [(0, 999999)],
                stack=2,
                kind="Recurring",
                recurrencyKind="Weekly",
                start="2020-01-05T00:00:00Z",
                unit="W",
                duration=DAY,
            ),
        ),
        (
            0,
            profile(
                12,
                "TxDefaultProfile",
                [(0, 999999)],
                stack=3,
                start="2020-12-25T00:00:00Z",
                unit="W",
                duration=DAY,
                validFrom="2020-01-01T00:00:00Z",
                validTo="2021-01-01T00:00:00Z",
            ),
        ),
    )
    friday = at("2020-01-10T00:00")
    assert periods_of(installed, 1, friday, DAY, "W") == [(0, None, 3), (17 * HOUR, 2000, 3), (20 * HOUR, None, 3)]
    sunday = at("2020-01-12T00:00")
    assert periods_of(installed, 1, sunday, DAY, "W") == [(0, 999999, 3)]
    assert periods_of(installed, 1, at("2020-12-25T00:00"), DAY, "W") == [(0, 999999, 3)]
    # Christmas 2021 is outside the exception's validity: the daily peak limit is back.
    assert periods_of(installed, 1, at("2021-12-24T12:00"), DAY, "W") == [
        (0, None, 3),
        (5 * HOUR, 2000, 3),
        (8 * HOUR, None, 3),
    ]


# --- OCPP 1.6 section 3.13.3: combining ChargePointMaxProfile and TxDefaultProfile ---------------

STATION_MAX = profile(
    1, "ChargePointMaxProfile", [(0, 32), (2 * HOUR, 20), (5 * HOUR, 32)], start="2024-05-01T00:00:00Z"
)
TX_DEFAULT = profile(
    2, "TxDefaultProfile", [(0, 16), (HOUR, 25), (3 * HOUR, 10), (4 * HOUR, 25)], start="2024-05-01T00:00:00Z"
)


def test_composite_is_the_minimum_per_interval_with_intervals_of_different_lengths() -> None:
    installed = install((0, STATION_MAX), (0, TX_DEFAULT))
    assert periods_of(installed, 1, at("2024-05-01T00:00"), 6 * HOUR) == [
        (0, 16, 3),
        (HOUR, 25, 3),
        (2 * HOUR, 20, 3),
        (3 * HOUR, 10, 3),
        (4 * HOUR, 20, 3),
        (5 * HOUR, 25, 3),
    ]


def test_connector_zero_reports_station_max_and_its_tx_default() -> None:
    installed = install(
        (0, STATION_MAX),
        (1, profile(3, "TxDefaultProfile", [(0, 6)], start="2024-05-01T00:00:00Z")),
    )
    assert periods_of(installed, 0, at("2024-05-01T00:00"), 6 * HOUR) == [
        (0, 32, 3),
        (2 * HOUR, 20, 3),
        (5 * HOUR, 32, 3),
    ]
    installed = installed.add(0, profile_from_dict(TX_DEFAULT))
    assert periods_of(installed, 0, at("2024-05-01T00:00"), HOUR) == [(0, 16, 3)]


def test_tx_profile_overrides_tx_default_even_when_higher() -> None:
    tx = profile(5, "TxProfile", [(0, 20)], start="2024-05-01T00:00:00Z", duration=HOUR, transactionId=42)
    installed = install((0, TX_DEFAULT), (1, tx))
    start = at("2024-05-01T00:00")
    assert periods_of(installed, 1, start, 2 * HOUR, tx_id=42, tx_start=start) == [(0, 20, 3), (HOUR, 25, 3)]
    # Another transaction, or none: the TxProfile does not apply.
    assert periods_of(installed, 1, start, 2 * HOUR, tx_id=43, tx_start=start) == [(0, 16, 3), (HOUR, 25, 3)]
    assert periods_of(installed, 1, start, 2 * HOUR) == [(0, 16, 3), (HOUR, 25, 3)]
    # A TxProfile on stack level 0 beats a TxDefaultProfile on a higher one.
    above = install((0, {**TX_DEFAULT, "stackLevel": 3}), (1, {**tx, "stackLevel": 0}))
    assert periods_of(above, 1, start, 2 * HOUR, tx_id=42, tx_start=start) == [(0, 20, 3), (HOUR, 25, 3)]


def test_connector_tx_default_replaces_connector_zero_one_of_same_stack_level() -> None:
    own = profile(3, "TxDefaultProfile", [(0, 20)], start="2024-05-01T00:00:00Z")
    above = profile(4, "TxDefaultProfile", [(0, 6)], stack=1, start="2024-05-01T00:00:00Z", duration=HOUR)
    installed = install((0, TX_DEFAULT), (1, own))
    start = at("2024-05-01T00:00")
    assert periods_of(installed, 1, start, 2 * HOUR) == [(0, 20, 3)]
    assert periods_of(installed, 2, start, 2 * HOUR) == [(0, 16, 3), (HOUR, 25, 3)]
    # Replaced, not layered: where the connector's own profile ends, connector 0's does not return.
    short = install((0, TX_DEFAULT), (1, {**own, "chargingSchedule": {**own["chargingSchedule"], "duration": 1800}}))
    assert periods_of(short, 1, start, 2 * HOUR) == [(0, 20, 3), (1800, None, 3)]
    # Outside its validity the connector's own profile does not exist, so connector 0's applies.
    later = install((0, TX_DEFAULT), (1, {**own, "validFrom": "2024-05-01T01:30:00Z"}))
    assert periods_of(later, 1, start, 2 * HOUR) == [(0, 16, 3), (HOUR, 25, 3), (int(1.5 * HOUR), 20, 3)]
    # A connector-0 TxDefault on a higher stack level still prevails where it covers.
    assert periods_of(installed.add(0, profile_from_dict(above)), 1, start, 2 * HOUR) == [(0, 6, 3), (HOUR, 20, 3)]


def test_external_constraints_also_bound_the_composite() -> None:
    external = profile(-1, "ChargingStationExternalConstraints", [(0, 12)], start="2024-05-01T01:30:00Z", duration=HOUR)
    installed = install((0, TX_DEFAULT), (1, external))
    assert periods_of(installed, 1, at("2024-05-01T00:00"), 3 * HOUR) == [
        (0, 16, 3),
        (HOUR, 25, 3),
        (int(1.5 * HOUR), 12, 3),
        (int(2.5 * HOUR), 25, 3),
    ]
    assert periods_of(installed, 2, at("2024-05-01T01:30"), HOUR) == [(0, 25, 3)]


def test_no_profile_means_no_limit() -> None:
    assert periods_of(InstalledProfiles(), 1, at("2024-05-01T00:00"), DAY) == [(0, None, 3)]


def test_equal_adjacent_periods_merge() -> None:
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 16), (600, 16), (1200, 8)], start="2024-05-01T00:00:00Z")),
        (0, profile(2, "ChargePointMaxProfile", [(0, 32), (900, 16)], start="2024-05-01T00:00:00Z")),
    )
    assert periods_of(installed, 1, at("2024-05-01T00:00"), HOUR) == [(0, 16, 3), (1200, 8, 3)]


# --- edges: recurrence, relative, validity ---------------------------------------------------------


def test_daily_recurring_crossing_midnight() -> None:
    night = profile(
        1,
        "TxDefaultProfile",
        [(0, 10), (3 * HOUR, 13)],
        kind="Recurring",
        recurrencyKind="Daily",
        start="2024-01-01T22:00:00Z",
        duration=4 * HOUR,
    )
    installed = install((0, night))
    assert periods_of(installed, 1, at("2024-05-01T20:00"), 8 * HOUR) == [
        (0, None, 3),
        (2 * HOUR, 10, 3),  # 22:00
        (5 * HOUR, 13, 3),  # 01:00 the next day
        (6 * HOUR, None, 3),  # 02:00
    ]


def test_recurring_does_not_run_before_its_start_schedule() -> None:
    daily = profile(
        1,
        "TxDefaultProfile",
        [(0, 10)],
        kind="Recurring",
        recurrencyKind="Daily",
        start="2024-05-02T00:00:00Z",
        duration=HOUR,
    )
    assert periods_of(install((0, daily)), 1, at("2024-05-01T00:00"), 2 * DAY) == [
        (0, None, 3),
        (DAY, 10, 3),
        (DAY + HOUR, None, 3),
    ]


def test_weekly_recurring() -> None:
    mondays = profile(
        1,
        "TxDefaultProfile",
        [(0, 6), (12 * HOUR, 8)],
        kind="Recurring",
        recurrencyKind="Weekly",
        start="2024-01-01T00:00:00Z",
        duration=DAY,
    )
    saturday = at("2024-05-04T00:00")
    assert periods_of(install((0, mondays)), 1, saturday, 7 * DAY) == [
        (0, None, 3),
        (2 * DAY, 6, 3),
        (2 * DAY + 12 * HOUR, 8, 3),
        (3 * DAY, None, 3),
    ]


def test_recurring_without_duration_repeats_whole_days_and_cuts_long_periods() -> None:
    # The period starting after 24 h is past the recurrence: never executed (errata 3.44).
    daily = profile(
        1,
        "TxDefaultProfile",
        [(0, 10), (6 * HOUR, 16), (DAY + HOUR, 6)],
        kind="Recurring",
        recurrencyKind="Daily",
        start="2024-01-01T00:00:00Z",
    )
    assert periods_of(install((0, daily)), 1, at("2024-05-01T00:00"), 2 * DAY) == [
        (0, 10, 3),
        (6 * HOUR, 16, 3),
        (DAY, 10, 3),
        (DAY + 6 * HOUR, 16, 3),
    ]


def test_relative_tx_profile_counts_from_transaction_start() -> None:
    relative = profile(1, "TxProfile", [(0, 10), (600, 16)], kind="Relative", duration=1800)
    installed = install((1, relative))
    now = at("2024-05-01T12:00")
    assert periods_of(installed, 1, now, HOUR, tx_start=now - timedelta(seconds=300), tx_id=7) == [
        (0, 10, 3),
        (300, 16, 3),
        (1500, None, 3),
    ]


def test_relative_tx_default_without_transaction_starts_now() -> None:
    relative = profile(1, "TxDefaultProfile", [(0, 10), (600, 16)], kind="Relative")
    assert periods_of(install((0, relative)), 1, at("2024-05-01T12:00"), HOUR) == [(0, 10, 3), (600, 16, 3)]


def test_validity_edges_cut_inside_the_window() -> None:
    windowed = profile(
        1,
        "TxDefaultProfile",
        [(0, 10)],
        start="2024-01-01T00:00:00Z",
        validFrom="2024-05-01T00:10:00Z",
        validTo="2024-05-01T00:20:30Z",
    )
    assert periods_of(install((0, windowed)), 1, at("2024-05-01T00:00"), HOUR) == [
        (0, None, 3),
        (600, 10, 3),
        (1230, None, 3),
    ]


# --- W <-> A ------------------------------------------------------------------------------------


def test_watts_convert_with_each_periods_phases() -> None:
    watts = profile(1, "TxDefaultProfile", [(0, 11040), (HOUR, 3680, 1)], start="2024-05-01T00:00:00Z", unit="W")
    installed = install((0, watts))
    start = at("2024-05-01T00:00")
    assert periods_of(installed, 1, start, 2 * HOUR) == [(0, 16, 3), (HOUR, 16, 1)]
    assert periods_of(installed, 1, start, 2 * HOUR, "W") == [(0, 11040, 3), (HOUR, 3680, 1)]
    assert periods_of(installed, 1, start, HOUR, voltage_v=120) == [(0, 30.6, 3)]


def test_amps_reported_in_watts_and_mixed_units_take_the_lower() -> None:
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 16)], start="2024-05-01T00:00:00Z")),
        (0, profile(2, "ChargePointMaxProfile", [(0, 32), (HOUR, 10000)], start="2024-05-01T00:00:00Z", unit="W")),
    )
    start = at("2024-05-01T00:00")
    # 32 W is far below 16 A; 10000 W is 14.49 A per phase on three phases.
    assert periods_of(installed, 1, start, 2 * HOUR) == [(0, 0, 3), (HOUR, 14.4, 3)]
    assert periods_of(installed, 1, start, 2 * HOUR, "W") == [(0, 32, 3), (HOUR, 10000, 3)]


def test_fewest_phases_win_and_single_phase_amps_are_kept() -> None:
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 32, 1)], start="2024-05-01T00:00:00Z")),
        (0, profile(2, "ChargePointMaxProfile", [(0, 16)], start="2024-05-01T00:00:00Z")),
    )
    assert periods_of(installed, 1, at("2024-05-01T00:00"), HOUR) == [(0, 16, 1)]


def test_min_charging_rate_is_reported() -> None:
    data = profile(1, "TxDefaultProfile", [(0, 16)], start="2024-05-01T00:00:00Z")
    data["chargingSchedule"]["minChargingRate"] = 6.1
    start = at("2024-05-01T00:00")
    schedule = composite_schedule(install((0, data)), 1, start, HOUR, RateUnit.A, now=start)
    assert schedule.min_charging_rate == 6.1
    assert schedule.schedule_start == start and schedule.unit is RateUnit.A and schedule.duration_s == HOUR


def test_to_dict_fills_unlimited_periods_and_merges() -> None:
    installed = install((0, profile(1, "TxDefaultProfile", [(0, 16), (600, 32)], start="2024-05-01T00:10:00Z")))
    start = at("2024-05-01T00:00")
    schedule = composite_schedule(installed, 1, start, HOUR, RateUnit.A, now=start)
    assert schedule.to_dict(max_amps=32) == {
        "connectorId": 1,
        "scheduleStart": "2024-05-01T00:00:00.000Z",
        "chargingSchedule": {
            "duration": HOUR,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 32, "numberPhases": 3},
                {"startPeriod": 600, "limit": 16, "numberPhases": 3},
                {"startPeriod": 1200, "limit": 32, "numberPhases": 3},
            ],
        },
    }


def test_to_dict_never_reports_above_the_hardware_maximum() -> None:
    installed = install((0, profile(1, "TxDefaultProfile", [(0, 40), (600, 10, 1)], start="2024-05-01T00:00:00Z")))
    start = at("2024-05-01T00:00")
    amps = composite_schedule(installed, 1, start, HOUR, RateUnit.A, now=start).to_dict(max_amps=32)
    assert [(p["limit"], p["numberPhases"]) for p in amps["chargingSchedule"]["chargingSchedulePeriod"]] == [
        (32, 3),
        (10, 1),
    ]
    watts = composite_schedule(installed, 1, start, HOUR, RateUnit.W, now=start).to_dict(max_amps=32, voltage_v=230)
    assert [p["limit"] for p in watts["chargingSchedule"]["chargingSchedulePeriod"]] == [32 * 230 * 3, 10 * 230]


def test_enforced_watts_divide_by_the_phases_in_use() -> None:
    # 11040 W with numberPhases 3 is 16 A per phase; a car drawing on one phase may take 48 A
    # for the same power, and the report (errata 3.34) still says 16 A on 3 phases.
    installed = install((0, profile(1, "TxDefaultProfile", [(0, 11040, 3)], start="2024-05-01T00:00:00Z", unit="W")))
    now = at("2024-05-01T00:00")
    assert limit_at(installed, 1, now).amps == 16
    assert limit_at(installed, 1, now, w_phases=1).amps == 48
    assert (
        station_limit_at(
            install((0, {**profile(2, "ChargePointMaxProfile", [(0, 7360)], start="2024-05-01T00:00:00Z", unit="W")})),
            now,
            w_phases=2,
        ).amps
        == 16
    )
    assert periods_of(installed, 1, now, HOUR) == [(0, 16, 3)]


def test_installed_data_that_validation_would_refuse_is_read_without_crashing() -> None:
    odd = ChargingProfile(
        id=1,
        stack_level=0,
        purpose=Purpose.TX_DEFAULT,
        kind=Kind.ABSOLUTE,  # without startSchedule: read as relative to charging start
        schedule=ChargingSchedule(
            unit=RateUnit.A, periods=(SchedulePeriod(1200, 8, 7), SchedulePeriod(600, -5)), duration=1800
        ),
    )
    empty = replace(odd, id=2, stack_level=1, schedule=replace(odd.schedule, periods=()))
    start = at("2024-05-01T00:00")
    installed = InstalledProfiles().add(0, odd).add(0, empty)
    assert periods_of(installed, 1, start, HOUR) == [(0, None, 3), (600, 0, 3), (1200, 8, 3), (1800, None, 3)]


# --- limit_at -----------------------------------------------------------------------------------


def test_limit_at_is_valid_until_the_next_period_boundary() -> None:
    installed = install((0, STATION_MAX), (0, TX_DEFAULT))
    assert limit_at(installed, 1, at("2024-05-01T00:30")) == Limit(16, 3, at("2024-05-01T01:00"))
    assert limit_at(installed, 1, at("2024-05-01T02:59:59Z")) == Limit(20, 3, at("2024-05-01T03:00"))


def test_limit_at_skips_boundaries_where_nothing_changes() -> None:
    installed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 16), (600, 16), (1200, 8)], start="2024-05-01T00:00:00Z"))
    )
    assert limit_at(installed, 1, at("2024-05-01T00:00")).valid_until == at("2024-05-01T00:20")


def test_limit_at_validity_edge_and_recurrence() -> None:
    installed = install((0, DAILY_EXAMPLE))
    limit = limit_at(installed, 1, at("2024-05-01T21:00"))
    assert limit.amps == pytest.approx(11000 / 690)
    assert limit.valid_until == at("2024-05-02T08:00")  # across midnight, into the next occurrence
    windowed = install(
        (0, profile(1, "TxDefaultProfile", [(0, 10)], start="2024-01-01T00:00:00Z", validTo="2024-05-01T00:20:00Z"))
    )
    assert limit_at(windowed, 1, at("2024-05-01T00:00")) == Limit(10, 3, at("2024-05-01T00:20"))


def test_limit_at_without_profiles_is_unlimited_forever() -> None:
    assert limit_at(InstalledProfiles(), 1, at("2024-05-01T00:00")) == Limit(None, 3, None)


def test_limit_at_reports_below_six_amps_raw_and_caps_phases() -> None:
    installed = install((0, profile(1, "TxDefaultProfile", [(0, 4.5)], start="2024-05-01T00:00:00Z")))
    assert limit_at(installed, 1, at("2024-05-01T00:00"), phases=1) == Limit(4.5, 1, None)


def test_limit_at_constant_recurring_is_rechecked_at_the_lookahead() -> None:
    daily = install(
        (
            0,
            profile(
                1, "TxDefaultProfile", [(0, 10)], kind="Recurring", recurrencyKind="Daily", start="2024-01-01T00:00:00Z"
            ),
        )
    )
    now = at("2024-05-01T00:00")
    assert limit_at(daily, 1, now) == Limit(10, 3, now + timedelta(days=8))


def test_limit_at_tx_profile_for_its_transaction_only() -> None:
    installed = install(
        (0, TX_DEFAULT), (1, profile(5, "TxProfile", [(0, 7)], start="2024-05-01T00:00:00Z", transactionId=42))
    )
    now = at("2024-05-01T00:00")
    assert limit_at(installed, 1, now, tx_id=42).amps == 7
    assert limit_at(installed, 1, now, tx_id=41).amps == 16


def test_station_limit_at_ignores_per_connector_profiles() -> None:
    installed = install((0, STATION_MAX), (0, TX_DEFAULT))
    assert station_limit_at(installed, at("2024-05-01T03:00")) == Limit(20, 3, at("2024-05-01T05:00"))


# --- sharing the station cap ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cap", "demands", "shares"),
    [
        (None, {1: 32, 2: 16}, {1: 32, 2: 16}),
        (40, {1: 32, 2: 16}, {1: 24, 2: 16}),
        (32, {1: 32, 2: 32}, {1: 16, 2: 16}),
        (32, {1: 32, 2: 16, 3: 10}, {1: 11, 2: 11, 3: 10}),
        (16, {1: 32, 2: 16, 3: 10}, {1: 8, 2: 8, 3: 0}),  # 5.3 A each cannot be offered: 3 pauses
        (10, {1: 16, 2: 16}, {1: 10, 2: 0}),
        (5, {1: 16}, {1: 0}),
        (32, {1: 4, 2: 32}, {1: 0, 2: 32}),  # a demand under 6 A pauses and takes nothing
        (0, {}, {}),
    ],
)
def test_share_station_limit(cap: float | None, demands: dict[int, float], shares: dict[int, float]) -> None:
    result = share_station_limit(cap, demands)
    assert result == pytest.approx(shares)
    if cap is not None:
        assert sum(result.values()) <= cap + 1e-9
        assert all(share == 0 or share >= 6 for share in result.values())
