"""``evsed check --hardware``: a guided self-test of a freshly wired box, with no EV plugged in.

Rules kept here:
- It works on any built ``Board`` through the HAL only, so it checks exactly the paths
  the daemon will use.
- Nothing dangerous: the relay is clicked only while the pilot reads state A (no EV),
  and every check ends with the contactor open and the pilot at X1, whatever failed.
- Each check prints one line, ``PASS`` / ``FAIL`` / ``SKIP`` / ``INFO``, saying what was
  measured; the exit status is 1 if any check failed. ``INFO`` lines are facts the
  builder should look at but that do not fail the box (a board that cannot drive -12 V).
- Waiting for hardware is polling with a deadline: there is nothing to wait on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from hal.board import Board, ConnectorHardware
from hal.errors import HardwareError
from hal.types import CpState, PilotCommand, PilotReading

SETTLE_S = 1.0  # pilot samples and relay feedback must follow within this


@dataclass(frozen=True)
class Check:
    verdict: str  # PASS | FAIL | SKIP | INFO
    what: str
    detail: str


def _wait(predicate: Callable[[], bool], timeout_s: float = SETTLE_S) -> float | None:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            return None
        time.sleep(0.005)
    return time.monotonic() - start


def _settled_reading(hw: ConnectorHardware, cmd: PilotCommand, ok: Callable[[PilotReading], bool]) -> PilotReading:
    """Command the pilot and return the first reading sampled after it that passes ``ok``, or the last one."""
    hw.pilot.command(cmd)
    since = time.monotonic()
    _wait(lambda: hw.pilot.read().at > since and ok(hw.pilot.read()))
    return hw.pilot.read()


def _levels(r: PilotReading) -> str:
    negative = "none" if r.negative_v is None else f"{r.negative_v:+.2f} V"
    return f"state {r.state.value}, positive {r.positive_v:+.2f} V, negative {negative}"


def check_pilot(hw: ConnectorHardware) -> list[Check]:
    out: list[Check] = []
    r = _settled_reading(hw, PilotCommand.x1(), lambda r: r.state is CpState.A)
    out.append(Check("PASS" if r.state is CpState.A else "FAIL", "CP at +12 V (X1), ADC levels", _levels(r)))
    r = _settled_reading(hw, PilotCommand.pwm(50.0), lambda r: r.negative_v is not None)
    pwm_ok = r.state is CpState.A and r.negative_v is not None and r.negative_v <= -10.5
    out.append(Check("PASS" if pwm_ok else "FAIL", "CP PWM 1 kHz 50 %", _levels(r)))
    r = _settled_reading(hw, PilotCommand.state_f(), lambda r: r.state is CpState.F)
    if r.state is CpState.F:
        out.append(Check("PASS", "CP at -12 V (state F)", _levels(r)))
    else:
        out.append(Check("INFO", "CP at -12 V (state F)", f"not reached ({_levels(r)}); boards without a -12 V drive"))
    return out


def check_relay(hw: ConnectorHardware) -> Check:
    what = "relay click with feedback"
    state = _settled_reading(hw, PilotCommand.x1(), lambda r: r.state is CpState.A).state
    if state is not CpState.A:
        return Check("SKIP", what, f"pilot reads state {state.value}, not A: unplug the EV first")
    if hw.contactor.feedback() is True:
        return Check("FAIL", what, "feedback reports closed while the coil is off: check wiring and *_active_low")
    try:
        hw.contactor.set_closed(True)
        if hw.contactor.feedback() is None:
            time.sleep(0.3)  # held closed long enough to hear the click
            return Check("INFO", what, "no feedback wired: you should have heard it click")
        closed_s = _wait(lambda: hw.contactor.feedback() is True)
    finally:
        hw.contactor.set_closed(False)
    opened_s = _wait(lambda: hw.contactor.feedback() is False)
    if closed_s is None:
        return Check("FAIL", what, f"feedback did not report closed within {SETTLE_S:.1f} s")
    if opened_s is None:
        return Check("FAIL", what, f"feedback still reports closed {SETTLE_S:.1f} s after opening: welded?")
    return Check("PASS", what, f"closed in {closed_s * 1000:.0f} ms, opened in {opened_s * 1000:.0f} ms")


def check_rcd(hw: ConnectorHardware) -> Check:
    if hw.rcd is None:
        return Check("SKIP", "RCD self-test", "no [connector.rcd] configured")
    result = hw.rcd.self_test()
    numbers = ", ".join(f"{k} {v}" for k, v in result.measurements.items())
    return Check("PASS" if result.passed else "FAIL", "RCD self-test", f"{result.detail} {numbers}".strip())


def check_cable(hw: ConnectorHardware) -> Check:
    if hw.cable is None:
        return Check("SKIP", "PP cable sense", "no [connector.cable] configured (tethered cable)")
    amps = hw.cable.ampacity_a()
    return Check("PASS", "PP cable sense", "no cable plugged" if amps is None else f"cable rated {amps:.0f} A")


def check_meter(hw: ConnectorHardware) -> Check:
    m = hw.meter.read()
    volts = "/".join(f"{v:.1f}" for v in m.voltage_v)
    amps = "/".join(f"{a:.2f}" for a in m.current_a)
    return Check("PASS", "meter read", f"{volts} V, {amps} A, {m.power_w:.0f} W, {m.energy_import_wh / 1000:.3f} kWh")


def run_checks(hw: ConnectorHardware) -> list[Check]:
    checks: list[Check] = []
    steps: list[tuple[str, Callable[[], list[Check]]]] = [
        ("pilot", lambda: check_pilot(hw)),
        ("relay", lambda: [check_relay(hw)]),
        ("RCD", lambda: [check_rcd(hw)]),
        ("cable", lambda: [check_cable(hw)]),
        ("meter", lambda: [check_meter(hw)]),
    ]
    try:
        for name, step in steps:
            try:
                checks.extend(step())
            except HardwareError as exc:
                checks.append(Check("FAIL", name, str(exc)))
    finally:
        hw.contactor.set_closed(False)
        hw.pilot.command(PilotCommand.x1())
    return checks


def hardware_check_main(board: Board, out: TextIO) -> int:
    """Run every check on every connector, print one line per check; 0 = all passed."""
    failed = 0
    print(f"Hardware check of a {board.kind!r} board. No EV must be plugged in.", file=out)
    for hw in board.connectors:
        for check in run_checks(hw):
            failed += check.verdict == "FAIL"
            print(f"{check.verdict:4}  connector {hw.id}: {check.what}: {check.detail}", file=out)
    print("all checks passed" if not failed else f"{failed} check(s) failed", file=out)
    return 1 if failed else 0
