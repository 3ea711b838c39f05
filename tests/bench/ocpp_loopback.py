"""What the OCPP benchmarks share: the bench CSMS in a process of its own (so the CPU time a
benchmark measures in its own process is the client's alone), a timed run of sequential sends,
and the bare ``ocpp`` package's v16 and v201 ChargePoints as the yardstick.

Both clients talk to the same CSMS with the same websocket settings (no compression, no pings)
and one outstanding CALL at a time, as OCPP-J requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import websockets  # noqa: E402
from ocpp import v201  # noqa: E402
from ocpp.v16 import ChargePoint, call  # noqa: E402

WARM_UP = 50  # sends before the clock starts: caches and validators warm
SAMPLED = [
    {"value": "12345.6", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
    {"value": "7360", "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
    {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V", "context": "Sample.Periodic"},
    {"value": "32.0", "measurand": "Current.Import", "phase": "L1", "unit": "A", "context": "Sample.Periodic"},
]


def meter_values(transaction_id: int, energy_wh: str = "12345.6") -> dict[str, Any]:
    """A periodic MeterValues payload of one connector: energy, power, voltage, current."""
    sampled = [{**SAMPLED[0], "value": energy_wh}, *SAMPLED[1:]]
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": sampled}],
    }


def tx_updated() -> dict[str, Any]:
    """A 2.0.1 TransactionEvent Updated of a running transaction with the same four samples."""
    sampled = [{"value": float(s["value"]), "measurand": s["measurand"], "context": s["context"],
                "unitOfMeasure": {"unit": s["unit"]}, **({"phase": s["phase"]} if "phase" in s else {})}
               for s in SAMPLED]  # fmt: skip
    return {
        "eventType": "Updated", "timestamp": "2025-01-01T00:00:00Z", "triggerReason": "MeterValuePeriodic",
        "seqNo": 1, "transactionInfo": {"transactionId": "bench-transaction", "chargingState": "Charging"},
        "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": sampled}],
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class BenchCsms:
    url: str  # ws://host:port, the charge point id is appended
    http: str  # the control API: GET /csms/messages?cp=...

    def frames(self, cp_id: str) -> list[dict[str, Any]]:
        """Every frame the CSMS logged for ``cp_id``: {"direction", "text", "at"}."""
        with urllib.request.urlopen(f"{self.http}/csms/messages?cp={cp_id}", timeout=60) as response:
            return json.loads(response.read())


@contextlib.asynccontextmanager
async def bench_csms(log_limit: int = 10000) -> AsyncIterator[BenchCsms]:
    """``python -m sim.csms`` on free loopback ports, killed on exit."""
    csms = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim.csms", "--port", "0", "--http-port", "0", "--log-level", "ERROR",
        "--log-limit", str(log_limit), stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        assert csms.stdout is not None
        line = (await csms.stdout.readline()).decode()
        match = re.search(r"ws://([\d.]+:\d+) (http://[\d.]+:\d+)", line)
        if match is None:
            raise RuntimeError(f"bench CSMS did not start: {line!r}")
        yield BenchCsms(f"ws://{match.group(1)}", match.group(2))
    finally:
        csms.kill()
        await csms.wait()


async def measure(send: Callable[[], Awaitable[Any]], count: int) -> tuple[float, float]:
    """(CPU µs per message, messages per second) for ``count`` sequential sends."""
    for _ in range(WARM_UP):
        await send()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await send()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / count * 1e6, count / wall


async def bare_meter_values(url: str, count: int, payload: dict[str, Any]) -> tuple[float, float]:
    """``measure`` for the ``ocpp`` package's own ChargePoint sending MeterValues ``payload``."""
    async with websockets.connect(f"{url}/BENCH-BARE", subprotocols=["ocpp1.6"], compression=None,
                                  ping_interval=None) as ws:  # fmt: skip
        cp = ChargePoint("BENCH-BARE", ws)
        reader = asyncio.create_task(cp.start())
        request = call.MeterValues(
            connector_id=payload["connectorId"],
            transaction_id=payload["transactionId"],
            meter_value=payload["meterValue"],
        )
        try:
            return await measure(lambda: cp.call(request, suppress=False), count)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def bare_transaction_events(url: str, count: int, payload: dict[str, Any]) -> tuple[float, float]:
    """``measure`` for the ``ocpp`` package's own v201 ChargePoint sending TransactionEvent ``payload``."""
    async with websockets.connect(f"{url}/BENCH-BARE-201", subprotocols=["ocpp2.0.1"], compression=None,
                                  ping_interval=None) as ws:  # fmt: skip
        cp = v201.ChargePoint("BENCH-BARE-201", ws)
        reader = asyncio.create_task(cp.start())
        info = payload["transactionInfo"]
        request = v201.call.TransactionEvent(
            event_type=payload["eventType"], timestamp=payload["timestamp"], trigger_reason=payload["triggerReason"],
            seq_no=payload["seqNo"], meter_value=payload["meterValue"],
            transaction_info={"transaction_id": info["transactionId"], "charging_state": info["chargingState"]},
        )  # fmt: skip
        try:
            return await measure(lambda: cp.call(request, suppress=False), count)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
