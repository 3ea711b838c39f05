"""The OCPP 2.0.1 ConnectorStatus and AvailabilityState as tables: what the station knows (the
core's facts of one EVSE, through the view it publishes) -> the status StatusNotification reports
(controller/ocpp/v201/availability.py); the station's AvailabilityState from its EVSEs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ocpp.v201.enums import ConnectorStatusEnumType as S
from test_ocpp16_status import CHARGING, IDLE, OFFERING, PLUGGED, session, snap

from controller.core.charging_state import EvseFacts, charging_state, first_fault, indication, occupancy
from controller.core.view import EvseView, StationView
from controller.faults import Fault
from controller.ocpp.v201.availability import connector_status, station_state
from hal.types import CpState


def view(facts: EvseFacts, evse: int = 1) -> EvseView:
    snapshot = facts.snapshot
    faults = snapshot.faults if snapshot is not None else frozenset()
    return EvseView(
        id=evse, phases=3, max_current_a=32.0, snapshot=snapshot, meter=None,
        ev_connected=snapshot is not None and snapshot.cp is not CpState.A, authorization=None, transaction=None,
        charging_state=charging_state(facts), indication=indication(facts), occupancy=occupancy(facts),
        operative=facts.operative, inoperative_reasons=frozenset(), scheduled_inoperative=False,
        finishing=facts.finishing, stopping=facts.stopping, plug_timed_out=facts.plug_timed_out,
        token_waiting=facts.token_waiting, reserved=facts.reserved, faults=faults, fault=first_fault(faults),
        paused=False, energy_cap_wh=None, limit=None, has_lock=False,
    )  # fmt: skip


ROWS: list[tuple[str, EvseFacts, S | None]] = [
    ("no snapshot yet: nothing to report", session(None), None),
    ("nothing plugged", session(IDLE), S.available),
    ("EV plugged, nobody authorized", session(PLUGGED), S.occupied),
    ("a token waits for an EV: nothing plugged in (E02.FR.05)", session(IDLE, waiting_token=True), S.available),
    ("plugged, EVConnectionTimeOut passed: the cable is still in", session(PLUGGED, plug_timed_out=True), S.occupied),
    ("charging", session(CHARGING, in_session=True), S.occupied),
    ("transaction, EV not drawing", session(OFFERING, in_session=True), S.occupied),
    ("transaction kept after the EV left", session(IDLE, True, session_outlives_unplug=True), S.occupied),
    ("transaction ended, EV still plugged", session(PLUGGED, finishing=True), S.occupied),
    ("reserved, idle", session(IDLE, reserved=True), S.reserved),
    ("reserved, an EV without the reserving token (G01.FR.09)", session(PLUGGED, reserved=True), S.reserved),
    ("inoperative", session(IDLE, operative=False), S.unavailable),
    ("inoperative, EV plugged", session(PLUGGED, operative=False), S.unavailable),
    ("a fault that stops charging", session(snap(faults={Fault.RCD})), S.faulted),
    ("a fault during a transaction", session(replace(CHARGING, faults=frozenset({Fault.OVERTEMP})), True), S.faulted),
    ("a reader fault does not stop charging", session(snap(faults={Fault.READER})), S.available),
]


@pytest.mark.parametrize(("name", "facts", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_connector_status(name: str, facts: EvseFacts, expected: S | None) -> None:
    assert connector_status(view(facts)) == expected


def station(*evses: EvseFacts, operative: bool = True) -> StationView:
    views = tuple(view(f, n) for n, f in enumerate(evses, start=1))
    return StationView(evses=views, pending=None, operative=operative, reservations=())


def test_station_availability_state() -> None:
    assert station_state(station(session(IDLE), session(PLUGGED))) is S.available
    down = session(IDLE, operative=False)
    assert station_state(station(down, down, operative=False)) is S.unavailable
    assert station_state(station(down, down)) is S.unavailable
    assert station_state(station(down, session(IDLE))) is S.available
    # inoperative as a whole, but a transaction still runs on EVSE 1: it goes down at its end (G04.FR.06)
    assert station_state(station(session(CHARGING, in_session=True), down, operative=False)) is S.available
    faulted = session(snap(faults={Fault.RCD}))
    assert station_state(station(faulted, faulted)) is S.faulted
    assert station_state(station(faulted, down)) is S.unavailable
    assert station_state(station(faulted, session(IDLE))) is S.available
