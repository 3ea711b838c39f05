"""TransactionEvent: every transaction of the core told to the CSMS, queued in the journal with the
change that makes it durable (part 2 E01-E07; E: the first pass, the transactions block
completes it).

Rules kept here:
- Started and Ended (and an Updated for an EVSE or a token bound to a running transaction)
  are queued by the ledger's hook, in the SQLite transaction of the ledger's change; what the
  ledger does not store (a deauthorization, a charging state) is queued at the core's event,
  submitted to the database thread at once, so the events keep their order.
- seqNo counts per transaction from 0, kept in SQLite (``ocpp201_tx_seq``) and taken in the
  SQLite transaction that queues the event; ``offline`` is true for an event queued while
  the link is down. transactionId is the core's UUID.
- triggerReason (``STARTED_BY``, ``UPDATED_BY``, ``ENDED_BY``): from the start point (the later
  of plug-in and authorization for PowerPathClosed; RemoteStart for a remote start), the
  event inside the transaction, the stop cause. An end that follows the deauthorization
  already told (StopAuthorized / RemoteStop / Deauthorized) is told by what ended it:
  EVCommunicationLost when the EV left, else ChargingStateChanged.
- ``evse`` only in the first event that knows the EVSE (E01.FR.16); ``idToken`` in the event
  of the authorization (Started with a token, Updated Authorized) and in StopAuthorized (the
  token that stopped it: the owner's, a group member's, a master pass, E07.FR.02), ``remoteStartId`` and
  ``reservationId`` in Started; ``chargingState`` in every event (Ended: EVConnected while the
  EV is there, else Idle); ``stoppedReason`` the stop cause in Ended.
- meterValue: the energy register at the start (Transaction.Begin) and at the end
  (Transaction.End); sampled and clock-aligned measurands come with the meter-values block.
- An answer's idTokenInfo, with the idToken its request carried, goes to ``token_answered``
  (the authorization block: cache, group, an invalidated token).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpp.v201.enums import ChargingStateEnumType as ChargingStateEnum
from ocpp.v201.enums import ReasonEnumType
from ocpp.v201.enums import TriggerReasonEnumType as TriggerReason

from controller.clock import iso
from controller.core.events import Event, EventKind
from controller.core.ledger import Change, Transaction
from controller.core.vocabulary import StopCause, Token, TokenSource, TxPoint
from controller.ocpp.journal import Entry, Journal, enqueue_in
from controller.ocpp.link import Link
from controller.storage import Database

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

ACTION = "TransactionEvent"
TokenAnswered = Callable[
    [str, dict[str, Any], dict[str, Any]], Awaitable[None]
]  # (transactionId, idToken, idTokenInfo)
_DDL = "CREATE TABLE ocpp201_tx_seq (transaction_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL)"
STARTED_BY = {
    TxPoint.PARKING_BAY_OCCUPANCY: TriggerReason.ev_detected,
    TxPoint.EV_CONNECTED: TriggerReason.cable_plugged_in,
    TxPoint.AUTHORIZED: TriggerReason.authorized,
    TxPoint.ENERGY_TRANSFER: TriggerReason.charging_state_changed,
}
UPDATED_BY = {
    EventKind.EV_PLUGGED: TriggerReason.cable_plugged_in,
    EventKind.AUTHORIZED: TriggerReason.authorized,
    EventKind.CHARGING_STATE_CHANGED: TriggerReason.charging_state_changed,
}
DEAUTHORIZED_BY = {
    StopCause.LOCAL: TriggerReason.stop_authorized,
    StopCause.MASTER_PASS: TriggerReason.stop_authorized,
    StopCause.REMOTE: TriggerReason.remote_stop,
}
ENDED_BY = {
    **DEAUTHORIZED_BY,
    StopCause.EV_DISCONNECTED: TriggerReason.ev_communication_lost,
    StopCause.DEAUTHORIZED: TriggerReason.deauthorized,
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
}  # every other cause (faults, power loss, reboot, emergency stop): AbnormalCondition
REASONS = frozenset(r.value for r in ReasonEnumType)  # 1.6-only causes (Soft / HardReset...) are Other


def stopped_reason(cause: StopCause | None) -> str:
    if cause in (StopCause.SOFT_RESET, StopCause.HARD_RESET):
        return ReasonEnumType.immediate_reset.value
    return cause.value if cause is not None and cause.value in REASONS else ReasonEnumType.other.value


def id_token(token: Token) -> dict[str, str]:
    return {"idToken": token.id, "type": token.type.value}


def energy(wh: float, context: str, at: datetime) -> list[dict[str, Any]]:
    sample = {"value": round(wh, 1), "context": context, "measurand": "Energy.Active.Import.Register",
              "unitOfMeasure": {"unit": "Wh"}}  # fmt: skip
    return [{"timestamp": iso(at), "sampledValue": [sample]}]


class Transactions:
    def __init__(self, db: Database, journal: Journal, link: Link, station: Station, now: Callable[[], datetime]):
        db.migrate("ocpp201_tx_seq_0001", _DDL)
        self.db, self.journal, self.link, self.station, self.now = db, journal, link, station, now
        self._loop = asyncio.get_running_loop()
        self._last_fact: dict[int, TriggerReason] = {}  # per EVSE: plug-in or authorization, the later one
        self._plugged_at: dict[int, datetime] = {}
        self._remote_start_id: dict[int, int | None] = {}  # per EVSE: the remote start of its authorization
        self._evse_told: set[str] = set()  # transactions whose EVSE the CSMS has been told
        self._deauthorization_told: set[str] = set()
        journal.listen(self._confirmed)
        self.token_answered: TokenAnswered | None = None

    # ---- building -----------------------------------------------------------------------

    def _queue(self, conn: sqlite3.Connection, event_type: str, trigger: TriggerReason, tx: Transaction,
               **fields: Any) -> None:  # fmt: skip
        """Queue one TransactionEvent of ``tx`` inside ``conn``'s transaction (database thread)."""
        row = conn.execute("SELECT next_seq FROM ocpp201_tx_seq WHERE transaction_id = ?", (tx.id,)).fetchone()
        seq_no = row[0] if row is not None else 0
        if event_type == "Ended":
            conn.execute("DELETE FROM ocpp201_tx_seq WHERE transaction_id = ?", (tx.id,))
        else:
            conn.execute("INSERT OR REPLACE INTO ocpp201_tx_seq VALUES (?, ?)", (tx.id, seq_no + 1))
        info: dict[str, Any] = {"transactionId": tx.id}
        for name in ("chargingState", "stoppedReason", "remoteStartId"):
            if fields.get(name) is not None:
                info[name] = fields.pop(name)
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": iso(fields.pop("at", None) or self.now()),
            "triggerReason": trigger.value,
            "seqNo": seq_no,
            "transactionInfo": info,
        }
        if not self.link.connected.is_set():
            payload["offline"] = True
        if tx.evse is not None and tx.id not in self._evse_told:
            self._evse_told.add(tx.id)
            payload["evse"] = {"id": tx.evse, "connectorId": 1}
        payload.update({k: v for k, v in fields.items() if v is not None})
        enqueue_in(conn, ACTION, payload)
        self._loop.call_soon_threadsafe(self.journal.notify)

    def _charging_state(self, evse: int | None) -> str | None:
        if evse is None:
            return None
        state = self.station.view(evse).charging_state
        return state.value if state is not None else None

    def _ended_state(self, evse: int | None) -> str | None:
        if evse is None:
            return None
        plugged = self.station.view(evse).ev_connected
        return (ChargingStateEnum.ev_connected if plugged else ChargingStateEnum.idle).value

    # ---- the ledger hook (database thread, inside the ledger's SQLite transaction) -------

    def hook(self, conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        if change is Change.STARTED:
            self._queue(conn, "Started", self._started_by(tx), tx, at=tx.started_at,
                        chargingState=self._charging_state(tx.evse), remoteStartId=tx.remote_start_id,
                        idToken=id_token(tx.token) if tx.token is not None else None,
                        reservationId=tx.reservation_id,
                        meterValue=energy(tx.meter_start_wh, "Transaction.Begin", tx.started_at))  # fmt: skip
        elif change is Change.ENDED:
            told = tx.id in self._deauthorization_told
            self._queue(conn, "Ended", self._ended_by(tx, told), tx, at=tx.stopped_at,
                        chargingState=self._ended_state(tx.evse), stoppedReason=stopped_reason(tx.stop_cause),
                        meterValue=energy(tx.meter_stop_wh or tx.last_meter_wh, "Transaction.End",
                                          tx.stopped_at or self.now()))  # fmt: skip
            self._deauthorization_told.discard(tx.id)
            self._evse_told.discard(tx.id)

    def _started_by(self, tx: Transaction) -> TriggerReason:
        if tx.remote_start_id is not None:
            return TriggerReason.remote_start
        if tx.start_point is TxPoint.POWER_PATH_CLOSED:
            return self._last_fact.get(tx.evse or 0, TriggerReason.authorized)
        return STARTED_BY[tx.start_point]

    def _ended_by(self, tx: Transaction, deauthorization_told: bool) -> TriggerReason:
        if deauthorization_told and tx.stop_cause in DEAUTHORIZED_BY:
            plugged = tx.evse is not None and self.station.view(tx.evse).ev_connected
            return TriggerReason.charging_state_changed if plugged else TriggerReason.ev_communication_lost
        return ENDED_BY.get(tx.stop_cause or StopCause.OTHER, TriggerReason.abnormal_condition)

    # ---- the core's events (asyncio thread) ---------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.evse is not None and event.kind is EventKind.EV_PLUGGED:
            self._last_fact[event.evse] = TriggerReason.cable_plugged_in
            self._plugged_at[event.evse] = event.at
        elif event.evse is not None and event.kind is EventKind.AUTHORIZED and event.authorization is not None:
            auth = event.authorization
            self._remote_start_id[event.evse] = auth.remote_start_id
            plugged_at = self._plugged_at.get(event.evse)
            if plugged_at is None or auth.at >= plugged_at:  # a token that waited for the EV: the plug-in was later
                remote = event.source is TokenSource.REMOTE
                self._last_fact[event.evse] = TriggerReason.remote_start if remote else TriggerReason.authorized
        if event.kind is not EventKind.TRANSACTION_UPDATED or event.transaction is None:
            return
        tx, trigger = event.transaction, event.trigger
        if trigger is EventKind.DEAUTHORIZED:
            self._deauthorization_told.add(tx.id)
            reason = DEAUTHORIZED_BY.get(event.cause or StopCause.OTHER, TriggerReason.deauthorized)
            fields: dict[str, Any] = {"chargingState": self._ended_state(tx.evse)}  # nothing is offered any more
            stopper = event.token or tx.token  # E07.FR.02: the token that stopped it (a group member's)
            if reason is TriggerReason.stop_authorized and stopper is not None:
                fields["idToken"] = id_token(stopper)
        elif trigger is EventKind.AUTHORIZED and tx.token is not None:
            reason = self._last_fact.get(tx.evse or 0, TriggerReason.authorized)
            fields = {"idToken": id_token(tx.token), "chargingState": self._charging_state(tx.evse),
                      "remoteStartId": self._remote_start_id.get(tx.evse or 0)}  # fmt: skip
        elif trigger is EventKind.CHARGING_STATE_CHANGED and event.charging_state is not None:
            reason, fields = TriggerReason.charging_state_changed, {"chargingState": event.charging_state.value}
        elif trigger is EventKind.EV_PLUGGED:
            reason, fields = TriggerReason.cable_plugged_in, {"chargingState": self._charging_state(tx.evse)}
        else:
            return
        fields["at"] = event.at
        future = self.db.submit(lambda conn: self._queue(conn, "Updated", reason, tx, **fields))
        future.add_done_callback(_log_failure)

    # ---- answers ------------------------------------------------------------------------

    async def _confirmed(self, entry: Entry, response: dict[str, Any]) -> None:
        info, presented = response.get("idTokenInfo"), entry.payload.get("idToken")
        if entry.action != ACTION or info is None or presented is None or self.token_answered is None:
            return
        await self.token_answered(entry.payload["transactionInfo"]["transactionId"], presented, info)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("TransactionEvent not queued", exc_info=future.exception())
