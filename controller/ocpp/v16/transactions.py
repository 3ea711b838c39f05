"""OCPP 1.6 transactions from the core's sessions: Start/Stop/MeterValues through the journal.

Rules kept here (OCPP 1.6 edition 2 sections 4.8, 4.10, 3.16.1; errata 3.18):
- A session row and its StartTransaction / StopTransaction are one SQLite transaction: the
  ledger hook queues them with ``enqueue_in``; the journal is woken only once that
  transaction committed (the wake-up is queued to the loop, and the journal reads on the
  same single database thread, after the commit).
- ``tx_key`` is the session id; the journal fills in the CSMS's transactionId (or -1).
- meterStart / meterStop are integer Wh of the energy register, as the session recorded them.
- Periodic and clock-aligned MeterValues of a running transaction go through the journal too
  (in order with Start/Stop; when they are taken is sampling.py's business). Samples of
  StopTxnSampledData (begin, periodic, end) and StopTxnAlignedData (clock) are kept per
  transaction and sent as StopTransaction.transactionData; after a crash only the end is known.
- A StartTransaction.conf whose idTagInfo is not Accepted stops the session with
  DeAuthorized when StopTransactionOnInvalidId is true (4.10 / 3.13 of the errata); when false
  the session stays and delivers at most MaxEnergyOnInvalidId Wh in all (0 A from then on).
- The idTagInfo of every Start/StopTransaction.conf goes to the authorization cache (3.5.1);
  a parentIdTag in StartTransaction.conf becomes the running session's group, so another
  token of that group stops it (3.10, 4.8) even when nothing was asked before the start.
- StartTransaction carries the reservationId of the reservation the session ended (4.8);
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
from controller.ocpp.journal import START_ACTION, Entry, Journal, enqueue_in
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.metering import meter_value, sampled_values
from controller.sessions import Session, SessionEvent, StopReason

if TYPE_CHECKING:
    from controller.ocpp.v16.authorization import Authorization
    from controller.station import Station

log = logging.getLogger(__name__)


def tx_key(session: Session) -> str:
    return str(session.id)


def start_payload(session: Session) -> dict[str, Any]:
    return {
        "connectorId": session.connector,
        "idTag": session.id_tag,
        "meterStart": int(session.meter_start_wh),
        "timestamp": session.started_at,
        **({"reservationId": session.reservation_id} if session.reservation_id is not None else {}),
    }


def stop_payload(session: Session, transaction_data: list[dict[str, Any]]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "transactionId": -1,  # the journal replaces it with the confirmed id at send time
        "idTag": session.stop_id_tag or session.id_tag,
        "meterStop": int(session.meter_stop_wh if session.meter_stop_wh is not None else session.last_meter_wh),
        "timestamp": session.stopped_at or session.started_at,
        "reason": (session.stop_reason or StopReason.OTHER).value,
    }
    if transaction_data:
        payload["transactionData"] = transaction_data
    return payload


class Transactions:
    def __init__(self, journal: Journal, keys: Configuration, now: Callable[[], datetime]):
        self.journal = journal
        self.keys = keys
        self.now = now
        self.station: Station | None = None
        self.authorization: Authorization | None = None  # set by the charge point
        self._stop_data: dict[int, list[dict[str, Any]]] = {}  # session id -> StopTxn*Data samples
        self._loop = asyncio.get_running_loop()
        journal.on_confirmed = self._confirmed

    # ---- the ledger hook (database thread, inside the session's transaction) --------------

    def hook(self, conn: sqlite3.Connection, event: SessionEvent) -> None:
        session = event.session
        if event.kind == "started":
            enqueue_in(conn, START_ACTION, start_payload(session), tx_key(session))
            self._stop_data[session.id] = self._samples(session.connector, "Transaction.Begin", "StopTxnSampledData")
        elif event.kind == "stopped":
            data = self._stop_data.pop(session.id, [])
            end = self._samples(session.connector, "Transaction.End", "StopTxnSampledData", session)
            enqueue_in(conn, "StopTransaction", stop_payload(session, data + end), tx_key(session))
        self._loop.call_soon_threadsafe(self.journal.notify)

    def _samples(self, connector: int, context: str, key: str, stopped: Session | None = None) -> list[dict[str, Any]]:
        measurands = self.keys[key]
        assert isinstance(measurands, tuple)
        if not measurands:
            return []
        evse = self.station.evses.get(connector) if self.station is not None else None
        reading = evse.meter if evse is not None else None
        samples = sampled_values(measurands, reading, evse.snapshot if evse else None, context)
        if stopped is not None and stopped.meter_stop_wh is not None:
            for s in samples:  # the register value the session closed with, not a later poll
                if s["measurand"] == "Energy.Active.Import.Register":
                    s["value"] = str(int(stopped.meter_stop_wh))
        timestamp = stopped.stopped_at if stopped is not None and stopped.stopped_at else iso(self.now())
        return [meter_value(timestamp, samples)] if samples else []

    # ---- MeterValues during a transaction (scheduled by sampling.py) ---------------------

    async def queue_meter_values(self, session: Session, context: str, timestamp: str | None = None) -> bool:
        """Queue one MeterValues of ``session``; False if there was nothing to send.

        Sample.Clock takes MeterValuesAlignedData (and feeds StopTxnAlignedData), everything
        else MeterValuesSampledData (Sample.Periodic feeds StopTxnSampledData)."""
        evse = self.station.evses[session.connector] if self.station is not None else None
        if evse is None:
            return False
        clock = context == "Sample.Clock"
        measurands = self.keys["MeterValuesAlignedData" if clock else "MeterValuesSampledData"]
        assert isinstance(measurands, tuple)
        timestamp = timestamp or iso(self.now())
        stop_measurands = self.keys["StopTxnAlignedData" if clock else "StopTxnSampledData"]
        if context in ("Sample.Periodic", "Sample.Clock") and stop_measurands and session.id in self._stop_data:
            assert isinstance(stop_measurands, tuple)
            extra = sampled_values(stop_measurands, evse.meter, evse.snapshot, context)
            if extra:
                self._stop_data[session.id].append(meter_value(timestamp, extra))
        samples = sampled_values(measurands, evse.meter, evse.snapshot, context)
        if not samples:
            return False
        payload = {
            "connectorId": session.connector,
            "transactionId": -1,
            "meterValue": [meter_value(timestamp, samples)],
        }
        await self.journal.enqueue("MeterValues", payload, tx_key(session))
        return True

    # ---- confirmations ------------------------------------------------------------------

    async def _confirmed(self, entry: Entry, response: dict[str, Any]) -> None:
        info, id_tag = response.get("idTagInfo"), entry.payload.get("idTag")
        if info is not None and id_tag is not None and self.authorization is not None:
            await self.authorization.remember(id_tag, info)
        if entry.action != START_ACTION or entry.tx_key is None or info is None:
            return
        station, session_id, status = self.station, int(entry.tx_key), info["status"]
        if station is not None and info.get("parentIdTag"):
            await station.set_parent(session_id, info["parentIdTag"])
        if status == "Accepted":
            return
        for evse in station.evses.values() if station is not None else ():
            if station is None or evse.session is None or evse.session.id != session_id:
                continue
            if self.keys["StopTransactionOnInvalidId"]:
                log.info("connector %s: StartTransaction idTagInfo %s: stopping (DeAuthorized)", evse.id, status)
                station.spawn(station.stop_session(evse.id, StopReason.DEAUTHORIZED), f"deauthorized {evse.id}")
            else:
                cap = self.keys["MaxEnergyOnInvalidId"] if "MaxEnergyOnInvalidId" in self.keys.keys else 0
                assert isinstance(cap, int)
                log.info("connector %s: StartTransaction idTagInfo %s: at most %s Wh", evse.id, status, cap)
                station.cap_energy(evse.id, float(cap))

    async def transaction_of(self, connector: int) -> int | None:
        """The CSMS transactionId of the session running on ``connector`` (None: none / unknown)."""
        if self.station is None:
            return None
        session = self.station.evses[connector].session
        return None if session is None else await self.journal.transaction_id(tx_key(session))
