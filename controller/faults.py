"""The faults the charging core knows, and what each one does, as one table.

Rules kept here:
- Every fault opens the contactor at once and drives the pilot to state F for at
  least ``STATE_F_MIN_S`` (iec61851.py enforces that; this table says what comes after).
- A *condition* fault lasts exactly as long as its cause is observed; the session is
  suspended meanwhile and resumes when it clears (the meter, the RCD input, the
  temperature going back to normal). A *session* fault is latched until the EV is
  unplugged and ends the session: the EV or the station proved unfit for this plug-in.
- Each fault that ends a session names its ``stop_cause``; how a protocol reports a fault
  (1.6 errorCode, 2.0.1 events) is its front end's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from controller.core.vocabulary import StopCause


class Fault(StrEnum):
    RCD = "rcd"
    DIODE = "diode"
    PILOT = "pilot"  # CP reads E (short) or a level in no band
    CONTACTOR_WELD = "contactor_weld"
    CONTACTOR_STUCK_OPEN = "contactor_stuck_open"
    METER_OFFLINE = "meter_offline"
    OVERTEMP = "overtemp"
    OVERCURRENT = "overcurrent"
    CABLE = "cable"  # PP resistor out of range
    LOCK = "lock"  # connector lock did not reach its position
    READER = "reader"  # token reader failed (station keeps charging)


@dataclass(frozen=True)
class FaultPolicy:
    ends_session: bool
    stop_cause: StopCause = StopCause.OTHER  # why the transaction ended, when the fault ends it
    stops_charging: bool = True


FAULT_POLICY: dict[Fault, FaultPolicy] = {
    Fault.RCD: FaultPolicy(ends_session=True, stop_cause=StopCause.GROUND_FAULT),
    Fault.DIODE: FaultPolicy(ends_session=True, stop_cause=StopCause.OTHER),
    Fault.PILOT: FaultPolicy(ends_session=False),
    Fault.CONTACTOR_WELD: FaultPolicy(ends_session=True, stop_cause=StopCause.OTHER),
    Fault.CONTACTOR_STUCK_OPEN: FaultPolicy(ends_session=True, stop_cause=StopCause.OTHER),
    Fault.METER_OFFLINE: FaultPolicy(ends_session=False),
    Fault.OVERTEMP: FaultPolicy(ends_session=False),
    Fault.OVERCURRENT: FaultPolicy(ends_session=True, stop_cause=StopCause.OVERCURRENT_FAULT),
    Fault.CABLE: FaultPolicy(ends_session=False),
    Fault.LOCK: FaultPolicy(ends_session=True, stop_cause=StopCause.OTHER),
    Fault.READER: FaultPolicy(ends_session=False, stops_charging=False),
}

# Latched until the EV is unplugged (state A seen while not driving F).
SESSION_FAULTS = frozenset(f for f, p in FAULT_POLICY.items() if p.ends_session)
CHARGING_FAULTS = frozenset(f for f, p in FAULT_POLICY.items() if p.stops_charging)
