"""Load management engine (controller/energy/load.py) and the fuse curve it relies on: tables and properties."""

import itertools
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.energy import fuse, load
from controller.energy.fuse import NORMAL_PATH_S, PAUSE_PATH_S, TripCurve, min_trip_s
from controller.energy.grid import GridReading
from controller.energy.load import ConnectorDemand, FuseRules, LoadState

THREE = (0, 1, 2)
RULES = FuseRules(main_fuse_a=32.0, margin_a=2.0, max_age_s=10.0, fallback_a=6.0, raise_delay_s=10.0)
SETTINGS = settings(max_examples=300, deadline=None)


def grid(*amps: float, at: float = 100.0) -> GridReading:
    a = (*amps, 0.0, 0.0, 0.0)[:3]
    return GridReading((a[0], a[1], a[2]), tuple(x * 230.0 for x in a[:3]), at)  # type: ignore[arg-type]


def ev(key: str, drawn: float, wants: float = 32.0, phases: tuple[int, ...] = THREE, since: float = 0.0,
       offered: float | None = None, drawn_at: float = -math.inf) -> ConnectorDemand:  # fmt: skip
    offer = drawn if offered is None else offered
    return ConnectorDemand(key, phases, (drawn,) * len(phases), wants, offer, since, drawn_at)


def decide(grid_reading, connectors, state=None, now=100.0, rules=RULES):
    return load.step(rules, state or LoadState(), grid_reading, connectors, now)


# ---- the fuse curve ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "factor", "expected"),
    [
        (TripCurve.B, 1.0, math.inf),
        (TripCurve.B, 1.13, math.inf),  # IEC 60898-1: no trip within 1 h at 1.13 In
        (TripCurve.B, 2.55, 1.0),  # ... not within 1 s at 2.55 In
        (TripCurve.B, 3.0, 0.1),  # ... magnetic release: not within 0.1 s below 3 In (B)
        (TripCurve.C, 5.0, 0.1),  # ... 5 In (C)
        (TripCurve.B, 3.5, 0.0),  # past the magnetic threshold: at once
    ],
)
def test_trip_curve_points(curve, factor, expected):
    assert min_trip_s(curve, factor) == pytest.approx(expected)


def test_trip_curve_between_points_is_log_log_straight():
    # halfway on a log axis between 1.13 (3600 s) and 2.55 (1 s): the geometric mean, 60 s
    mid = math.sqrt(1.13 * 2.55)
    assert min_trip_s(TripCurve.B, mid) == pytest.approx(60.0)


@given(st.floats(1.0, 6.0), st.floats(1.0, 6.0))
def test_trip_curve_never_rises_with_the_current(a, b):
    lo, hi = sorted((a, b))
    for curve in TripCurve:
        assert min_trip_s(curve, hi) <= min_trip_s(curve, lo)


def test_what_the_engine_can_clear():
    # The documented figures: the normal path holds up to ~2.0 x In, pausing up to ~2.1 x In (1 s detection).
    normal = fuse.largest_clearable_factor(TripCurve.B, 1.0, NORMAL_PATH_S)
    paused = fuse.largest_clearable_factor(TripCurve.B, 1.0, PAUSE_PATH_S)
    assert 1.95 < normal < 2.05
    assert normal < paused < 2.2
    assert min_trip_s(TripCurve.B, normal) == pytest.approx(NORMAL_PATH_S + 1.0, rel=1e-6)


# ---- tables --------------------------------------------------------------------------------


def test_room_is_fuse_minus_margin_minus_other_loads():
    # grid 20 A per phase of which the EV draws 10: other loads 10 -> room 32 - 2 - 10 = 20
    _, d = decide(grid(20, 20, 20), [ev("1", 10.0)])
    assert d.room_a == (20.0, 20.0, 20.0)
    assert d.limits == {"1": 20.0}
    assert d.fuse_factor == pytest.approx(20 / 32)


def test_two_evs_share_the_room_fairly():
    _, d = decide(grid(10, 10, 10), [ev("1", 0.0), ev("2", 0.0)])
    assert d.limits == {"1": 10.0, "2": 10.0}  # room 32 - 2 - 10 = 20


def test_an_ev_that_wants_less_leaves_the_rest_to_the_other():
    _, d = decide(grid(10, 10, 10), [ev("1", 0.0, wants=8.0), ev("2", 0.0)])
    assert d.limits == {"1": 8.0, "2": 12.0}


def test_single_phase_connectors_on_different_phases_do_not_compete():
    # L1 loaded by the house: the connector on L1 gets little, the one on L2 all of L2's room
    _, d = decide(grid(20, 2, 2), [ev("1", 0.0, phases=(0,)), ev("2", 0.0, phases=(1,))])
    assert d.limits == {"1": 10.0, "2": 28.0}


def test_a_three_phase_connector_is_bounded_by_its_fullest_phase():
    _, d = decide(grid(25, 5, 5), [ev("1", 0.0), ev("2", 0.0, phases=(1,))])
    assert d.limits["1"] == 5.0 or d.limits["1"] == 0.0
    # 5 A on L1 is below 6 A: the 3-phase connector pauses, the 1-phase one takes L2
    assert d.limits == {"1": 0.0, "2": 25.0}


def test_below_six_amps_the_latest_starter_pauses():
    # room 10 A: two EVs would get 5 A each; the one that started later pauses
    _, d = decide(grid(20, 20, 20), [ev("1", 0.0, since=5.0), ev("2", 0.0, since=1.0)])
    assert d.limits == {"1": 0.0, "2": 10.0}


def test_no_room_at_all_pauses_everyone():
    _, d = decide(grid(40, 40, 40), [ev("1", 0.0), ev("2", 0.0)])
    assert d.limits == {"1": 0.0, "2": 0.0}


def test_export_gives_room_beyond_the_fuse():
    # 15 A exported per phase: the EV may draw up to fuse - margin + 15 (the fuse sees the net)
    _, d = decide(grid(-15, -15, -15), [ev("1", 0.0, wants=80.0)])
    assert d.limits == {"1": 45.0}


def test_stale_reading_falls_back_to_the_safe_limit():
    _, d = decide(grid(0, 0, 0, at=80.0), [ev("1", 16.0)], now=100.0)
    assert d.stale and d.limits == {"1": 6.0}
    _, d = decide(None, [ev("1", 16.0), ev("2", 16.0, since=3.0)])
    assert d.stale and d.limits == {"1": 6.0, "2": 0.0}  # 6 A for both together


def test_a_connector_that_wants_nothing_gets_nothing():
    _, d = decide(grid(5, 5, 5), [ev("1", 0.0, wants=0.0)])
    assert d.limits == {"1": 0.0}


def test_limits_are_rounded_down_to_a_tenth():
    _, d = decide(grid(10.37, 10.37, 10.37), [ev("1", 0.0)])
    assert d.limits == {"1": 19.6}


# ---- time: decreases at once, increases after the delay, urgency ---------------------------


def test_decrease_is_immediate_increase_waits_and_takes_the_lowest_share_seen():
    state, d = decide(grid(30, 30, 30), [ev("1", 20.0)], now=0.0)
    assert d.limits["1"] == 20.0  # other loads 10 A: room 20
    state, d = decide(grid(40, 40, 40), [ev("1", 20.0)], state, now=1.0)
    assert d.limits["1"] == 10.0  # the house takes 10 A more: at once
    state, d = decide(grid(35, 35, 35), [ev("1", 20.0)], state, now=2.0)
    assert d.limits["1"] == 10.0  # 15 possible, held
    state, d = decide(grid(33, 33, 33), [ev("1", 20.0)], state, now=8.0)
    assert d.limits["1"] == 10.0  # 17 possible, still held
    state, d = decide(grid(30, 30, 30), [ev("1", 20.0)], state, now=12.0)
    assert d.limits["1"] == 15.0  # 10 s after the first higher share: the lowest seen since


def test_a_lack_of_room_only_computed_must_hold_before_it_lowers_a_limit():
    # two EVs at 10 A, house 4 A: room 26, 13 A each
    state, d = decide(grid(24, 24, 24), [ev("1", 10.0), ev("2", 10.0)], now=0.0)
    assert d.limits == {"1": 13.0, "2": 13.0}
    # connector 2's meter lags (5 A shown, 10 flowing): the computed room shrinks, the fuse does not
    state, d = decide(grid(24, 24, 24), [ev("1", 10.0), ev("2", 5.0)], state, now=1.0)
    assert d.limits == {"1": 13.0, "2": 13.0}
    state, d = decide(grid(24, 24, 24), [ev("1", 10.0), ev("2", 10.0)], state, now=2.0)
    assert d.limits == {"1": 13.0, "2": 13.0}  # it was the meter: nothing happened
    # a lack that lasts confirm_s (a real load the EVs make room for before anything is over)
    for t in (3.0, 4.0, 5.0):
        state, d = decide(grid(28, 28, 28), [ev("1", 10.0), ev("2", 10.0)], state, now=t)
    assert d.limits == {"1": 13.0, "2": 13.0}
    state, d = decide(grid(28, 28, 28), [ev("1", 10.0), ev("2", 10.0)], state, now=6.0)
    assert d.limits == {"1": 11.0, "2": 11.0}
    # measured over fuse minus margin: at once
    state, d = decide(grid(31, 31, 31), [ev("1", 11.0), ev("2", 11.0)], state, now=7.0)
    assert d.limits == {"1": 10.5, "2": 10.5}


def test_measured_over_lowers_at_once_only_what_the_reading_proves_whichever_meter_lags():
    """The grid meter and the EV's meter are read at different instants. Over fuse minus margin,
    the limit falls at once to the share the grid reading proves (each EV counted at the most it
    may have drawn then), not to a share computed from a meter that still shows the EV before a
    change: that paused an EV which only had to come down to 10 A (pause, 10 A, pause...)."""
    state, d = decide(grid(5, 5, 5), [ev("1", 0.0, since=0.0)], now=0.0)
    assert d.limits["1"] == 25.0  # a new starter: its share at once
    # the house grows by 15 A while the EV draws its 25 A; its meter was read before it began
    state, d = decide(grid(45, 45, 45), [ev("1", 0.0, offered=25.0)], state, now=0.5)
    assert d.limits["1"] == 10.0  # 30 - (45 - 25); the meter's 0 A would leave no room: a pause
    # the EV follows and its meter shows it, the grid reading is still the one from before
    state, d = decide(grid(45, 45, 45, at=0.5), [ev("1", 10.0)], state, now=0.7)
    assert d.limits["1"] == 10.0  # the EV may have drawn 25 A then: nothing more is proven
    state, d = decide(grid(30, 30, 30, at=0.9), [ev("1", 10.0)], state, now=0.9)
    assert d.limits["1"] == 10.0
    # what the reading does not prove still applies, confirm_s later (an EV drawing less than offered)
    state, d = decide(grid(32, 32, 32), [ev("1", 10.0, offered=25.0)], state, now=5.0)
    assert d.limits["1"] == 10.0
    state, d = decide(grid(32, 32, 32), [ev("1", 10.0, offered=25.0)], state, now=7.9)
    assert d.limits["1"] == 10.0
    state, d = decide(grid(32, 32, 32), [ev("1", 10.0, offered=25.0)], state, now=8.0)
    assert d.limits["1"] == 8.0


def test_an_ev_drawing_more_than_its_new_offer_is_counted_at_its_meter_until_it_followed():
    """An EV charging at 19.1 A of its 32 (its own limit). The house grows to 33 A: 18.9 at once,
    6 once that held for confirm_s. When the offer falls to 6 the EV still draws 19.1, more than
    the 18.9 offered before; a grid reading from before it followed shows 19.1 A of EV, and
    counting only 18.9 would leave 5.8 A: a pause with 6 A of room."""
    rules = FuseRules(main_fuse_a=40.0, margin_a=1.0, max_age_s=2.0, raise_delay_s=0.5)
    state, d = decide(grid(2, 2, 2), [ev("1", 0.0)], now=0.0, rules=rules)
    assert d.limits["1"] == 32.0
    state, d = decide(grid(52.1, 52.1, 52.1, at=1.2), [ev("1", 19.1, offered=32.0, drawn_at=1.1)], state, 1.2, rules)
    assert d.limits["1"] == pytest.approx(18.9)  # the EV may have drawn its 32 A: 18.9 proven, 6 computed
    for t in (1.4, 2.4, 3.4, 4.2):  # the grid reading always shows the EV at its 19.1 A
        state, d = decide(grid(52.1, 52.1, 52.1, at=t), [ev("1", 19.1, offered=18.9, drawn_at=t)], state, t, rules)
    assert d.limits["1"] == 6.0
    state, d = decide(grid(52.1, 52.1, 52.1, at=4.2), [ev("1", 19.1, offered=6.0, drawn_at=4.3)], state, 4.4, rules)
    assert d.limits["1"] == 6.0
    state, d = decide(grid(52.1, 52.1, 52.1, at=4.2), [ev("1", 6.0, drawn_at=4.45)], state, 4.5, rules)
    assert d.limits["1"] == 6.0  # the reading is from before it followed: the EV counted at 19.1
    state, d = decide(grid(39, 39, 39, at=4.6), [ev("1", 6.0, drawn_at=4.45)], state, 4.6, rules)
    assert d.limits["1"] == 6.0


def test_after_confirm_s_a_computed_lack_applies_only_as_far_as_it_held_all_along():
    """A computed lack of 2 A holds for 3 s; in its last moment a meter lag makes it look like
    10 A. What applies is the 2 A that held all along."""
    state, d = decide(grid(2, 2, 2), [ev("1", 0.0)], now=0.0)
    assert d.limits["1"] == 28.0
    for t in (2.0, 3.0, 4.0):  # house 4 A, the EV drawing 10 of its 28: room 26, only computed
        state, d = decide(grid(14, 14, 14), [ev("1", 10.0, offered=28.0)], state, now=t)
        assert d.limits["1"] == 28.0
    state, d = decide(grid(14, 14, 14), [ev("1", 2.0, offered=28.0)], state, now=5.0)  # its meter lags
    assert d.limits["1"] == 26.0
    state, d = decide(grid(14, 14, 14), [ev("1", 10.0, offered=26.0)], state, now=5.2)
    assert d.limits["1"] == 26.0


def test_a_meter_still_showing_the_current_before_a_fall_does_not_raise_the_limit():
    """The EV follows 25 -> 10 A; its meter (read every second) still shows 25: counted as drawing
    25, the house would seem to leave room for 25 again, and the limit went back up, over the
    fuse, and down. A raise counts each EV at most at its offer."""
    state, d = decide(grid(30, 30, 30), [ev("1", 25.0)], now=0.0)
    state, d = decide(grid(45, 45, 45), [ev("1", 25.0)], state, now=1.0)
    assert d.limits["1"] == 10.0  # the house grew by 15 A
    for t in (2.0, 13.0, 24.0):  # the EV follows (grid 30 A); its meter still shows 25
        state, d = decide(grid(30, 30, 30, at=t), [ev("1", 25.0, offered=10.0)], state, now=t)
        assert d.limits["1"] == 10.0


def test_a_lower_share_right_after_a_limit_change_does_not_lower_a_waiting_raise():
    """Right after a change the EVs follow it and the meters disagree for a moment: a lower share
    computed then is not a load, and a waiting raise does not take it (that made every raise a
    staircase of raise_delay_s steps); the same share computed when nothing changed is one."""

    def run(dip_at: float) -> float:
        state, d = decide(grid(24, 24, 24), [ev("1", 0.0)], now=0.0)
        assert d.limits["1"] == 6.0  # house 24 A: room 6
        state, d = decide(grid(10, 10, 10), [ev("1", 6.0)], state, now=4.0)
        assert d.limits["1"] == 6.0  # house 4 A: 26 possible, the raise waits
        # connector 2 starts: its share at once (a change), 13 A each is the new fair share
        state, d = decide(grid(10, 10, 10), [ev("1", 6.0), ev("2", 0.0, since=5.0)], state, now=5.0)
        assert d.limits == {"1": 6.0, "2": 13.0}
        for t in (6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0):
            # at dip_at connector 2's meter lags its EV (3 A shown, 13 flowing): 8 A each computed
            two = 3.0 if t == dip_at else 13.0
            state, d = decide(grid(23, 23, 23), [ev("1", 6.0), ev("2", two, since=5.0, offered=13.0)], state, now=t)
            assert d.limits == {"1": 6.0, "2": 13.0}  # the dip is not measured over: 2 keeps 13
        state, d = decide(grid(23, 23, 23), [ev("1", 6.0), ev("2", 13.0, since=5.0)], state, now=14.0)
        return d.limits["1"]

    assert run(dip_at=6.0) == 13.0  # 1 s after connector 2's change: the meters, not a load
    assert run(dip_at=9.0) == 8.0  # 4 s after it (confirm_s 3): a load that came and went


def test_a_load_that_comes_and_goes_does_not_make_the_current_hunt():
    state = LoadState()
    limits = []
    for t in range(0, 60):
        house = 20.0 if (t // 3) % 2 else 5.0  # a 15 A load switching every 3 s
        drawn = limits[-1] if limits else 0.0
        state, d = decide(grid(house + drawn, house + drawn, house + drawn), [ev("1", drawn)], state, now=float(t))
        limits.append(d.limits["1"])
    changes = sum(1 for a, b in itertools.pairwise(limits) if a != b)
    assert changes <= 2  # first offer, then down once; the delay never sees 10 s of the light load


def test_a_newly_wanting_connector_gets_its_share_at_once():
    state, d = decide(grid(5, 5, 5), [ev("1", 0.0, wants=0.0)], now=0.0)
    state, d = decide(grid(5, 5, 5), [ev("1", 0.0)], state, now=1.0)
    assert d.limits["1"] == 25.0


def test_overload_the_curve_allows_takes_the_normal_path():
    # 48 A on a 32 A fuse: 1.5 x In, the curve allows minutes: a lower duty, no pause
    state, _ = decide(grid(30, 30, 30), [ev("1", 16.0), ev("2", 14.0)], now=0.0)
    _, d = decide(grid(48, 48, 48), [ev("1", 16.0), ev("2", 14.0)], state, now=1.0)
    assert not d.urgent
    assert sum(d.limits.values()) <= 12.0 + 1e-9  # room: 30 - (48 - 30)
    assert all(v == 0.0 or v >= 6.0 for v in d.limits.values())


def test_overload_too_fast_for_the_normal_path_pauses():
    # 70 A on 32 A: 2.19 x In leaves under 11 s: every falling connector pauses
    state, _ = decide(grid(30, 30, 30), [ev("1", 16.0), ev("2", 14.0)], now=0.0)
    _, d = decide(grid(70, 70, 70), [ev("1", 16.0), ev("2", 14.0)], state, now=1.0)
    assert d.urgent
    assert d.limits == {"1": 0.0, "2": 0.0}


# ---- properties ----------------------------------------------------------------------------

phases_st = st.sampled_from([THREE, (0,), (1,), (2,)])
demand_st = st.tuples(phases_st, st.floats(0.0, 40.0), st.sampled_from([0.0, 6.0, 10.0, 16.0, 32.0, 63.0]),
                      st.floats(0.0, 100.0))  # fmt: skip


@st.composite
def scenes(draw):
    raw = draw(st.lists(demand_st, min_size=1, max_size=5))
    connectors = [ev(str(i + 1), drawn, wants, phases, since) for i, (phases, drawn, wants, since) in enumerate(raw)]
    house = [draw(st.floats(-30.0, 60.0)) for _ in range(3)]
    drawn = [0.0, 0.0, 0.0]
    for c in connectors:
        for p, a in zip(c.phases, c.drawn_a, strict=True):
            drawn[p] += a
    rules = FuseRules(draw(st.sampled_from([16.0, 25.0, 32.0, 35.0, 63.0])), draw(st.floats(0.0, 5.0)))
    return rules, grid(*(h + d for h, d in zip(house, drawn, strict=True))), connectors


@SETTINGS
@given(scenes())
def test_limits_fit_the_room_on_every_phase(scene):
    rules, g, connectors = scene
    _, d = decide(g, connectors, rules=rules)
    for p in range(3):
        on_p = sum(d.limits[c.key] for c in connectors if p in c.phases)
        assert on_p <= max(0.0, d.room_a[p]) + 1e-6
    for c in connectors:
        assert d.limits[c.key] == 0.0 or MIN_A <= d.limits[c.key] <= c.wants_a + 1e-9


MIN_A = 6.0


@SETTINGS
@given(scenes())
def test_nobody_is_short_changed_while_its_phases_have_room(scene):
    rules, g, connectors = scene
    _, d = decide(g, connectors, rules=rules)
    if d.urgent:
        return  # pausing leaves room unused until the paused EVs stopped drawing
    for c in connectors:
        got = d.limits[c.key]
        if 0.0 < got < c.wants_a - 0.1:
            left = [max(0.0, d.room_a[p]) - sum(d.limits[o.key] for o in connectors if p in o.phases) for p in c.phases]
            assert min(left) < 0.1 * len(connectors) + 1e-6


@SETTINGS
@given(scenes())
def test_a_stale_reading_never_hands_out_more_than_the_fallback(scene):
    rules, g, connectors = scene
    _, d = decide(GridReading(g.current_a, g.power_w, 0.0), connectors, rules=rules, now=rules.max_age_s + 1.0)
    assert d.stale
    for p in range(3):
        assert sum(d.limits[c.key] for c in connectors if p in c.phases) <= rules.fallback_a + 1e-9


@SETTINGS
@given(scenes())
def test_the_engine_never_waits_longer_than_the_curve_allows(scene):
    rules, g, connectors = scene
    _, d = decide(g, connectors, rules=rules)
    if d.fuse_factor is not None and not d.urgent:
        assert min_trip_s(rules.curve, d.fuse_factor) > NORMAL_PATH_S + rules.detection_s + rules.confirm_s
    if d.urgent:
        for c in connectors:
            assert d.limits[c.key] >= c.offered_a or d.limits[c.key] == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 30.0), st.integers(1, 30)), min_size=1, max_size=8), st.integers(1, 3))
@example([(19.0, 1), (0.0, 8), (1.0, 4)], 3)  # two raised while a third still held its old limit: 30.2 A
def test_closed_loop_the_fuse_holds_once_the_evs_followed(house_steps, n_evs):
    """EVs that follow their limit 1 s late, a house load stepping: at every instant where the house
    load has been steady for the raise delay plus the EV's reaction, the fuse carries at most its rating
    minus the margin (or the house alone is over it and every EV pauses)."""
    rules = FuseRules(main_fuse_a=32.0, margin_a=2.0, raise_delay_s=10.0)
    state = LoadState()
    limits = {str(i + 1): 0.0 for i in range(n_evs)}
    drawn = dict(limits)
    t = 0.0
    for house, seconds in house_steps:
        for s in range(seconds):
            total = house + sum(drawn.values())
            connectors = [ev(k, drawn[k], since=float(i), drawn_at=t) for i, k in enumerate(limits)]
            state, d = load.step(rules, state, grid(total, total, total, at=t), connectors, t)
            drawn = dict(limits)  # what was offered a second ago is what flows now
            limits = d.limits
            if s >= 2:
                assert house + sum(drawn.values()) <= max(30.0, house) + 1e-6
            t += 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.0, 0.2), st.floats(0.0, 1.0), st.sampled_from([0.2, 1.0]), st.floats(0.05, 1.0),
    st.lists(st.tuples(st.floats(0.5, 10.0), st.sampled_from([2.0, 10.0, 25.0, 30.0, 31.0, 33.0])), max_size=4),
    st.booleans(), st.sampled_from([32.0, 19.1]),
)  # fmt: skip
@example(0.027, 0.169, 0.2, 0.05, [(0.81, 30.0)], False, 32.0)  # the hunt seen in a suite run: pause, 9 A, pause
def test_closed_loop_meters_read_apart_never_pause_an_ev_the_fuse_has_room_for(
    grid_phase, meter_phase, meter_s, reaction, house_steps, timed, ev_max
):
    """The harness's grid (40 A, 1 A margin, 0.5 s raise delay): the grid meter read every 0.2 s,
    the EV's meter every ``meter_s`` at its own instants (its read time known to the engine, or not:
    a member box's), the EV following its pilot ``reaction`` s late up to ``ev_max``, a house load
    stepping. The EV is never paused while the house leaves it 6 A."""
    rules = FuseRules(main_fuse_a=40.0, margin_a=1.0, max_age_s=2.0, raise_delay_s=0.5)
    steps = sorted(house_steps)
    state, offers, shown, shown_at, reading = LoadState(), [(0.0, 0.0)], 0.0, -math.inf, None
    next_grid, next_meter = grid_phase, meter_phase * meter_s

    def at(t: float, table, first: float) -> float:
        return next((v for when, v in reversed(table) if when <= t), first)

    for tick in range(1, 14 * 50):
        t = tick * 0.02
        house = at(t, steps, 2.0)
        drawn = min(at(t - reaction, offers, 0.0), ev_max)
        if t >= next_grid:
            next_grid += 0.2
            reading = grid(*(house + drawn,) * 3, at=t)
        if t >= next_meter:
            next_meter += meter_s
            shown, shown_at = drawn, (t if timed else -math.inf)
        if reading is None:
            continue
        state, d = load.step(rules, state, reading, [ev("1", shown, offered=offers[-1][1], drawn_at=shown_at)], t)
        if d.limits["1"] != offers[-1][1]:
            offers.append((t, d.limits["1"]))
            assert d.limits["1"] > 0.0 or 39.0 - house < MIN_A, f"paused at {t:.2f} s with {39.0 - house} A of room"
