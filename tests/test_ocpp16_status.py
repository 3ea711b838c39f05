"""The OCPP 1.6 ChargePointStatus as a table: what the station knows -> status + error.

Each row is one situation a wallbox is in (the core's facts of one EVSE); the expected column is
the 1.6 ChargePointStatus the v16 front end projects from the view the core publishes for it
(controller/core/charging_state.py, then controller/ocpp/v16/status.py), and the fault reported.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from controller.core.charging_state import EvseFacts, charging_state, first_fault, indication, occupancy
from controller.core.view import EvseView
from controller.core.vocabulary import FREE_VEND, StopCause
from controller.faults import CHARGING_FAULTS, FAULT_POLICY, Fault
from controller.ocpp.v16 import transactions
from controller.ocpp.v16.idtag import id_tag, token
from controller.ocpp.v16.status import ERROR_CODE, ConnectorStatus, error_code
from controller.ocpp.v16.status import connector_status as project
from controller.realtime import ConnectorSnapshot
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


def session(
    snapshot: ConnectorSnapshot | None,
    in_session: bool = False,
    *,
    finishing: bool = False,
    waiting_token: bool = False,
    plug_timed_out: bool = False,
    operative: bool = True,
    reserved: bool = False,
    session_outlives_unplug: bool = False,
) -> EvseFacts:
    """A 1.6 session is an authorized transaction; one that ends at the unplug is being ended then."""
    ending = in_session and snapshot is not None and snapshot.cp is CpState.A and not session_outlives_unplug
    return EvseFacts(
        snapshot=snapshot,
        in_transaction=in_session,
        authorized=in_session,
        stopping=ending,
        finishing=finishing,
        token_waiting=waiting_token,
        plug_timed_out=plug_timed_out,
        operative=operative,
        reserved=reserved,
    )


def connector_status(facts: EvseFacts) -> tuple[ConnectorStatus, Fault | None]:
    """The status the v16 front end reports for an EVSE with these facts, and the fault."""
    snap = facts.snapshot
    faults = snap.faults if snap is not None else frozenset()
    view = EvseView(
        id=1, phases=3, max_current_a=32.0, snapshot=snap, meter=None, ev_connected=False, authorization=None,
        transaction=None, charging_state=charging_state(facts), indication=indication(facts),
        occupancy=occupancy(facts), operative=facts.operative, inoperative_reasons=frozenset(),
        scheduled_inoperative=False, finishing=facts.finishing, stopping=facts.stopping,
        plug_timed_out=facts.plug_timed_out, token_waiting=facts.token_waiting, reserved=facts.reserved,
        faults=faults, fault=first_fault(faults), paused=False, energy_cap_wh=None, limit=None, has_lock=False,
    )  # fmt: skip
    status, code = project(view)
    return status, view.fault if code == error_code(view.fault) else None


ROWS: list[tuple[str, EvseFacts, ConnectorStatus, Fault | None]] = [
    # name, facts, expected status, expected error
    ("no snapshot yet (loop not started)", session(None), S.UNAVAILABLE, None),
    ("nothing plugged", session(IDLE), S.AVAILABLE, None),
    ("EV plugged, no session", session(PLUGGED), S.PREPARING, None),
    ("EV asks for power without a session", session(snap(CpState.C)), S.PREPARING, None),
    ("token waits for a plug-in", session(IDLE, waiting_token=True), S.PREPARING, None),
    ("plugged, ConnectionTimeOut passed", session(PLUGGED, plug_timed_out=True), S.AVAILABLE, None),
    ("session, contactor closed", session(CHARGING, in_session=True), S.CHARGING, None),
    ("session, PWM on, EV not drawing", session(OFFERING, in_session=True), S.SUSPENDED_EV, None),
    ("session kept after the EV left", session(IDLE, True, session_outlives_unplug=True), S.SUSPENDED_EV, None),
    ("session ending on unplug", session(IDLE, in_session=True), S.AVAILABLE, None),
    (
        "session, EV in C but PWM still on, contactor open",
        session(snap(CpState.C, X2), in_session=True),
        S.SUSPENDED_EV,
        None,
    ),
    (
        "session, nothing offered (limit < 6 A)",
        session(snap(CpState.B, limit_a=3.0), in_session=True),
        S.SUSPENDED_EVSE,
        None,
    ),
    (
        "session, limit exactly 6 A",
        session(snap(CpState.B, X2, limit_a=6.0), in_session=True),
        S.SUSPENDED_EV,
        None,
    ),
    # Authorized, the loop has not switched the PWM on yet: already offered, not an EVSE suspension.
    ("session, limit allows, PWM not on yet", session(PLUGGED, in_session=True), S.SUSPENDED_EV, None),
    (
        "session, connector made inoperative",
        session(PLUGGED, in_session=True, operative=False),
        S.SUSPENDED_EVSE,
        None,
    ),
    ("session whose EV just left", session(snap(CpState.A), in_session=True), S.AVAILABLE, None),
    ("session ended, EV still plugged", session(PLUGGED, finishing=True), S.FINISHING, None),
    (
        "finishing wins over a timed-out plug",
        session(PLUGGED, finishing=True, plug_timed_out=True),
        S.FINISHING,
        None,
    ),
    ("finishing flag without an EV", session(IDLE, finishing=True), S.AVAILABLE, None),
    ("reserved and idle", session(IDLE, reserved=True), S.RESERVED, None),
    ("reserved, but the EV is already plugged", session(PLUGGED, reserved=True), S.PREPARING, None),
    ("inoperative and idle", session(IDLE, operative=False), S.UNAVAILABLE, None),
    ("inoperative with an EV plugged", session(PLUGGED, operative=False), S.UNAVAILABLE, None),
    ("inoperative and reserved", session(IDLE, operative=False, reserved=True), S.UNAVAILABLE, None),
    # A ChangeAvailability(Inoperative) during a session is Scheduled: the session keeps its status.
    (
        "inoperative scheduled, session charging",
        session(CHARGING, in_session=True, operative=False),
        S.CHARGING,
        None,
    ),
    # Faults that stop charging win over everything, with the fault as the error.
    (
        "RCD trip while charging",
        session(snap(CpState.C, F, faults={Fault.RCD}), in_session=True),
        S.FAULTED,
        Fault.RCD,
    ),
    ("meter offline, idle", session(snap(faults={Fault.METER_OFFLINE})), S.FAULTED, Fault.METER_OFFLINE),
    (
        "weld after the session ended",
        session(snap(CpState.B, faults={Fault.CONTACTOR_WELD}), finishing=True),
        S.FAULTED,
        Fault.CONTACTOR_WELD,
    ),
    ("fault while inoperative", session(snap(faults={Fault.OVERTEMP}), operative=False), S.FAULTED, Fault.OVERTEMP),
    ("fault while reserved", session(snap(faults={Fault.DIODE}), reserved=True), S.FAULTED, Fault.DIODE),
    # Several faults: the FAULT_POLICY table order is the priority.
    ("RCD and meter offline", session(snap(faults={Fault.METER_OFFLINE, Fault.RCD})), S.FAULTED, Fault.RCD),
    (
        "overtemp and overcurrent",
        session(snap(faults={Fault.OVERCURRENT, Fault.OVERTEMP})),
        S.FAULTED,
        Fault.OVERTEMP,
    ),
    # A reader failure is reported but does not stop charging.
    (
        "reader failure while charging",
        session(replace(CHARGING, faults=frozenset({Fault.READER})), in_session=True),
        S.CHARGING,
        Fault.READER,
    ),
    ("reader failure while idle", session(snap(faults={Fault.READER})), S.AVAILABLE, Fault.READER),
    ("reader failure and RCD", session(snap(faults={Fault.READER, Fault.RCD})), S.FAULTED, Fault.RCD),
]


@pytest.mark.parametrize(("facts", "status", "error"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_connector_status_table(facts: EvseFacts, status: ConnectorStatus, error: Fault | None) -> None:
    assert connector_status(facts) == (status, error)


@pytest.mark.parametrize("fault", sorted(CHARGING_FAULTS), ids=str)
def test_every_charging_fault_is_faulted_even_in_a_session(fault: Fault) -> None:
    facts = session(snap(CpState.C, F, faults={fault}), in_session=True)
    assert connector_status(facts) == (S.FAULTED, fault)


def test_only_the_reader_fault_lets_charging_go_on() -> None:
    assert set(FAULT_POLICY) - CHARGING_FAULTS == {Fault.READER}


def test_first_fault_follows_the_table_order() -> None:
    order = list(FAULT_POLICY)
    for i, a in enumerate(order):
        for b in order[i + 1 :]:
            assert first_fault(frozenset({a, b})) is a
    assert first_fault(frozenset()) is None


def test_every_fault_has_one_error_code() -> None:
    assert set(ERROR_CODE) == set(Fault)
    assert error_code(None) == "NoError" and error_code(Fault.RCD) == "GroundFailure"


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


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (StopCause.LOCAL, "Local"),
        (StopCause.EV_DISCONNECTED, "EVDisconnected"),
        (StopCause.SOFT_RESET, "SoftReset"),
        (StopCause.IMMEDIATE_RESET, "HardReset"),
        (StopCause.GROUND_FAULT, "Other"),
        (StopCause.OVERCURRENT_FAULT, "Other"),
        (StopCause.TIMEOUT, "Other"),
        (StopCause.MASTER_PASS, "Other"),
        (None, "Other"),
    ],
)
def test_every_stop_cause_has_a_16_reason(cause: StopCause | None, reason: str) -> None:
    assert transactions.reason(cause) == reason
    assert set(transactions.REASON.values()) <= {r.value for r in StopCause}  # only 1.6 spellings


def test_free_vend_is_the_id_tag_freevend_on_the_wire() -> None:
    assert id_tag(FREE_VEND) == "FreeVend"
    assert id_tag(token("abc", "FLEET")) == "abc" and token("abc", "FLEET").group == "FLEET"
