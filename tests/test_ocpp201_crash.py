"""OCPP 2.0.1 transactions through kill -9 and a CSMS that drops the link, at random instants.

``evsed run`` speaks 2.0.1 to the bench CSMS, which runs on an event loop of its own in a thread
of this process (it records every frame; the test closes its websocket at will). Sessions
come and go on two EVSEs (free vend, a sample every second); between them the daemon is killed
with SIGKILL or the CSMS closes the link, at random points, and the daemon is started again on
the same state directory. At the end the CSMS must have seen, per transaction, every
TransactionEvent once (a resend only under the message id it had: the CSMS can tell it is the
same), first arrivals in seqNo order from 0 without a gap, one Started and one Ended, the Ended
last; the ledger has no transaction left open and each one it has reached the CSMS."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EV, TWO_CONNECTORS, read_transactions, wait_until

from sim.csms import Csms, CsmsConfig

CP_ID = "CRASH-201"
ROUNDS = 6


class CsmsThread:
    """The bench CSMS on its own event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.csms = Csms(CsmsConfig(heartbeat_interval=300, log_limit=200_000))
        self.port = self.run(self.csms.start())

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(15)

    def drop(self) -> None:
        self.run(self.csms.close(CP_ID))

    def frames(self) -> list[list[Any]]:
        logged = self.run(_snapshot(self.csms))
        return [json.loads(text) for direction, text in logged if direction == "in"]

    def stop(self) -> None:
        self.run(self.csms.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _snapshot(csms: Csms) -> list[tuple[str, str]]:
    return [(f.direction, f.text) for f in csms.log if f.cp == CP_ID]


@pytest.fixture
def csms_thread() -> Iterator[CsmsThread]:
    server = CsmsThread()
    yield server
    server.stop()


def config(port: int) -> str:
    return (
        TWO_CONNECTORS
        + f"""
[station]
charge_point_id = "{CP_ID}"

[charging]
authorize = "any"

[ocpp]
version = "2.0.1"
url = "ws://127.0.0.1:{port}"
call_timeout_s = 5.0

[ocpp.variables]
"SampledDataCtrlr.TxUpdatedInterval" = 1
"OCPPCommCtrlr.RetryBackOffWaitMinimum" = 1
"OCPPCommCtrlr.RetryBackOffRandomRange" = 0
"""
    )


def queued(state: Path) -> int:
    conn = sqlite3.connect(state / "evsed.db")
    try:
        return int(conn.execute("SELECT count(*) FROM ocpp_journal").fetchone()[0])
    finally:
        conn.close()


def test_kill_9_and_link_drops_at_random_instants_lose_and_double_bill_nothing(
    evsed_process: Any, csms_thread: CsmsThread, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    state = tmp_path / "state"
    toml = config(csms_thread.port)
    daemon = evsed_process(toml, state_dir=state)
    for _ in range(ROUNDS):
        for evse in (1, 2):
            if rng.random() < 0.7:
                daemon.api("POST", "/api/sim/plug-in", {"connector": evse, **EV})
        time.sleep(rng.uniform(0.3, 2.5))  # the random instant of what comes next, not a wait for something
        if rng.random() < 0.4:
            daemon.api("POST", "/api/sim/unplug", {"connector": rng.choice((1, 2))})
        if rng.random() < 0.5:
            csms_thread.drop()  # the CSMS goes away mid-session; the station reconnects after 1 s
            continue
        assert daemon.terminate(signal.SIGKILL) == -signal.SIGKILL
        daemon = evsed_process(toml, state_dir=state)  # the EVs of the old simulated world are gone
    for evse in (1, 2):
        daemon.api("POST", "/api/sim/unplug", {"connector": evse})
    wait_until(lambda: all(r["stopped_at"] is not None for r in read_transactions(state / "evsed.db")), 20,
               "every transaction closed")  # fmt: skip
    wait_until(lambda: queued(state) == 0, 60, "the journal delivered")
    ledger = read_transactions(state / "evsed.db")
    events: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for frame in csms_thread.frames():
        if frame[0] == 2 and frame[2] == "TransactionEvent":
            events.setdefault(frame[3]["transactionInfo"]["transactionId"], []).append((frame[1], frame[3]))
    assert len(ledger) >= 2 and {r["id"] for r in ledger} == set(events), f"seed {seed}"
    for tx, sent in events.items():
        ids_of: dict[int, str] = {}
        firsts: list[int] = []
        for message_id, payload in sent:
            seq = payload["seqNo"]
            if seq in ids_of:
                assert ids_of[seq] == message_id, f"seed {seed}: {tx} seqNo {seq} again under a new id"
            else:
                ids_of[seq] = message_id
                firsts.append(seq)
        assert firsts == list(range(len(firsts))), f"seed {seed}: {tx} {firsts}"
        kinds = {payload["seqNo"]: payload["eventType"] for _, payload in sent}
        assert kinds[0] == "Started" and kinds[len(firsts) - 1] == "Ended", f"seed {seed}: {tx} {kinds}"
        assert list(kinds.values()).count("Ended") == 1 and list(kinds.values()).count("Started") == 1
