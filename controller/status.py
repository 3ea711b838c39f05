"""Connector status from what the station knows: one pure function.

Rules kept here (OCPP 1.6 ChargePointStatus wording; 2.0.1 maps these to its own):
- Faulted whenever a fault stops charging, even during a session.
- Charging while the contactor is closed; SuspendedEV while power is offered (the
  limit allows at least 6 A) but the EV does not take it; SuspendedEVSE while a session
  runs and the limit pauses it. "Offered" comes from the limit, not from the pilot of
  the last tick, so the instant between authorization and PWM-on is not announced.
- Once the EV is unplugged (A) the ending session no longer decides the status, unless the
  session outlives the unplug (StopTransactionOnEVSideDisconnect = false): SuspendedEV.
- Finishing after a session ended until the EV is unplugged; Preparing while an EV is
  plugged or a token waits for one; Reserved/Unavailable only when idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from controller.faults import CHARGING_FAULTS, FAULT_POLICY, Fault
from controller.iec61851 import MIN_CURRENT_A
from controller.realtime import ConnectorSnapshot
from hal.types import CpState


class ConnectorStatus(StrEnum):
    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


@dataclass(frozen=True)
class StatusFacts:
    snapshot: ConnectorSnapshot | None
    in_session: bool = False
    finishing: bool = False  # a session ended and the EV has not left yet
    waiting_token: bool = False  # an authorized token waits for a plug-in
    plug_timed_out: bool = False  # plugged, never authorized, ConnectionTimeOut passed
    operative: bool = True
    reserved: bool = False
    session_outlives_unplug: bool = False  # StopTransactionOnEVSideDisconnect = false


def first_fault(faults: frozenset[Fault]) -> Fault | None:
    """The fault reported when several are active: the table's order is the priority."""
    return next((f for f in FAULT_POLICY if f in faults), None)


def connector_status(f: StatusFacts) -> tuple[ConnectorStatus, Fault | None]:
    snap = f.snapshot
    if snap is None:
        return ConnectorStatus.UNAVAILABLE, None
    stopping = snap.faults & CHARGING_FAULTS
    if stopping:
        return ConnectorStatus.FAULTED, first_fault(stopping)
    warning = first_fault(snap.faults)  # e.g. a reader failure: reported, not stopping
    if f.in_session and snap.cp is CpState.A and f.session_outlives_unplug:
        return ConnectorStatus.SUSPENDED_EV, warning  # 1.6 section 4.9: transaction kept, EV gone
    if f.in_session and snap.cp is not CpState.A:
        if snap.contactor:
            return ConnectorStatus.CHARGING, warning
        if f.operative and snap.limit_a >= MIN_CURRENT_A:
            return ConnectorStatus.SUSPENDED_EV, warning
        return ConnectorStatus.SUSPENDED_EVSE, warning
    if not f.operative:
        return ConnectorStatus.UNAVAILABLE, warning
    if snap.cp is not CpState.A:
        if f.finishing:
            return ConnectorStatus.FINISHING, warning
        if not f.plug_timed_out:
            return ConnectorStatus.PREPARING, warning
    if f.reserved:
        return ConnectorStatus.RESERVED, warning
    if f.waiting_token:
        return ConnectorStatus.PREPARING, warning
    return ConnectorStatus.AVAILABLE, warning
