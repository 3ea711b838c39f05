"""What an EVSE is doing, from what the station knows about it: three pure functions.

Rules kept here:
- ``charging_state`` (2.0.1 words): Idle without an EV; Charging while the contactor is
  closed; EVConnected while nobody is authorized; SuspendedEV while energy is offered (the
  limit allows at least 6 A, the EVSE is operative, no fault stops charging) but the EV does
  not take it; SuspendedEVSE otherwise. "Offered" comes from the limit, not from the pilot of
  the last tick, so the instant between authorization and PWM-on is not an EVSE suspension.
- ``indication`` (what the driver is shown, the HAL's words): Faulted whenever a fault stops
  charging; Charging / Suspended while a transaction runs with the EV there, or goes on after
  the EV left (not being ended); Unavailable when inoperative; Done after a transaction until the
  EV leaves; Waiting while an EV is plugged in (until the connection timeout passed without a
  token) or a token waits for one; Reserved only when idle; else Idle.
- ``occupancy`` is the indication without reservations, in four words: Faulted, Occupied
  (charging, suspended, done, waiting), Unavailable, Available.
- A transaction being ended (``stopping``) with its EV gone no longer occupies the EVSE.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.core.vocabulary import ChargingState, Occupancy
from controller.faults import CHARGING_FAULTS, FAULT_POLICY, Fault
from controller.iec61851 import MIN_CURRENT_A
from controller.realtime import ConnectorSnapshot
from hal.types import CpState, Indication


@dataclass(frozen=True)
class EvseFacts:
    snapshot: ConnectorSnapshot | None
    in_transaction: bool = False
    authorized: bool = False
    stopping: bool = False  # the transaction is being ended (its row is being written)
    finishing: bool = False  # a transaction ended and the EV has not left yet
    token_waiting: bool = False  # an authorized token waits for an EV
    plug_timed_out: bool = False  # plugged, nobody authorized within the connection timeout
    operative: bool = True
    reserved: bool = False  # shown as reserved (controller/core/reservations.py)


def first_fault(faults: frozenset[Fault]) -> Fault | None:
    """The fault reported when several are active: the table's order is the priority."""
    return next((f for f in FAULT_POLICY if f in faults), None)


def charging_state(f: EvseFacts) -> ChargingState | None:
    snap = f.snapshot
    if snap is None:
        return None
    if snap.cp is CpState.A:
        return ChargingState.IDLE
    if snap.contactor:
        return ChargingState.CHARGING
    if not f.authorized:
        return ChargingState.EV_CONNECTED
    offered = f.operative and snap.limit_a >= MIN_CURRENT_A and not snap.faults & CHARGING_FAULTS
    return ChargingState.SUSPENDED_EV if offered else ChargingState.SUSPENDED_EVSE


def _transaction_holds(f: EvseFacts, snap: ConnectorSnapshot) -> bool:
    """A transaction keeps the EVSE: its EV is there, or it goes on after the EV left."""
    return f.in_transaction and (snap.cp is not CpState.A or not f.stopping)


OCCUPANCY = {
    Indication.FAULTED: Occupancy.FAULTED,
    Indication.CHARGING: Occupancy.OCCUPIED,
    Indication.SUSPENDED: Occupancy.OCCUPIED,
    Indication.DONE: Occupancy.OCCUPIED,
    Indication.WAITING: Occupancy.OCCUPIED,
    Indication.UNAVAILABLE: Occupancy.UNAVAILABLE,
    Indication.RESERVED: Occupancy.AVAILABLE,
    Indication.IDLE: Occupancy.AVAILABLE,
    Indication.OFF: Occupancy.UNAVAILABLE,
}


def occupancy(f: EvseFacts) -> Occupancy | None:
    shown = indication(replace(f, reserved=False))
    return OCCUPANCY[shown] if shown is not None else None


def indication(f: EvseFacts) -> Indication | None:
    snap = f.snapshot
    if snap is None:
        return None
    if snap.faults & CHARGING_FAULTS:
        return Indication.FAULTED
    if _transaction_holds(f, snap):
        return Indication.CHARGING if snap.contactor and snap.cp is not CpState.A else Indication.SUSPENDED
    if not f.operative:
        return Indication.UNAVAILABLE
    if snap.cp is not CpState.A and f.finishing:
        return Indication.DONE
    if snap.cp is not CpState.A and not f.plug_timed_out:
        return Indication.WAITING
    if f.reserved:
        return Indication.RESERVED
    return Indication.WAITING if f.token_waiting else Indication.IDLE
