"""IEC 61851-1 control-pilot state machine: pure, deterministic, one connector.

``step(state, inputs) -> (state, outputs)``; no I/O, no clock of its own (``inputs.now``
is ``time.monotonic()`` seconds). The real-time loop samples the hardware, calls
``step`` and applies the outputs. Rules kept here (numbers in ``TIMING``):

- PWM: duty from current (6-51 A: A/0.6 %, 51-80 A: A/2.5+64 %). Below 6 A there is
  no valid duty: the pilot goes to X1 (constant +12 V) and the EV must stop drawing.
- The contactor closes only in C2 (EV in C, or D with ventilation, while the PWM is
  on), with charging allowed, no fault, the connector locked where a lock exists, and
  the EV's diode seen on the negative PWM level in the same sample.
- It opens at once when the EV leaves C/D, on any fault, and 6 s after the PWM went
  off while the EV stays in C (an EV that ignores X1).
- The duty changes at most once every 5 s. Switching the PWM on or off is not a duty
  change and happens at once. A lower limit that arrives within 5 s of the last
  change waits for the 5 s to pass; for 5 s after any decrease the over-current
  supervision still allows the previous, higher current (EVs take that long to follow).
- Over-current: drawing more than offered x 1.1 + 0.5 A for more than 7 s is a fault.
- Any fault: contactor open, pilot F for at least 300 ms; then F again while a
  condition fault is still observed, or X1 while only session faults are latched
  (so an unplug can be seen). Session faults clear when the EV is unplugged (A).
  The connector unlocks after 5 s in F.
- Welded contactor: feedback still closed 300 ms after the open command. Contactor
  that does not close: feedback still open 1 s after the close command.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from controller.faults import CHARGING_FAULTS, SESSION_FAULTS, Fault
from hal.types import CpState, PilotCommand, PilotMode


@dataclass(frozen=True)
class Timing:
    pwm_change_interval_s: float = 5.0
    ev_follow_s: float = 5.0
    force_open_after_x1_s: float = 6.0
    overcurrent_ratio: float = 1.10
    overcurrent_offset_a: float = 0.5
    overcurrent_time_s: float = 7.0
    state_f_min_s: float = 0.3
    unlock_after_f_s: float = 5.0
    weld_detect_s: float = 0.3
    stuck_open_detect_s: float = 1.0
    lock_detect_s: float = 1.0
    diode_max_negative_v: float = -10.0  # negative level must be at or below this


TIMING = Timing()
MIN_CURRENT_A = 6.0
MAX_CURRENT_A = 80.0


def duty_for_current(amps: float) -> float | None:
    """PWM duty (%) announcing ``amps``; None below 6 A (no valid duty: pause)."""
    if amps < MIN_CURRENT_A:
        return None
    amps = min(amps, MAX_CURRENT_A)
    return amps / 0.6 if amps <= 51.0 else amps / 2.5 + 64.0


def current_for_duty(duty: float) -> float:
    """Current (A) an EV reads from ``duty`` (%); 0 outside the current-announcing bands."""
    if 10.0 <= duty <= 85.0:
        return duty * 0.6
    if 85.0 < duty <= 96.0:
        return (duty - 64.0) * 2.5
    return 0.0


@dataclass(frozen=True)
class Inputs:
    now: float
    cp: CpState
    negative_v: float | None = None
    charge_allowed: bool = False  # a session is authorized and may draw power
    limit_a: float = 0.0  # offered limit: min(config, cable, profile); < 6 A = pause
    current_a: float | None = None  # highest phase current of the latest meter reading
    contactor_feedback: bool | None = None
    lock_feedback: bool | None = None
    has_lock: bool = False
    hold_lock: bool = False  # keep the cable locked though the EV side is unplugged (session kept)
    ventilation: bool = False  # state D may be energised
    conditions: frozenset[Fault] = frozenset()  # faults observed this tick by the loop


@dataclass(frozen=True)
class Outputs:
    pilot: PilotCommand
    contactor: bool
    lock: bool
    offered_a: float
    faults: frozenset[Fault]


@dataclass(frozen=True)
class IecState:
    pilot: PilotCommand = field(default_factory=PilotCommand.x1)
    ev: CpState = CpState.A  # last EV state seen (not while we drive F)
    duty_changed_at: float = float("-inf")
    supervised_a: float = 0.0  # current allowed by over-current supervision
    supervised_until: float = float("-inf")  # end of the grace after a decrease
    pwm_off_at: float | None = None  # when the PWM went off while the EV was in C/D
    contactor: bool = False
    contactor_changed_at: float = float("-inf")
    overcurrent_since: float | None = None
    locked: bool = False
    lock_changed_at: float = float("-inf")
    latched: frozenset[Fault] = frozenset()
    fault_since: float | None = None  # entry into F


def _observed_faults(s: IecState, i: Inputs) -> frozenset[Fault]:
    found = set(i.conditions)
    if s.pilot.mode is not PilotMode.F and i.cp in (CpState.E, CpState.F):
        found.add(Fault.PILOT)
    if (
        s.pilot.mode is PilotMode.X2
        and i.cp in (CpState.B, CpState.C, CpState.D)
        and i.negative_v is not None
        and i.negative_v > TIMING.diode_max_negative_v
    ):
        found.add(Fault.DIODE)
    if i.contactor_feedback is not None:
        since = i.now - s.contactor_changed_at
        if not s.contactor and i.contactor_feedback and since >= TIMING.weld_detect_s:
            found.add(Fault.CONTACTOR_WELD)
        if s.contactor and not i.contactor_feedback and since >= TIMING.stuck_open_detect_s:
            found.add(Fault.CONTACTOR_STUCK_OPEN)
    if i.has_lock and s.locked and i.lock_feedback is False and i.now - s.lock_changed_at >= TIMING.lock_detect_s:
        found.add(Fault.LOCK)
    if s.overcurrent_since is not None and i.now - s.overcurrent_since > TIMING.overcurrent_time_s:
        found.add(Fault.OVERCURRENT)
    return frozenset(found)


def _target_pilot(s: IecState, i: Inputs, ev: CpState) -> PilotCommand:
    """Pilot for a healthy connector, with the 5 s duty-change rule applied."""
    duty = duty_for_current(i.limit_a) if i.charge_allowed and ev is not CpState.A else None
    if duty is None or s.pilot.mode is PilotMode.F:
        return PilotCommand.x1()  # after F, look at the line once before offering again
    if s.pilot.mode is not PilotMode.X2:
        return PilotCommand.pwm(duty)
    if abs(duty - s.pilot.duty_percent) < 1e-9 or i.now - s.duty_changed_at < TIMING.pwm_change_interval_s:
        return s.pilot
    return PilotCommand.pwm(duty)


def _offered(cmd: PilotCommand) -> float:
    return current_for_duty(cmd.duty_percent) if cmd.mode is PilotMode.X2 else 0.0


def _fault_outputs(s: IecState, i: Inputs, observed: frozenset[Fault]) -> tuple[PilotCommand, bool, float]:
    """(pilot, lock, fault_since) while charging is stopped by a fault; the contactor is open."""
    since = s.fault_since if s.fault_since is not None else i.now
    if i.now - since < TIMING.state_f_min_s or observed & CHARGING_FAULTS:
        return PilotCommand.state_f(), s.locked and i.now - since < TIMING.unlock_after_f_s, since
    return PilotCommand.x1(), False, since  # only latched session faults: watch for the unplug


def _healthy_contactor(s: IecState, i: Inputs, ev: CpState, pilot: PilotCommand, pwm_off_at: float | None) -> bool:
    wants_power = ev is CpState.C or (ev is CpState.D and i.ventilation)
    if not wants_power:
        return False
    if s.contactor:
        return pwm_off_at is None or i.now - pwm_off_at < TIMING.force_open_after_x1_s
    locked_ok = not i.has_lock or (s.locked and i.lock_feedback is not False)
    diode_ok = i.negative_v is not None and i.negative_v <= TIMING.diode_max_negative_v
    return (
        pilot.mode is PilotMode.X2
        and s.pilot.mode is PilotMode.X2  # the sample was taken with the PWM on
        and i.charge_allowed
        and diode_ok
        and locked_ok
    )


def _supervision(s: IecState, i: Inputs, offered: float) -> tuple[float, float]:
    """Current the over-current check allows, and until when a decrease grace lasts."""
    old = _offered(s.pilot)
    if offered < old:
        return max(s.supervised_a, old), i.now + TIMING.ev_follow_s
    if i.now < s.supervised_until:
        return max(s.supervised_a, offered), s.supervised_until
    return offered, s.supervised_until


def step(s: IecState, i: Inputs) -> tuple[IecState, Outputs]:
    ev = s.ev if s.pilot.mode is PilotMode.F else i.cp
    observed = _observed_faults(s, i)
    latched = (frozenset() if ev is CpState.A else s.latched) | (observed & SESSION_FAULTS)
    faults = observed | latched

    holding_f = s.fault_since is not None and i.now - s.fault_since < TIMING.state_f_min_s
    if faults & CHARGING_FAULTS or holding_f:
        pilot, lock, fault_since = _fault_outputs(s, i, observed)
        contactor, pwm_off_at = False, None
    else:
        fault_since = None
        pilot = _target_pilot(s, i, ev)
        in_c = ev in (CpState.C, CpState.D)
        pwm_off_at = None
        if in_c and pilot.mode is not PilotMode.X2:
            pwm_off_at = i.now if s.pwm_off_at is None else s.pwm_off_at
        contactor = _healthy_contactor(s, i, ev, pilot, pwm_off_at)
        plugged = ev in (CpState.B, CpState.C, CpState.D)
        lock = i.has_lock and ((plugged and (i.charge_allowed or contactor)) or i.hold_lock)

    offered = _offered(pilot)
    supervised_a, supervised_until = _supervision(s, i, offered)
    overcurrent_since = None
    limit = supervised_a * TIMING.overcurrent_ratio + TIMING.overcurrent_offset_a
    if contactor and i.current_a is not None and i.current_a > limit:
        overcurrent_since = s.overcurrent_since if s.overcurrent_since is not None else i.now

    duty_changed = pilot.mode is PilotMode.X2 and pilot != s.pilot
    new = replace(
        s,
        pilot=pilot,
        ev=ev,
        duty_changed_at=i.now if duty_changed else s.duty_changed_at,
        supervised_a=supervised_a,
        supervised_until=supervised_until,
        pwm_off_at=pwm_off_at,
        contactor=contactor,
        contactor_changed_at=i.now if contactor != s.contactor else s.contactor_changed_at,
        overcurrent_since=overcurrent_since,
        locked=lock,
        lock_changed_at=i.now if lock != s.locked else s.lock_changed_at,
        latched=latched,
        fault_since=fault_since,
    )
    return new, Outputs(pilot=pilot, contactor=contactor, lock=lock, offered_a=offered, faults=faults)
