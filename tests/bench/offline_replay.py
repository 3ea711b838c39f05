"""Offline replay: transaction messages queued in the journal while the link is down, then
delivered after the reconnect, checked on the CSMS side and timed against the bare library.

The station side is the real thing: ``controller.ocpp.journal.Journal`` on a SQLite file
(WAL, synchronous=FULL: one fsync per commit) and ``controller.ocpp.link.Link``. The CSMS is
the bench CSMS (``sim.csms``) in a process of its own; it records every frame, which costs it
the same for both clients. Messages come in transactions of ``TRANSACTION_LENGTH``: a
StartTransaction, MeterValues, a StopTransaction. Each carries its sequence number k as its
energy reading (meterStart, the Energy.Active.Import.Register sample, meterStop), so the
CSMS's log alone tells what was lost, duplicated or out of order. Queued offline, every
MeterValues / Stop has transactionId -1 until its Start is confirmed; the log also tells
whether each carried the id the CSMS gave its Start.

The yardstick: the ``ocpp`` package's v16 ChargePoint sending the same number of MeterValues
CALLs sequentially to the same CSMS in the same run (it keeps nothing on disk).

The 2.0.1 run (``v201`` in the JSON) does the same with TransactionEvents (``STATION_IDS``: the
station's own transaction ids): Started, Updated..., Ended per transaction, each stamped by the
journal as the front end stamps them (seqNo from 0, offline), carrying k as its energy sample;
the CSMS's log tells what was lost, duplicated, out of order, which seqNo is missing or wrong,
and which arrived without offline. Its yardstick is the ``ocpp`` package's v201 ChargePoint
sending TransactionEvent Updated CALLs.

Run: .venv/bin/python tests/bench/offline_replay.py [--messages N] [--state-dir DIR]
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ocpp_loopback import bare_meter_values, bare_transaction_events, bench_csms, meter_values, tx_updated

from controller.ocpp.journal import START_ACTION, STATION_IDS, STOP_ACTION, Journal, Stamp
from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc
from controller.storage import Database

TRANSACTION_LENGTH = 10  # Start, 8 MeterValues, Stop
TRANSACTION_ACTIONS = (START_ACTION, "MeterValues", STOP_ACTION)
CP_ID = "BENCH-REPLAY"
CP_ID_201 = "BENCH-REPLAY-201"
TS = "2025-01-01T00:00:00Z"


def message(k: int) -> tuple[str, dict[str, Any], str]:
    """The k-th queued message: (action, payload, tx_key); k is its energy reading."""
    tx_key = f"tx{k // TRANSACTION_LENGTH}"
    if k % TRANSACTION_LENGTH == 0:
        return START_ACTION, {"connectorId": 1, "idTag": "TAG1", "meterStart": k, "timestamp": TS}, tx_key
    if k % TRANSACTION_LENGTH == TRANSACTION_LENGTH - 1:
        return STOP_ACTION, {"transactionId": 0, "meterStop": k, "timestamp": TS}, tx_key
    return "MeterValues", meter_values(transaction_id=0, energy_wh=str(k)), tx_key


def sequence_number(action: str, payload: dict[str, Any]) -> int:
    if action == START_ACTION:
        return payload["meterStart"]
    if action == STOP_ACTION:
        return payload["meterStop"]
    return int(payload["meterValue"][0]["sampledValue"][0]["value"])


@dataclass(frozen=True, slots=True)
class Verdict:
    queued: int
    delivered: int  # distinct messages the CSMS received
    lost: int
    duplicated: int  # received again under a new message id: the CSMS cannot tell it is a copy
    resent: int  # received again under the same message id (outcome unknown at a disconnect)
    out_of_order: int  # below the highest number already received, other than a resend of the last one
    wrong_transaction_id: int  # MeterValues / Stop without the id the CSMS gave its Start


def verdict(queued: int, frames: Iterable[tuple[str, str]]) -> Verdict:
    """Judge what a CSMS saw: ``frames`` are (direction "in"/"out", text) in the order logged."""
    calls: list[tuple[str, str, dict[str, Any]]] = []  # (message id, action, payload)
    given: dict[str, int] = {}  # Start's message id -> the transactionId the CSMS answered (last)
    for direction, text in frames:
        frame = json.loads(text)
        if direction == "in" and frame[0] == 2 and frame[2] in TRANSACTION_ACTIONS:
            calls.append((frame[1], frame[2], frame[3]))
        elif direction == "out" and frame[0] == 3 and "transactionId" in frame[2]:
            given[frame[1]] = frame[2]["transactionId"]
    ids_seen: dict[int, set[str]] = {}
    transaction_of: dict[int, int] = {}  # k // TRANSACTION_LENGTH -> transactionId
    duplicated = resent = out_of_order = wrong = 0
    highest = previous = -1
    for message_id, action, payload in calls:
        k = sequence_number(action, payload)
        if k in ids_seen:
            if message_id in ids_seen[k]:
                resent += 1
            else:
                duplicated += 1
        if k < highest and k != previous:
            out_of_order += 1
        ids_seen.setdefault(k, set()).add(message_id)
        highest, previous = max(highest, k), k
        transaction = k // TRANSACTION_LENGTH
        if action == START_ACTION:
            transaction_of[transaction] = given.get(message_id, -1)
        elif payload["transactionId"] != transaction_of.get(transaction, -1):
            wrong += 1
    delivered = len(ids_seen.keys() & set(range(queued)))
    return Verdict(queued, delivered, queued - delivered, duplicated, resent, out_of_order, wrong)


def transaction_event(k: int) -> tuple[dict[str, Any], str, Stamp]:
    """The k-th queued 2.0.1 message: (payload without seqNo / offline, tx_key, the journal's stamp)."""
    position, tx_key = k % TRANSACTION_LENGTH, f"bench-tx-{k // TRANSACTION_LENGTH}"
    last = position == TRANSACTION_LENGTH - 1
    event_type, trigger = ("Started", "Authorized") if position == 0 else ("Ended", "StopAuthorized") if last else (
        "Updated", "MeterValuePeriodic")  # fmt: skip
    sample = {"value": float(k), "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}
    payload = {"eventType": event_type, "timestamp": TS, "triggerReason": trigger,
               "transactionInfo": {"transactionId": tx_key},
               "meterValue": [{"timestamp": TS, "sampledValue": [sample]}]}  # fmt: skip
    return payload, tx_key, Stamp(sequence="seqNo", offline="offline", last=last)


@dataclass(frozen=True, slots=True)
class Verdict201:
    queued: int
    delivered: int
    lost: int
    duplicated: int  # received again under a new message id
    resent: int  # received again under the same message id
    out_of_order: int
    seqno_gaps: int  # an event whose seqNo is not its place in its transaction (0, 1, 2...)
    not_offline: int  # queued while offline but sent without offline true


def verdict_201(queued: int, frames: Iterable[tuple[str, str]]) -> Verdict201:
    """Judge the TransactionEvents a CSMS saw (``frames`` as for ``verdict``)."""
    ids_seen: dict[int, set[str]] = {}
    duplicated = resent = out_of_order = gaps = not_offline = 0
    highest = previous = -1
    for direction, text in frames:
        frame = json.loads(text)
        if direction != "in" or frame[0] != 2 or frame[2] != "TransactionEvent":
            continue
        payload = frame[3]
        k = int(payload["meterValue"][0]["sampledValue"][0]["value"])
        if k in ids_seen:
            resent, duplicated = (resent + 1, duplicated) if frame[1] in ids_seen[k] else (resent, duplicated + 1)
        if k < highest and k != previous:
            out_of_order += 1
        gaps += payload["seqNo"] != k % TRANSACTION_LENGTH
        not_offline += payload.get("offline") is not True
        ids_seen.setdefault(k, set()).add(frame[1])
        highest, previous = max(highest, k), k
    delivered = len(ids_seen.keys() & set(range(queued)))
    return Verdict201(queued, delivered, queued - delivered, duplicated, resent, out_of_order, gaps, not_offline)


async def queue(journal: Journal, numbers: range) -> None:
    """One commit per message, as the station queues them."""
    for k in numbers:
        action, payload, tx_key = message(k)
        await journal.enqueue(action, payload, tx_key)


async def queue_201(journal: Journal, numbers: range) -> None:
    """One commit per event, stamped in it, as the 2.0.1 front end queues them."""
    for k in numbers:
        payload, tx_key, stamp = transaction_event(k)
        await journal.enqueue("TransactionEvent", payload, tx_key, stamp=stamp)


async def replay(url: str, state_dir: Path, count: int, version: str = "1.6") -> dict[str, float]:
    """Queue ``count`` messages with the link down, reconnect, time delivery until empty."""
    db = Database(state_dir / f"replay-{version}.db")
    cp_id, ids, fill = (CP_ID, None, queue) if version == "1.6" else (CP_ID_201, STATION_IDS, queue_201)
    link = Link(f"{url}", cp_id, Rpc(version), ping_interval=0, backoff_base=0.01, backoff_cap=0.05)
    journal = Journal(db) if ids is None else Journal(db, ids=ids)
    delivery = asyncio.create_task(journal.deliver(link), name="journal-delivery")
    try:
        link.start()
        await link.connected.wait()
        await link.disconnect()
        queued_at = time.perf_counter()
        await fill(journal, range(count))
        queue_seconds = time.perf_counter() - queued_at
        cpu, wall = time.process_time(), time.perf_counter()
        link.connect()
        await journal.wait_empty()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        delivery.cancel()
        await asyncio.gather(delivery, return_exceptions=True)
        await link.close()
        db.close()
    return {"queue_seconds": queue_seconds, "seconds": wall, "cpu_us_per_msg": cpu / count * 1e6}


async def main(count: int, state_dir: Path) -> dict[str, Any]:
    # Both directions of every message, plus the connection's own frames.
    async with bench_csms(log_limit=2 * count + 100) as csms:
        timing = await replay(csms.url, state_dir, count)
        frames = await asyncio.to_thread(csms.frames, CP_ID)
        judged = verdict(count, ((f["direction"], f["text"]) for f in frames))
        _, bare_rate = await bare_meter_values(csms.url, count, meter_values(transaction_id=42))
        v201 = await main_201(csms, count, state_dir)
    per_s = count / timing["seconds"]
    print(f"queued {count} messages offline in {timing['queue_seconds']:.1f} s (one commit each), state in {state_dir}")
    print(f"delivered after reconnect in {timing['seconds']:.2f} s: {per_s:.0f} msg/s, "
          f"{timing['cpu_us_per_msg']:.0f} µs CPU/msg (incl. the database thread)")  # fmt: skip
    print(f"bare ocpp 2.1.0 MeterValues: {bare_rate:.0f} msg/s; ratio {per_s / bare_rate:.2f} (target >= 0.5)")
    print(", ".join(f"{key} {value}" for key, value in asdict(judged).items()))
    return {
        **asdict(judged),
        "seconds": round(timing["seconds"], 3),
        "per_s": round(per_s, 1),
        "bare_per_s": round(bare_rate, 1),
        "ratio": round(per_s / bare_rate, 3),
        "queue_seconds": round(timing["queue_seconds"], 3),
        "cpu_us_per_msg": round(timing["cpu_us_per_msg"], 1),
        "v201": v201,
    }


async def main_201(csms: Any, count: int, state_dir: Path) -> dict[str, Any]:
    timing = await replay(csms.url, state_dir, count, "2.0.1")
    frames = await asyncio.to_thread(csms.frames, CP_ID_201)
    judged = verdict_201(count, ((f["direction"], f["text"]) for f in frames))
    _, bare_rate = await bare_transaction_events(csms.url, count, tx_updated())
    per_s = count / timing["seconds"]
    print(f"2.0.1: queued {count} TransactionEvents offline in {timing['queue_seconds']:.1f} s, delivered in "
          f"{timing['seconds']:.2f} s: {per_s:.0f} msg/s, {timing['cpu_us_per_msg']:.0f} µs CPU/msg; bare ocpp "
          f"v201 TransactionEvent {bare_rate:.0f} msg/s; ratio {per_s / bare_rate:.2f} (target >= 0.5)")  # fmt: skip
    print("2.0.1: " + ", ".join(f"{key} {value}" for key, value in asdict(judged).items()))
    return {**asdict(judged), "per_s": round(per_s, 1), "bare_per_s": round(bare_rate, 1),
            "ratio": round(per_s / bare_rate, 3), "seconds": round(timing["seconds"], 3)}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--state-dir", type=Path, help="where the journal's SQLite file goes (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        figures = asyncio.run(main(args.messages, args.state_dir or Path(scratch)))
    print(json.dumps(figures))
