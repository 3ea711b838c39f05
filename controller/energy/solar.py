"""Solar surplus charging: what each connector may take from the sun, without contactor chatter.

Rules kept here:
- Pure: ``step(rules, state, mode, surplus_w, ...) -> (state, target)``; no clock, no I/O.
- Modes per connector: ``off`` (no opinion: the connector charges at its full limit),
  ``minpv`` (never less than the minimum current, plus whatever surplus there is), ``pv``
  (surplus only: charging starts and stops with the sun).
- The surplus a connector sees is what the house exports plus what that connector's EV draws
  now (it is already using part of the surplus). With several solar connectors the one with
  the lowest number is served first and the next sees what is left (``surplus_after``).
- Charging levels form a ladder: stopped, then each phase count the connector can use
  (``1`` and ``3`` with a phase switch, else just its wired phases). A level's minimum power is
  6 A x phases x voltage. Going up needs the surplus at or above a higher level's minimum plus
  ``start_margin_w`` for ``start_delay_s`` (to the highest such level); going down needs it below
  the current level's minimum minus ``stop_margin_w`` for ``stop_delay_s`` (to the highest level
  it still holds, possibly stopped). The margins make a hysteresis band and the delays outlast a
  passing cloud: the contactor does not chatter. ``minpv`` never goes below the lowest phase level.
- Within a level the target follows the surplus, rounded down to 1 A, between 6 A and the
  connector's maximum; below the level's minimum (waiting out the stop delay) it stays at 6 A.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from controller.iec61851 import MIN_CURRENT_A


class SolarMode(StrEnum):
    OFF = "off"
    MINPV = "minpv"
    PV = "pv"


@dataclass(frozen=True)
class SolarRules:
    start_margin_w: float = 0.0
    stop_margin_w: float = 300.0
    start_delay_s: float = 60.0
    stop_delay_s: float = 180.0
    voltage_v: float = 230.0


@dataclass(frozen=True)
class SolarState:
    phases: int = 0  # the level: 0 = stopped, else the phases charging uses
    moving_since: float | None = None  # since when the surplus has asked for another level
    moving_to: int = 0  # ... which one


@dataclass(frozen=True)
class SolarTarget:
    amps: float | None  # None: no opinion (off); 0: stopped
    phases: int  # phases to charge on (the ladder's level, or the wired phases when off)


def min_power_w(rules: SolarRules, phases: int) -> float:
    return MIN_CURRENT_A * phases * rules.voltage_v


def _wanted(rules: SolarRules, ladder: tuple[int, ...], level: int, surplus_w: float) -> int:
    """The level the surplus asks for, with the hysteresis margins: up to the highest level it
    starts, or down (when the present level is not held) to the highest level it still holds.
    Skipping levels saves the contactor a close (3 phases straight to stopped under a thick cloud)."""
    i = ladder.index(level)
    up = [n for n in ladder[i + 1 :] if surplus_w >= min_power_w(rules, n) + rules.start_margin_w]
    if up:
        return up[-1]
    if level and i > 0 and surplus_w < min_power_w(rules, level) - rules.stop_margin_w:
        held = [n for n in ladder[:i] if n == ladder[0] or surplus_w >= min_power_w(rules, n) - rules.stop_margin_w]
        return held[-1]
    return level


def step(
    rules: SolarRules,
    state: SolarState,
    mode: SolarMode,
    surplus_w: float,
    ladder: tuple[int, ...],
    max_current_a: float,
    now: float,
) -> tuple[SolarState, SolarTarget]:
    """``ladder``: the phase counts this connector can charge on, ascending (e.g. (1, 3))."""
    if mode is SolarMode.OFF:
        return SolarState(ladder[-1]), SolarTarget(None, ladder[-1])
    steps = ladder if mode is SolarMode.MINPV else (0, *ladder)
    level = state.phases if state.phases in steps else steps[0]
    wanted = _wanted(rules, steps, level, surplus_w)
    if wanted == level:
        state = SolarState(level)
    elif state.moving_since is None or state.moving_to != wanted:
        state = SolarState(level, now, wanted)
    elif now - state.moving_since >= (rules.start_delay_s if wanted > level else rules.stop_delay_s):
        state = SolarState(wanted)
    else:
        state = SolarState(level, state.moving_since, wanted)
    phases = state.phases
    if phases == 0:
        return state, SolarTarget(0.0, ladder[0])
    amps = math.floor(surplus_w / (phases * rules.voltage_v) + 1e-9)
    return state, SolarTarget(min(max_current_a, max(MIN_CURRENT_A, float(amps))), phases)


def surplus_after(surplus_w: float, target: SolarTarget, voltage_v: float) -> float:
    """What is left for the next solar connector once this one takes its target."""
    if target.amps is None:
        return surplus_w
    return surplus_w - target.amps * target.phases * voltage_v
