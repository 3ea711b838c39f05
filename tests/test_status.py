"""controller.status.connector_status as a table: what the station knows -> OCPP status + error.

Each row is one situation a wallbox is in; the expected column is the OCPP 1.6
ChargePointStatus the rules at the top of controller/status.py promise for it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.faults import CHARGING_FAULTS, FAULT_POLICY, Fault
from controller.realtime import ConnectorSnapshot
from controller.status import ConnectorStatus, StatusFacts, connector_status, first_fault
from hal.types import CpState, PilotCommand

S = ConnectorStatus
X1, X2, F = PilotCommand.x1(), PilotCommand.pwm(53.33), PilotCommand.state_f()


def snap(
    cp: CpState = CpState.A,
    pilot: PilotCommand = X1,
    contactor: bool = False,
    faults: frozenset[Fault] | set[Fault] = frozenset(),
    limit_a: float = 32.0,
) -> ConnectorSnapshot:
    return ConnectorSnapshot(
        connector=1,
        at=0.0,
        cp=cp,
        pilot=pilot,
        contactor=contactor,
        contactor_feedback=contactor,
        locked=False,
        offered_a=32.0 if pilot == X2 else 0.0,
        limit_a=limit_a,
        limit_stale=False,
        cable_a=None,
        temperature_c=35.0,
        faults=frozenset(faults),
    )


IDLE = snap()
PLUGGED = snap(CpState.B)
OFFERING = snap(CpState.B, X2)  # PWM on, EV not (yet) asking
CHARGING = snap(CpState.C, X2, contactor=True)

ROWS: list[tuple[str, StatusFacts, ConnectorStatus, Fault | None]] = [
    # name, facts, expected status, expected error
    ("no snapshot yet (loop not started)", StatusFacts(None), S.UNAVAILABLE, None),
    ("nothing plugged", StatusFacts(IDLE), S.AVAILABLE, None),
    ("EV plugged, no session", StatusFacts(PLUGGED), S.PREPARING, None),
    ("EV asks for power without a session", StatusFacts(snap(CpState.C)), S.PREPARING, None),
    ("token waits for a plug-in", StatusFacts(IDLE, waiting_token=True), S.PREPARING, None),
    ("plugged, ConnectionTimeOut passed", StatusFacts(PLUGGED, plug_timed_out=True), S.AVAILABLE, None),
    ("session, contactor closed", StatusFacts(CHARGING, in_session=True), S.CHARGING, None),
    ("session, PWM on, EV not drawing", StatusFacts(OFFERING, in_session=True), S.SUSPENDED_EV, None),
    ("session kept after the EV left", StatusFacts(IDLE, True, session_outlives_unplug=True), S.SUSPENDED_EV, None),
    ("session ending on unplug", StatusFacts(IDLE, in_session=True), S.AVAILABLE, None),
    (
        "session, EV in C but PWM still on, contactor open",
        StatusFacts(snap(CpState.C, X2), in_session=True),
        S.SUSPENDED_EV,
        None,
    ),
    (
        "session, nothing offered (limit < 6 A)",
        StatusFacts(snap(CpState.B, limit_a=3.0), in_session=True),
        S.SUSPENDED_EVSE,
        None,
    ),
    (
        "session, limit exactly 6 A",
        StatusFacts(snap(CpState.B, X2, limit_a=6.0), in_session=True),
        S.SUSPENDED_EV,
        None,
    ),
    # Authorized, the loop has not switched the PWM on yet: already offered, not an EVSE suspension.
    ("session, limit allows, PWM not on yet", StatusFacts(PLUGGED, in_session=True), S.SUSPENDED_EV, None),
    (
        "session, connector made inoperative",
        StatusFacts(PLUGGED, in_session=True, operative=False),
        S.SUSPENDED_EVSE,
        None,
    ),
    ("session whose EV just left", StatusFacts(snap(CpState.A), in_session=True), S.AVAILABLE, None),
    ("session ended, EV still plugged", StatusFacts(PLUGGED, finishing=True), S.FINISHING, None),
    (
        "finishing wins over a timed-out plug",
        StatusFacts(PLUGGED, finishing=True, plug_timed_out=True),
        S.FINISHING,
        None,
    ),
    ("finishing flag without an EV", StatusFacts(IDLE, finishing=True), S.AVAILABLE, None),
    ("reserved and idle", StatusFacts(IDLE, reserved=True), S.RESERVED, None),
    ("reserved, but the EV is already plugged", StatusFacts(PLUGGED, reserved=True), S.PREPARING, None),
    ("inoperative and idle", StatusFacts(IDLE, operative=False), S.UNAVAILABLE, None),
    ("inoperative with an EV plugged", StatusFacts(PLUGGED, operative=False), S.UNAVAILABLE, None),
    ("inoperative and reserved", StatusFacts(IDLE, operative=False, reserved=True), S.UNAVAILABLE, None),
    # A ChangeAvailability(Inoperative) during a session is Scheduled: the session keeps its status.
    (
        "inoperative scheduled, session charging",
        StatusFacts(CHARGING, in_session=True, operative=False),
        S.CHARGING,
        None,
    ),
    # Faults that stop charging win over everything, with the fault as the error.
    (
        "RCD trip while charging",
        StatusFacts(snap(CpState.C, F, faults={Fault.RCD}), in_session=True),
        S.FAULTED,
        Fault.RCD,
    ),
    ("meter offline, idle", StatusFacts(snap(faults={Fault.METER_OFFLINE})), S.FAULTED, Fault.METER_OFFLINE),
    (
        "weld after the session ended",
        StatusFacts(snap(CpState.B, faults={Fault.CONTACTOR_WELD}), finishing=True),
        S.FAULTED,
        Fault.CONTACTOR_WELD,
    ),
    ("fault while inoperative", StatusFacts(snap(faults={Fault.OVERTEMP}), operative=False), S.FAULTED, Fault.OVERTEMP),
    ("fault while reserved", StatusFacts(snap(faults={Fault.DIODE}), reserved=True), S.FAULTED, Fault.DIODE),
    # Several faults: the FAULT_POLICY table order is the priority.
    ("RCD and meter offline", StatusFacts(snap(faults={Fault.METER_OFFLINE, Fault.RCD})), S.FAULTED, Fault.RCD),
    (
        "overtemp and overcurrent",
        StatusFacts(snap(faults={Fault.OVERCURRENT, Fault.OVERTEMP})),
        S.FAULTED,
        Fault.OVERTEMP,
    ),
    # A reader failure is reported but does not stop charging.
    (
        "reader failure while charging",
        StatusFacts(replace(CHARGING, faults=frozenset({Fault.READER})), in_session=True),
        S.CHARGING,
        Fault.READER,
    ),
    ("reader failure while idle", StatusFacts(snap(faults={Fault.READER})), S.AVAILABLE, Fault.READER),
    ("reader failure and RCD", StatusFacts(snap(faults={Fault.READER, Fault.RCD})), S.FAULTED, Fault.RCD),
]


@pytest.mark.parametrize(("facts", "status", "error"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_connector_status_table(facts: StatusFacts, status: ConnectorStatus, error: Fault | None) -> None:
    assert connector_status(facts) == (status, error)


@pytest.mark.parametrize("fault", sorted(CHARGING_FAULTS), ids=str)
def test_every_charging_fault_is_faulted_even_in_a_session(fault: Fault) -> None:
    facts = StatusFacts(snap(CpState.C, F, faults={fault}), in_session=True)
    assert connector_status(facts) == (S.FAULTED, fault)


def test_only_the_reader_fault_lets_charging_go_on() -> None:
    assert set(FAULT_POLICY) - CHARGING_FAULTS == {Fault.READER}


def test_first_fault_follows_the_table_order() -> None:
    order = list(FAULT_POLICY)
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            assert first_fault(frozenset({a, b})) is a
    assert first_fault(frozenset()) is None


def test_status_values_are_ocpp16_spelling() -> None:
    assert {s.value for s in ConnectorStatus} == {
        "Available",
        "Preparing",
        "Charging",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
        "Reserved",
        "Unavailable",
        "Faulted",
    }
