"""Part 6 section 2.5, E Transactions: GetTransactionStatus (E14; errata 6.2.53), with and without
TransactionEvents waiting in the queue after the link was down.

The test system asks "the moment the WebSocket connection is restored": here the moment the
station's first queued TransactionEvent arrives, so it is still unconfirmed and in the queue."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ocpp201.harness import MODULE, VALID_TOKEN, Harness
from ocpp201.states import (
    energy_transfer_started_from_idle,
    ev_disconnected,
    in_sequence,
    stop_authorized_local,
    transaction_id,
)
from sim.csms.server import LoggedFrame

pytestmark = MODULE
BACKOFF_S = 2  # <Configured RetryBackOffWaitMinimum_duration>: above the 1 s sample interval (the Before's note)
Payload = dict[str, Any]


async def offline_preparations(cs: Harness) -> None:
    """The Before of E29 / E31 / E33: sampled values every second, a short back-off, no randomness,
    OfflineThreshold above the outage (only changed statuses are sent after it)."""
    await cs.set_variables({
        "SampledDataCtrlr.TxUpdatedInterval": 1,
        "SampledDataCtrlr.TxUpdatedMeasurands": ["Energy.Active.Import.Register", "Power.Active.Import"],
        "OCPPCommCtrlr.OfflineThreshold": BACKOFF_S + 60,
        "OCPPCommCtrlr.RetryBackOffWaitMinimum": BACKOFF_S,
        "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
    })  # fmt: skip


async def status_on_reconnect(cs: Harness, request: Payload) -> tuple[Payload, int]:
    """Let the station back in and send GetTransactionStatus as its first queued TransactionEvent
    arrives; the answer and the mark where the queue's delivery began."""
    loop = asyncio.get_running_loop()
    asked: asyncio.Future[asyncio.Task[Payload]] = loop.create_future()

    def on_frame(logged: LoggedFrame) -> None:
        if logged.direction == "in" and '"TransactionEvent"' in logged.text and not asked.done():
            asked.set_result(loop.create_task(cs.call("GetTransactionStatus", request)))

    since = cs.mark()
    cs.csms.observers.append(on_frame)
    try:
        cs.accept()
        answer = await (await asyncio.wait_for(asked, 30))
    finally:
        cs.csms.observers.remove(on_frame)
    return answer, since


def queued(cs: Harness) -> int:
    """TransactionEvents in the station's queue now (its SQLite journal)."""
    count = cs.frontend.journal.db.run_sync(
        lambda c: c.execute("SELECT count(*) FROM ocpp_journal WHERE action = 'TransactionEvent'").fetchone()[0]
    )
    return int(count)


async def delivered(cs: Harness) -> None:
    async with asyncio.timeout(30):
        await cs.frontend.journal.wait_empty()


async def test_TC_E_28_CS(cs: Harness) -> None:
    """Check Transaction status - TransactionId unknown: false, false."""
    answer = await cs.call("GetTransactionStatus", {"transactionId": str(uuid.uuid4())})  # step 2
    assert answer == {"ongoingIndicator": False, "messagesInQueue": False}


async def test_TC_E_29_CS(cs: Harness) -> None:
    """Check Transaction status - Transaction with id ongoing - with message in queue: true, true;
    then the queued events, all Updated with meter values and offline."""
    await offline_preparations(cs)
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await delivered(cs)  # the state ends with the test system's answers
    await cs.drop()  # step 1
    await cs.until(lambda: queued(cs) >= 2, within=BACKOFF_S + 10, what="sampled values queued")  # step 2
    answer, since = await status_on_reconnect(cs, {"transactionId": tx})
    assert answer == {"ongoingIndicator": True, "messagesInQueue": True}  # step 4
    await delivered(cs)
    sent = [e for e in cs.calls("TransactionEvent", since) if e.get("offline")]
    assert len(sent) >= 2  # step 5
    assert all(e["eventType"] == "Updated" and e["meterValue"] for e in sent)
    in_sequence(cs, tx)


async def test_TC_E_30_CS(cs: Harness) -> None:
    """Check Transaction status - Transaction with id ongoing - without message in queue: true, false."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await delivered(cs)
    answer = await cs.call("GetTransactionStatus", {"transactionId": tx})  # step 2
    assert answer == {"ongoingIndicator": True, "messagesInQueue": False}


async def test_TC_E_31_CS(cs: Harness) -> None:
    """Check Transaction status - Transaction with id ended - with message in queue: the transaction
    stopped locally and its EV left while offline; false, true; then all its events, offline,
    the last the Ended."""
    await offline_preparations(cs)
    await cs.set_variables({"OCPPCommCtrlr.UnlockOnEVSideDisconnect": True})
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await delivered(cs)
    await cs.drop()
    # <Configured Transaction Duration>: samples queue up before the stop, so the queue still holds
    # events of the transaction when the question is answered, however fast the first is confirmed
    await cs.until(lambda: queued(cs) >= 2, within=BACKOFF_S + 10, what="sampled values queued")
    cs.present(VALID_TOKEN)
    await cs.until(lambda: cs.station.view(1).transaction is None, what="the transaction ended offline")
    cs.unplug(1)
    answer, since = await status_on_reconnect(cs, {"transactionId": tx})
    assert answer == {"ongoingIndicator": False, "messagesInQueue": True}  # step 2
    await delivered(cs)
    sent = [e for e in cs.calls("TransactionEvent", since) if e["transactionInfo"]["transactionId"] == tx]
    assert sent and all(e.get("offline") for e in sent)  # step 3
    assert sent[-1]["eventType"] == "Ended" and sent[-1]["triggerReason"] == "StopAuthorized"
    in_sequence(cs, tx)


async def test_TC_E_32_CS(cs: Harness) -> None:
    """Check Transaction status - Transaction with id ended - without message in queue: false, false."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await stop_authorized_local(cs)
    await ev_disconnected(cs)
    await delivered(cs)
    answer = await cs.call("GetTransactionStatus", {"transactionId": tx})  # step 2
    assert answer == {"ongoingIndicator": False, "messagesInQueue": False}


async def test_TC_E_33_CS(cs: Harness) -> None:
    """Check Transaction status - Without transactionId - with message in queue: no ongoingIndicator,
    messagesInQueue true; the queued events Updated with meter values, offline."""
    await offline_preparations(cs)
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await delivered(cs)  # the state ends with the test system's answers
    await cs.drop()  # step 1
    await cs.until(lambda: queued(cs) >= 2, within=BACKOFF_S + 10, what="sampled values queued")
    answer, since = await status_on_reconnect(cs, {})
    assert answer == {"messagesInQueue": True}  # step 4
    await delivered(cs)
    sent = [e for e in cs.calls("TransactionEvent", since) if e.get("offline")]
    assert len(sent) >= 2 and all(e["eventType"] == "Updated" and e["meterValue"] for e in sent)  # step 5
    in_sequence(cs, tx)


async def test_TC_E_34_CS(cs: Harness) -> None:
    """Check Transaction status - Without transactionId - without message in queue: messagesInQueue
    false and no ongoingIndicator."""
    answer = await cs.call("GetTransactionStatus", {})  # step 2
    assert answer == {"messagesInQueue": False}
