"""OCPP 1.6 transactions from the core's ledger: Start/Stop/MeterValues through the journal.

Rules kept here (OCPP 1.6 edition 2 sections 4.8, 4.10, 3.16.1; errata 3.18):
- A transaction's row and its StartTransaction / StopTransaction are one SQLite transaction:
  the ledger hook queues them with ``enqueue_in``; the journal is woken only once that
  transaction committed (the wake-up is queued to the loop, and the journal reads on the
  same single database thread, after the commit).
- ``tx_key`` is the core's transaction id (a UUID); the journal fills in the CSMS's
  transactionId (or -1). Messages a version before UUIDs queued under the integer session id
  are re-keyed to the UUID the ledger's migration gave that session.
- meterStart / meterStop are integer Wh of the energy register, as the ledger recorded them;
  the reason is the stop cause's 1.6 Reason (``REASON``: a cause 1.6 does not know is Other).
- Periodic and clock-aligned MeterValues of a running transaction go through the journal too
  (in order with Start/Stop; when they are taken is sampling.py's business). Samples of
  StopTxnSampledData (begin, periodic, end) and StopTxnAlignedData (clock) are kept per
  transaction and sent as StopTransaction.transactionData; after a crash only the end is known.
- A StartTransaction.conf whose idTagInfo is not Accepted invalidates the token: the core
  stops the transaction (DeAuthorized) or caps its energy, as StopTransactionOnInvalidId /
  MaxEnergyOnInvalidId (the charging policy) say (4.10 / 3.13 of the errata).
- The idTagInfo of every Start/StopTransaction.conf goes to the authorization cache (3.5.1);
  a parentIdTag in StartTransaction.conf becomes the running transaction's group, so another
  token of that group stops it (3.10, 4.8) even when nothing was asked before the start.
- StartTransaction carries the reservationId of the reservation the transaction used (4.8);
  StopTransaction the idTag that stopped it (a group member's) or else the starting one.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.clock import iso
from controller.core.ledger import Change, Transaction
from controller.core.vocabulary import StopCause
from controller.ocpp.journal import START_ACTION, Entry, Journal, enqueue_in
from controller.ocpp.v16.authorization import readable_tag_info
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.idtag import id_tag, token
from controller.ocpp.v16.metering import meter_value, sampled_values
from controller.storage import Database

if TYPE_CHECKING:
    from controller.authorization.engine import Authorization
    from controller.core.station import Station

log = logging.getLogger(__name__)

# The 1.6 Reason of each stop cause; the 2.0.1-only ones are "Other" in 1.6.
REASON: dict[StopCause, str] = {
    cause: cause.value
    for cause in (
        StopCause.LOCAL, StopCause.REMOTE, StopCause.EV_DISCONNECTED, StopCause.POWER_LOSS, StopCause.REBOOT,
        StopCause.HARD_RESET, StopCause.SOFT_RESET, StopCause.DEAUTHORIZED, StopCause.EMERGENCY_STOP,
        StopCause.UNLOCK_COMMAND, StopCause.OTHER,
    )
} | {StopCause.IMMEDIATE_RESET: StopCause.HARD_RESET.value}  # fmt: skip
_REKEY = """
UPDATE ocpp_journal SET tx_key = (SELECT t.id FROM transactions t WHERE CAST(t.legacy_id AS TEXT) = ocpp_journal.tx_key)
WHERE tx_key IN (SELECT CAST(legacy_id AS TEXT) FROM transactions WHERE legacy_id IS NOT NULL);
UPDATE ocpp_transaction_ids SET tx_key = (SELECT t.id FROM transactions t
    WHERE CAST(t.legacy_id AS TEXT) = ocpp_transaction_ids.tx_key)
WHERE tx_key IN (SELECT CAST(legacy_id AS TEXT) FROM transactions WHERE legacy_id IS NOT NULL)
"""


def reason(cause: StopCause | None) -> str:
    return REASON.get(cause or StopCause.OTHER, StopCause.OTHER.value)


def start_payload(tx: Transaction) -> dict[str, Any]:
    assert tx.token is not None and tx.evse is not None  # the 1.6 policy starts with both
    return {
        "connectorId": tx.evse,
        "idTag": id_tag(tx.token),
        "meterStart": int(tx.meter_start_wh),
        "timestamp": iso(tx.started_at),
        **({"reservationId": tx.reservation_id} if tx.reservation_id is not None else {}),
    }


def stop_payload(tx: Transaction, transaction_data: list[dict[str, Any]]) -> dict[str, Any]:
    by = tx.stop_token or tx.token
    payload: dict[str, Any] = {
        "transactionId": -1,  # the journal replaces it with the confirmed id at send time
        "meterStop": int(tx.meter_stop_wh if tx.meter_stop_wh is not None else tx.last_meter_wh),
        "timestamp": iso(tx.stopped_at or tx.started_at),
        "reason": reason(tx.stop_cause),
    }
    if by is not None:
        payload["idTag"] = id_tag(by)
    if transaction_data:
        payload["transactionData"] = transaction_data
    return payload


class Transactions:
    def __init__(self, db: Database, journal: Journal, keys: Configuration, now: Callable[[], datetime]):
        db.migrate("ocpp16_tx_keys_0001_uuid", _REKEY)
        self.journal = journal
        self.keys = keys
        self.now = now
        self.station: Station | None = None
        self.authorization: Authorization | None = None  # set by the charge point
        self._stop_data: dict[str, list[dict[str, Any]]] = {}  # transaction id -> StopTxn*Data samples
        self._loop = asyncio.get_running_loop()
        journal.listen(self._confirmed)

    # ---- the ledger hook (database thread, inside the transaction's SQLite transaction) -----

    def hook(self, conn: sqlite3.Connection, change: Change, tx: Transaction) -> None:
        if change is Change.STARTED:
            enqueue_in(conn, START_ACTION, start_payload(tx), tx.id)
            self._stop_data[tx.id] = self._samples(tx.evse, "Transaction.Begin", "StopTxnSampledData")
        elif change is Change.ENDED:
            data = self._stop_data.pop(tx.id, [])
            end = self._samples(tx.evse, "Transaction.End", "StopTxnSampledData", tx)
            enqueue_in(conn, "StopTransaction", stop_payload(tx, data + end), tx.id)
        else:
            return
        self._loop.call_soon_threadsafe(self.journal.notify)

    def _samples(
        self, evse: int | None, context: str, key: str, ended: Transaction | None = None
    ) -> list[dict[str, Any]]:
        measurands = self.keys.members(key)
        if not measurands or evse is None or self.station is None:
            return []
        view = self.station.view(evse)
        samples = sampled_values(measurands, view.meter, view.snapshot, context)
        if ended is not None and ended.meter_stop_wh is not None:
            for s in samples:  # the register value the transaction closed with, not a later poll
                if s["measurand"] == "Energy.Active.Import.Register":
                    s["value"] = str(int(ended.meter_stop_wh))
        timestamp = iso(ended.stopped_at) if ended is not None and ended.stopped_at else iso(self.now())
        return [meter_value(timestamp, samples)] if samples else []

    # ---- MeterValues during a transaction (scheduled by sampling.py) ---------------------

    async def queue_meter_values(self, tx: Transaction, context: str, timestamp: str | None = None) -> bool:
        """Queue one MeterValues of ``tx``; False if there was nothing to send.

        Sample.Clock takes MeterValuesAlignedData (and feeds StopTxnAlignedData), everything
        else MeterValuesSampledData (Sample.Periodic feeds StopTxnSampledData)."""
        if self.station is None or tx.evse is None:
            return False
        view = self.station.view(tx.evse)
        clock = context == "Sample.Clock"
        measurands = self.keys.members("MeterValuesAlignedData" if clock else "MeterValuesSampledData")
        timestamp = timestamp or iso(self.now())
        stop_measurands = self.keys.members("StopTxnAlignedData" if clock else "StopTxnSampledData")
        periodic = context in ("Sample.Periodic", "Sample.Clock")
        if periodic and stop_measurands and tx.id in self._stop_data:
            extra = sampled_values(stop_measurands, view.meter, view.snapshot, context)
            if extra:
                self._stop_data[tx.id].append(meter_value(timestamp, extra))
        samples = sampled_values(measurands, view.meter, view.snapshot, context)
        if not samples:
            return False
        payload = {"connectorId": tx.evse, "transactionId": -1, "meterValue": [meter_value(timestamp, samples)]}
        await self.journal.enqueue("MeterValues", payload, tx.id, periodic_sample=periodic)
        return True

    # ---- confirmations ------------------------------------------------------------------

    async def _confirmed(self, entry: Entry, response: dict[str, Any]) -> None:
        info, tag = response.get("idTagInfo"), entry.payload.get("idTag")
        if info is not None and tag is not None and self.authorization is not None:
            known, cacheable = readable_tag_info(tag, info)
            await self.authorization.remember(token(tag), known, cacheable=cacheable)
        station = self.station
        if entry.action != START_ACTION or entry.tx_key is None or info is None or station is None:
            return
        if info.get("parentIdTag"):
            await station.set_group(entry.tx_key, info["parentIdTag"])
        if info["status"] != "Accepted":
            log.info("transaction %s: StartTransaction idTagInfo %s", entry.tx_key, info["status"])
            station.invalidate_token(entry.tx_key)

    async def transaction_of(self, evse: int) -> int | None:
        """The CSMS transactionId of the transaction running on ``evse`` (None: none / unknown)."""
        if self.station is None:
            return None
        tx = self.station.view(evse).transaction
        return None if tx is None else await self.journal.transaction_id(tx.id)
