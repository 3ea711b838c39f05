"""The EV model on an injected timeline: reaction delay, duty -> current, SoC, misbehaviour."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.types import CpState, PilotCommand, PilotMode
from sim.ev import Ev, EvParams, Supply, draw_target_a, offered_current_a

ON_3P = Supply(closed=True, phases=3, voltage_v=230.0)
OFF_3P = Supply(closed=False, phases=3, voltage_v=230.0)


def make_ev(soc: float = 0.5, **params: object) -> tuple[Ev, list[tuple[float, CpState]]]:
    changes: list[tuple[float, CpState]] = []
    merged: dict[str, object] = {"battery_kwh": 50.0, "max_current_a": 32.0, "phases": 3, "reaction_s": 1.0}
    merged.update(params)
    ev = Ev(EvParams(**merged), soc, now=100.0, on_cp_change=lambda t, s: changes.append((t, s)))  # type: ignore[arg-type]
    return ev, changes


@pytest.mark.parametrize(
    ("cmd", "amps"),
    [
        (PilotCommand.pwm(10.0), 6.0),
        (PilotCommand.pwm(50.0), 30.0),
        (PilotCommand.pwm(85.0), 51.0),
        (PilotCommand.pwm(90.0), 65.0),
        (PilotCommand.pwm(96.0), 80.0),
        (PilotCommand.pwm(5.0), 0.0),  # digital communication: no analogue offer
        (PilotCommand.pwm(97.0), 0.0),
        (PilotCommand.pwm(100.0), 0.0),
        (PilotCommand.x1(), 0.0),
        (PilotCommand.state_f(), 0.0),
    ],
)
def test_duty_maps_to_offered_current(cmd: PilotCommand, amps: float) -> None:
    assert offered_current_a(cmd) == pytest.approx(amps)


def test_draw_target_caps_at_charger_and_overdraws_only_with_an_offer() -> None:
    assert draw_target_a(16.0, 32.0, overdraw=False) == 16.0
    assert draw_target_a(40.0, 32.0, overdraw=False) == 32.0
    assert draw_target_a(16.0, 32.0, overdraw=True) == pytest.approx(22.0)
    assert draw_target_a(0.0, 32.0, overdraw=True) == 0.0


def test_s2_closes_only_after_the_reaction_delay() -> None:
    ev, changes = make_ev(reaction_s=2.0)
    ev.see_pilot(PilotCommand.pwm(50.0))
    ev.advance(101.999, OFF_3P)
    assert ev.cp_state is CpState.B
    ev.advance(102.5, OFF_3P)
    assert ev.cp_state is CpState.C
    assert changes == [(pytest.approx(102.0), CpState.C)]


def test_zero_reaction_closes_at_once_and_ventilation_reads_d() -> None:
    ev, changes = make_ev(reaction_s=0.0, needs_ventilation=True)
    ev.see_pilot(PilotCommand.pwm(50.0))
    assert ev.cp_state is CpState.D
    assert changes == [(100.0, CpState.D)]


def test_current_follows_a_lower_duty_after_the_delay_and_stops_when_contacts_open() -> None:
    ev, _ = make_ev(reaction_s=1.0)
    ev.see_pilot(PilotCommand.pwm(50.0))  # 30 A
    ev.advance(101.0, ON_3P)
    assert ev.current_a(ON_3P) == pytest.approx(30.0)
    ev.see_pilot(PilotCommand.pwm(16.0 / 0.6))  # 16 A
    ev.advance(101.9, ON_3P)
    assert ev.current_a(ON_3P) == pytest.approx(30.0)
    ev.advance(102.0, ON_3P)
    assert ev.current_a(ON_3P) == pytest.approx(16.0)
    assert ev.current_a(OFF_3P) == 0.0


def test_repeating_the_same_command_does_not_restart_the_delay() -> None:
    ev, _ = make_ev(reaction_s=1.0)
    ev.see_pilot(PilotCommand.pwm(50.0))
    for t in (100.3, 100.6, 100.9):
        ev.advance(t, OFF_3P)
        ev.see_pilot(PilotCommand.pwm(50.0))
    ev.advance(101.0, OFF_3P)
    assert ev.cp_state is CpState.C


def test_energy_and_soc_integrate_the_drawn_power_piecewise() -> None:
    ev, _ = make_ev(soc=0.5, reaction_s=1.0)
    ev.see_pilot(PilotCommand.pwm(50.0))  # 30 A, perceived at 101
    drawn = ev.advance(101.0 + 3600.0, ON_3P)  # exactly one hour of 3 x 30 A x 230 V
    assert drawn == pytest.approx(3 * 30 * 230.0)
    assert ev.soc == pytest.approx(0.5 + 20.7 / 50.0)
    assert ev.energy_wh == pytest.approx(drawn)


def test_single_phase_ev_on_three_phase_supply_uses_one_phase() -> None:
    ev, _ = make_ev(phases=1, reaction_s=0.0)
    ev.see_pilot(PilotCommand.pwm(50.0))
    assert ev.phases_used(ON_3P) == 1
    assert ev.power_w(ON_3P) == pytest.approx(30 * 230.0)


def test_full_battery_opens_s2_at_the_exact_moment_and_stops_drawing() -> None:
    ev, changes = make_ev(soc=0.99, battery_kwh=10.0, max_current_a=16.0, reaction_s=0.0)
    ev.see_pilot(PilotCommand.pwm(50.0))  # 16 A x 3 x 230 V = 11.04 kW; 100 Wh left
    full_at = 100.0 + 100.0 / 11040.0 * 3600.0
    drawn = ev.advance(200.0, ON_3P)
    assert drawn == pytest.approx(100.0)
    assert ev.soc == 1.0
    assert ev.cp_state is CpState.B
    assert changes[-1] == (pytest.approx(full_at), CpState.B)
    ev.pause(False)  # resuming a full EV changes nothing
    assert ev.cp_state is CpState.B


def test_pause_opens_at_once_and_resume_closes_again() -> None:
    ev, changes = make_ev(reaction_s=0.0)
    ev.see_pilot(PilotCommand.pwm(50.0))
    ev.advance(110.0, ON_3P)
    ev.pause(True)
    assert ev.cp_state is CpState.B and ev.current_a(ON_3P) == 0.0
    soc = ev.soc
    ev.advance(120.0, ON_3P)
    assert ev.soc == soc
    ev.pause(False)
    assert ev.cp_state is CpState.C
    assert [s for _, s in changes] == [CpState.C, CpState.B, CpState.C]


def test_pwm_off_opens_s2_after_delay_unless_the_ev_stays_in_c() -> None:
    ev, _ = make_ev(reaction_s=1.0)
    ev.see_pilot(PilotCommand.pwm(50.0))
    ev.advance(101.0, OFF_3P)
    ev.see_pilot(PilotCommand.x1())
    ev.advance(101.5, OFF_3P)
    assert ev.cp_state is CpState.C
    ev.advance(102.0, OFF_3P)
    assert ev.cp_state is CpState.B

    bad, _ = make_ev(reaction_s=1.0)
    bad.misbehave(stays_in_c=True, overdraw=False)
    bad.see_pilot(PilotCommand.pwm(50.0))
    bad.advance(101.0, ON_3P)
    bad.see_pilot(PilotCommand.x1())
    bad.advance(110.0, ON_3P)
    assert bad.cp_state is CpState.C
    assert bad.current_a(ON_3P) == 0.0  # nothing offered, nothing drawn
    bad.misbehave(stays_in_c=False, overdraw=False)
    assert bad.cp_state is CpState.B


def test_overdraw_from_flag_or_supply_fault() -> None:
    ev, _ = make_ev(reaction_s=0.0)
    ev.see_pilot(PilotCommand.pwm(16.0 / 0.6))
    assert ev.current_a(ON_3P) == pytest.approx(16.0)
    assert ev.current_a(Supply(True, 3, 230.0, overdraw=True)) == pytest.approx(22.0)
    ev.misbehave(stays_in_c=False, overdraw=True)
    assert ev.current_a(ON_3P) == pytest.approx(22.0)


@pytest.mark.parametrize(
    ("params", "soc", "word"),
    [
        ({"battery_kwh": 0.0, "max_current_a": 16.0}, 0.5, "battery_kwh"),
        ({"battery_kwh": 50.0, "max_current_a": -1.0}, 0.5, "max_current_a"),
        ({"battery_kwh": 50.0, "max_current_a": 16.0, "phases": 2}, 0.5, "phases"),
        ({"battery_kwh": 50.0, "max_current_a": 16.0, "phases": 3.0}, 0.5, "phases"),
        ({"battery_kwh": 50.0, "max_current_a": 16.0, "reaction_s": 11.0}, 0.5, "reaction_s"),
        ({"battery_kwh": "big", "max_current_a": 16.0}, 0.5, "battery_kwh"),
        ({"battery_kwh": float("nan"), "max_current_a": 16.0}, 0.5, "battery_kwh"),
        ({"battery_kwh": 50.0, "max_current_a": 16.0}, 1.5, "soc"),
    ],
)
def test_bad_parameters_raise_value_error_naming_the_field(params: dict[str, object], soc: float, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        Ev(EvParams(**params), soc, now=0.0)  # type: ignore[arg-type]


def test_snapshot_is_plain_data() -> None:
    ev, _ = make_ev(reaction_s=0.0, phases=1)
    ev.see_pilot(PilotCommand.pwm(50.0))
    snap = ev.snapshot(ON_3P)
    assert snap["cp_state"] == "C"
    assert snap["current_a"] == [30.0, 0.0, 0.0]
    assert snap["perceived_offer_a"] == 30.0


commands = st.one_of(
    st.just(PilotCommand.x1()),
    st.just(PilotCommand.state_f()),
    st.floats(0.0, 100.0).map(PilotCommand.pwm),
)
steps = st.tuples(st.floats(0.0, 600.0), commands, st.booleans(), st.sampled_from([None, "pause", "resume"]))


@given(
    soc=st.floats(0.0, 1.0),
    battery_kwh=st.floats(1.0, 100.0),
    reaction_s=st.floats(0.0, 5.0),
    script=st.lists(steps, max_size=30),
)
def test_energy_balances_soc_whatever_the_script(
    soc: float, battery_kwh: float, reaction_s: float, script: list[tuple[float, PilotCommand, bool, str | None]]
) -> None:
    ev, _ = make_ev(soc=soc, battery_kwh=battery_kwh, reaction_s=reaction_s)
    total = 0.0
    for dt, cmd, closed, action in script:
        drawn = ev.advance(ev.t + dt, Supply(closed, 3, 230.0))
        assert drawn >= 0.0
        total += drawn
        assert 0.0 <= ev.soc <= 1.0
        assert ev.soc < 1.0 or ev.cp_state is CpState.B  # a full EV never asks for power
        ev.see_pilot(cmd)
        if action is not None:
            ev.pause(action == "pause")
        if ev.cp_state is CpState.C:
            assert ev.perceived.mode is PilotMode.X2 and not ev.paused
    assert ev.soc == pytest.approx(min(1.0, soc + total / (battery_kwh * 1000.0)), abs=1e-9)
    assert ev.energy_wh == pytest.approx(total)
