"""The journal's residual duplicate window: SIGKILL the station at random instants just after
the CSMS answered a transaction message, many times, and count same-id resends.

The station is the real journal + link on a SQLite file (WAL, synchronous=FULL) in a process
of its own (``STATION``); it queues its transaction messages once, then delivers them. With
``--load`` it also does what a daemon does meanwhile: other asyncio steps (2 ms each, back to
back), other database commits (every 5 ms) and a thread taking the GIL like the real-time
loop.

The CSMS is a plain websocket server in this process. In every round it answers the first one
to three CALLs; right after sending the last of those answers it sleeps a delay drawn
uniformly from [0, ``--window-ms``] (blocking, precise to about 0.1 ms, leaving the CPU to
the station), kills the station with SIGKILL and starts it again. A CALL whose message id the
CSMS has already answered is a duplicate: the station was killed between the answer reaching
it and the confirmation being on disk. At the end a last station run delivers the rest, and
the CSMS checks that every message arrived, in order.

Run: .venv/bin/python tests/bench/kill_after_answer.py [--kills N] [--window-ms MS] [--load]
     [--state-dir DIR] [--seed N]
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

REPO = Path(__file__).resolve().parents[2]
TS = "2025-01-01T00:00:00Z"

STATION = r"""
import asyncio, sys, threading, time
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

def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

async def busy_loop():  # other asyncio work: every loop step holds it 2 ms
    while True:
        spin(0.002)
        await asyncio.sleep(0)

async def busy_database(db):  # other writes: one commit (fsync) every 5 ms
    while True:
        await db.run(lambda c: c.execute("INSERT INTO scratch VALUES (1)"))
        await asyncio.sleep(0.005)

def busy_thread():  # a real-time-loop-like thread: 0.5 ms of Python every 5 ms
    while True:
        spin(0.0005)
        time.sleep(0.005)

async def main(path, port, total, load):
    sys.setswitchinterval(0.001)  # as the daemon does
    db = Database(path)
    db.migrate("kill_bench_progress", "CREATE TABLE progress (k INTEGER NOT NULL); CREATE TABLE scratch (v INTEGER)")
    journal = Journal(db, attempts=3, retry_interval=0)
    link = Link(f"ws://127.0.0.1:{port}", "KILL", Rpc("1.6"), backoff_base=0.01, backoff_cap=0.05)
    done = db.run_sync(lambda c: c.execute("SELECT count(*) FROM progress").fetchone()[0])
    for k in range(done, total):
        action, payload, tx = message(k)
        progress = lambda c, k=k: c.execute("INSERT INTO progress VALUES (?)", [k])
        await journal.enqueue(action, payload, tx, also=progress)
    if load:
        others = [asyncio.create_task(busy_loop()), asyncio.create_task(busy_database(db))]  # kept: tasks are weak
        threading.Thread(target=busy_thread, daemon=True).start()
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    await journal.wait_empty()
    delivery.cancel()
    await link.close()
    db.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "load"))
"""


def sequence_number(frame: list) -> int:
    payload = frame[3]
    if frame[2] == "StartTransaction":
        return int(payload["meterStart"])
    if frame[2] == "StopTransaction":
        return int(payload["meterStop"])
    return int(payload["meterValue"][0]["sampledValue"][0]["value"])


@dataclass
class Csms:
    rng: random.Random
    window_s: float
    answered: set[str] = field(default_factory=set)
    numbers: list[int] = field(default_factory=list)  # sequence numbers of the CALLs, in arrival order
    kills: list[tuple[float, bool]] = field(default_factory=list)  # (delay after the answer, resent?)
    station: asyncio.subprocess.Process | None = None
    kill_after: int = 0  # answers left in this round before the kill; 0: never
    transaction_ids: int = 0

    async def handler(self, ws: ServerConnection) -> None:
        async for text in ws:
            frame = json.loads(text)
            if frame[0] != 2:
                continue
            if frame[1] in self.answered and self.kills:
                self.kills[-1] = (self.kills[-1][0], True)
            self.numbers.append(sequence_number(frame))
            await ws.send(json.dumps([3, frame[1], self._answer(frame[2])]))
            self.answered.add(frame[1])
            if self.kill_after > 0:
                self.kill_after -= 1
                if self.kill_after == 0:
                    self._kill()
                    return  # what the dead station sent meanwhile is never read, let alone answered

    def _answer(self, action: str) -> dict:
        if action == "StartTransaction":
            self.transaction_ids += 1
            return {"idTagInfo": {"status": "Accepted"}, "transactionId": self.transaction_ids}
        return {"idTagInfo": {"status": "Accepted"}} if action == "StopTransaction" else {}

    def _kill(self) -> None:
        delay = self.rng.uniform(0, self.window_s)
        time.sleep(delay)  # blocking on purpose: nothing else may run in between
        assert self.station is not None
        os.kill(self.station.pid, signal.SIGKILL)
        self.kills.append((delay, False))


async def run_station(csms: Csms, db_path: Path, port: int, total: int, load: bool) -> int:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    csms.station = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        STATION,
        str(db_path),
        str(port),
        str(total),
        "load" if load else "idle",
        cwd=REPO,
        env=env,
    )
    return await csms.station.wait()


async def main(kills: int, window_ms: float, state_dir: Path, seed: int, load: bool) -> dict[str, float]:
    csms = Csms(random.Random(seed), window_ms / 1000)
    total = kills * 4 + 20  # at most 3 answered per round, plus room for resends
    db_path = state_dir / "station.db"
    async with serve(csms.handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        port = server.sockets[0].getsockname()[1]
        for _ in range(kills):
            csms.kill_after = csms.rng.randint(1, 3)
            code = await run_station(csms, db_path, port, total, load)
            assert code == -signal.SIGKILL, f"station ended with {code} before the kill"
        csms.kill_after = 0
        assert await run_station(csms, db_path, port, total, load) == 0
    numbers = csms.numbers
    collapsed = [n for i, n in enumerate(numbers) if i == 0 or numbers[i - 1] != n]
    assert collapsed == list(range(total)), "a message was lost or reordered"
    resent = [delay for delay, dup in csms.kills if dup]
    buckets = {}
    for low in range(0, int(window_ms), max(1, int(window_ms) // 5)):
        high = low + max(1, int(window_ms) // 5)
        inside = [dup for delay, dup in csms.kills if low <= delay * 1000 < high]
        buckets[f"{low}-{high}ms"] = round(sum(inside) / len(inside), 3) if inside else None
    print(f"state dir: {state_dir} (seed {seed}){'; station under load' if load else ''}")
    rate = len(resent) / kills
    print(f"{kills} kills 0-{window_ms:g} ms after the answer: {len(resent)} same-id resends ({rate:.1%}), "
          f"{len(numbers) - total} duplicate frames; nothing lost or reordered")  # fmt: skip
    print("resend rate by delay: " + ", ".join(f"{k}: {v}" for k, v in buckets.items()))
    if resent:
        print(f"longest delay that still left a resend: {max(resent) * 1000:.2f} ms")
    return {
        "load": load,
        "kills": kills,
        "window_ms": window_ms,
        "resends": len(resent),
        "rate": round(len(resent) / kills, 4),
        "max_resent_delay_ms": round(max(resent) * 1000, 2) if resent else 0.0,
        **{f"rate_{k}": v for k, v in buckets.items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--window-ms", type=float, default=20.0)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    parser.add_argument(
        "--load", action="store_true", help="the station also runs other asyncio, database and thread work"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.state_dir) as tmp:
        figures = asyncio.run(main(args.kills, args.window_ms, Path(tmp), args.seed, args.load))
    print(json.dumps(figures))
