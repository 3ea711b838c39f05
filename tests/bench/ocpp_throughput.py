"""MeterValues CALLs per second and client CPU per message: evsed's link + rpc against a bare
``ocpp.v16.ChargePoint`` client, both talking to the bench CSMS (in its own process, so the
process CPU time measured here is the client's alone). Same payload, same websocket settings
(no compression), sequential CALLs (OCPP allows one outstanding).

Run: .venv/bin/python tests/bench/ocpp_throughput.py [--messages N]
The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import websockets  # noqa: E402
from ocpp.v16 import ChargePoint, call  # noqa: E402

from controller.ocpp.link import Link  # noqa: E402
from controller.ocpp.rpc import Rpc  # noqa: E402

SAMPLED = [
    {"value": "12345.6", "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
    {"value": "7360", "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
    {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V", "context": "Sample.Periodic"},
    {"value": "32.0", "measurand": "Current.Import", "phase": "L1", "unit": "A", "context": "Sample.Periodic"},
]
PAYLOAD = {"connectorId": 1, "transactionId": 42,
           "meterValue": [{"timestamp": "2025-01-01T00:00:00Z", "sampledValue": SAMPLED}]}  # fmt: skip


async def measure(send, count: int) -> tuple[float, float]:
    """(CPU µs per message, messages per second) for ``count`` sequential sends."""
    for _ in range(50):  # warm caches and validators
        await send()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await send()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / count * 1e6, count / wall


async def evsed_client(url: str, count: int) -> tuple[float, float]:
    link = Link(url, "BENCH-EVSED", Rpc("1.6"), ping_interval=0)
    link.start()
    await link.connected.wait()
    try:
        return await measure(lambda: link.call("MeterValues", PAYLOAD), count)
    finally:
        await link.close()


async def bare_client(url: str, count: int) -> tuple[float, float]:
    async with websockets.connect(f"{url}/BENCH-BARE", subprotocols=["ocpp1.6"], compression=None,
                                  ping_interval=None) as ws:  # fmt: skip
        cp = ChargePoint("BENCH-BARE", ws)
        reader = asyncio.create_task(cp.start())
        request = call.MeterValues(connector_id=1, transaction_id=42, meter_value=PAYLOAD["meterValue"])
        try:
            return await measure(lambda: cp.call(request, suppress=False), count)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def main(count: int) -> dict[str, float]:
    csms = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim.csms", "--port", "0", "--http-port", "0", "--log-level", "ERROR",
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        assert csms.stdout is not None
        line = (await csms.stdout.readline()).decode()
        match = re.search(r"ws://([\d.]+:\d+)", line)
        if match is None:
            raise RuntimeError(f"bench CSMS did not start: {line!r}")
        url = f"ws://{match.group(1)}"
        evsed_cpu, evsed_rate = await evsed_client(url, count)
        bare_cpu, bare_rate = await bare_client(url, count)
    finally:
        csms.kill()
        await csms.wait()
    print(f"messages per client: {count}")
    print(f"evsed link+rpc : {evsed_cpu:8.1f} µs CPU/msg  {evsed_rate:8.0f} msg/s")
    print(f"bare ocpp 2.1.0: {bare_cpu:8.1f} µs CPU/msg  {bare_rate:8.0f} msg/s")
    return {
        "evsed_cpu_us_per_msg": round(evsed_cpu, 1),
        "bare_cpu_us_per_msg": round(bare_cpu, 1),
        "ratio": round(evsed_cpu / bare_cpu, 3),
        "evsed_msgs_per_s": round(evsed_rate, 1),
        "bare_msgs_per_s": round(bare_rate, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    figures = asyncio.run(main(parser.parse_args().messages))
    print(json.dumps(figures))
