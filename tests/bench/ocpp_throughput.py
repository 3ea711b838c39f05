"""MeterValues CALLs per second and client CPU per message: evsed's link + rpc against a bare
``ocpp.v16.ChargePoint`` client, both talking to the bench CSMS (in its own process, so the
process CPU time measured here is the client's alone). Same payload, same websocket settings
(no compression), sequential CALLs (OCPP allows one outstanding). Then the same for OCPP 2.0.1:
TransactionEvent Updated (a running transaction's meter values) from evsed's link with the 2.0.1
dialect against a bare ``ocpp.v201.ChargePoint``.

Run: .venv/bin/python tests/bench/ocpp_throughput.py [--messages N]
The last line is JSON: the 1.6 figures at the top level, the 2.0.1 ones under "v201".
"""

from __future__ import annotations

import argparse
import asyncio
import json

from ocpp_loopback import bare_meter_values, bare_transaction_events, bench_csms, measure, meter_values, tx_updated

from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc

PAYLOAD = meter_values(transaction_id=42)


async def evsed_client(url: str, count: int, version: str, action: str, payload: dict) -> tuple[float, float]:
    link = Link(url, f"BENCH-EVSED-{version}", Rpc(version), ping_interval=0)
    link.start()
    await link.connected.wait()
    try:
        return await measure(lambda: link.call(action, payload), count)
    finally:
        await link.close()


def figures(label: str, evsed: tuple[float, float], bare: tuple[float, float]) -> dict[str, float]:
    (evsed_cpu, evsed_rate), (bare_cpu, bare_rate) = evsed, bare
    print(f"{label} evsed link+rpc : {evsed_cpu:8.1f} µs CPU/msg  {evsed_rate:8.0f} msg/s")
    print(f"{label} bare ocpp 2.1.0: {bare_cpu:8.1f} µs CPU/msg  {bare_rate:8.0f} msg/s")
    return {
        "evsed_cpu_us_per_msg": round(evsed_cpu, 1),
        "bare_cpu_us_per_msg": round(bare_cpu, 1),
        "ratio": round(evsed_cpu / bare_cpu, 3),
        "evsed_msgs_per_s": round(evsed_rate, 1),
        "bare_msgs_per_s": round(bare_rate, 1),
    }


async def main(count: int) -> dict[str, object]:
    updated = tx_updated()
    async with bench_csms() as csms:
        v16 = (await evsed_client(csms.url, count, "1.6", "MeterValues", PAYLOAD),
               await bare_meter_values(csms.url, count, PAYLOAD))  # fmt: skip
        v201 = (await evsed_client(csms.url, count, "2.0.1", "TransactionEvent", updated),
                await bare_transaction_events(csms.url, count, updated))  # fmt: skip
    print(f"messages per client: {count}")
    return {**figures("1.6   MeterValues      ", *v16), "v201": figures("2.0.1 TransactionEvent ", *v201)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    figures = asyncio.run(main(parser.parse_args().messages))
    print(json.dumps(figures))
