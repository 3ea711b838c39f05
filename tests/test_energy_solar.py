"""Solar surplus (controller/energy/solar.py) and phase switching (controller/energy/phase_switch.py), pure."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.energy import phase_switch, solar
from controller.energy.phase_switch import SwitchState, SwitchStep
from controller.energy.solar import SolarMode, SolarRules, SolarState, SolarTarget

RULES = SolarRules(start_margin_w=0.0, stop_margin_w=300.0, start_delay_s=60.0, stop_delay_s=180.0, voltage_v=230.0)
THREE = (3,)
SWITCHED = (1, 3)
MIN3 = 6 * 3 * 230.0  # 4140 W
MIN1 = 6 * 230.0  # 1380 W


def run(mode, surpluses, ladder=THREE, rules=RULES, state=None, dt=1.0, max_a=32.0):
    """Feed one surplus per dt; return the final state and every target."""
    state = state or SolarState()
    targets = []
    for i, w in enumerate(surpluses):
        state, target = solar.step(rules, state, mode, w, ladder, max_a, i * dt)
        targets.append(target)
    return state, targets


def test_off_has_no_opinion_and_uses_every_phase():
    _, targets = run(SolarMode.OFF, [0.0, 10_000.0], ladder=SWITCHED)
    assert targets == [SolarTarget(None, 3), SolarTarget(None, 3)]


def test_pv_starts_only_after_the_surplus_held_for_the_start_delay():
    _, targets = run(SolarMode.PV, [MIN3] * 61)
    assert all(t.amps == 0.0 for t in targets[:60])
    assert targets[60] == SolarTarget(6.0, 3)


def test_pv_start_delay_restarts_when_the_surplus_dips():
    _, targets = run(SolarMode.PV, [MIN3] * 30 + [MIN3 - 1] + [MIN3] * 60)
    assert all(t.amps == 0.0 for t in targets[:91])


def test_pv_follows_the_surplus_in_whole_amps_between_6_and_the_maximum():
    state = SolarState(3)
    cases = [(5000.0, 7.0), (6899.0, 9.0), (6900.0, 10.0), (30_000.0, 16.0), (MIN3 - 100, 6.0)]
    for surplus, amps in cases:
        _, target = solar.step(RULES, state, SolarMode.PV, surplus, THREE, 16.0, 0.0)
        assert target == SolarTarget(amps, 3), surplus


def test_pv_stops_only_below_min_minus_margin_for_the_stop_delay():
    # at 3900 W (below 4140 but within the 300 W margin) it keeps charging at 6 A for ever
    _, targets = run(SolarMode.PV, [3900.0] * 400, state=SolarState(3))
    assert all(t == SolarTarget(6.0, 3) for t in targets)
    _, targets = run(SolarMode.PV, [3800.0] * 181, state=SolarState(3))
    assert all(t.amps == 6.0 for t in targets[:180])
    assert targets[180].amps == 0.0


def test_a_passing_cloud_shorter_than_the_stop_delay_does_not_stop_charging():
    sky = [8000.0] * 50 + [500.0] * 120 + [8000.0] * 50
    _, targets = run(SolarMode.PV, sky, state=SolarState(3))
    assert all(t.amps and t.amps >= 6.0 for t in targets)


def test_minpv_never_stops_and_adds_the_surplus():
    _, targets = run(SolarMode.MINPV, [0.0] * 300 + [9000.0])
    assert all(t == SolarTarget(6.0, 3) for t in targets[:300])
    assert targets[300] == SolarTarget(13.0, 3)


def test_phase_switching_ladder_in_pv():
    # 2000 W: enough for one phase (1380) but not three: starts on one phase
    state, targets = run(SolarMode.PV, [2000.0] * 61, ladder=SWITCHED)
    assert targets[60] == SolarTarget(8.0, 1)
    # the sun comes out: three phases after the start delay
    state, targets = run(SolarMode.PV, [5000.0] * 61, ladder=SWITCHED, state=state)
    assert targets[59] == SolarTarget(21.0, 1)  # 5000 / 230, while the delay runs
    assert targets[60] == SolarTarget(7.0, 3)
    # below the three-phase minimum minus the margin: back to one phase after the stop delay
    state, targets = run(SolarMode.PV, [3000.0] * 181, ladder=SWITCHED, state=state)
    assert targets[179].phases == 3 and targets[180] == SolarTarget(13.0, 1)


def test_levels_are_skipped_when_the_surplus_asks_for_it():
    # a thick cloud at three phases: straight to stopped (no close of the contactor on one phase first)
    state, targets = run(SolarMode.PV, [500.0] * 181, ladder=SWITCHED, state=SolarState(3))
    assert targets[179].phases == 3 and targets[180] == SolarTarget(0.0, 1)
    # and the sun comes back strong: straight to three phases
    state, targets = run(SolarMode.PV, [8000.0] * 61, ladder=SWITCHED, state=state)
    assert targets[59].amps == 0.0 and targets[60] == SolarTarget(11.0, 3)


def test_minpv_with_a_switch_keeps_one_phase_at_night():
    _, targets = run(SolarMode.MINPV, [0.0] * 200, ladder=SWITCHED, state=SolarState(3))
    assert targets[-1] == SolarTarget(6.0, 1)


def test_surplus_after_a_connector_took_its_share():
    assert solar.surplus_after(9000.0, SolarTarget(10.0, 3), 230.0) == pytest.approx(9000 - 6900)
    assert solar.surplus_after(9000.0, SolarTarget(None, 3), 230.0) == 9000.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.0, 15_000.0), min_size=1, max_size=40),
    st.sampled_from([SolarMode.PV, SolarMode.MINPV]),
    st.sampled_from([THREE, SWITCHED]),
)
def test_levels_change_at_most_once_per_delay(clouds, mode, ladder):
    """Whatever the sky does (one value per 10 s), the level never changes twice within the
    shorter of the two delays: no chatter."""
    sky = [w for w in clouds for _ in range(10)]
    state = SolarState()
    changes = []
    for t, w in enumerate(sky):
        before = state.phases
        state, _ = solar.step(RULES, state, mode, w, ladder, 32.0, float(t))
        if state.phases != before:
            changes.append(t)
    gap = min(RULES.start_delay_s, RULES.stop_delay_s)
    assert all(b - a >= gap for a, b in itertools.pairwise(changes))


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 20_000.0), st.sampled_from([1, 3]))
def test_the_target_never_uses_more_than_the_surplus_above_the_minimum(surplus, phases):
    _, t = solar.step(RULES, SolarState(phases), SolarMode.PV, surplus, (phases,), 32.0, 0.0)
    assert t.amps is not None
    assert t.amps == 6.0 or t.amps * phases * RULES.voltage_v <= surplus + 1e-6
    assert t.amps == 6.0 or math.isclose(t.amps, math.floor(t.amps))


# ---- the phase switch sequencer ------------------------------------------------------------


def test_switch_waits_for_idle_then_commands_then_pauses():
    s = SwitchState(3)
    s, out = phase_switch.step(s, 1, idle=False, pause_s=30.0, now=0.0)
    assert out == SwitchStep(True)  # offer 0 A first
    s, out = phase_switch.step(s, 1, idle=False, pause_s=30.0, now=2.0)
    assert out == SwitchStep(True)  # the EV still draws: no relay under load
    s, out = phase_switch.step(s, 1, idle=True, pause_s=30.0, now=3.0)
    assert out == SwitchStep(True, 1)
    s, out = phase_switch.step(s, 3, idle=True, pause_s=30.0, now=20.0)
    assert out == SwitchStep(True)  # the pause runs to its end even if the wish changed
    s, out = phase_switch.step(s, 3, idle=True, pause_s=30.0, now=33.0)
    assert out == SwitchStep(False) and s.phases == 1
    s, out = phase_switch.step(s, 3, idle=False, pause_s=30.0, now=34.0)
    assert out == SwitchStep(True)  # and the next switch begins


def test_no_switch_wanted_no_pause():
    s, out = phase_switch.step(SwitchState(3), 3, idle=False, pause_s=30.0, now=0.0)
    assert out == SwitchStep(False) and s == SwitchState(3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([1, 3]), st.booleans()), min_size=1, max_size=60))
def test_the_relay_moves_only_when_idle_and_only_while_the_offer_is_held(inputs):
    s = SwitchState(3)
    for t, (wanted, idle) in enumerate(inputs):
        s, out = phase_switch.step(s, wanted, idle, 5.0, float(t))
        if out.command is not None:
            assert idle and out.hold_off
