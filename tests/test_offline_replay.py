"""Offline replay in small: the machinery of tests/bench/offline_replay.py (real journal on a
SQLite file, real link, the bench CSMS on a loopback websocket) with 300 messages and the
link dropped in the middle of delivery."""

import asyncio
import json
import sys
from pathlib import Path

import pytest

from controller.ocpp.journal import STATION_IDS, Journal
from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc
from controller.storage import Database
from sim.csms import Csms

sys.path.insert(0, str(Path(__file__).parent / "bench"))
from offline_replay import (
    CP_ID,
    CP_ID_201,
    TRANSACTION_ACTIONS,
    Verdict,
    Verdict201,
    message,
    queue,
    queue_201,
    transaction_event,
    verdict,
    verdict_201,
)

WITHIN = 20.0


@pytest.fixture
async def csms():
    server = Csms()
    await server.start()
    yield server
    await server.stop()


def transaction_calls(csms: Csms) -> int:
    return sum(csms.received[action] for action in (*TRANSACTION_ACTIONS, "TransactionEvent"))


async def delivered_through_a_disconnect(csms: Csms, tmp_path: Path, version: str) -> None:
    """300 messages queued before the first connection, the link dropped mid-delivery, 100 more
    queued while offline, then the reconnect."""
    db = Database(tmp_path / "evsed.db")
    cp_id, fill = (CP_ID, queue) if version == "1.6" else (CP_ID_201, queue_201)
    link = Link(f"ws://127.0.0.1:{csms.port}", cp_id, Rpc(version), backoff_base=0.01, backoff_cap=0.05)
    journal = Journal(db, attempts=3, retry_interval=0, ids=STATION_IDS) if version != "1.6" else Journal(
        db, attempts=3, retry_interval=0)  # fmt: skip
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        async with asyncio.timeout(WITHIN):
            await fill(journal, range(200))  # never connected yet
            link.start()
            await csms.wait_for(lambda c: transaction_calls(c) >= 100)
            await link.disconnect()  # mid-delivery: a CALL may be on the wire or just answered
            await link.wait_state("disconnected")
            stalled_at = transaction_calls(csms)
            await fill(journal, range(200, 300))  # more while offline
            assert transaction_calls(csms) == stalled_at, "nothing is sent while disconnected"
            assert len(await journal.pending()) >= 100
            link.connect()
            await journal.wait_empty()
    finally:
        delivery.cancel()
        await asyncio.gather(delivery, return_exceptions=True)
        await link.close()
        db.close()
    assert csms.connections == 2


async def test_queued_offline_then_delivered_through_a_disconnect_in_the_middle(csms, tmp_path):
    await delivered_through_a_disconnect(csms, tmp_path, "1.6")
    judged = verdict(300, ((f.direction, f.text) for f in csms.log if f.cp == CP_ID))
    assert judged == Verdict(300, 300, 0, 0, judged.resent, 0, 0), judged
    assert judged.resent <= 1  # only the CALL whose answer the disconnect cut off goes again, same id


async def test_transaction_events_queued_offline_then_delivered_through_a_disconnect(csms, tmp_path):
    """2.0.1: every TransactionEvent once (a resend only with the same id), in order, each seqNo its
    place in its transaction, all offline."""
    await delivered_through_a_disconnect(csms, tmp_path, "2.0.1")
    judged = verdict_201(300, ((f.direction, f.text) for f in csms.log if f.cp == CP_ID_201))
    assert judged == Verdict201(300, 300, 0, 0, judged.resent, 0, 0, 0), judged
    assert judged.resent <= 1


def frames_for(numbers: list[int], message_ids: list[str] | None = None, given: int = 7) -> list[tuple[str, str]]:
    """What a CSMS logs when it receives messages ``numbers`` (ids ``message_ids``) and answers
    every Start with transactionId ``given``; MeterValues / Stop carry ``given`` too."""
    frames = []
    for i, k in enumerate(numbers):
        action, payload, _ = message(k)
        if "transactionId" in payload:
            payload = {**payload, "transactionId": given}
        message_id = message_ids[i] if message_ids else f"m{k}"
        frames.append(("in", json.dumps([2, message_id, action, payload])))
        answer = {"transactionId": given, "idTagInfo": {"status": "Accepted"}} if action == "StartTransaction" else {}
        frames.append(("out", json.dumps([3, message_id, answer])))
    return frames


def test_the_verdict_sees_each_kind_of_fault():
    assert verdict(12, frames_for(list(range(12)))) == Verdict(12, 12, 0, 0, 0, 0, 0)
    assert verdict(12, frames_for([0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11])).lost == 1
    assert verdict(12, frames_for([0, 1, 2, 2, *range(3, 12)])).resent == 1
    new_id = [f"m{k}" for k in range(3)] + ["again"] + [f"m{k}" for k in range(3, 12)]
    assert verdict(12, frames_for([0, 1, 2, 2, *range(3, 12)], new_id)).duplicated == 1
    assert verdict(12, frames_for([0, 1, 3, 2, *range(4, 12)])).out_of_order == 1
    wrong = frames_for([0, 1])
    wrong[2] = ("in", wrong[2][1].replace('"transactionId": 7', '"transactionId": -1'))
    assert verdict(2, wrong).wrong_transaction_id == 1


def events_for(numbers: list[int], message_ids: list[str] | None = None) -> list[tuple[str, str]]:
    """What a CSMS logs when it receives TransactionEvents ``numbers`` stamped as the journal would."""
    frames = []
    for i, k in enumerate(numbers):
        payload, _, _ = transaction_event(k)
        payload = {**payload, "seqNo": k % 10, "offline": True}
        frames.append(("in", json.dumps([2, message_ids[i] if message_ids else f"m{k}", "TransactionEvent", payload])))
    return frames


def test_the_2_0_1_verdict_sees_each_kind_of_fault():
    assert verdict_201(12, events_for(list(range(12)))) == Verdict201(12, 12, 0, 0, 0, 0, 0, 0)
    assert verdict_201(12, events_for([0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11])).lost == 1
    assert verdict_201(12, events_for([0, 1, 2, 2, *range(3, 12)])).resent == 1
    new_id = [f"m{k}" for k in range(3)] + ["again"] + [f"m{k}" for k in range(3, 12)]
    assert verdict_201(12, events_for([0, 1, 2, 2, *range(3, 12)], new_id)).duplicated == 1
    assert verdict_201(12, events_for([0, 1, 3, 2, *range(4, 12)])).out_of_order == 1
    gap = events_for([0, 1])
    gap[1] = ("in", gap[1][1].replace('"seqNo": 1', '"seqNo": 2'))
    assert verdict_201(2, gap).seqno_gaps == 1
    online = events_for([0])
    online[0] = ("in", online[0][1].replace('"offline": true', '"offline": false'))
    assert verdict_201(1, online).not_offline == 1
