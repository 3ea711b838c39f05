"""Safety latency: from a CP change or an injected fault to the contactor-open command.

The whole daemon runs on the simulated board (free vend) while its asyncio loop is
loaded the way a busy OCPP front end would load it: a coroutine that holds the loop
for 150 ms at a time doing JSON encoding and JSON-schema validation of OCPP payloads.
Events cycle through C->B (the EV pauses), C->A (unplug) and an RCD trip. The times
come from the simulated world's own logs (the instant the EV changed / the fault was
injected, and the instant the contactor was commanded open), both on time.monotonic.

Run: python tests/bench/safety_latency.py [--events 1200] [--period-ms 5]
Last line: {"events":..,"p50_ms":..,"p99_ms":..,"max_ms":..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jsonschema
import ocpp

from controller.config import load_board, parse
from controller.daemon import Daemon
from controller.ocpp.v16.status import connector_status

CONFIG = """
[board]
type = "sim"
ev_reaction_s = 0.01
[[connector]]
id = 1
max_current_a = 32
[charging]
authorize = "any"
[loop]
period_ms = {period_ms}
meter_interval_s = 0.5
[storage]
state_dir = "{state_dir}"
[api]
enabled = false
"""

METER_VALUES = {
    "connectorId": 1,
    "transactionId": 42,
    "meterValue": [
        {
            "timestamp": "2026-11-21T12:00:00Z",
            "sampledValue": [
                {"value": f"{v:.1f}", "measurand": m, "unit": u, "phase": p, "context": "Sample.Periodic"}
                for v, m, u, p in [
                    (230.1, "Voltage", "V", "L1-N"),
                    (231.2, "Voltage", "V", "L2-N"),
                    (229.9, "Voltage", "V", "L3-N"),
                    (31.9, "Current.Import", "A", "L1"),
                    (32.0, "Current.Import", "A", "L2"),
                    (31.8, "Current.Import", "A", "L3"),
                ]
            ],
        }
    ],
}


def meter_values_validator() -> jsonschema.Draft4Validator:
    path = Path(ocpp.__file__).parent / "v16" / "schemas" / "MeterValues.json"
    return jsonschema.Draft4Validator(json.loads(path.read_text()))


async def hog_the_loop(stop: asyncio.Event, hold_s: float = 0.15) -> int:
    """Block the event loop for 150 ms at a time with OCPP-like JSON work."""
    validator = meter_values_validator()
    rounds = 0
    while not stop.is_set():
        end = time.perf_counter() + hold_s
        while time.perf_counter() < end:
            validator.validate(json.loads(json.dumps(METER_VALUES)))
        rounds += 1
        await asyncio.sleep(0.02)
    return rounds


async def until(predicate, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("bench: condition not reached")
        await asyncio.sleep(0.002)


async def main(events: int, period_ms: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state_dir:
        config = parse(CONFIG.format(period_ms=period_ms, state_dir=state_dir), "safety_latency")
        daemon = Daemon(config, load_board(config))
        await daemon.start()
        world = daemon.board.simulation
        contactor = daemon.board.connector(1).contactor

        def closed() -> bool:
            return bool(contactor.feedback())

        stop = asyncio.Event()
        hog = asyncio.create_task(hog_the_loop(stop))
        latencies: list[float] = []
        kinds = {"C->B": [], "C->A": [], "rcd": []}
        world.plug_in(1, 32.0, 3, 60.0, 0.2)
        try:
            for n in range(events):
                await until(closed)
                kind = ("C->B", "C->A", "rcd")[n % 3]
                t0 = time.monotonic()
                if kind == "C->B":
                    world.ev_action(1, "pause")
                elif kind == "C->A":
                    world.unplug(1)
                else:
                    world.set_fault(1, "rcd", True)
                await until(lambda: not closed())
                opened = [t for t, c in world.contactor_log(1) if not c and t >= t0]
                event_at = t0
                if kind != "rcd":
                    changes = [t for t, _ in world.cp_log(1) if t >= t0]
                    event_at = changes[0] if changes else t0
                latency = (opened[0] - event_at) * 1000
                latencies.append(latency)
                kinds[kind].append(latency)
                # bring the EV back to charging
                if kind == "C->B":
                    world.ev_action(1, "resume")
                elif kind == "C->A":
                    world.plug_in(1, 32.0, 3, 60.0, 0.2)
                else:
                    world.set_fault(1, "rcd", False)
                    world.unplug(1)
                    await until(lambda: connector_status(daemon.station.view(1))[0] == "Available")
                    world.plug_in(1, 32.0, 3, 60.0, 0.2)
        finally:
            stop.set()
            rounds = await hog
            await daemon.stop()
    latencies.sort()
    result = {
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "max_ms": round(latencies[-1], 3),
    }
    print(f"loop period {period_ms} ms, asyncio loop held for 150 ms {rounds} times")
    for kind, values in kinds.items():
        values.sort()
        print(
            f"  {kind:5} n={len(values):4}  p50 {statistics.median(values):6.2f} ms  "
            f"p99 {values[int(len(values) * 0.99) - 1]:6.2f} ms  max {values[-1]:6.2f} ms"
        )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1200)
    parser.add_argument("--period-ms", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.events, args.period_ms))))
