"""Enforcement decisions (pure) and the profile store (real SQLite in tmp_path)."""

import json
from datetime import UTC, datetime, timedelta

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
    profile_from_dict,
)
from controller.smart_charging.enforcement import (
    HANDOVER_S,
    ChargingLimits,
    ConnectorFacts,
    RunningTransaction,
    connector_limits,
    handed_over,
    phases_in_use,
)
from controller.smart_charging.store import ProfileStore
from controller.storage import Database
from hal.types import MeterReading

NOW = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
START = "2024-05-01T00:00:00Z"
IDLE = ConnectorFacts(max_current_a=32, phases=3)


def charging(start: datetime = NOW, **kwargs: object) -> ConnectorFacts:
    return ConnectorFacts(max_current_a=32, phases=3, transaction=RunningTransaction(1, start), **kwargs)  # type: ignore[arg-type]


def install(*placed: tuple[int, dict]) -> InstalledProfiles:
    installed = InstalledProfiles()
    for connector, data in placed:
        installed = installed.add(connector, profile_from_dict(data))
    return installed


def test_no_profile_means_no_opinion() -> None:
    assert connector_limits(InstalledProfiles(), {1: charging()}, NOW, 230) == {1: Limit(None, 3, None)}


def test_station_cap_is_shared_by_connectors_with_a_transaction() -> None:
    installed = install((0, profile(1, "ChargePointMaxProfile", [(0, 16)], start=START)))
    both = connector_limits(installed, {1: charging(), 2: charging()}, NOW, 230)
    assert [both[1].amps, both[2].amps] == [8, 8]
    one = connector_limits(installed, {1: charging(), 2: IDLE}, NOW, 230)
    assert [one[1].amps, one[2].amps] == [16, 16]  # the idle one is capped by the whole station limit


def test_a_connectors_own_lower_limit_leaves_the_rest_of_the_cap_to_the_other() -> None:
    installed = install(
        (0, profile(1, "ChargePointMaxProfile", [(0, 20)], start=START)),
        (1, profile(2, "TxDefaultProfile", [(0, 6)], start=START)),
    )
    limits = connector_limits(installed, {1: charging(), 2: charging()}, NOW, 230)
    assert [limits[1].amps, limits[2].amps] == [6, 14]


def test_a_zero_limit_under_a_station_cap_stays_zero() -> None:
    installed = install(
        (0, profile(1, "ChargePointMaxProfile", [(0, 16)], start=START)),
        (1, profile(2, "TxDefaultProfile", [(0, 0)], start=START)),
    )
    limits = connector_limits(installed, {1: charging(), 2: charging()}, NOW, 230)
    assert [limits[1].amps, limits[2].amps] == [0, 16]


def test_watts_divide_by_the_phases_in_use_else_the_configured_phases() -> None:
    installed = install((0, profile(1, "TxDefaultProfile", [(0, 7360)], start=START, unit="W")))
    assert connector_limits(installed, {1: charging(phases_in_use=1)}, NOW, 230)[1].amps == 32
    single = ConnectorFacts(max_current_a=32, phases=1)
    assert connector_limits(installed, {1: single}, NOW, 230)[1].amps == 32
    assert connector_limits(installed, {1: charging()}, NOW, 230)[1].amps == pytest.approx(7360 / 690)


def test_relative_tx_profile_counts_from_the_transaction_start() -> None:
    relative = profile(1, "TxProfile", [(0, 16), (600, 8)], kind="Relative")
    installed = install((1, relative))
    started_long_ago = charging(NOW - timedelta(minutes=15))
    assert connector_limits(installed, {1: started_long_ago}, NOW, 230)[1].amps == 8
    assert connector_limits(installed, {1: charging(NOW)}, NOW, 230)[1] == Limit(16, 3, NOW + timedelta(minutes=10))


@pytest.mark.parametrize(("first", "then", "handed"), [(16, 8, 8), (8, 16, 8)])
def test_within_the_handover_the_lower_side_holds_until_the_boundary_after(first, then, handed) -> None:
    periods = [(0, first), (3600, then), (7200, 20)]
    installed = install((0, profile(1, "TxDefaultProfile", periods, start=START)))
    facts = {1: charging()}

    def hand(now: datetime) -> Limit:
        return handed_over(installed, facts, now, 230, connector_limits(installed, facts, now, 230))[1]

    boundary = NOW + timedelta(hours=1)
    assert hand(boundary - timedelta(seconds=HANDOVER_S + 0.5)) == Limit(first, 3, boundary)
    assert hand(boundary - timedelta(seconds=HANDOVER_S - 0.5)) == Limit(handed, 3, NOW + timedelta(hours=2))
    assert hand(boundary) == Limit(then, 3, NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    ("currents", "phases"), [((10.0, 0.2, 0.0), 1), ((16.0, 16.0, 16.0), 3), ((0.0, 0.0, 0.0), None), ((), None)]
)
def test_phases_in_use(currents: tuple[float, ...], phases: int | None) -> None:
    reading = MeterReading(voltage_v=(230.0,) * 3, current_a=currents, power_w=0.0, energy_import_wh=0.0)
    assert phases_in_use(reading) == phases
    assert phases_in_use(None) is None


def test_store_round_trip_and_restart_drops_tx_profiles_and_expired_ones(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    try:
        store = ProfileStore(db)
        kept = [
            (0, profile(1, "ChargePointMaxProfile", [(0, 16)], start=START)),
            (1, profile(2, "TxDefaultProfile", [(0, 10), (60, 12.5, 1)], start=START, validTo="2024-06-01T00:00:00Z")),
        ]
        gone = [
            (1, profile(3, "TxProfile", [(0, 6)], kind="Relative")),
            (0, profile(4, "TxDefaultProfile", [(0, 8)], stack=2, start=START, validTo="2024-05-01T12:00:00Z")),
        ]
        store.save_sync(install(*kept, *gone))
        assert store.load() == install(*kept, *gone)
        limits = ChargingLimits(store, now=lambda: NOW + timedelta(days=1))
        assert limits.installed == install(*kept)
        assert store.load() == install(*kept), "the cleaned set is written back"
    finally:
        db.close()


def test_an_unreadable_stored_row_is_left_out(tmp_path, caplog) -> None:
    db = Database(tmp_path / "evsed.db")
    try:
        store = ProfileStore(db)
        store.save_sync(install((0, profile(1, "ChargePointMaxProfile", [(0, 16)], start=START))))
        row = "INSERT INTO charging_profiles (position, connector, form, profile) VALUES (?, 0, ?, ?)"
        db.run_sync(lambda c: c.execute(row, (7, "ocpp16", '{"chargingProfileId": 2}')))
        db.run_sync(lambda c: c.execute(row, (8, "record", "not json")))
        db.run_sync(lambda c: c.execute(row, (9, "record", '{"id": 3}')))
        assert [entry.profile.id for entry in store.load()] == [1]
        for position in (7, 8, 9):
            assert f"stored charging profile {position}" in caplog.text
    finally:
        db.close()


def test_rows_of_the_16_store_are_read_and_written_back_as_neutral_records(tmp_path) -> None:
    """A database of the version that stored 1.6 JSON: its profiles load unchanged and are
    written back in the neutral form (a 2.0.1 front end can read them, nothing is lost)."""
    db = Database(tmp_path / "evsed.db")
    try:
        old = profile(2, "TxDefaultProfile", [(0, 10), (60, 12.5, 1)], start=START, validTo="2024-06-01T00:00:00Z")
        db.migrate("smart_charging_profiles_0001", "CREATE TABLE charging_profiles "
                   "(position INTEGER PRIMARY KEY, connector INTEGER NOT NULL, profile TEXT NOT NULL)")  # fmt: skip
        db.run_sync(lambda c: c.execute("INSERT INTO charging_profiles VALUES (0, 1, ?)", (json.dumps(old),)))
        assert ProfileStore(db).load() == install((1, old))
        forms = db.run_sync(lambda c: c.execute("SELECT form, profile FROM charging_profiles").fetchall())
        assert [(form, json.loads(text)["id"]) for form, text in forms] == [("record", 2)]
        assert ProfileStore(db).load() == install((1, old))
    finally:
        db.close()


def test_a_201_profile_keeps_its_schedule_id_phase_and_transaction_in_the_store(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    try:
        store = ProfileStore(db)
        schedule = ChargingSchedule(RateUnit.W, (SchedulePeriod(0, 4600.0, 1, 1), SchedulePeriod(30, 0.0)), id=7)
        tx = ChargingProfile(5, 1, Purpose.TX, Kind.RELATIVE, schedule, transaction_id="7f1e-uuid")
        installed = InstalledProfiles().add(2, tx)
        store.save_sync(installed)
        assert store.load() == installed
    finally:
        db.close()
