"""Part 2 K11-K13 (no part-6 test case plays them on a charging station): local energy management
is the external control system. The harness's station with a grid meter at the house connection
(a 40 A main fuse, 1 A margin) and the simulated house: its limit on an EVSE is reported as
ChargingStationExternalConstraints (NotifyChargingLimit / ClearedChargingLimit, GetChargingProfiles
with chargingLimitSource EMS, GetCompositeSchedule) and the CSMS can neither set nor clear it; and
the CSMS's profiles still cap what energy management's modes would give (issue 17)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import GRID_METER

from controller.energy.solar import SolarMode
from controller.iec61851 import TIMING
from ocpp201.harness import MODULE, Harness
from ocpp201.states import energy_transfer_started_from_idle
from ocpp201.test_k_smart_charging import (
    EVSE,
    composite,
    get_profiles,
    installed,
    periods,
    profile,
    profiles_of,
    set_profile,
    whole_second,
)

pytestmark = MODULE
SECTIONS = (
    GRID_METER
    + """
[solar]
start_margin_w = 0
stop_margin_w = 300
start_delay_s = 0.5
stop_delay_s = 3
"""
)
SIGNIFICANCE = 20  # percent: a grid meter's noise moves no limit this far
PRESETS = {"SmartChargingCtrlr.LimitChangeSignificance": SIGNIFICANCE}
QUIET_HOUSE = [2.0, 2.0, 2.0]  # room 37 A: energy management allows what EVSE 1 wants (32 A)
BUSY_HOUSE = [30.0, 30.0, 30.0]  # room 9 A
EMS_A = 40 - 1 - 30
Payload = dict[str, Any]


@pytest.fixture(autouse=True)
async def quiet_house(cs: Harness) -> Any:
    cs.sim.set_house(load_a=QUIET_HOUSE)
    yield
    cs.sim.set_house(load_a=QUIET_HOUSE)
    await cs.daemon.site.set_mode(EVSE, SolarMode.OFF)


def offered(cs: Harness, evse: int = EVSE) -> float:
    return round(float(cs.sim.snapshot(evse)["offered_a"]), 1)


def limit(cs: Harness, evse: int = EVSE) -> tuple[float, str]:
    view = cs.station.view(evse).limit
    return view.amps, view.source


def is_ems(p: Payload) -> bool:
    return p["chargingLimit"] == {"chargingLimitSource": "EMS"} and p["evseId"] == EVSE


def first_limit(notice: Payload) -> float:
    return notice["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]


async def constrained(cs: Harness, since: int) -> Payload:
    """A busy house while EVSE 1 charges: energy management's limit falls to 9 A, reported."""
    cs.sim.set_house(load_a=BUSY_HOUSE)
    notice = await cs.expect("NotifyChargingLimit", is_ems, since)
    await cs.until(lambda: limit(cs) == (EMS_A, "energy management"), what="energy management's 9 A")
    return notice


async def test_energy_management_limit_is_external_constraints(cs: Harness) -> None:
    """K11: charging at what it wants, energy management constrains nothing and nothing is
    reported; a busy house: NotifyChargingLimit (EMS, never CSO; without the schedule, as
    NotifyChargingLimitWithSchedules is false), the limit reported as a
    ChargingStationExternalConstraints profile with a negative id (K11.FR.06), in the composite
    schedule, and neither clearable (K10.FR.08/09) nor settable by the CSMS; the house quiet again:
    ClearedChargingLimit (K13.FR.02) and the limit gone (K13.FR.01)."""
    variable = {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "ExternalControlSignalsEnabled"}}
    [result] = (await cs.call("GetVariables", {"getVariableData": [variable]}))["getVariableResult"]
    assert result["attributeStatus"] == "Accepted" and result["attributeValue"] == "true"
    refused = await cs.try_set_variables({"SmartChargingCtrlr.ExternalControlSignalsEnabled": False})
    assert refused[0]["attributeStatus"] == "Rejected"  # read-only: the fuse protection stays
    since = cs.mark()
    await energy_transfer_started_from_idle(cs, EVSE)
    await cs.barrier()
    assert cs.calls("NotifyChargingLimit", since) == [] and limit(cs)[0] == 32
    notice = await constrained(cs, since)
    assert "chargingSchedule" not in notice
    answer, reports = await get_profiles(cs, {"chargingLimitSource": ["EMS"]})
    assert answer["status"] == "Accepted" and [r["chargingLimitSource"] for r in reports] == ["EMS"]
    [(evse, external)] = profiles_of(reports)
    assert evse == EVSE and external["id"] < 0
    assert external["chargingProfilePurpose"] == "ChargingStationExternalConstraints"
    assert external["chargingSchedule"][0]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": EMS_A, "numberPhases": 3}
    ]
    assert (await get_profiles(cs, {"chargingLimitSource": ["CSO"]}))[0]["status"] == "NoProfiles"
    assert periods(await composite(cs, EVSE, 60)) == [(0, EMS_A)]
    assert periods(await composite(cs, 0, 60)) == [(0, EMS_A + 16)]  # and EVSE 2's 16 A as if it started now
    assert (await cs.call("ClearChargingProfile", {"chargingProfileId": external["id"]}))["status"] == "Unknown"
    criteria = {"chargingProfilePurpose": "ChargingStationExternalConstraints"}
    assert (await cs.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))["status"] == "Unknown"
    refused = await set_profile(cs, EVSE, profile(160, "ChargingStationExternalConstraints", [(0, 20)]))
    assert refused["status"] == "Rejected"
    assert (await get_profiles(cs, {"chargingLimitSource": ["EMS"]}))[0]["status"] == "Accepted"
    since = cs.mark()
    cs.sim.set_house(load_a=QUIET_HOUSE)
    cleared = await cs.expect("ClearedChargingLimit", since=since)
    assert cleared == {"chargingLimitSource": "EMS", "evseId": EVSE}
    await cs.until(lambda: limit(cs) == (32, "configuration"), what="the limit lifted")
    assert (await get_profiles(cs, {"chargingLimitSource": ["EMS"]}))[0]["status"] == "NoProfiles"
    assert periods(await composite(cs, EVSE, 60)) == [(0, 32)]


async def test_notify_with_schedules_and_limit_change_significance(cs: Harness) -> None:
    """K11.FR.03: with NotifyChargingLimitWithSchedules the notice carries energy management's
    schedule; a change within LimitChangeSignificance (20 %) is not reported (SC.03), one beyond
    it is."""
    await cs.set_variables({"SmartChargingCtrlr.NotifyChargingLimitWithSchedules": True})
    since = cs.mark()
    await energy_transfer_started_from_idle(cs, EVSE)
    await constrained(cs, since)
    # The first notice may carry a limit on the way down (the grid and the EV's meter read apart).
    notice = await cs.expect("NotifyChargingLimit", lambda p: is_ems(p) and first_limit(p) == EMS_A, since)
    [schedule] = notice["chargingSchedule"]
    assert schedule["chargingRateUnit"] == "A" and schedule["id"] < 0 and "startSchedule" in schedule
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": EMS_A, "numberPhases": 3}]
    since = cs.mark()
    cs.sim.set_house(load_a=[31.0, 31.0, 31.0])  # 8 A: 11 % less
    await cs.until(lambda: limit(cs)[0] == EMS_A - 1, what="energy management's 8 A")
    await cs.barrier()
    assert cs.calls("NotifyChargingLimit", since) == []
    assert (await get_profiles(cs, {"chargingLimitSource": ["EMS"]}))[1][0]["chargingProfile"][0][
        "chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == EMS_A - 1  # fmt: skip  # shown as it is
    cs.sim.set_house(load_a=[25.0, 25.0, 25.0])  # 14 A: 55 % more than the 9 reported
    notice = await cs.expect("NotifyChargingLimit", is_ems, since)
    assert first_limit(notice) == 14


async def test_a_tx_profile_below_energy_management_wins_and_above_it_does_not(cs: Harness) -> None:
    """Issue 17: the CSMS's TxProfile caps energy management in its full-power mode (``off``): 10 A
    offered although the fuse leaves room for 32; with the house busy, energy management's 9 A is
    below a 16 A TxProfile and wins; a TxProfile of 6 A wins again, and energy management, asked
    for no more than that, constrains nothing (ClearedChargingLimit)."""
    started = await energy_transfer_started_from_idle(cs, EVSE)
    tx = started["transactionInfo"]["transactionId"]
    await installed(cs, EVSE, profile(161, "TxProfile", [(0, 10)], kind="Relative", transactionId=tx))
    await cs.until(lambda: limit(cs) == (10, "charging profiles"), what="the TxProfile's 10 A")
    await cs.until(lambda: offered(cs) == 10, within=TIMING.pwm_change_interval_s + 2, what="10 A offered")
    since = cs.mark()
    await installed(cs, EVSE, profile(162, "TxProfile", [(0, 16)], kind="Relative", transactionId=tx))
    await constrained(cs, since)
    since = cs.mark()
    await installed(cs, EVSE, profile(163, "TxProfile", [(0, 6)], kind="Relative", transactionId=tx))
    await cs.until(lambda: limit(cs) == (6, "charging profiles"), what="the TxProfile's 6 A")
    assert await cs.expect("ClearedChargingLimit", since=since) == {"chargingLimitSource": "EMS", "evseId": EVSE}
    await cs.until(lambda: offered(cs) == 6, within=TIMING.pwm_change_interval_s + 2, what="6 A offered")


async def test_a_station_max_profile_caps_solar_surplus(cs: Harness) -> None:
    """Issue 17: in ``pv`` mode under a strong sun, with more surplus exported than 8 A more per
    phase would take, a ChargingStationMaxProfile of 8 A is what the EV is offered."""
    await installed(cs, 0, profile(164, "ChargingStationMaxProfile", [(0, 8)], start=whole_second(-60)))
    await cs.daemon.site.set_mode(EVSE, SolarMode.PV)
    cs.sim.set_house(solar={"peak_w": 100_000, "day_s": 100})
    await cs.until(lambda: cs.sim.house_snapshot()["solar_w"] > 15_000, what="a strong sun")
    await energy_transfer_started_from_idle(cs, EVSE)
    await cs.until(lambda: offered(cs) == 8, within=TIMING.pwm_change_interval_s + 2, what="8 A offered")
    await cs.until(lambda: cs.sim.read_grid().power_w < -3 * 230 * 8, what="more surplus exported than 8 A")
    assert limit(cs) == (8, "charging profiles") and offered(cs) == 8
    cs.sim.set_house(solar={"peak_w": 0, "day_s": 100})
