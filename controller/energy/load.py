"""Load management: the main fuse never trips, and what it leaves is shared among the connectors.

Rules kept here:
- Pure: ``step(rules, state, grid, connectors, now) -> (state, decision)``; no clock, no I/O.
  Connectors are named by a string key (``"1"``, or ``"wb-2/1"`` for another box's).
- Per phase, the house's other loads are the grid current minus what the connectors draw on
  that phase (their own meters, so the estimate stays right while an EV is still following a
  change). The connectors may draw together ``main_fuse_a - margin_a - other loads`` on a phase.
- That room is shared max-min fairly over the phases each connector draws on (water filling).
  A share below 6 A cannot be offered on the pilot: then the connector that started wanting
  power last pauses (0 A) and the room is shared again among the others.
- A grid reading older than ``max_age_s`` (or none at all) is not believed: the connectors
  share ``fallback_a`` per phase instead, whatever the house does.
- The grid meter and a connector's meter are read at different instants, and right after an EV
  starts, resumes or follows a new offer one of them still shows the old current. Trusting the
  connector's meter there made the currents hunt (pause, 9 A, pause; 9 A, 32 A, 9 A), so each
  decision counts a connector's current the way that errs on its own safe side:
  - A lower share applies at once when the reading is stale, or when the connector itself wants
    less. When the grid reading shows a phase the connector uses above ``main_fuse_a - margin_a``,
    what applies at once is the share that reading proves: each connector counted at the most it
    may have drawn when the grid was read (its meter, its offer, and the offer before one fell or
    more as its meter showed, until a grid reading taken after its meter showed it at the new
    offer, ``confirm_s`` at most).
  - Any lack of room beyond that is only computed from the meters, not measured (a meter lagging
    while an EV ramps, a member box's state on its way, an EV drawing less than offered): it must
    hold for ``confirm_s`` first, and what applies then is the least lack seen all that time.
  - A higher share counts each connector at most at its offer: a meter still showing the current
    before a fall does not make room.
- A connector that already holds a limit goes up only after a higher share has been possible
  for ``raise_delay_s``, and then to the lowest share seen meanwhile, so a load that comes and
  goes does not make the current hunt either. Seen counts only a share that could have lowered a
  limit by itself: measured over, or computed when no limit had changed for ``confirm_s``. Right
  after a change the EVs are still following it and the meters disagree for a moment; taking
  that for a load made every raise a staircase, each step another ``raise_delay_s`` (two boxes
  took 13 s instead of 3 to share a freed fuse). A connector that starts wanting power gets its
  share at once. A raise never hands out what another connector on the phase still holds (its
  lower share waiting for ``confirm_s``): it stops at what is left and goes on once that is freed.
- When the fuse carries so much that the trip curve (controller/energy/fuse.py) leaves less
  time than the normal path of a lower duty (``confirm_s``, the 5 s rule and the EV following),
  every connector whose share falls is paused instead: switching the PWM off is immediate. It comes
  back after ``raise_delay_s`` like any other increase.
- Limits are rounded down to 0.1 A: no duty change for noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from controller.energy.fuse import TripCurve, needs_pause
from controller.energy.grid import PHASES, GridReading
from controller.iec61851 import MIN_CURRENT_A

STEP_A = 0.1
FOLLOWED_A = 1.0  # an EV's meter this little below its offer (EVs draw a little less) shows it follows it


@dataclass(frozen=True)
class FuseRules:
    main_fuse_a: float
    margin_a: float = 2.0
    max_age_s: float = 10.0
    fallback_a: float = 6.0  # per phase, all connectors together, while the reading is stale
    raise_delay_s: float = 10.0
    curve: TripCurve = TripCurve.B
    detection_s: float = 1.0  # how late an overload may be seen: one grid meter interval
    confirm_s: float = 3.0  # a computed (not yet measured) lack of room must hold this long


@dataclass(frozen=True)
class ConnectorDemand:
    key: str
    phases: tuple[int, ...]  # grid phases it draws on (0 = L1), in the order of drawn_a
    drawn_a: tuple[float, ...]  # what its meter showed per phase when last read
    wants_a: float  # the most it could take now; 0 = it wants nothing (no session, paused)
    offered_a: float  # what its pilot offers now
    since: float  # when it started wanting power (the later one pauses first)
    drawn_at: float = -math.inf  # when its meter was read (unknown: see Offer)


@dataclass(frozen=True)
class Allocation:
    """A limit the managing box hands a member box's connector, valid for ``valid_s`` after it arrives."""

    amps: float
    phases: int
    valid_s: float


@dataclass(frozen=True)
class Held:
    amps: float
    wanting: bool
    higher_since: float | None = None  # since when a higher share has been possible
    higher_floor: float = math.inf  # the lowest such share seen since then (see the module's rules)
    lower_since: float | None = None  # since when a lower share has been computed (nothing measured over)
    lower_ceiling: float = 0.0  # the highest such share seen since then: the lack that held all along


@dataclass(frozen=True)
class Offer:
    """What a connector's pilot offered at the last step, and the most its EV may still draw.
    After the offer fell, the EV may still draw the offer before (or more, if its meter showed
    more since) until its meter showed it at or just below the new offer, ``confirm_s`` at most."""

    amps: float
    peak_a: float = 0.0
    until: float = -math.inf
    fell_at: float = -math.inf
    followed_at: float = math.inf  # when its meter showed it followed (grid readings after it know)

    def most(self, now: float, grid_at: float) -> float:
        """The most its EV may have drawn when the grid meter was read at ``grid_at``."""
        following = now < self.until and grid_at < self.followed_at
        return max(self.amps, self.peak_a) if following else self.amps


@dataclass(frozen=True)
class LoadState:
    held: Mapping[str, Held] = field(default_factory=dict)
    changed_at: float = -math.inf  # the last step that changed a connector's limit
    offers: Mapping[str, Offer] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadDecision:
    limits: dict[str, float]
    stale: bool
    room_a: tuple[float, ...]  # per phase, for all connectors together
    fuse_factor: float | None  # the most loaded phase / main_fuse_a; None when stale
    urgent: bool  # pausing, the normal path being too slow for the fuse


def _floor(amps: float) -> float:
    return math.floor(amps / STEP_A + 1e-9) * STEP_A


def water_fill(room: Sequence[float], demands: Mapping[str, tuple[tuple[int, ...], float]]) -> dict[str, float]:
    """Max-min fair shares: every connector rises at the same pace until it has what it wants or
    a phase it draws on is full. ``demands``: key -> (phases, wants)."""
    shares = dict.fromkeys(demands, 0.0)
    used = [0.0] * len(room)
    rising = {k for k, (phases, wants) in demands.items() if wants > 0 and phases}
    while rising:
        load = [sum(1 for k in rising if p in demands[k][0]) for p in range(len(room))]
        step = min(demands[k][1] - shares[k] for k in rising)
        for p, n in enumerate(load):
            if n:
                step = min(step, max(0.0, room[p] - used[p]) / n)
        for k in rising:
            shares[k] += step
            for p in demands[k][0]:
                used[p] += step
        full = {p for p, n in enumerate(load) if n and room[p] - used[p] <= 1e-9}
        rising = {k for k in rising if demands[k][1] - shares[k] > 1e-9 and not full & set(demands[k][0])}
    return shares


def share(room: Sequence[float], connectors: Sequence[ConnectorDemand]) -> dict[str, float]:
    """Water filling, then pausing the latest starter while anyone is short of 6 A."""
    active = {c.key: c for c in connectors if c.wants_a >= MIN_CURRENT_A}
    shares = {c.key: 0.0 for c in connectors}
    while active:
        fair = water_fill(room, {k: (c.phases, c.wants_a) for k, c in active.items()})
        short = [active[k] for k, amps in fair.items() if amps < MIN_CURRENT_A - 1e-9]
        if not short:
            shares.update({k: _floor(a) for k, a in fair.items()})
            break
        del active[max(short, key=lambda c: (c.since, c.key)).key]
    return shares


def room_for_connectors(
    rules: FuseRules,
    grid: GridReading,
    connectors: Sequence[ConnectorDemand],
    least: Mapping[str, float] | None = None,
    at_most: bool = False,
) -> tuple[float, ...]:
    """Per phase: what the connectors may draw together without exceeding fuse minus margin.
    Each connector counted as drawn what its meter shows, but at least ``least[key]``, or at most
    its offer (``at_most``; see the module's rules)."""
    drawn = [0.0] * PHASES
    for c in connectors:
        at_least = least.get(c.key, 0.0) if least is not None else 0.0
        for phase, amps in zip(c.phases, c.drawn_a, strict=False):
            drawn[phase] += max(0.0, min(amps, c.offered_a) if at_most else amps, at_least)
    other = [grid.current_a[p] - drawn[p] for p in range(PHASES)]
    return tuple(rules.main_fuse_a - rules.margin_a - other[p] for p in range(PHASES))


def _hold(
    rules: FuseRules,
    before: Held | None,
    target: float,
    c: ConnectorDemand,
    proven: float | None,
    settled: bool,
    now: float,
) -> Held:
    """``proven``: the share the reading proves when it shows a phase of ``c`` above fuse minus
    margin (the target itself when the reading is stale), else None; ``settled``: no limit
    changed for ``confirm_s``."""
    wanting = c.wants_a > 0
    if before is None or not before.wanting or not wanting or target == before.amps:
        return Held(target, wanting)
    if target < before.amps:
        if c.wants_a < before.amps:
            return Held(target, wanting)
        at_once = before.amps if proven is None else min(before.amps, max(target, proven))
        if at_once == target:
            return Held(target, wanting)
        if before.lower_since is None:
            return Held(at_once, wanting, lower_since=now, lower_ceiling=target)
        ceiling = max(before.lower_ceiling, target)
        if now - before.lower_since >= rules.confirm_s:
            return Held(min(ceiling, at_once), wanting)
        return Held(at_once, wanting, lower_since=before.lower_since, lower_ceiling=ceiling)
    floor = min(before.higher_floor, target if proven is not None or settled else math.inf)
    if before.higher_since is None:
        return Held(before.amps, wanting, now, floor)
    if now - before.higher_since >= rules.raise_delay_s:
        return Held(min(floor, target), wanting)
    return Held(before.amps, wanting, before.higher_since, floor)


def _raise_within_room(
    room: Sequence[float],
    connectors: Sequence[ConnectorDemand],
    before: Mapping[str, Held],
    held: dict[str, Held],
    delay_passed: float,
) -> None:
    """Cap every raise to the room the others' held limits leave on its phases (below 6 A: no raise).
    A capped raise keeps its delay served, so it goes on as soon as the room is freed."""
    for c in connectors:
        h, was = held[c.key], before.get(c.key)
        previous = was.amps if was is not None else 0.0
        if h.amps <= previous or not c.phases:
            continue
        left = min(room[p] - sum(held[o.key].amps for o in connectors if o.key != c.key and p in o.phases)
                   for p in c.phases)  # fmt: skip
        capped = _floor(max(previous, left))
        if capped < h.amps:
            amps = capped if capped >= MIN_CURRENT_A else previous
            held[c.key] = Held(amps, h.wanting, higher_since=delay_passed, higher_floor=h.amps)


def _no_raise_beyond(up: Mapping[str, float], targets: dict[str, float], held: Mapping[str, Held]) -> dict[str, float]:
    """A share above what a connector holds (or a starter's) is at most ``up``'s."""
    for key, target in targets.items():
        before = held[key].amps if key in held and held[key].wanting else 0.0
        if target > before:
            targets[key] = max(before, min(target, up[key]))
    return targets


def _offers(
    rules: FuseRules, state: LoadState, connectors: Sequence[ConnectorDemand], grid_at: float, now: float
) -> dict[str, Offer]:
    offers = {}
    for c in connectors:
        last = state.offers.get(c.key)
        if last is None:
            offer = Offer(c.offered_a)
        elif c.offered_a < last.amps:
            offer = Offer(c.offered_a, last.most(now, grid_at), now + rules.confirm_s, now)
        else:
            offer = replace(last, amps=c.offered_a)
        if now < offer.until and offer.followed_at == math.inf:  # an EV below its offer may draw more
            offer = replace(offer, peak_a=max((offer.peak_a, *c.drawn_a)))
        if c.drawn_at >= offer.fell_at and all(offer.amps - FOLLOWED_A <= a <= offer.amps for a in c.drawn_a):
            offer = replace(offer, followed_at=min(offer.followed_at, c.drawn_at))
        offers[c.key] = offer
    return offers


def step(
    rules: FuseRules, state: LoadState, grid: GridReading | None, connectors: Sequence[ConnectorDemand], now: float
) -> tuple[LoadState, LoadDecision]:
    stale = grid is None or not grid.fresh(now, rules.max_age_s)
    offers = _offers(rules, state, connectors, -math.inf if grid is None else grid.at, now)
    if grid is None or stale:
        room: tuple[float, ...] = (rules.fallback_a,) * PHASES
        proven = targets = share(room, connectors)
        factor = None
        urgent = False
    else:
        room = room_for_connectors(rules, grid, connectors)
        targets = _no_raise_beyond(share(room_for_connectors(rules, grid, connectors, at_most=True), connectors),
                                   share(room, connectors), state.held)  # fmt: skip
        most = {k: o.most(now, grid.at) for k, o in offers.items()}
        proven = share(room_for_connectors(rules, grid, connectors, most), connectors)
        factor = max(abs(a) for a in grid.current_a) / rules.main_fuse_a
        detection = rules.detection_s + max(0.0, now - grid.at) + rules.confirm_s
        urgent = needs_pause(rules.curve, factor, detection)
    held: dict[str, Held] = {}
    limit = rules.main_fuse_a - rules.margin_a
    settled = now - state.changed_at >= rules.confirm_s
    for c in connectors:
        over = grid is None or stale or any(grid.current_a[p] > limit for p in c.phases)
        h = _hold(rules, state.held.get(c.key), targets[c.key], c, proven[c.key] if over else None, settled, now)
        if urgent and min(h.amps, targets[c.key]) < c.offered_a:
            h = Held(0.0, h.wanting)  # pausing is immediate; a lower duty may wait 5 s
        held[c.key] = h
    _raise_within_room(room, connectors, state.held, held, now - rules.raise_delay_s)
    limits = {k: h.amps for k, h in held.items()}
    before = {k: h.amps for k, h in state.held.items()}
    changed = any(limits.get(k, 0.0) != before.get(k, 0.0) for k in limits.keys() | before.keys())
    decision = LoadDecision(limits, stale, room, factor, urgent)
    return LoadState(held, now if changed else state.changed_at, offers), decision
