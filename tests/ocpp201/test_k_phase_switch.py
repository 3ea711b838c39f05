"""SmartChargingCtrlr.Phases3to1 (part 2 K01.FR.43-49) on a station whose EVSE 1 has a phase
switch (the sim board's, issue 17): a profile with numberPhases 1 on that 3-phase EVSE is
Accepted and switches it to one phase through energy management's switch sequence (the offer
at 0 A, the contactor open, the relay, a pause, the offer again), never under load; without
the profile it goes back to three. EVSE 2, without a switch, still refuses numberPhases 1."""

from __future__ import annotations

import time
from typing import Any

from ocpp201.harness import MODULE, Harness
from ocpp201.states import energy_transfer_started_from_idle
from ocpp201.test_k_smart_charging import EVSE, installed, profile, set_profile

pytestmark = MODULE
EVSE1_SIM = "phase_switch = true"
SECTIONS = """
[solar]
phase_switch_pause_s = 1
"""
SWITCHED_WITHIN_S = 20.0  # the offer at 0 A, the EV stopping, the relay, the pause, the 5 s duty rule
Payload = dict[str, Any]


def one_phase(data: Payload, phase_to_use: int | None = None) -> Payload:
    for period in data["chargingSchedule"][0]["chargingSchedulePeriod"]:
        period["numberPhases"] = 1
        if phase_to_use is not None:
            period["phaseToUse"] = phase_to_use
    return data


def charging_on(cs: Harness, phases: int) -> bool:
    snapshot = cs.sim.snapshot(EVSE)
    return snapshot["phases"] == phases and cs.station.view(EVSE).snapshot.contactor


def never_under_load(cs: Harness, since: float) -> None:
    """Every move of the relay since ``since`` happened with the contactor commanded open."""
    contactor = cs.sim.contactor_log(EVSE)
    moves = [at for at, _ in cs.sim.phase_log(EVSE) if at >= since]
    assert moves
    for at in moves:
        before = [closed for t, closed in contactor if t <= at]
        assert not before or before[-1] is False, (at, contactor)


async def test_phases_3_to_1_declared(cs: Harness) -> None:
    variable = {"component": {"name": "SmartChargingCtrlr"}, "variable": {"name": "Phases3to1"}}
    [result] = (await cs.call("GetVariables", {"getVariableData": [variable]}))["getVariableResult"]
    assert result["attributeStatus"] == "Accepted" and result["attributeValue"] == "true"


async def test_number_phases_1_switches_the_evse_to_one_phase_and_back(cs: Harness) -> None:
    started = await energy_transfer_started_from_idle(cs, EVSE)
    tx = started["transactionInfo"]["transactionId"]
    await cs.until(lambda: charging_on(cs, 3), what="charging on three phases")
    since = time.monotonic()
    sent = one_phase(profile(170, "TxProfile", [(0, 16)], kind="Relative", transactionId=tx), phase_to_use=1)
    await installed(cs, EVSE, sent)
    await cs.until(lambda: charging_on(cs, 1), within=SWITCHED_WITHIN_S, what="charging on one phase")
    assert [p for at, p in cs.sim.phase_log(EVSE) if at >= since] == [1]
    assert cs.station.view(EVSE).transaction.id == tx  # the same transaction goes on
    assert (await cs.call("ClearChargingProfile", {"chargingProfileId": 170}))["status"] == "Accepted"
    await cs.until(lambda: charging_on(cs, 3), within=SWITCHED_WITHIN_S, what="back on three phases")
    assert [p for at, p in cs.sim.phase_log(EVSE) if at >= since] == [1, 3]
    never_under_load(cs, since)


async def test_an_evse_without_a_switch_still_refuses_one_phase(cs: Harness) -> None:
    answer = await set_profile(cs, 2, one_phase(profile(171, "TxDefaultProfile", [(0, 16)])))
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "InvalidValue"
    answer = await set_profile(cs, 0, one_phase(profile(172, "TxDefaultProfile", [(0, 16)])))
    assert answer["status"] == "Rejected"  # EVSE 0: for every EVSE, EVSE 2 included
    answer = await set_profile(cs, EVSE, one_phase(profile(173, "TxDefaultProfile", [(0, 16)]), phase_to_use=2))
    assert answer["status"] == "Rejected"  # its single phase is L1: no ACPhaseSwitchingSupported
