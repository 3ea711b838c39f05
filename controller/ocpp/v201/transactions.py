"""TransactionEvent: every transaction of the core told to the CSMS, queued in the journal with the
change that makes it durable; GetTransactionStatus (part 2 E01-E14, J02; what each event says:
transaction_events.py).

Rules kept here:
- Started and Ended are queued by the ledger's hook, in the SQLite transaction of the ledger's
  change: a transaction is never durable without its Started, never closed without its Ended
  (a power cut's PowerLoss end included). Updated events are queued at the core's event,
  handed to the database thread at once, so they keep the events' order; an Updated that
  would follow the Ended (a late sample) is not queued.
- The journal stamps seqNo (per transaction from 0, in the same SQLite transaction) and
  ``offline`` (the link is down as it is queued); when the link goes down every event still
  queued gets ``offline`` too (E11.FR.07). A resend is the same row: the same transactionId,
  seqNo and message id.
- One event per fact, the more specific trigger winning (E02.FR.17): a plug-in inside the
  transaction (or starting it) is CablePluggedIn with chargingState EVConnected, an unplug it
  survives EVCommunicationLost with Idle; a ChargingStateChanged is sent only for a state not
  told already; a deauthorization that ends
  the transaction is told by the Ended event alone (StopAuthorized / RemoteStop / Deauthorized
  with its stoppedReason); an EV leaving that the transaction survives is an Updated
  (E10); a fault that does not end it is an Updated AbnormalCondition.
- Meter values (meter_values.py): TxStartedMeasurands in the Started (context
  Transaction.Begin) when the EVSE is known, else in the Updated of the plug-in that binds it
  (E01.FR.17). The Ended carries what was collected for it in SQLite during the transaction
  (``ocpp201_tx_end_samples``: the begin sample, TxEndedMeasurands every TxEndedInterval,
  AlignedDataCtrlr.TxEndedMeasurands at every aligned TxEndedInterval) and the end sample
  (Transaction.End); the energy register at begin and end is the ledger's meter start / stop.
- An answer's idTokenInfo, with the idToken its request carried, goes to ``token_answered``
  (the authorization block: its cache, the group, an invalidated token that the core ends or
  caps: StopTxOnInvalidId / MaxEnergyOnInvalidId).
- GetTransactionStatus (E14): ongoingIndicator for a transaction running here (omitted without
  a transactionId), messagesInQueue for events of that transaction (of any, without one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.core.events import Event, EventKind
from controller.core.ledger import Change, Transaction
from controller.core.vocabulary import StopCause, TokenSource, TxPoint
from controller.ocpp.journal import Entry, Journal, Stamp, enqueue_in, sequence_open
from controller.ocpp.link import Link, Reply
from controller.ocpp.v201.enums import ChargingStateEnumType as ChargingStateEnum
from controller.ocpp.v201.enums import ReadingContextEnumType as Context
from controller.ocpp.v201.enums import TriggerReasonEnumType as TriggerReason
from controller.ocpp.v201.meter_values import MeterSettings, meter_value
from controller.ocpp.v201.transaction_events import (
    ACTION,
    DEAUTHORIZED_BY,
    STARTED_BY,
    STOPPED_BY_TOKEN,
    ended_by,
    ended_state,
    transaction_event,
)
from controller.storage import Database
from hal.types import MeterReading

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ENERGY = "Energy.Active.Import.Register"
PLUGGED_IN = ChargingStateEnum.ev_connected.value  # the chargingState a plug-in reports
ACTIONS = frozenset({ACTION})
# Updated events that only carry a sample: committed without an fsync when nothing waits (journal.py)
PERIODIC_SAMPLES = frozenset({TriggerReason.meter_value_periodic, TriggerReason.meter_value_clock})
_OLD_SEQUENCES = "CREATE TABLE ocpp201_tx_seq (transaction_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL)"
SEQUENCES_TO_JOURNAL = """
INSERT OR IGNORE INTO ocpp_sequence (tx_key, next) SELECT transaction_id, next_seq FROM ocpp201_tx_seq;
DROP TABLE ocpp201_tx_seq
"""
_END_SAMPLES = """
CREATE TABLE ocpp201_tx_end_samples (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL,
    meter_value TEXT NOT NULL
);
CREATE INDEX ocpp201_tx_end_samples_tx ON ocpp201_tx_end_samples (transaction_id)
"""
TokenAnswered = Callable[[str, Payload, Payload], Awaitable[None]]  # (transactionId, idToken, idTokenInfo)


@dataclass
class Told:
    """What the CSMS was told of one running transaction."""

    charging_state: str | None = None  # the last chargingState sent
    deauthorization: bool = False  # an Updated told that its authorization ended
    unbound: bool = False  # started without an EVSE: the plug-in that binds it brings the begin values


def register_reading(reading: MeterReading | None, wh: float) -> MeterReading:
    """The latest reading with the ledger's register value (what the transaction is billed on)."""
    return replace(reading, energy_import_wh=wh) if reading is not None else MeterReading((), (), 0.0, wh)


class Transactions:
    def __init__(
        self,
        db: Database,
        journal: Journal,
        link: Link,
        station: Station,
        now: Callable[[], datetime],
        meter_settings: Callable[[], MeterSettings],
    ):
        db.migrate("ocpp201_tx_seq_0001", _OLD_SEQUENCES)
        db.migrate("ocpp201_tx_seq_0002_to_journal", SEQUENCES_TO_JOURNAL)
        db.migrate("ocpp201_tx_end_samples_0001", _END_SAMPLES)
        self.db, self.journal, self.link, self.station, self.now = db, journal, link, station, now
        self.meter_settings = meter_settings
        self.token_answered: TokenAnswered | None = None
        self._loop = asyncio.get_running_loop()
        self._told: dict[str, Told] = {}  # by transaction id; the hook and the events share it
        self._plugged_at: dict[int, datetime] = {}  # per EVSE: the last plug-in
        journal.listen(self._confirmed)

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"GetTransactionStatus": self.get_transaction_status}

    # ---- queueing (database thread) ----------------------------------------------------

    def _queue(self, conn: sqlite3.Connection, tx: Transaction, payload: Payload, *, last: bool = False) -> None:
        offline = None if self.link.connected.is_set() else "offline"
        enqueue_in(conn, ACTION, payload, tx.id, stamp=Stamp(sequence="seqNo", offline=offline, last=last),
                   ids=self.journal.ids)  # fmt: skip
        self._loop.call_soon_threadsafe(self.journal.notify)

    def updated(self, tx: Transaction, trigger: TriggerReason, at: datetime, **fields: Any) -> None:
        """Queue an Updated event of ``tx`` (asyncio thread: handed to the database thread now)."""
        payload = transaction_event("Updated", trigger, tx, at, **fields)

        def write(conn: sqlite3.Connection) -> None:
            if sequence_open(conn, tx.id):  # else its Ended is queued already
                self._queue(conn, tx, payload)

        durable = self.journal.fsync_needed(trigger in PERIODIC_SAMPLES)
        self.db.submit(write, durable=durable).add_done_callback(_log_failure)

    def end_sample(self, transaction_id: str, value: Payload) -> None:
        """Keep ``value`` for the Ended event of the transaction (asyncio thread)."""

        def write(conn: sqlite3.Connection) -> None:
            if sequence_open(conn, transaction_id):
                _keep_sample(conn, transaction_id, value)

        self.db.submit(write).add_done_callback(_log_failure)

    # ---- the ledger hook (database thread, inside the ledger's SQLite transaction) -------

    def hook(self, conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        if change is Change.STARTED:
            self._started(conn, tx)
        elif change is Change.ENDED:
            self._ended(conn, tx)

    def _started(self, conn: sqlite3.Connection, tx: Transaction) -> None:
        view = self.station.view(tx.evse) if tx.evse is not None else None
        state = view.charging_state.value if view is not None and view.charging_state is not None else None
        trigger = TriggerReason.remote_start if tx.remote_start_id is not None else self._started_by(tx)
        if trigger is TriggerReason.cable_plugged_in:
            state = PLUGGED_IN  # the plug-in's own state; what the EV does next follows as a change
        self._told[tx.id] = Told(charging_state=state, unbound=tx.evse is None)
        meter = self._begin_values(conn, tx, tx.started_at)
        self._queue(conn, tx, transaction_event(
            "Started", trigger, tx, tx.started_at, charging_state=state, remote_start_id=tx.remote_start_id,
            evse=tx.evse, token=tx.token, reservation_id=tx.reservation_id, meter_values=meter,
        ))  # fmt: skip

    def _begin_values(self, conn: sqlite3.Connection, tx: Transaction, at: datetime) -> list[Payload]:
        """The Transaction.Begin values for the event that first knows the EVSE; the begin sample
        of the Ended event is kept for it."""
        if tx.evse is None:
            return []
        settings, view = self.meter_settings(), self.station.view(tx.evse)
        reading, snapshot = register_reading(view.meter, tx.meter_start_wh), view.snapshot
        context = Context.transaction_begin if settings.tx_ended_interval_s == 0 else Context.sample_periodic
        kept = meter_value(at, context.value, settings.tx_ended, reading, snapshot)
        if kept is not None:
            _keep_sample(conn, tx.id, kept)
        begin = meter_value(at, Context.transaction_begin.value, settings.tx_started, reading, snapshot)
        return [begin] if begin is not None else []

    def _started_by(self, tx: Transaction) -> TriggerReason:
        if tx.start_point is not TxPoint.POWER_PATH_CLOSED or tx.evse is None:
            return STARTED_BY[tx.start_point]
        auth, plugged = self.station.view(tx.evse).authorization, self._plugged_at.get(tx.evse)
        plugged_last = plugged is not None and (auth is None or plugged > auth.at)
        return TriggerReason.cable_plugged_in if plugged_last else TriggerReason.authorized

    def _ended(self, conn: sqlite3.Connection, tx: Transaction) -> None:
        told = self._told.pop(tx.id, Told())
        view = self.station.view(tx.evse) if tx.evse is not None else None
        plugged = view is not None and view.ev_connected
        at = tx.stopped_at or self.now()
        meter = _kept_samples(conn, tx.id)
        if view is not None:
            reading = register_reading(view.meter, tx.meter_stop_wh if tx.meter_stop_wh is not None else 0.0)
            settings = self.meter_settings()
            measurands = settings.tx_ended if view.meter is not None else [m for m in settings.tx_ended if m == ENERGY]
            end = meter_value(at, Context.transaction_end.value, measurands, reading, view.snapshot)
            meter += [end] if end is not None else []
        by_token = tx.stop_cause in STOPPED_BY_TOKEN and not told.deauthorization
        self._queue(conn, tx, transaction_event(
            "Ended", ended_by(tx.stop_cause, told.deauthorization, plugged), tx, at,
            charging_state=ended_state(plugged), stopped=tx.stop_cause,
            token=(tx.stop_token or tx.token) if by_token else None, meter_values=meter,
        ), last=True)  # fmt: skip

    # ---- the core's events (asyncio thread) ---------------------------------------------

    def on_event(self, event: Event) -> None:
        view = event.view
        if event.kind is EventKind.EV_PLUGGED and event.evse is not None:
            self._plugged_at[event.evse] = event.at
        tx = view.transaction if view is not None else None
        if view is None or tx is None or view.stopping or tx.id not in self._told:
            return  # nothing runs here, or its end tells the rest
        told, state = self._told[tx.id], view.charging_state.value if view.charging_state is not None else None
        if event.kind is EventKind.EV_PLUGGED:
            self._plugged_in(event, tx, told, state)
        elif event.kind is EventKind.EV_UNPLUGGED and state != told.charging_state:
            told.charging_state = state
            self.updated(tx, TriggerReason.ev_communication_lost, event.at, charging_state=state)
        elif event.kind is EventKind.FAULT_RAISED:
            told.charging_state = state
            self.updated(tx, TriggerReason.abnormal_condition, event.at, charging_state=state)
        elif event.kind is EventKind.TRANSACTION_STARTED and state != told.charging_state:
            told.charging_state = state  # changed while its row was written
            self.updated(tx, TriggerReason.charging_state_changed, event.at, charging_state=state)
        elif event.kind is EventKind.TRANSACTION_UPDATED:
            self._inside(event, tx, told, state)

    def _plugged_in(self, event: Event, tx: Transaction, told: Told, _state: str | None) -> None:
        told.charging_state = state = PLUGGED_IN
        if not told.unbound:
            self.updated(tx, TriggerReason.cable_plugged_in, event.at, charging_state=state, evse=event.evse)
            return
        told.unbound = False  # this plug-in binds the transaction: its begin values come now (E01.FR.17)

        def write(conn: sqlite3.Connection) -> None:
            if sequence_open(conn, tx.id):
                self._queue(conn, tx, transaction_event(
                    "Updated", TriggerReason.cable_plugged_in, tx, event.at, charging_state=state, evse=event.evse,
                    meter_values=self._begin_values(conn, tx, event.at),
                ))  # fmt: skip

        self.db.submit(write).add_done_callback(_log_failure)

    def _inside(self, event: Event, tx: Transaction, told: Told, state: str | None) -> None:
        """A TRANSACTION_UPDATED of the core: authorized, deauthorized, a new charging state."""
        view = event.view
        assert view is not None
        changed = state if state != told.charging_state else None  # chargingState only when it changed
        told.charging_state = state
        if event.trigger is EventKind.AUTHORIZED and view.authorization is not None:
            auth = view.authorization
            remote = auth.source is TokenSource.REMOTE
            reservation = auth.reservation.id if auth.reservation is not None else None
            self.updated(tx, TriggerReason.remote_start if remote else TriggerReason.authorized, event.at,
                         charging_state=changed, token=auth.token, remote_start_id=auth.remote_start_id,
                         reservation_id=reservation)  # fmt: skip
        elif event.trigger is EventKind.DEAUTHORIZED:
            cause = event.cause or StopCause.OTHER
            told.deauthorization = True
            token = event.token if cause in STOPPED_BY_TOKEN else None
            self.updated(tx, DEAUTHORIZED_BY.get(cause, TriggerReason.deauthorized), event.at, charging_state=changed,
                         token=token)  # fmt: skip
        elif event.trigger is EventKind.CHARGING_STATE_CHANGED and changed is not None:
            self.updated(tx, TriggerReason.charging_state_changed, event.at, charging_state=changed)

    # ---- requests and answers ------------------------------------------------------------

    def triggered(self, evse: int) -> bool:
        """TriggerMessage TransactionEvent for ``evse`` (F06.FR.07): an Updated Trigger with the
        chargingState and the TxUpdatedMeasurands now; False when no transaction runs there."""
        view = self.station.view(evse)
        tx = view.transaction
        if tx is None or view.stopping or tx.id not in self._told:
            return False
        state = view.charging_state.value if view.charging_state is not None else None
        now = self.now()
        value = meter_value(now, Context.trigger.value, self.meter_settings().tx_updated, view.meter, view.snapshot)
        self._told[tx.id].charging_state = state
        self.updated(tx, TriggerReason.trigger, now, charging_state=state, evse=evse,
                     meter_values=[value] if value is not None else None)  # fmt: skip
        return True

    async def get_transaction_status(self, payload: Payload) -> Payload:
        transaction_id = payload.get("transactionId")
        if transaction_id is None:
            return {"messagesInQueue": await self.journal.queued(actions=ACTIONS) > 0}
        return {
            "ongoingIndicator": self.station.transaction(transaction_id) is not None,
            "messagesInQueue": await self.journal.queued(tx_key=transaction_id) > 0,
        }

    def link_down(self) -> None:
        """Every TransactionEvent still queued happened while offline as far as the CSMS can tell
        (E11.FR.07): flagged before the link can come back, the one in flight included."""
        self.journal.flag_offline("offline", ACTIONS).add_done_callback(_log_failure)

    async def _confirmed(self, entry: Entry, response: Payload) -> None:
        info, asked = response.get("idTokenInfo"), entry.payload.get("idToken")
        if entry.action != ACTION or info is None or asked is None or self.token_answered is None:
            return
        await self.token_answered(entry.payload["transactionInfo"]["transactionId"], asked, info)


def _keep_sample(conn: sqlite3.Connection, transaction_id: str, value: Payload) -> None:
    conn.execute("INSERT INTO ocpp201_tx_end_samples (transaction_id, meter_value) VALUES (?, ?)",
                 (transaction_id, _json(value)))  # fmt: skip


def _kept_samples(conn: sqlite3.Connection, transaction_id: str) -> list[Payload]:
    rows = conn.execute("SELECT meter_value FROM ocpp201_tx_end_samples WHERE transaction_id = ? ORDER BY seq",
                        (transaction_id,)).fetchall()  # fmt: skip
    conn.execute("DELETE FROM ocpp201_tx_end_samples WHERE transaction_id = ?", (transaction_id,))
    return [_parsed(r[0]) for r in rows]


def _json(value: Payload) -> str:
    return json.dumps(value, separators=(",", ":"))


def _parsed(text: str) -> Payload:
    parsed: Payload = json.loads(text)
    return parsed


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("writing TransactionEvents to the journal failed", exc_info=future.exception())
