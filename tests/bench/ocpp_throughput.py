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

from ocpp_loopback import bare_meter_values, bench_csms, measure, meter_values

from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc

PAYLOAD = meter_values(transaction_id=42)


async def evsed_client(url: str, count: int) -> tuple[float, float]:
    link = Link(url, "BENCH-EVSED", Rpc("1.6"), ping_interval=0)
    link.start()
    await link.connected.wait()
    try:
        return await measure(lambda: link.call("MeterValues", PAYLOAD), count)
    finally:
        await link.close()


async def main(count: int) -> dict[str, float]:
    async with bench_csms() as csms:
        evsed_cpu, evsed_rate = await evsed_client(csms.url, count)
        bare_cpu, bare_rate = await bare_meter_values(csms.url, count, PAYLOAD)
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
