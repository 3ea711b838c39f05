"""The transaction-message journal: real SQLite files, the bench CSMS on a real websocket,
and a station process killed with SIGKILL at random points."""

import asyncio
import json
import os
import random
import sys
from pathlib import Path

import pytest
from websockets.asyncio.server import serve

from controller.ocpp.journal import STATION_IDS, Journal, Stamp, enqueue_in, sequence_open
from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc
from controller.storage import Database
from sim.csms import Csms

REPO = Path(__file__).resolve().parents[1]
TS = "2025-01-01T00:00:00Z"


def start(k: int) -> dict:
    return {"connectorId": 1, "idTag": "TAG1", "meterStart": k, "timestamp": TS}


def meter(k: int) -> dict:
    return {
        "connectorId": 1,
        "transactionId": 0,
        "meterValue": [{"timestamp": TS, "sampledValue": [{"value": str(k)}]}],
    }


def stop(k: int) -> dict:
    return {"transactionId": 0, "meterStop": k, "timestamp": TS}


@pytest.fixture
async def csms():
    server = Csms()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def station(csms, tmp_path):
    db = Database(tmp_path / "evsed.db")
    link = Link(f"ws://127.0.0.1:{csms.port}", "CP1", Rpc("1.6"), backoff_base=0.01, backoff_cap=0.05)
    journal = Journal(db, attempts=3, retry_interval=0)
    yield db, link, journal
    await link.close()
    db.close()


async def drained(journal: Journal) -> None:
    async with asyncio.timeout(10):
        await journal.wait_empty()


async def test_enqueue_commits_with_the_callers_change_or_not_at_all(station):
    db, _, journal = station
    db.migrate("t_sessions", "CREATE TABLE sessions (id INTEGER)")
    await journal.enqueue("StartTransaction", start(1), tx_key="s1",
                          also=lambda conn: conn.execute("INSERT INTO sessions VALUES (1)"))  # fmt: skip

    def broken(conn):
        conn.execute("INSERT INTO sessions VALUES (2)")
        raise RuntimeError("core failed")

    with pytest.raises(RuntimeError):
        await journal.enqueue("StartTransaction", start(2), tx_key="s2", also=broken)
    assert [e.payload["meterStart"] for e in await journal.pending()] == [1]
    assert db.run_sync(lambda c: c.execute("SELECT count(*) FROM sessions").fetchone()[0]) == 1
    # ... and inside someone else's transaction:
    await db.run(lambda conn: enqueue_in(conn, "MeterValues", meter(3), tx_key="s1"))
    journal.notify()
    assert [e.action for e in await journal.pending()] == ["StartTransaction", "MeterValues"]


async def test_delivers_in_order_and_fills_in_the_confirmed_transaction_id(station, csms):
    _, link, journal = station
    csms.transaction_ids = iter(range(4711, 5000))
    for action, payload in (("StartTransaction", start(1)), ("MeterValues", meter(2)), ("StopTransaction", stop(3))):
        await journal.enqueue(action, payload, tx_key="local-1")
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
    finally:
        delivery.cancel()
    assert [f[2] for f in csms.calls_received("MeterValues") + csms.calls_received("StopTransaction")] == [
        "MeterValues",
        "StopTransaction",
    ]
    assert csms.calls_received("MeterValues")[0][3]["transactionId"] == 4711
    assert csms.calls_received("StopTransaction")[0][3]["transactionId"] == 4711
    assert await journal.pending() == []
    assert await journal.transaction_id("local-1") is None  # forgotten once the Stop was confirmed


async def test_failed_start_is_retried_then_dropped_and_later_messages_use_minus_one(station, csms):
    _, link, journal = station
    csms.fail_next["StartTransaction"] = 3
    await journal.enqueue("StartTransaction", start(1), tx_key="t")
    await journal.enqueue("MeterValues", meter(2), tx_key="t")
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
    finally:
        delivery.cancel()
    starts = csms.calls_received("StartTransaction")
    assert len(starts) == 3  # TransactionMessageAttempts transmissions, then dropped
    assert len({s[1] for s in starts}) == 3  # after a CALLERROR each retry is a new message id
    assert csms.calls_received("MeterValues")[0][3]["transactionId"] == -1
    assert await journal.transaction_id("t") == -1


async def test_one_callerror_then_success_keeps_the_message(station, csms):
    _, link, journal = station
    csms.fail_next["StopTransaction"] = 1
    await journal.enqueue("StopTransaction", stop(9), tx_key="never-started")
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
    finally:
        delivery.cancel()
    stops = csms.calls_received("StopTransaction")
    assert len(stops) == 2 and stops[1][3]["transactionId"] == -1


async def test_an_action_the_csms_does_not_handle_is_dropped_at_once(station, csms):
    _, link, journal = station
    journal.retry_interval = 60.0  # the default: a retry would hold the Start past the deadline
    link.start()
    await csms.wait_for(lambda c: "CP1" in c.sessions)
    # The ocpp package answers an action without a handler with NotImplemented, as a CSMS
    # without the security extension does.
    del csms.sessions["CP1"].route_map["SecurityEventNotification"]
    await journal.enqueue("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS})
    await journal.enqueue("StartTransaction", start(1), tx_key="t")
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
    finally:
        delivery.cancel()
    assert csms.received["SecurityEventNotification"] == 1
    assert csms.received["StartTransaction"] == 1
    assert await journal.transaction_id("t") == 1


async def test_a_transaction_message_refused_with_any_code_is_retried_then_skipped(station, csms):
    _, link, journal = station
    journal.retry_interval = 0.1
    link.start()
    await csms.wait_for(lambda c: "CP1" in c.sessions)
    # No handler: the CSMS answers NotImplemented. For a transaction message that is a
    # "failure to process" like any other (3.7.1, OCPP-J errata 3.3): retried, then skipped.
    del csms.sessions["CP1"].route_map["MeterValues"]
    await journal.enqueue("MeterValues", meter(1), tx_key="t")
    await journal.enqueue("StopTransaction", stop(2), tx_key="t")
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
    finally:
        delivery.cancel()
    sent = [f for f in csms.log if f.direction == "in" and '"MeterValues"' in f.text]
    assert len(sent) == 3  # TransactionMessageAttempts transmissions
    assert len({json.loads(f.text)[1] for f in sent}) == 3  # the CSMS saw and refused each: new ids
    # TransactionMessageRetryInterval x the transmissions so far before each retry
    assert sent[1].at - sent[0].at >= 0.09 and sent[2].at - sent[1].at >= 0.19
    assert csms.received["StopTransaction"] == 1


async def test_a_non_transaction_message_the_csms_never_answers_does_not_hold_the_queue(tmp_path):
    seen: list[list] = []

    async def silent_on_security_events(ws):
        async for text in ws:
            frame = json.loads(text)
            seen.append(frame)
            if frame[2] == "StartTransaction":
                await ws.send(json.dumps([3, frame[1], {"idTagInfo": {"status": "Accepted"}, "transactionId": 5}]))

    db = Database(tmp_path / "evsed.db")
    async with serve(silent_on_security_events, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        link = Link(f"ws://127.0.0.1:{port}", "CP1", Rpc("1.6"), call_timeout=0.3, backoff_base=0.01)
        journal = Journal(db, attempts=3, retry_interval=0)
        await journal.enqueue("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS})
        await journal.enqueue("StartTransaction", start(1), tx_key="t")
        link.start()
        delivery = asyncio.create_task(journal.deliver(link))
        try:
            await drained(journal)
        finally:
            delivery.cancel()
            await link.close()
            db.close()
    events = [f for f in seen if f[2] == "SecurityEventNotification"]
    assert len(events) == 2 and events[0][1] == events[1][1]  # OTHER_TIMEOUTS, same id: not refused
    assert [f[2] for f in seen][-1] == "StartTransaction"


async def test_waits_for_the_ready_gate(station, csms):
    _, link, journal = station
    ready = asyncio.Event()
    await journal.enqueue("MeterValues", meter(1))
    link.start()
    delivery = asyncio.create_task(journal.deliver(link, ready))
    try:
        async with asyncio.timeout(5):
            await link.connected.wait()
            await link.call("Heartbeat", {})  # a full round trip: the journal had its chance
        assert "MeterValues" not in csms.received
        ready.set()
        await drained(journal)
    finally:
        delivery.cancel()


async def test_a_periodic_sample_with_nothing_ahead_of_it_is_the_only_message_committed_without_an_fsync(station):
    db, link, journal = station

    async def durable_commits(action: str, periodic_sample: bool) -> int:
        before = db.durable_commits
        await journal.enqueue(
            action, meter(0) if action == "MeterValues" else start(0), periodic_sample=periodic_sample
        )
        return db.durable_commits - before

    # Nothing delivered yet: the sample would wait, so it is durable.
    assert await durable_commits("MeterValues", periodic_sample=True) == 1
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
        assert await durable_commits("MeterValues", periodic_sample=True) == 0  # goes out at once
        await drained(journal)
        assert await durable_commits("MeterValues", periodic_sample=False) == 1  # a triggered one
        await drained(journal)
    finally:
        delivery.cancel()
    assert await durable_commits("StartTransaction", periodic_sample=False) == 1
    assert await durable_commits("MeterValues", periodic_sample=True) == 1  # waits behind the Start


CHILD = r"""
import asyncio, sys
from controller.ocpp.journal import Journal
from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc
from controller.storage import Database

TS = "2025-01-01T00:00:00Z"

def message(k):
    tx = f"tx{k // 5}"
    if k % 5 == 0:
        return "StartTransaction", {"connectorId": 1, "idTag": "TAG1", "meterStart": k, "timestamp": TS}, tx
    if k % 5 == 4:
        return "StopTransaction", {"transactionId": 0, "meterStop": k, "timestamp": TS}, tx
    value = {"timestamp": TS, "sampledValue": [{"value": str(k)}]}
    return "MeterValues", {"connectorId": 1, "transactionId": 0, "meterValue": [value]}, tx

async def main(path, port, total):
    db = Database(path)
    db.migrate("kill_test_progress", "CREATE TABLE progress (k INTEGER NOT NULL)")
    journal = Journal(db, attempts=3, retry_interval=0)
    link = Link(f"ws://127.0.0.1:{port}", "KILL", Rpc("1.6"), backoff_base=0.01, backoff_cap=0.05)
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    done = db.run_sync(lambda c: c.execute("SELECT count(*) FROM progress").fetchone()[0])
    for k in range(done, total):
        action, payload, tx = message(k)
        progress = lambda c, k=k: c.execute("INSERT INTO progress VALUES (?)", [k])
        await journal.enqueue(action, payload, tx, also=progress)
    await journal.wait_empty()
    delivery.cancel()
    await link.close()
    db.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def sequence_number(frame: list) -> int:
    payload = frame[3]
    if frame[2] == "StartTransaction":
        return payload["meterStart"]
    if frame[2] == "StopTransaction":
        return payload["meterStop"]
    return int(payload["meterValue"][0]["sampledValue"][0]["value"])


async def test_kill_9_at_random_points_loses_nothing_and_duplicates_are_recognisable(csms, tmp_path):
    seed = random.randrange(1 << 30)
    print(f"kill test seed {seed}")
    rng = random.Random(seed)
    total, kills = 60, 6
    db_path = str(tmp_path / "station.db")
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def received() -> int:
        return sum(csms.received.values())

    def answered() -> int:
        return sum(1 for f in csms.log if f.direction == "out")

    for _ in range(kills):
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, db_path, str(csms.port), str(total),
                                                     cwd=REPO, env=env)  # fmt: skip
        # Kill just after the CSMS saw a CALL, or just after it answered one (the window
        # between the CALLRESULT arriving and the delete being committed).
        counter = rng.choice([received, answered])
        target = counter() + rng.randint(1, 8)
        async with asyncio.timeout(20):
            await csms.wait_for(lambda c, t=target, n=counter: n() >= t)
        if rng.random() < 0.5:
            await asyncio.sleep(rng.random() * 0.02)  # not synchronisation: a random kill point
        child.kill()
        await child.wait()
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, db_path, str(csms.port), str(total),
                                                 cwd=REPO, env=env)  # fmt: skip
    async with asyncio.timeout(30):
        assert await child.wait() == 0

    calls = [json.loads(f.text) for f in csms.log if f.direction == "in"]
    calls = [c for c in calls if c[0] == 2 and c[2] in ("StartTransaction", "MeterValues", "StopTransaction")]
    numbers = [sequence_number(c) for c in calls]
    assert sorted(set(numbers)) == list(range(total)), "a message was lost"
    collapsed = [n for i, n in enumerate(numbers) if i == 0 or numbers[i - 1] != n]
    assert collapsed == list(range(total)), "out of order"
    duplicates = len(numbers) - total
    assert duplicates <= kills
    by_number: dict[int, set[str]] = {}
    for c in calls:
        by_number.setdefault(sequence_number(c), set()).add(c[1])
    assert all(len(ids) == 1 for ids in by_number.values()), "a resend used a new message id"
    # Every MeterValues/Stop carries the transactionId the CSMS gave (last) for its Start.
    answers = {json.loads(f.text)[1]: json.loads(f.text) for f in csms.log if f.direction == "out"}
    given: dict[int, int] = {}
    for c in calls:
        if c[2] == "StartTransaction" and c[1] in answers and answers[c[1]][0] == 3:
            given[sequence_number(c) // 5] = answers[c[1]][2]["transactionId"]
    for c in calls:
        if c[2] != "StartTransaction":
            assert c[3]["transactionId"] == given[sequence_number(c) // 5]
    print(f"kills={kills} duplicates={duplicates} frames={len(calls)}")


def event(n: int) -> dict:
    """A 2.0.1 TransactionEvent-like payload without seqNo / offline (the journal stamps them)."""
    return {"eventType": "Updated", "n": n}


async def test_sequence_numbers_and_the_offline_flag_are_stamped_in_the_enqueue_transaction(tmp_path):
    db = Database(tmp_path / "evsed.db")
    journal = Journal(db, ids=STATION_IDS)
    stamp = Stamp(sequence="seqNo")
    for n in range(3):
        await journal.enqueue("TransactionEvent", event(n), "tx-a", stamp=stamp)
    await journal.enqueue("TransactionEvent", event(9), "tx-b", stamp=Stamp(sequence="seqNo", offline="offline"))

    def broken(conn):
        raise RuntimeError("the caller's change failed")

    with pytest.raises(RuntimeError):  # nothing of a failed enqueue counts, not even its number
        await journal.enqueue("TransactionEvent", event(3), "tx-a", also=broken, stamp=stamp)
    await journal.enqueue("TransactionEvent", event(4), "tx-a", stamp=Stamp(sequence="seqNo", last=True))
    assert not await db.run(lambda c: sequence_open(c, "tx-a"))  # its last message is queued
    assert await db.run(lambda c: sequence_open(c, "tx-b"))
    queued = [(e.tx_key, e.payload["n"], e.payload["seqNo"], e.payload.get("offline")) for e in await journal.pending()]
    assert queued == [("tx-a", 0, 0, None), ("tx-a", 1, 1, None), ("tx-a", 2, 2, None), ("tx-b", 9, 0, True),
                      ("tx-a", 4, 3, None)]  # fmt: skip
    db.close()
    reopened = Journal(Database(tmp_path / "evsed.db"), ids=STATION_IDS)  # the counters survive a restart
    await reopened.enqueue("TransactionEvent", event(10), "tx-b", stamp=stamp)
    assert (await reopened.pending())[-1].payload["seqNo"] == 1
    reopened.db.close()


async def test_queued_counts_per_transaction_and_action_and_flag_offline_marks_what_waits(tmp_path):
    db = Database(tmp_path / "evsed.db")
    journal = Journal(db, ids=STATION_IDS)
    await journal.enqueue("TransactionEvent", event(1), "tx-a", stamp=Stamp(sequence="seqNo"))
    await journal.enqueue("TransactionEvent", event(2), "tx-b", stamp=Stamp(sequence="seqNo"))
    await journal.enqueue("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": TS})
    assert await journal.queued() == 3
    assert await journal.queued(tx_key="tx-a") == 1 and await journal.queued(tx_key="tx-c") == 0
    assert await journal.queued(actions=frozenset({"TransactionEvent"})) == 2
    await journal.flag_offline("offline", frozenset({"TransactionEvent"}))
    flags = [(e.action, e.payload.get("offline")) for e in await journal.pending()]
    assert flags == [("TransactionEvent", True), ("TransactionEvent", True), ("SecurityEventNotification", None)]
    db.close()


async def test_station_ids_send_as_queued_and_every_listener_hears_each_confirmation(station, csms):
    db, _, _ = station
    link = Link(f"ws://127.0.0.1:{csms.port}", "CP201", Rpc("2.0.1"), backoff_base=0.01, backoff_cap=0.05)
    journal = Journal(db, ids=STATION_IDS, attempts=3, retry_interval=0)
    heard: list[tuple[str, int, str]] = []

    async def first(entry, response):
        heard.append(("first", entry.payload["seqNo"], response["idTokenInfo"]["status"]))

    async def failing(entry, response):
        raise RuntimeError("a listener that fails does not stop the others or the delivery")

    async def last(entry, response):
        heard.append(("last", entry.payload["seqNo"], response["idTokenInfo"]["status"]))

    for listener in (first, failing, last):
        journal.listen(listener)
    for n, event_type in enumerate(("Started", "Ended")):
        payload = {"eventType": event_type, "timestamp": TS, "triggerReason": "Authorized",
                   "transactionInfo": {"transactionId": "tx-201"},
                   "idToken": {"idToken": "TAG1", "type": "ISO14443"}}  # fmt: skip
        await journal.enqueue("TransactionEvent", payload, "tx-201", stamp=Stamp(sequence="seqNo", last=n == 1))
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await drained(journal)
    finally:
        delivery.cancel()
        await link.close()
    assert heard == [("first", 0, "Accepted"), ("last", 0, "Accepted"), ("first", 1, "Accepted"),
                     ("last", 1, "Accepted")]  # fmt: skip
    sent = [json.loads(f.text)[3] for f in csms.log if f.direction == "in" and '"TransactionEvent"' in f.text]
    assert [(p["seqNo"], p["transactionInfo"]["transactionId"]) for p in sent] == [(0, "tx-201"), (1, "tx-201")]
    assert await journal.transaction_id("tx-201") is None  # no CSMS ids were kept for it


async def test_a_journal_of_an_earlier_version_keeps_its_queue_in_a_table_of_one_page_per_commit(tmp_path):
    """The journal's table loses its tx_key index and AUTOINCREMENT (each added a page to every
    commit); what an earlier version queued stays, in order, with its ids, and goes first."""
    from controller.ocpp import journal as journal_module

    db = Database(tmp_path / "evsed.db")
    db.migrate("ocpp_journal_0001", journal_module._DDL)  # as the earlier version left it
    db.migrate("ocpp_journal_0002_sequence", journal_module._SEQUENCE_DDL)
    db.run_sync(lambda c: [enqueue_in(c, "MeterValues", meter(k), "tx-old") for k in (1, 2)])
    db.run_sync(lambda c: c.execute("DELETE FROM ocpp_journal WHERE seq = 1"))  # answered: 2 waits
    journal = Journal(db)  # migrates
    db.run_sync(lambda c: enqueue_in(c, "MeterValues", meter(3), "tx-new"))
    entries = await journal.pending()
    values = [(e.seq, e.payload["meterValue"][0]["sampledValue"][0]["value"]) for e in entries]
    assert values == [(2, "2"), (3, "3")]
    sql = "SELECT sql FROM sqlite_master WHERE sql LIKE '%ocpp_journal%'"
    schema = db.run_sync(lambda c: [r[0] for r in c.execute(sql)])
    assert not any("AUTOINCREMENT" in s or "INDEX" in s for s in schema), schema
    assert await journal.queued("tx-old") == 1 and await journal.queued("tx-new") == 1
    db.close()


async def test_the_message_in_flight_when_the_link_drops_goes_again_flagged_offline_with_its_id(tmp_path):
    """2.0.1 E11.FR.07: the event whose answer the drop swallowed is still queued, so its resend
    carries offline; the flag is handed to the database before the link can come back."""
    seen: list[list] = []

    async def drops_the_first(ws):
        async for text in ws:
            frame = json.loads(text)
            seen.append(frame)
            if len(seen) == 1:
                await ws.close()
                return
            await ws.send(json.dumps([3, frame[1], {}]))

    db = Database(tmp_path / "evsed.db")
    async with serve(drops_the_first, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        port = server.sockets[0].getsockname()[1]
        link = Link(f"ws://127.0.0.1:{port}", "CP201", Rpc("2.0.1"), backoff_base=0.01, backoff_cap=0.05)
        journal = Journal(db, ids=STATION_IDS)
        link.on_disconnected = lambda: journal.flag_offline("offline", frozenset({"TransactionEvent"}))
        payload = {"eventType": "Updated", "timestamp": TS, "triggerReason": "MeterValuePeriodic",
                   "transactionInfo": {"transactionId": "tx"}}  # fmt: skip
        await journal.enqueue("TransactionEvent", payload, "tx", stamp=Stamp(sequence="seqNo"))
        link.start()
        delivery = asyncio.create_task(journal.deliver(link))
        try:
            await drained(journal)
        finally:
            delivery.cancel()
            await link.close()
            db.close()
    assert [(f[1], f[3]["seqNo"], f[3].get("offline")) for f in seen] == [(seen[0][1], 0, None), (seen[0][1], 0, True)]
