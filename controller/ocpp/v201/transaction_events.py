"""How the core's transactions read as OCPP 2.0.1 TransactionEvents: pure tables and payloads
(part 2 E01-E10, "Clarification for optional fields in TransactionRequest", TriggerReasonEnumType,
ReasonEnumType).

Rules kept here:
- Started: triggerReason RemoteStart for a remote start's transaction (F01.FR.19), else its start
  point's (``STARTED_BY``); PowerPathClosed is the later of plug-in and authorization.
- Updated: the event inside the transaction names it (CablePluggedIn, EVCommunicationLost,
  Authorized / RemoteStart, StopAuthorized / RemoteStop / Deauthorized, ChargingStateChanged,
  AbnormalCondition, MeterValuePeriodic, MeterValueClock, Trigger).
- Ended: the stop cause names it (``ENDED_BY``; faults, power loss, reboot and emergency stop
  are AbnormalCondition, E06.FR.16). An end that follows a deauthorization already told in an
  Updated is named by what ended it: EVCommunicationLost when the EV left, else
  ChargingStateChanged. stoppedReason is the cause (1.6-only causes mapped: Soft / HardReset
  -> ImmediateReset, anything 2.0.1 lacks -> Other).
- ``evse`` goes with the first event that knows the EVSE (E01.FR.16): the Started when the
  EVSE is known, the event of each plug-in inside the transaction. ``idToken`` goes with the
  event of the authorization, and with the event that ends it when a token stopped it
  (E07.FR.02). chargingState is in every event that reports a change of it (E02.FR.13).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.clock import iso
from controller.core.ledger import Transaction
from controller.core.vocabulary import StopCause, Token, TxPoint
from controller.ocpp.v201.enums import ChargingStateEnumType as ChargingStateEnum
from controller.ocpp.v201.enums import ReasonEnumType
from controller.ocpp.v201.enums import TriggerReasonEnumType as TriggerReason

Payload = dict[str, Any]
ACTION = "TransactionEvent"
STARTED_BY = {
    TxPoint.PARKING_BAY_OCCUPANCY: TriggerReason.ev_detected,
    TxPoint.EV_CONNECTED: TriggerReason.cable_plugged_in,
    TxPoint.AUTHORIZED: TriggerReason.authorized,
    TxPoint.POWER_PATH_CLOSED: TriggerReason.authorized,  # unless the plug-in came last
    TxPoint.ENERGY_TRANSFER: TriggerReason.charging_state_changed,
}
DEAUTHORIZED_BY = {
    StopCause.LOCAL: TriggerReason.stop_authorized,
    StopCause.MASTER_PASS: TriggerReason.stop_authorized,
    StopCause.REMOTE: TriggerReason.remote_stop,
    StopCause.DEAUTHORIZED: TriggerReason.deauthorized,
    StopCause.EV_DISCONNECTED: TriggerReason.ev_communication_lost,
}
ENDED_BY = {
    **DEAUTHORIZED_BY,
    StopCause.LOCAL_OUT_OF_CREDIT: TriggerReason.deauthorized,
    StopCause.IMMEDIATE_RESET: TriggerReason.reset_command,
    StopCause.SOFT_RESET: TriggerReason.reset_command,
    StopCause.HARD_RESET: TriggerReason.reset_command,
    StopCause.TIMEOUT: TriggerReason.ev_connect_timeout,
    StopCause.ENERGY_LIMIT_REACHED: TriggerReason.energy_limit_reached,
    StopCause.TIME_LIMIT_REACHED: TriggerReason.time_limit_reached,
    StopCause.STOPPED_BY_EV: TriggerReason.charging_state_changed,
    StopCause.SOC_LIMIT_REACHED: TriggerReason.charging_state_changed,
    StopCause.UNLOCK_COMMAND: TriggerReason.unlock_command,
}  # every other cause (faults, power loss, reboot, emergency stop, other): AbnormalCondition
REASONS = frozenset(r.value for r in ReasonEnumType)
STOPPED_BY_TOKEN = frozenset({StopCause.LOCAL, StopCause.MASTER_PASS})


def stopped_reason(cause: StopCause | None) -> str:
    if cause in (StopCause.SOFT_RESET, StopCause.HARD_RESET):
        return ReasonEnumType.immediate_reset.value
    return cause.value if cause is not None and cause.value in REASONS else ReasonEnumType.other.value


def ended_by(cause: StopCause | None, deauthorization_told: bool, ev_connected: bool) -> TriggerReason:
    if deauthorization_told and cause in DEAUTHORIZED_BY:
        return TriggerReason.charging_state_changed if ev_connected else TriggerReason.ev_communication_lost
    return ENDED_BY.get(cause or StopCause.OTHER, TriggerReason.abnormal_condition)


def ended_state(ev_connected: bool) -> str:
    return (ChargingStateEnum.ev_connected if ev_connected else ChargingStateEnum.idle).value


def id_token(token: Token) -> Payload:
    return {"idToken": token.id, "type": token.type.value}


def evse_field(evse: int) -> Payload:
    return {"id": evse, "connectorId": 1}  # one connector per EVSE


def transaction_event(
    event_type: str,
    trigger: TriggerReason,
    tx: Transaction,
    at: datetime,
    *,
    charging_state: str | None = None,
    stopped: StopCause | None = None,
    remote_start_id: int | None = None,
    evse: int | None = None,
    token: Token | None = None,
    reservation_id: int | None = None,
    meter_values: list[Payload] | None = None,
) -> Payload:
    """A TransactionEvent without seqNo and offline (the journal stamps those as it queues it)."""
    info: Payload = {"transactionId": tx.id}
    if charging_state is not None:
        info["chargingState"] = charging_state
    if event_type == "Ended":
        info["stoppedReason"] = stopped_reason(stopped)
    if remote_start_id is not None:
        info["remoteStartId"] = remote_start_id
    payload: Payload = {"eventType": event_type, "timestamp": iso(at), "triggerReason": trigger.value,
                        "transactionInfo": info}  # fmt: skip
    if evse is not None:
        payload["evse"] = evse_field(evse)
    if token is not None:
        payload["idToken"] = id_token(token)
    if reservation_id is not None:
        payload["reservationId"] = reservation_id
    if meter_values:
        payload["meterValue"] = meter_values
    return payload
