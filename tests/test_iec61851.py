"""IEC 61851 state machine: every state x event as a table, then the timing rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.faults import Fault
from controller.iec61851 import (
    TIMING,
    IecState,
    Inputs,
    Outputs,
    current_for_duty,
    duty_for_current,
    step,
)
from hal.types import CpState, PilotMode

X1, X2, F = PilotMode.X1, PilotMode.X2, PilotMode.F
A, B, C, D, E = CpState.A, CpState.B, CpState.C, CpState.D, CpState.E


class Line:
    """One connector driven through the pure machine with a hand-moved clock.

    Like real hardware it answers with the negative level only while the PWM runs, and
    the contactor feedback follows the command unless told otherwise."""

    def __init__(self) -> None:
        self.state = IecState()
        self.now = 100.0
        self.base = Inputs(now=self.now, cp=A, charge_allowed=False, limit_a=16.0, current_a=0.0)
        self.diode = True
        self.feedback: bool | None = None  # None: follow the command
        self.out: Outputs | None = None

    def tick(self, dt: float = 0.01, **changes: object) -> Outputs:
        self.now += dt
        self.base = replace(self.base, **changes)  # type: ignore[arg-type]
        negative = None
        if self.state.pilot.mode is X2 and self.base.cp in (B, C, D):
            negative = -12.0 if self.diode else 9.0
        feedback = self.state.contactor if self.feedback is None else self.feedback
        inputs = replace(self.base, now=self.now, negative_v=negative, contactor_feedback=feedback)
        self.state, self.out = step(self.state, inputs)
        return self.out

    def run(self, seconds: float, dt: float = 0.05, **changes: object) -> Outputs:
        out = self.tick(dt, **changes)
        t = dt
        while t < seconds - 1e-9:
            out = self.tick(dt)
            t += dt
        return out


def enter(state: str) -> Line:
    """A line brought into a named state the way an EV would bring it there."""
    line = Line()
    line.tick()
    if state == "A":
        return line
    line.tick(cp=B)
    if state == "B1":
        return line
    line.tick(charge_allowed=True)
    if state == "B2":
        return line
    if state == "C1":
        line.tick(charge_allowed=False)
        line.tick(cp=C)
        return line
    line.tick(cp=C)
    line.tick()
    if state == "C2":
        assert line.out is not None and line.out.contactor
        return line
    if state == "F":
        line.tick(conditions=frozenset({Fault.OVERTEMP}))
        return line
    raise ValueError(state)


# (state, event inputs, pilot, contactor, faults) after one tick of the event
TABLE = [
    ("A", {}, X1, False, set()),
    ("A", {"cp": B}, X1, False, set()),
    ("A", {"cp": C}, X1, False, set()),
    ("A", {"charge_allowed": True}, X1, False, set()),  # nobody plugged: no PWM
    ("A", {"cp": E}, F, False, {Fault.PILOT}),
    ("A", {"conditions": frozenset({Fault.RCD})}, F, False, {Fault.RCD}),
    ("B1", {"charge_allowed": True}, X2, False, set()),
    ("B1", {"cp": A}, X1, False, set()),
    ("B1", {"cp": C}, X1, False, set()),  # C1: asks, not allowed: no contactor
    ("B1", {"conditions": frozenset({Fault.OVERTEMP})}, F, False, {Fault.OVERTEMP}),
    ("B2", {"cp": C}, X2, True, set()),  # C2 with the diode seen: close
    ("B2", {"cp": D}, X2, False, set()),  # D without ventilation: never energise
    ("B2", {"cp": D, "ventilation": True}, X2, True, set()),
    ("B2", {"cp": A}, X1, False, set()),
    ("B2", {"charge_allowed": False}, X1, False, set()),
    ("B2", {"limit_a": 5.9}, X1, False, set()),  # below 6 A: pause
    ("B2", {"cp": E}, F, False, {Fault.PILOT}),
    ("B2", {"conditions": frozenset({Fault.METER_OFFLINE})}, F, False, {Fault.METER_OFFLINE}),
    ("C1", {"charge_allowed": True}, X2, False, set()),  # PWM on first; close on the next sample
    ("C1", {"cp": B}, X1, False, set()),
    ("C1", {"cp": A}, X1, False, set()),
    ("C2", {}, X2, True, set()),
    ("C2", {"cp": B}, X2, False, set()),  # EV stops asking: open at once
    ("C2", {"cp": A}, X1, False, set()),  # unplugged: open at once, PWM off
    ("C2", {"cp": E}, F, False, {Fault.PILOT}),
    ("C2", {"charge_allowed": False}, X1, True, set()),  # stop: PWM off, EV has 6 s to leave C
    ("C2", {"limit_a": 3.0}, X1, True, set()),  # pause the same way
    ("C2", {"conditions": frozenset({Fault.RCD})}, F, False, {Fault.RCD}),
    ("C2", {"conditions": frozenset({Fault.OVERTEMP})}, F, False, {Fault.OVERTEMP}),
    ("C2", {"conditions": frozenset({Fault.METER_OFFLINE})}, F, False, {Fault.METER_OFFLINE}),
    ("C2", {"conditions": frozenset({Fault.CABLE})}, F, False, {Fault.CABLE}),
    ("C2", {"conditions": frozenset({Fault.READER})}, X2, True, {Fault.READER}),  # does not stop charging
    ("F", {}, F, False, {Fault.OVERTEMP}),
    ("F", {"cp": A}, F, False, {Fault.OVERTEMP}),  # we drive F: the EV's state is not visible
    ("F", {"conditions": frozenset()}, F, False, set()),  # cleared, but F is held for 300 ms
]


@pytest.mark.parametrize(("state", "event", "pilot", "contactor", "faults"), TABLE)
def test_state_by_event(state, event, pilot, contactor, faults):
    line = enter(state)
    out = line.tick(**event)
    assert out.pilot.mode is pilot
    assert out.contactor is contactor
    assert set(out.faults) == faults


def test_every_reachable_state_is_covered():
    assert {row[0] for row in TABLE} == {"A", "B1", "B2", "C1", "C2", "F"}


@pytest.mark.parametrize(
    ("amps", "duty"), [(6, 10.0), (10, 16.6667), (16, 26.6667), (32, 53.3333), (51, 85.0), (63, 89.2), (80, 96.0)]
)
def test_duty_from_current(amps, duty):
    assert duty_for_current(amps) == pytest.approx(duty, abs=1e-3)
    assert current_for_duty(duty_for_current(amps)) == pytest.approx(amps, abs=1e-3)


def test_no_duty_below_six_amps_and_capped_at_eighty():
    assert duty_for_current(5.99) is None
    assert duty_for_current(100) == duty_for_current(80)
    assert current_for_duty(5.0) == 0.0  # digital communication, not a current
    assert current_for_duty(100.0) == 0.0


def test_diode_missing_blocks_closing_and_is_a_session_fault():
    line = enter("B2")
    line.diode = False
    out = line.tick(cp=C)
    assert not out.contactor
    assert Fault.DIODE in out.faults
    assert out.pilot.mode is F
    # After F's minimum the line goes to X1 to watch for the unplug, the fault stays latched.
    out = line.run(TIMING.state_f_min_s + 0.1, cp=B)
    assert out.pilot.mode is X1 and Fault.DIODE in out.faults
    out = line.tick(cp=A)
    assert out.faults == frozenset()


def test_state_f_held_at_least_300ms_after_a_short_fault():
    line = enter("C2")
    line.tick(conditions=frozenset({Fault.RCD}))
    out = line.tick(0.1, conditions=frozenset())
    assert out.pilot.mode is F
    out = line.tick(0.1)
    assert out.pilot.mode is F
    out = line.tick(0.15)  # 350 ms after the fault; RCD ends the session: X1, latched
    assert out.pilot.mode is X1
    assert out.faults == {Fault.RCD}


def test_condition_fault_clears_and_charging_resumes():
    line = enter("C2")
    line.tick(conditions=frozenset({Fault.METER_OFFLINE}))
    line.run(1.0)
    out = line.tick(conditions=frozenset())
    assert out.pilot.mode is X1  # F lasted 1 s: look at the line once in X1
    out = line.tick()
    assert out.pilot.mode is X2 and not out.contactor
    out = line.tick()
    assert out.contactor and out.faults == frozenset()


def test_force_open_six_seconds_after_pwm_off_when_ev_stays_in_c():
    line = enter("C2")
    out = line.run(TIMING.force_open_after_x1_s - 0.1, charge_allowed=False)
    assert out.contactor and out.pilot.mode is X1
    out = line.run(0.2)
    assert not out.contactor


def test_duty_changes_at_most_every_five_seconds():
    line = enter("C2")
    first = line.state.pilot.duty_percent
    line.run(5.0)
    out = line.tick(limit_a=10.0)
    assert out.pilot.duty_percent == pytest.approx(duty_for_current(10.0))
    out = line.run(2.0, limit_a=32.0)
    assert out.pilot.duty_percent == pytest.approx(duty_for_current(10.0))  # held
    out = line.run(3.1)
    assert out.pilot.duty_percent == pytest.approx(duty_for_current(32.0))
    assert first == pytest.approx(duty_for_current(16.0))


def test_pause_and_resume_are_immediate():
    line = enter("C2")
    out = line.tick(limit_a=4.0)
    assert out.pilot.mode is X1
    out = line.tick(limit_a=16.0)
    assert out.pilot.mode is X2


def test_overcurrent_after_seven_seconds():
    line = enter("C2")  # offered 16 A: trip above 16*1.1+0.5 = 18.1 A
    out = line.run(6.9, current_a=18.0)
    assert out.contactor
    out = line.run(6.9, current_a=19.0)
    assert out.contactor
    out = line.run(0.3)
    assert not out.contactor and Fault.OVERCURRENT in out.faults


def test_overcurrent_grace_after_decrease():
    line = enter("C2")
    line.run(5.0, current_a=16.0)
    out = line.tick(limit_a=8.0)  # the EV may keep drawing 16 A for 5 s
    assert out.offered_a == pytest.approx(8.0)
    out = line.run(9.0, current_a=16.0)
    assert out.contactor  # grace 5 s, then 7 s of over-current: not yet
    out = line.run(4.0)
    assert not out.contactor and Fault.OVERCURRENT in out.faults


def test_welded_contactor_detected_after_open_command():
    line = enter("C2")
    line.feedback = True
    out = line.tick(cp=B)
    assert not out.contactor and out.faults == frozenset()
    out = line.run(TIMING.weld_detect_s + 0.05)
    assert Fault.CONTACTOR_WELD in out.faults and out.pilot.mode is F
    line.feedback = None  # the weld is gone (repaired / released)
    out = line.run(0.5, cp=A)
    assert out.faults == frozenset()


def test_contactor_that_does_not_close():
    line = enter("B2")
    line.feedback = False
    out = line.tick(cp=C)
    assert out.contactor
    out = line.run(TIMING.stuck_open_detect_s + 0.05)
    assert Fault.CONTACTOR_STUCK_OPEN in out.faults and not out.contactor


def test_lock_sequencing():
    line = enter("B1")
    out = line.tick(has_lock=True, lock_feedback=False)
    assert not out.lock
    out = line.tick(charge_allowed=True, lock_feedback=True)
    assert out.lock
    out = line.tick(cp=C)
    assert out.contactor
    out = line.tick(charge_allowed=False)
    assert out.lock  # still locked while the contactor is closed
    out = line.tick(cp=B)
    assert not out.contactor and not out.lock


def test_held_lock_stays_locked_after_the_ev_leaves_but_not_through_a_fault():
    line = enter("B1")
    out = line.tick(has_lock=True, lock_feedback=True, charge_allowed=True, hold_lock=True)
    assert out.lock
    out = line.tick(cp=A, charge_allowed=False)
    assert out.lock and not out.contactor  # the owner comes back for the cable (OCPP 4.10)
    out = line.tick(hold_lock=False)
    assert not out.lock
    line.tick(hold_lock=True)
    out = line.tick(conditions=frozenset({Fault.OVERTEMP}))
    out = line.run(TIMING.unlock_after_f_s + 0.2)
    assert not out.lock, "a fault still frees the cable after 5 s"


def test_close_waits_for_lock_feedback():
    line = enter("B1")
    line.tick(has_lock=True, lock_feedback=False, charge_allowed=True)
    out = line.tick(cp=C)
    assert not out.contactor
    out = line.tick(lock_feedback=True)
    assert out.contactor


def test_lock_that_does_not_engage_is_a_fault():
    line = enter("B1")
    line.tick(has_lock=True, lock_feedback=False, charge_allowed=True)
    out = line.run(TIMING.lock_detect_s + 0.1)
    assert Fault.LOCK in out.faults


def test_unlock_after_five_seconds_in_f():
    line = enter("B1")
    line.tick(has_lock=True, lock_feedback=True, charge_allowed=True)
    out = line.tick(conditions=frozenset({Fault.OVERTEMP}))
    assert out.lock and out.pilot.mode is F
    out = line.run(TIMING.unlock_after_f_s - 0.2)
    assert out.lock
    out = line.run(0.4)
    assert not out.lock


def test_same_inputs_same_outputs():
    a, b = enter("C2"), enter("C2")
    for line in (a, b):
        line.run(3.0, limit_a=10.0, current_a=9.0)
    assert a.state == b.state and a.out == b.out
