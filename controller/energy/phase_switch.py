"""1-phase / 3-phase switching: never under load, with the pause EVs need.

Rules kept here:
- Pure: ``step(state, wanted, idle, pause_s, now) -> (state, SwitchStep)``; no clock, no I/O.
- A switch goes: offer 0 A (the PWM goes off at once, the EV stops, the contactor opens); wait
  until the connector is ``idle`` (contactor seen open, no current on its meter); only then
  command the phase switch; then keep the offer at 0 for ``pause_s`` more, since EVs read the
  supply's phases only when charging begins again and some refuse a change without a pause;
  then offer again on the new phases.
- The relay is commanded only while the connector is idle: never under load.
- A switch in progress runs to its end; a request that changed meanwhile starts a new one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SwitchState:
    phases: int  # what the relay is set to
    target: int | None = None  # a switch in progress
    switched_at: float | None = None  # when the relay was commanded


@dataclass(frozen=True)
class SwitchStep:
    hold_off: bool  # offer 0 A now
    command: int | None = None  # set the relay to this many phases now


def step(state: SwitchState, wanted: int, idle: bool, pause_s: float, now: float) -> tuple[SwitchState, SwitchStep]:
    target = state.target
    if target is None:
        if wanted == state.phases:
            return state, SwitchStep(False)
        target = wanted
        state = SwitchState(state.phases, target)
    if state.switched_at is None:
        if not idle:
            return state, SwitchStep(True)
        return SwitchState(target, target, now), SwitchStep(True, target)
    if now - state.switched_at < pause_s:
        return state, SwitchStep(True)
    return SwitchState(state.phases), SwitchStep(False)
