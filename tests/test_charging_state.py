"""controller.core.charging_state in the core's own words: the charging state (2.0.1 words) and
the occupancy of an EVSE, as tables (the 1.6 status built on them: test_ocpp16_status.py)."""

from __future__ import annotations

import pytest

from controller.core.charging_state import EvseFacts, charging_state, occupancy
from controller.core.vocabulary import ChargingState, Occupancy
from controller.faults import Fault
from controller.realtime import ConnectorSnapshot
from hal.types import CpState, PilotCommand

S, OC = ChargingState, Occupancy


def snap(cp: CpState = CpState.B, contactor: bool = False, limit_a: float = 16.0, faults=frozenset()):  # type: ignore[no-untyped-def]
    pilot = PilotCommand.pwm(26.67) if cp is not CpState.A else PilotCommand.x1()
    return ConnectorSnapshot(1, 0.0, cp, pilot, contactor, contactor, False, 16.0, limit_a, False, None, 30.0,
                             frozenset(faults))  # fmt: skip


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (EvseFacts(None), None),
        (EvseFacts(snap(CpState.A), in_transaction=True, authorized=True), S.IDLE),
        (EvseFacts(snap(CpState.C, contactor=True), in_transaction=True, authorized=True), S.CHARGING),
        (EvseFacts(snap()), S.EV_CONNECTED),  # plugged, nobody authorized
        (EvseFacts(snap(), in_transaction=True), S.EV_CONNECTED),  # a transaction started at EVConnected
        (EvseFacts(snap(), in_transaction=True, authorized=True), S.SUSPENDED_EV),  # offered, not taken
        (EvseFacts(snap(limit_a=5.0), in_transaction=True, authorized=True), S.SUSPENDED_EVSE),
        (EvseFacts(snap(), in_transaction=True, authorized=True, operative=False), S.SUSPENDED_EVSE),
        (EvseFacts(snap(faults={Fault.OVERTEMP}), in_transaction=True, authorized=True), S.SUSPENDED_EVSE),
        (EvseFacts(snap(), authorized=True), S.SUSPENDED_EV),  # authorized, its transaction being written
    ],
)
def test_charging_state(facts: EvseFacts, expected: ChargingState | None) -> None:
    assert charging_state(facts) is expected


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (EvseFacts(None), None),
        (EvseFacts(snap(CpState.A)), OC.AVAILABLE),
        (EvseFacts(snap(CpState.A), reserved=True), OC.AVAILABLE),  # reservations take no part
        (EvseFacts(snap()), OC.OCCUPIED),  # an EV waits
        (EvseFacts(snap(), plug_timed_out=True), OC.AVAILABLE),  # ... no longer
        (EvseFacts(snap(), finishing=True, plug_timed_out=True), OC.OCCUPIED),  # its transaction ended
        (EvseFacts(snap(CpState.A), token_waiting=True), OC.OCCUPIED),
        (EvseFacts(snap(CpState.A), in_transaction=True), OC.OCCUPIED),  # goes on after its EV left
        (EvseFacts(snap(CpState.A), in_transaction=True, stopping=True), OC.AVAILABLE),  # ended at the unplug
        (EvseFacts(snap(CpState.A), operative=False), OC.UNAVAILABLE),
        (EvseFacts(snap(), in_transaction=True, operative=False), OC.OCCUPIED),  # scheduled: after it
        (EvseFacts(snap(faults={Fault.RCD}), in_transaction=True), OC.FAULTED),
        (EvseFacts(snap(CpState.A, faults={Fault.READER})), OC.AVAILABLE),  # charging goes on without a reader
    ],
)
def test_occupancy(facts: EvseFacts, expected: Occupancy | None) -> None:
    assert occupancy(facts) is expected
