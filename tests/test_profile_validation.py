"""SetChargingProfile verdicts, the installed-profile rules and the OCPP JSON mapping."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.smart_charging import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfiles,
    Kind,
    ProfileFormatError,
    ProfileStatus,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    StationContext,
    profile_from_dict,
    profile_to_dict,
    validate,
)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SCHEDULE = ChargingSchedule(
    unit=RateUnit.A, periods=(SchedulePeriod(0, 16.0), SchedulePeriod(3600, 10.0, 1)), start_schedule=NOW
)
PROFILE = ChargingProfile(id=1, stack_level=0, purpose=Purpose.TX_DEFAULT, kind=Kind.ABSOLUTE, schedule=SCHEDULE)
CTX = StationContext(
    max_stack_level=3,
    max_periods=4,
    allowed_units=frozenset({RateUnit.A, RateUnit.W}),
    max_installed=3,
    connectors=frozenset({1, 2}),
    now=NOW,
    transactions={1: 42},
)


def schedule(**changes: object) -> ChargingSchedule:
    return replace(SCHEDULE, **changes)


def periods(*pairs: tuple[int, float]) -> tuple[SchedulePeriod, ...]:
    return tuple(SchedulePeriod(start, limit) for start, limit in pairs)


RELATIVE = {"kind": Kind.RELATIVE, "schedule": schedule(start_schedule=None)}
FULL = (
    InstalledProfiles().add(0, replace(PROFILE, id=10)).add(1, replace(PROFILE, id=11)).add(2, replace(PROFILE, id=12))
)

# (case, connector, profile changes, context changes, expected status, words in the reason)
CASES = [
    ("plain TxDefault on 0", 0, {}, {}, ProfileStatus.ACCEPTED, ""),
    ("TxDefault on a connector", 2, {}, {}, ProfileStatus.ACCEPTED, ""),
    ("unknown connector", 3, {}, {}, ProfileStatus.REJECTED, "connector 3"),
    ("station max on 0", 0, {"purpose": Purpose.STATION_MAX}, {}, ProfileStatus.ACCEPTED, ""),
    ("station max on 1", 1, {"purpose": Purpose.STATION_MAX}, {}, ProfileStatus.REJECTED, "connector 0"),
    ("tx on connector 0", 0, {"purpose": Purpose.TX}, {}, ProfileStatus.REJECTED, "connector > 0"),
    ("tx with transaction", 1, {"purpose": Purpose.TX}, {}, ProfileStatus.ACCEPTED, ""),
    ("tx naming it", 1, {"purpose": Purpose.TX, "transaction_id": 42}, {}, ProfileStatus.ACCEPTED, ""),
    ("tx without transaction", 2, {"purpose": Purpose.TX}, {}, ProfileStatus.REJECTED, "none is running"),
    ("tx, other transaction", 1, {"purpose": Purpose.TX, "transaction_id": 7}, {}, ProfileStatus.REJECTED, "7"),
    ("tx, id not yet known", 1, {"purpose": Purpose.TX}, {"transactions": {1: None}}, ProfileStatus.ACCEPTED, ""),
    ("transactionId on TxDefault", 1, {"transaction_id": 42}, {}, ProfileStatus.REJECTED, "only valid"),
    ("external from CSMS", 0, {"purpose": Purpose.EXTERNAL_CONSTRAINTS}, {}, ProfileStatus.REJECTED, "energy"),
    ("top stack level", 0, {"stack_level": 3}, {}, ProfileStatus.ACCEPTED, ""),
    ("stack level too high", 0, {"stack_level": 4}, {}, ProfileStatus.REJECTED, "ChargeProfileMaxStackLevel"),
    ("negative stack level", 0, {"stack_level": -1}, {}, ProfileStatus.REJECTED, "stackLevel -1"),
    ("W not allowed", 0, {}, {"allowed_units": frozenset({RateUnit.A})}, ProfileStatus.ACCEPTED, ""),
    (
        "unit not allowed",
        0,
        {"schedule": schedule(unit=RateUnit.W)},
        {"allowed_units": frozenset({RateUnit.A})},
        ProfileStatus.NOT_SUPPORTED,
        "ChargingScheduleAllowedChargingRateUnit",
    ),
    ("max periods", 0, {"schedule": schedule(periods=periods((0, 1), (1, 2), (2, 3), (3, 4)))}, {}, "Accepted", ""),
    (
        "too many periods",
        0,
        {"schedule": schedule(periods=periods((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)))},
        {},
        ProfileStatus.REJECTED,
        "ChargingScheduleMaxPeriods",
    ),
    ("no periods", 0, {"schedule": schedule(periods=())}, {}, ProfileStatus.REJECTED, "empty"),
    ("first not 0", 0, {"schedule": schedule(periods=periods((60, 16)))}, {}, ProfileStatus.REJECTED, "must be 0"),
    ("equal starts", 0, {"schedule": schedule(periods=periods((0, 1), (0, 2)))}, {}, ProfileStatus.REJECTED, "order"),
    ("descending", 0, {"schedule": schedule(periods=periods((0, 1), (9, 2), (5, 3)))}, {}, "Rejected", "order"),
    ("zero limit", 0, {"schedule": schedule(periods=periods((0, 0)))}, {}, ProfileStatus.ACCEPTED, ""),
    ("negative limit", 0, {"schedule": schedule(periods=periods((0, -1)))}, {}, ProfileStatus.REJECTED, "negative"),
    ("0 phases", 0, {"schedule": schedule(periods=(SchedulePeriod(0, 8, 0),))}, {}, "Rejected", "numberPhases 0"),
    ("4 phases", 0, {"schedule": schedule(periods=(SchedulePeriod(0, 8, 4),))}, {}, "Rejected", "numberPhases 4"),
    ("1 phase", 0, {"schedule": schedule(periods=(SchedulePeriod(0, 8, 1),))}, {}, ProfileStatus.ACCEPTED, ""),
    ("negative duration", 0, {"schedule": schedule(duration=-1)}, {}, ProfileStatus.REJECTED, "duration"),
    ("negative min rate", 0, {"schedule": schedule(min_charging_rate=-1.0)}, {}, "Rejected", "minChargingRate"),
    ("recurring daily", 0, {"kind": Kind.RECURRING, "recurrency": Recurrency.DAILY}, {}, ProfileStatus.ACCEPTED, ""),
    ("recurring, no kind", 0, {"kind": Kind.RECURRING}, {}, ProfileStatus.REJECTED, "recurrencyKind"),
    (
        "recurring, no start",
        0,
        {"kind": Kind.RECURRING, "recurrency": Recurrency.WEEKLY, "schedule": schedule(start_schedule=None)},
        {},
        ProfileStatus.REJECTED,
        "startSchedule",
    ),
    ("recurrency on Absolute", 0, {"recurrency": Recurrency.DAILY}, {}, ProfileStatus.REJECTED, "only used with"),
    ("absolute, no start", 0, {"schedule": schedule(start_schedule=None)}, {}, ProfileStatus.REJECTED, "startSchedule"),
    ("relative", 1, RELATIVE, {}, ProfileStatus.ACCEPTED, ""),
    ("relative with start", 0, {"kind": Kind.RELATIVE}, {}, ProfileStatus.REJECTED, "no startSchedule"),
    ("relative station max", 0, {**RELATIVE, "purpose": Purpose.STATION_MAX}, {}, "Rejected", "cannot be Relative"),
    ("validity window", 0, {"valid_from": NOW, "valid_to": NOW + timedelta(hours=1)}, {}, ProfileStatus.ACCEPTED, ""),
    ("validFrom = validTo", 0, {"valid_from": NOW, "valid_to": NOW}, {}, ProfileStatus.REJECTED, "validFrom"),
    ("validFrom > validTo", 0, {"valid_from": NOW, "valid_to": NOW - timedelta(1)}, {}, "Rejected", "validFrom"),
    ("already expired", 0, {"valid_to": NOW - timedelta(seconds=1)}, {}, ProfileStatus.REJECTED, "past"),
    ("full: a 4th profile", 0, {"stack_level": 1}, {"installed": FULL}, ProfileStatus.REJECTED, "MaxCharging"),
    ("full: replaces by id", 0, {"id": 12, "stack_level": 1}, {"installed": FULL}, ProfileStatus.ACCEPTED, ""),
    ("full: replaces by slot", 1, {"id": 99}, {"installed": FULL}, ProfileStatus.ACCEPTED, ""),
]


@pytest.mark.parametrize(
    ("connector", "changes", "ctx_changes", "status", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_verdict(connector: int, changes: dict, ctx_changes: dict, status: object, words: str) -> None:
    verdict = validate(replace(PROFILE, **changes), connector, replace(CTX, **ctx_changes))
    assert verdict.status is ProfileStatus(status)
    assert words in verdict.reason
    assert verdict.accepted == (verdict.status is ProfileStatus.ACCEPTED)


# --- installed profiles -------------------------------------------------------------------------


def installed_ids(installed: InstalledProfiles) -> list[tuple[int, int]]:
    return sorted((entry.connector_id, entry.profile.id) for entry in installed)


def test_add_replaces_same_id_even_on_another_connector() -> None:
    installed = InstalledProfiles().add(0, PROFILE).add(1, replace(PROFILE, stack_level=2))
    assert installed_ids(installed) == [(1, 1)]
    assert next(iter(installed)).profile.stack_level == 2


def test_add_replaces_same_purpose_stack_level_and_connector() -> None:
    installed = InstalledProfiles().add(1, PROFILE).add(1, replace(PROFILE, id=2))
    assert installed_ids(installed) == [(1, 2)]


def test_add_keeps_other_slots() -> None:
    installed = (
        InstalledProfiles()
        .add(0, PROFILE)
        .add(1, replace(PROFILE, id=2))  # connector-specific TxDefault: connector 0's stays
        .add(0, replace(PROFILE, id=3, stack_level=1))
        .add(0, replace(PROFILE, id=4, purpose=Purpose.STATION_MAX))
    )
    assert installed_ids(installed) == [(0, 1), (0, 3), (0, 4), (1, 2)]


def test_external_constraints_are_not_replaced_by_csms_id() -> None:
    external = replace(PROFILE, id=-1, purpose=Purpose.EXTERNAL_CONSTRAINTS)
    installed = InstalledProfiles().add(0, external).add(0, replace(PROFILE, id=-1))
    assert sorted(entry.profile.purpose.name for entry in installed) == ["EXTERNAL_CONSTRAINTS", "TX_DEFAULT"]


MIXED = (
    InstalledProfiles()
    .add(0, replace(PROFILE, id=1, purpose=Purpose.STATION_MAX))
    .add(0, replace(PROFILE, id=2))
    .add(1, replace(PROFILE, id=3))
    .add(1, replace(PROFILE, id=4, stack_level=1))
    .add(1, replace(PROFILE, id=5, purpose=Purpose.TX))
    .add(2, replace(PROFILE, id=6, stack_level=1))
)


@pytest.mark.parametrize(
    ("criteria", "removed"),
    [
        ({}, {1, 2, 3, 4, 5, 6}),
        ({"profile_id": 4}, {4}),
        ({"profile_id": 99}, set()),
        ({"connector_id": 1}, {3, 4, 5}),
        ({"purpose": Purpose.TX_DEFAULT}, {2, 3, 4, 6}),
        ({"stack_level": 1}, {4, 6}),
        ({"connector_id": 1, "stack_level": 1}, {4}),
        ({"connector_id": 0, "purpose": Purpose.TX_DEFAULT, "stack_level": 0}, {2}),
        ({"profile_id": 4, "connector_id": 2}, set()),  # logical AND (errata 3.25)
        ({"purpose": Purpose.TX, "connector_id": 2}, set()),
    ],
)
def test_clear(criteria: dict, removed: set[int]) -> None:
    remaining, cleared = MIXED.clear(**criteria)
    assert cleared == bool(removed)
    assert {entry.profile.id for entry in remaining} == {1, 2, 3, 4, 5, 6} - removed


def test_end_of_transaction_drops_only_that_connectors_tx_profiles() -> None:
    installed = MIXED.add(2, replace(PROFILE, id=7, purpose=Purpose.TX))
    assert {entry.profile.id for entry in installed.end_transaction(1)} == {1, 2, 3, 4, 6, 7}


def test_expiry_at_valid_to() -> None:
    installed = (
        InstalledProfiles()
        .add(0, replace(PROFILE, id=1, valid_to=NOW))
        .add(0, replace(PROFILE, id=2, stack_level=1, valid_to=NOW + timedelta(seconds=1)))
        .add(0, replace(PROFILE, id=3, stack_level=2))
    )
    assert {entry.profile.id for entry in installed.expire(NOW)} == {2, 3}
    assert {entry.profile.id for entry in installed.expire(NOW - timedelta(seconds=1))} == {1, 2, 3}


def test_installed_round_trip() -> None:
    installed = MIXED.add(1, replace(PROFILE, id=8, purpose=Purpose.TX, transaction_id="tx-8", stack_level=3))
    assert InstalledProfiles.from_dict(installed.to_dict()) == installed


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "profiles"),
        ({"profiles": [{"connectorId": "1", "csChargingProfiles": {}}]}, "profiles[0].connectorId"),
        ({"profiles": [{"connectorId": 1, "csChargingProfiles": {}}]}, "profiles[0]: chargingProfileId"),
    ],
)
def test_installed_from_bad_dict(data: object, words: str) -> None:
    with pytest.raises(ProfileFormatError, match=words.replace("[", r"\[").replace("]", r"\]")):
        InstalledProfiles.from_dict(data)


# --- OCPP JSON ----------------------------------------------------------------------------------

SPEC_EXAMPLE = {  # OCPP 1.6 section 3.13.7
    "chargingProfileId": 100,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Recurring",
    "recurrencyKind": "Daily",
    "chargingSchedule": {
        "duration": 86400,
        "startSchedule": "2013-01-01T00:00:00Z",
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 11000, "numberPhases": 3},
            {"startPeriod": 28800, "limit": 6000, "numberPhases": 3},
            {"startPeriod": 72000, "limit": 11000, "numberPhases": 3},
        ],
    },
}


def test_spec_example_reads_and_writes_back() -> None:
    profile = profile_from_dict(SPEC_EXAMPLE)
    assert profile.recurrency is Recurrency.DAILY
    assert profile.schedule.start_schedule == datetime(2013, 1, 1, tzinfo=UTC)
    assert [p.limit for p in profile.schedule.periods] == [11000, 6000, 11000]
    # written back as the station writes every timestamp (controller/clock.py: milliseconds and Z)
    schedule = {**SPEC_EXAMPLE["chargingSchedule"], "startSchedule": "2013-01-01T00:00:00.000Z"}
    assert profile_to_dict(profile) == {**SPEC_EXAMPLE, "chargingSchedule": schedule}


def test_201_spellings_and_times() -> None:
    data = {
        **SPEC_EXAMPLE,
        "chargingProfilePurpose": "ChargingStationMaxProfile",
        "transactionId": "abc",
        "validFrom": "2020-01-09T17:00:00Z",
        "validTo": "2020-01-09T19:00:00+02:00",
    }
    profile = profile_from_dict(data)
    assert profile.purpose is Purpose.STATION_MAX
    assert profile.transaction_id == "abc"
    assert profile.valid_from == datetime(2020, 1, 9, 17, tzinfo=UTC)
    assert profile.valid_to == datetime(2020, 1, 9, 17, tzinfo=UTC)
    assert profile_to_dict(profile)["chargingProfilePurpose"] == "ChargePointMaxProfile"
    with pytest.raises(ProfileFormatError, match="validFrom"):  # the one date-time rule: an offset is needed
        profile_from_dict({**data, "validFrom": "2020-01-09T17:00:00"})


def with_schedule(**changes: object) -> dict:
    return {**SPEC_EXAMPLE, "chargingSchedule": {**SPEC_EXAMPLE["chargingSchedule"], **changes}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("nope", "csChargingProfiles"),
        ({k: v for k, v in SPEC_EXAMPLE.items() if k != "stackLevel"}, "stackLevel"),
        ({**SPEC_EXAMPLE, "stackLevel": "0"}, "stackLevel"),
        ({**SPEC_EXAMPLE, "stackLevel": True}, "stackLevel"),
        ({**SPEC_EXAMPLE, "chargingProfilePurpose": "Max"}, "chargingProfilePurpose"),
        ({**SPEC_EXAMPLE, "chargingProfileKind": "absolute"}, "chargingProfileKind"),
        ({**SPEC_EXAMPLE, "recurrencyKind": "Monthly"}, "recurrencyKind"),
        ({**SPEC_EXAMPLE, "validFrom": "yesterday"}, "validFrom"),
        ({**SPEC_EXAMPLE, "validTo": 5}, "validTo"),
        ({**SPEC_EXAMPLE, "transactionId": 1.5}, "transactionId"),
        ({**SPEC_EXAMPLE, "chargingSchedule": []}, "chargingSchedule"),
        (with_schedule(chargingRateUnit="kW"), "chargingSchedule.chargingRateUnit"),
        (with_schedule(chargingSchedulePeriod={}), "chargingSchedule.chargingSchedulePeriod"),
        (with_schedule(chargingSchedulePeriod=[{"limit": 1}]), "chargingSchedulePeriod[0].startPeriod"),
        (with_schedule(chargingSchedulePeriod=[{"startPeriod": 0, "limit": "16"}]), "[0].limit"),
        (with_schedule(chargingSchedulePeriod=[7]), "chargingSchedulePeriod[0]"),
        (with_schedule(duration=1.5), "chargingSchedule.duration"),
        (with_schedule(minChargingRate="x"), "chargingSchedule.minChargingRate"),
    ],
)
def test_bad_shape_names_the_field(data: object, field: str) -> None:
    with pytest.raises(ProfileFormatError) as raised:
        profile_from_dict(data)
    assert field in str(raised.value)
