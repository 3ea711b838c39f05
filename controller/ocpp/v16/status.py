"""How OCPP 1.6 reports the station: ChargePointStatus and ChargePointErrorCode, as projections
of the core's views.

Rules kept here (OCPP 1.6 edition 2 sections 4.9, 7.6, 7.7):
- A connector's status is a pure function of its view: the indication the core published
  (Idle -> Available, Waiting -> Preparing, Done -> Finishing, Charging, Reserved,
  Unavailable, Faulted) with Suspended split by the charging state: SuspendedEVSE while the
  EVSE offers nothing, else SuspendedEV (also for a transaction kept after its EV left,
  StopTransactionOnEVSideDisconnect = false). Before the loop sampled it: Unavailable.
- Its errorCode: the fault the core reports first, from ``ERROR_CODE`` (one per fault), with
  the status; NoError without a fault (a reader failure is reported while charging goes on).
- Connector 0 (the charge point as a whole): Unavailable when every connector is inoperative,
  Faulted when every connector is Faulted (with the first connector's error), else Available.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from controller.core.view import EvseView
from controller.core.vocabulary import ChargingState
from controller.faults import Fault
from hal.types import Indication


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
_STATUS = {
    Indication.IDLE: ConnectorStatus.AVAILABLE,
    Indication.WAITING: ConnectorStatus.PREPARING,
    Indication.CHARGING: ConnectorStatus.CHARGING,
    Indication.DONE: ConnectorStatus.FINISHING,
    Indication.RESERVED: ConnectorStatus.RESERVED,
    Indication.UNAVAILABLE: ConnectorStatus.UNAVAILABLE,
    Indication.FAULTED: ConnectorStatus.FAULTED,
    Indication.OFF: ConnectorStatus.UNAVAILABLE,
}
Status = tuple[ConnectorStatus, str]  # status, errorCode


def error_code(fault: Fault | None) -> str:
    return ERROR_CODE[fault] if fault is not None else NO_ERROR


def connector_status(view: EvseView) -> Status:
    shown = view.indication
    if shown is None:
        return ConnectorStatus.UNAVAILABLE, NO_ERROR
    if shown is Indication.SUSPENDED:
        evse_side = view.charging_state is ChargingState.SUSPENDED_EVSE
        return (ConnectorStatus.SUSPENDED_EVSE if evse_side else ConnectorStatus.SUSPENDED_EV), error_code(view.fault)
    return _STATUS[shown], error_code(view.fault)


def station_status(views: Sequence[EvseView]) -> Status:
    """Connector 0."""
    if views and not any(v.operative for v in views):
        return ConnectorStatus.UNAVAILABLE, NO_ERROR
    if views and all(connector_status(v)[0] is ConnectorStatus.FAULTED for v in views):
        return ConnectorStatus.FAULTED, connector_status(views[0])[1]  # the faults they share
    return ConnectorStatus.AVAILABLE, NO_ERROR
