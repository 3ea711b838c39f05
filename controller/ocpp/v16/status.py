"""How OCPP 1.6 reports the station's faults: the ChargePointErrorCode of each, as one table.

Rules kept here (OCPP 1.6 edition 2 section 7.6 ChargePointErrorCode):
- Every fault the core knows has exactly one error code; a connector without a fault reports
  NoError. Several faults: the core's fault order picks the one reported.
"""

from __future__ import annotations

from controller.faults import Fault

NO_ERROR = "NoError"
ERROR_CODE: dict[Fault, str] = {
    Fault.RCD: "GroundFailure",
    Fault.DIODE: "EVCommunicationError",
    Fault.PILOT: "EVCommunicationError",
    Fault.CONTACTOR_WELD: "PowerSwitchFailure",
    Fault.CONTACTOR_STUCK_OPEN: "PowerSwitchFailure",
    Fault.METER_OFFLINE: "PowerMeterFailure",
    Fault.OVERTEMP: "HighTemperature",
    Fault.OVERCURRENT: "OverCurrentFailure",
    Fault.CABLE: "EVCommunicationError",
    Fault.LOCK: "ConnectorLockFailure",
    Fault.READER: "ReaderFailure",
}


def error_code(fault: Fault | None) -> str:
    return ERROR_CODE[fault] if fault is not None else NO_ERROR
