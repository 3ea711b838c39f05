"""A simulated electric vehicle on the far side of the control pilot.

Rules kept here:
- The EV lives on its own clock ``t``: ``advance(to, supply)`` integrates it forward,
  piecewise exact between events (a pilot change becoming visible, the battery filling
  up), so energy and SoC do not depend on how often anyone looks. Actions (``see_pilot``,
  ``pause``...) happen at ``t``: the caller advances first.
- The EV sees the pilot ``reaction_s`` late: a command sent at ``t`` is perceived at
  ``t + reaction_s`` and both S2 and the current target step then (a step after the
  delay; IEC 61851 gives an EV up to 5 s to follow). Its own decisions (pause, battery
  full) take effect at once.
- S2 closes (state C, or D when the EV needs ventilation) while the perceived pilot is
  X2 and the EV wants energy (not paused, SoC < 1). It opens when paused, full, or when
  the perceived pilot leaves X2 - unless the EV misbehaves with ``stays_in_c``.
- Current per phase flows only with the contacts closed and S2 closed: the offered
  current capped by the onboard charger, or ``offered * 1.25 + 2`` A when it overdraws
  (only while something is offered: with no duty there is no target to overshoot).
- Energy is counted at the meter (no charger losses): SoC += Wh / battery capacity.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hal.types import CpState, PilotCommand, PilotMode

# IEC 61851-1 Table A.8: duty cycle -> maximum current, by band (lo, hi, amps(duty)).
# Outside every band (0..10 %, 5 % digital, 96..100 %) nothing is offered.
DUTY_BANDS: tuple[tuple[float, float, Callable[[float], float]], ...] = (
    (10.0, 85.0, lambda duty: duty * 0.6),
    (85.0, 96.0, lambda duty: (duty - 64.0) * 2.5),
)

OVERDRAW_FACTOR = 1.25
OVERDRAW_EXTRA_A = 2.0
MAX_REACTION_S = 10.0
MAX_EV_CURRENT_A = 80.0  # the top of the IEC duty range


def offered_current_a(cmd: PilotCommand) -> float:
    """Current per phase the EVSE offers with ``cmd``; 0 without PWM or outside the bands."""
    if cmd.mode is not PilotMode.X2:
        return 0.0
    for lo, hi, amps in DUTY_BANDS:
        if lo <= cmd.duty_percent <= hi:
            return amps(cmd.duty_percent)
    return 0.0


def draw_target_a(offered_a: float, max_current_a: float, overdraw: bool) -> float:
    """What the EV pulls per phase when it is allowed to charge."""
    if offered_a <= 0.0:
        return 0.0
    if overdraw:
        return offered_a * OVERDRAW_FACTOR + OVERDRAW_EXTRA_A
    return min(max_current_a, offered_a)


def _check_number(name: str, value: object, lo: float, hi: float, lo_open: bool = False) -> float:
    """A finite number within [lo, hi] (or (lo, hi]) or a ValueError worded for a bench user."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} = {value!r}: expected a number")
    if value > hi or value < lo or (lo_open and value == lo):
        bound = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise ValueError(f"{name} = {value!r}: expected a value in {bound}")
    return float(value)


@dataclass(frozen=True)
class EvParams:
    """What does not change while an EV is plugged. Bad values raise ``ValueError``."""

    battery_kwh: float
    max_current_a: float  # per phase, the onboard charger's limit
    phases: int = 3
    reaction_s: float = 1.0
    needs_ventilation: bool = False

    def __str__(self) -> str:
        ventilation = ", needs ventilation" if self.needs_ventilation else ""
        return f"{self.max_current_a:g} A x {self.phases} phase(s), {self.battery_kwh:g} kWh battery{ventilation}"

    def __post_init__(self) -> None:
        _check_number("battery_kwh", self.battery_kwh, 0.0, 1000.0, lo_open=True)
        _check_number("max_current_a", self.max_current_a, 0.0, MAX_EV_CURRENT_A, lo_open=True)
        _check_number("reaction_s", self.reaction_s, 0.0, MAX_REACTION_S)
        if isinstance(self.phases, bool) or not isinstance(self.phases, int) or self.phases not in (1, 3):
            raise ValueError(f"phases = {self.phases!r}: expected 1 or 3")
        if not isinstance(self.needs_ventilation, bool):
            raise ValueError(f"needs_ventilation = {self.needs_ventilation!r}: expected true or false")


@dataclass(frozen=True)
class Supply:
    """What the EVSE side provides during an ``advance``: constant over the interval."""

    closed: bool  # main contacts physically closed
    phases: int  # phases wired to the connector
    voltage_v: float
    overdraw: bool = False  # a fault forces the EV to overdraw, whatever its own flag


CpListener = Callable[[float, CpState], None]


class Ev:
    """One plugged EV. Not thread-safe: the world serialises every call."""

    def __init__(self, params: EvParams, soc: float, now: float, on_cp_change: CpListener | None = None) -> None:
        self.params = params
        self.soc = _check_number("soc", soc, 0.0, 1.0)
        self.t = now
        self.paused = False
        self.stays_in_c = False
        self.overdraw = False
        self.s2_closed = False
        self.energy_wh = 0.0  # drawn since plug-in
        self._on_cp_change = on_cp_change
        self._perceived = PilotCommand.x1()
        self._last_fed = PilotCommand.x1()
        self._pending: deque[tuple[float, PilotCommand]] = deque()

    # -- what the EVSE senses ------------------------------------------------
    @property
    def cp_state(self) -> CpState:
        if not self.s2_closed:
            return CpState.B
        return CpState.D if self.params.needs_ventilation else CpState.C

    @property
    def perceived(self) -> PilotCommand:
        return self._perceived

    def phases_used(self, supply: Supply) -> int:
        return min(self.params.phases, supply.phases)

    def current_a(self, supply: Supply) -> float:
        """Current per used phase at ``t`` under ``supply``."""
        if not (supply.closed and self.s2_closed):
            return 0.0
        return draw_target_a(
            offered_current_a(self._perceived), self.params.max_current_a, self.overdraw or supply.overdraw
        )

    def power_w(self, supply: Supply) -> float:
        return self.current_a(supply) * supply.voltage_v * self.phases_used(supply)

    # -- actions at t ----------------------------------------------------------
    def see_pilot(self, cmd: PilotCommand) -> None:
        """The EVSE drives ``cmd`` from ``t`` on; the EV notices ``reaction_s`` later."""
        if cmd == self._last_fed:
            return
        self._last_fed = cmd
        self._pending.append((self.t + self.params.reaction_s, cmd))
        self._settle()

    def pause(self, paused: bool) -> None:
        self.paused = paused
        self._settle()

    def misbehave(self, stays_in_c: bool, overdraw: bool) -> None:
        self.stays_in_c = stays_in_c
        self.overdraw = overdraw
        self._settle()

    # -- time ------------------------------------------------------------------
    def advance(self, to: float, supply: Supply) -> float:
        """Integrate up to ``to`` with ``supply``; return the energy drawn in Wh."""
        drawn = 0.0
        capacity_wh = self.params.battery_kwh * 1000.0
        while self.t < to:
            step_end = to
            if self._pending and self._pending[0][0] < step_end:
                step_end = self._pending[0][0]
            power = self.power_w(supply)
            fills_up = False
            if power > 0.0:
                t_full = self.t + (1.0 - self.soc) * capacity_wh * 3600.0 / power
                if t_full <= step_end:
                    step_end, fills_up = t_full, True
            wh = power * (step_end - self.t) / 3600.0
            drawn += wh
            self.soc = 1.0 if fills_up else min(1.0, self.soc + wh / capacity_wh)
            self.t = step_end
            self._settle()
        self.energy_wh += drawn
        return drawn

    def _settle(self) -> None:
        """Apply what became visible by ``t`` and let S2 follow."""
        while self._pending and self._pending[0][0] <= self.t:
            self._perceived = self._pending.popleft()[1]
        before = self.cp_state
        wants_energy = not self.paused and self.soc < 1.0
        if not wants_energy:
            self.s2_closed = False
        elif self._perceived.mode is PilotMode.X2:
            self.s2_closed = True
        elif not self.stays_in_c:
            self.s2_closed = False
        after = self.cp_state
        if after is not before and self._on_cp_change is not None:
            self._on_cp_change(self.t, after)

    def snapshot(self, supply: Supply) -> dict[str, object]:
        amps = self.current_a(supply)
        used = self.phases_used(supply)
        return {
            "soc": round(self.soc, 6),
            "battery_kwh": self.params.battery_kwh,
            "max_current_a": self.params.max_current_a,
            "phases": self.params.phases,
            "reaction_s": self.params.reaction_s,
            "needs_ventilation": self.params.needs_ventilation,
            "cp_state": self.cp_state.value,
            "s2_closed": self.s2_closed,
            "paused": self.paused,
            "stays_in_c": self.stays_in_c,
            "overdraw": self.overdraw,
            "perceived_offer_a": round(offered_current_a(self._perceived), 3),
            "current_a": [amps if i < used else 0.0 for i in range(3)],
            "energy_wh": round(self.energy_wh, 3),
        }
