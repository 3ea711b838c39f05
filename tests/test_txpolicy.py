"""controller.core.txpolicy as tables: every start point of E01 and stop point of E06 against the
facts of one EVSE, the edge semantics of stopping, and the one policy of OCPP 1.6."""

from __future__ import annotations

from itertools import combinations, product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.core.txpolicy import CHAIN, STANDALONE, TxFacts, TxPolicy, holds, start_point, stop_point
from controller.core.vocabulary import TxPoint
from controller.ocpp.v16.policy import tx_policy

P = TxPoint
BAY, EV, AUTH, PATH, ENERGY = CHAIN
ALL_POINTS = frozenset(CHAIN)
EVERY_POLICY_SET = [frozenset(c) for n in range(1, len(CHAIN) + 1) for c in combinations(CHAIN, n)]
EVERY_FACTS = [
    TxFacts(ev_connected=ev, authorized=auth, energy_transfer=energy, bay_occupied=bay)
    for ev, auth, energy, bay in product((False, True), (False, True), (False, True), (None, False, True))
]


def policy(start: set[TxPoint] | frozenset[TxPoint], stop: set[TxPoint] | frozenset[TxPoint] = ALL_POINTS) -> TxPolicy:
    return TxPolicy(frozenset(start), frozenset(stop))


# -- holds: what each point means (E01.FR.01-06) ---------------------------------

HOLDS = [
    # point, facts, holds
    (BAY, TxFacts(bay_occupied=True), True),
    (BAY, TxFacts(bay_occupied=False), False),
    (BAY, TxFacts(ev_connected=True, authorized=True, energy_transfer=True), False),  # no sensor: never
    (EV, TxFacts(ev_connected=True), True),
    (EV, TxFacts(authorized=True, bay_occupied=True), False),
    (AUTH, TxFacts(authorized=True), True),
    (AUTH, TxFacts(ev_connected=True), False),
    (PATH, TxFacts(ev_connected=True, authorized=True), True),
    (PATH, TxFacts(ev_connected=True), False),
    (PATH, TxFacts(authorized=True), False),
    (ENERGY, TxFacts(ev_connected=True, authorized=True, energy_transfer=True), True),
    (ENERGY, TxFacts(ev_connected=True, authorized=True), False),
]


@pytest.mark.parametrize(("point", "facts", "expected"), HOLDS)
def test_what_each_point_means(point: TxPoint, facts: TxFacts, expected: bool) -> None:
    assert holds(point, facts) is expected


# -- start (levels) ------------------------------------------------------------

STARTS = [
    # start points, facts, the point that starts a transaction (None: none starts)
    ({EV}, TxFacts(ev_connected=True), EV),  # E01.FR.02
    ({EV}, TxFacts(authorized=True), None),
    ({AUTH}, TxFacts(authorized=True), AUTH),  # E01.FR.03: before any EV
    ({AUTH}, TxFacts(ev_connected=True), None),
    ({PATH}, TxFacts(ev_connected=True), None),  # E01.FR.05 needs both
    ({PATH}, TxFacts(authorized=True), None),
    ({PATH}, TxFacts(ev_connected=True, authorized=True), PATH),
    ({ENERGY}, TxFacts(ev_connected=True, authorized=True), None),  # E01.FR.06: only when energy flows
    ({ENERGY}, TxFacts(ev_connected=True, authorized=True, energy_transfer=True), ENERGY),
    ({BAY}, TxFacts(bay_occupied=True), BAY),  # E01.FR.01
    ({BAY}, TxFacts(ev_connected=True, authorized=True, energy_transfer=True), None),  # no sensor
    # Several points: the first that holds; several at once: the earliest of the chain.
    ({EV, AUTH}, TxFacts(authorized=True), AUTH),
    ({EV, AUTH}, TxFacts(ev_connected=True, authorized=True), EV),
    ({AUTH, PATH}, TxFacts(ev_connected=True, authorized=True), AUTH),
    ({PATH, ENERGY}, TxFacts(ev_connected=True, authorized=True, energy_transfer=True), PATH),
    ({BAY, EV}, TxFacts(ev_connected=True, bay_occupied=False), EV),
    (set(CHAIN), TxFacts(), None),
]


@pytest.mark.parametrize(("start", "facts", "expected"), STARTS)
def test_start_points(start: set[TxPoint], facts: TxFacts, expected: TxPoint | None) -> None:
    assert start_point(policy(start), facts) is expected


@pytest.mark.parametrize("start", EVERY_POLICY_SET, ids=lambda s: "+".join(sorted(s)))
def test_every_start_set_against_every_fact_combination(start: frozenset[TxPoint]) -> None:
    for facts in EVERY_FACTS:
        chosen = start_point(policy(start), facts)
        held = [p for p in CHAIN if p in start and holds(p, facts)]
        assert chosen == (held[0] if held else None), facts


# -- stop (edges) --------------------------------------------------------------

PLUGGED = TxFacts(ev_connected=True)
READY = TxFacts(ev_connected=True, authorized=True)
FLOWING = TxFacts(ev_connected=True, authorized=True, energy_transfer=True)
STOPS = [
    # stop points, before, after, the stop point that fell (None: the transaction goes on)
    ({EV}, READY, TxFacts(authorized=True), EV),  # E06.FR.02: the EV is gone
    ({EV}, READY, PLUGGED, None),  # deauthorized, still plugged: goes on until the unplug
    ({AUTH}, READY, PLUGGED, AUTH),  # E06.FR.03 / .04
    ({AUTH}, READY, TxFacts(authorized=True), None),  # the EV left, the authorization holds (1.6 3.6)
    ({PATH}, READY, PLUGGED, PATH),  # E06.FR.06: authorization ended ...
    ({PATH}, READY, TxFacts(authorized=True), PATH),  # ... or the EV left
    ({ENERGY}, FLOWING, READY, ENERGY),  # E06.FR.07: energy stops (e.g. the EV pauses)
    ({ENERGY}, READY, FLOWING, None),  # a rising fact never stops anything
    ({BAY}, TxFacts(bay_occupied=True), TxFacts(bay_occupied=False), BAY),  # E06.FR.01
    ({BAY}, TxFacts(bay_occupied=None), TxFacts(bay_occupied=None), None),
    # A point that never held cannot fall: started at Authorized before the EV came.
    ({EV}, TxFacts(authorized=True), TxFacts(authorized=True), None),
    ({PATH}, TxFacts(authorized=True), TxFacts(), None),  # not a fall of PATH; AUTH is no stop point
    ({ENERGY}, READY, PLUGGED, None),  # energy never flowed
    # Nobody authorized the transaction (it started at EVConnected) and the EV left: it ends.
    ({AUTH}, PLUGGED, TxFacts(), EV),
    ({ENERGY}, PLUGGED, TxFacts(), EV),
    ({AUTH, EV}, READY, TxFacts(), EV),  # both fell at once: the earliest of the chain
    (set(CHAIN), FLOWING, FLOWING, None),
]


@pytest.mark.parametrize(("stop", "before", "after", "expected"), STOPS)
def test_stop_points(stop: set[TxPoint], before: TxFacts, after: TxFacts, expected: TxPoint | None) -> None:
    assert stop_point(policy({EV}, stop), before, after) is expected


@pytest.mark.parametrize("stop", EVERY_POLICY_SET, ids=lambda s: "+".join(sorted(s)))
def test_every_stop_set_stops_only_on_a_fall(stop: frozenset[TxPoint]) -> None:
    for before, after in product(EVERY_FACTS, EVERY_FACTS):
        fell = [p for p in CHAIN if p in stop and holds(p, before) and not holds(p, after)]
        orphaned = before.ev_connected and not after.ev_connected and not after.authorized
        expected = fell[0] if fell else (EV if orphaned else None)
        assert stop_point(policy({EV}, stop), before, after) is expected, (before, after)


@given(st.sampled_from(EVERY_POLICY_SET), st.sampled_from(EVERY_FACTS))
def test_nothing_changes_nothing_stops(stop: frozenset[TxPoint], facts: TxFacts) -> None:
    assert stop_point(policy({EV}, stop), facts, facts) is None


def test_a_policy_needs_a_start_and_a_stop_point() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TxPolicy(frozenset(), frozenset({EV}))
    with pytest.raises(ValueError, match="at least one"):
        TxPolicy(frozenset({EV}), frozenset())


# -- the OCPP 1.6 policy and the station without a backend ------------------------


@pytest.mark.parametrize(
    ("stop_on_ev_disconnect", "before", "after", "expected"),
    [
        (True, READY, PLUGGED, AUTH),  # the owner's token, RemoteStop, an invalidated id
        (True, READY, TxFacts(authorized=True), EV),  # unplugged
        (False, READY, TxFacts(authorized=True), None),  # StopTransactionOnEVSideDisconnect = false
        (False, TxFacts(authorized=True), TxFacts(), AUTH),  # ... then the owner comes back
        (False, FLOWING, READY, None),  # the EV pausing ends nothing
    ],
)
def test_the_ocpp16_policy(stop_on_ev_disconnect: bool, before: TxFacts, after: TxFacts, expected: TxPoint) -> None:
    v16 = tx_policy(stop_on_ev_disconnect)
    assert start_point(v16, PLUGGED) is None and start_point(v16, TxFacts(authorized=True)) is None
    assert start_point(v16, READY) is PATH  # StartTransaction: a token and a plugged EV
    assert stop_point(v16, before, after) is expected


def test_the_standalone_station_behaves_as_ocpp16_with_stop_on_ev_disconnect() -> None:
    assert tx_policy(stop_on_ev_disconnect=True) == STANDALONE
