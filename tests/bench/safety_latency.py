"""Safety latency: from a CP change or an injected fault to the contactor-open command.

The whole daemon runs on the simulated board (free vend) while its asyncio side is loaded
in one of three ways (``--load``, default all three, one after the other):

- ``hog``: a coroutine holds the event loop for 150 ms at a time doing JSON encoding and
  JSON-schema validation of OCPP payloads, as a busy OCPP front end would.
- ``frames`` (issue 11): the bench CSMS, in a process of its own, sends 200 KB DataTransfer
  CALLs back to back over the daemon's real OCPP connection (each one received, logged and
  answered by the daemon's link).
- ``parse`` (issue 12): an asyncio task in the daemon's process parses 1 MB OCPP frames (a
  SendLocalList of 12,000 entries) with ``json.loads`` back to back: one C call that holds
  the interpreter lock for tens of milliseconds at a time.

Events cycle through C->B (the EV pauses), C->A (unplug) and an RCD trip. The times come
from the simulated world's own logs (the instant the EV changed / the fault was injected,
and the instant the contactor was commanded open), both on time.monotonic. After each
unplug the EV plugs in again: "plug-in seen" is the time from the plug-in to the first loop
tick that saw the EV (the tick time of the snapshot that reports state B).

With ``--realtime-priority N`` the loop runs under SCHED_FIFO priority N (``[loop]
realtime_priority``, as a wallbox may configure it; needs CAP_SYS_NICE).

Run: python tests/bench/safety_latency.py [--load hog|frames|parse|all] [--events 600] [--period-ms 5]
     [--realtime-priority 0]
Last line: {"hog": {"events":..,"p50_ms":..,"p99_ms":..,"max_ms":..,"plugin_p99_ms":..}, "frames": {..}, ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jsonschema
import ocpp

from controller.config import parse
from controller.daemon import Daemon
from controller.ocpp.v16.status import connector_status
from controller.realtime import ConnectorSnapshot
from controller.safety.process import open_board
from hal.types import CpState

ROOT = Path(__file__).resolve().parents[2]

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
realtime_priority = {priority}
meter_interval_s = 0.5
[storage]
state_dir = "{state_dir}"
[api]
enabled = false
"""
OCPP = """
[ocpp]
url = "ws://127.0.0.1:{port}"
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
FRAME_BYTES = 200_000  # the "frames" load: one DataTransfer CALL of about this size
PARSE_ENTRIES = 12_000  # the "parse" load: a SendLocalList of this many entries is about 1 MB


def meter_values_validator() -> jsonschema.Draft4Validator:
    path = Path(ocpp.__file__).parent / "v16" / "schemas" / "MeterValues.json"
    return jsonschema.Draft4Validator(json.loads(path.read_text()))


def vendor_document(size: int) -> str:
    """A vendor's JSON log as DataTransfer data: about ``size`` characters."""
    records, n = [], 0
    while n < size:
        record = {"t": f"2026-11-21T12:{n % 60:02d}:00Z", "event": "sample", "values": [n, n + 1, n + 2]}
        records.append(record)
        n += len(json.dumps(record)) + 2
    return json.dumps(records)


def local_list_frame(entries: int) -> str:
    tags = [
        {"idTag": f"TAG{i:016d}", "idTagInfo": {"status": "Accepted", "expiryDate": "2030-01-01T00:00:00Z"}}
        for i in range(entries)
    ]
    payload = {"listVersion": 7, "updateType": "Full", "localAuthorizationList": tags}
    return json.dumps([2, "bench-1", "SendLocalList", payload])


# ---- loads on the asyncio side ------------------------------------------------------------


async def hog_the_loop(stop: asyncio.Event, hold_s: float = 0.15) -> str:
    """Block the event loop for 150 ms at a time with OCPP-like JSON work."""
    validator = meter_values_validator()
    rounds = 0
    while not stop.is_set():
        end = time.perf_counter() + hold_s
        while time.perf_counter() < end:
            validator.validate(json.loads(json.dumps(METER_VALUES)))
        rounds += 1
        await asyncio.sleep(0.02)
    return f"asyncio loop held for 150 ms {rounds} times"


async def parse_frames(stop: asyncio.Event) -> str:
    frame = local_list_frame(PARSE_ENTRIES)
    parsed, longest = 0, 0.0
    while not stop.is_set():
        t0 = time.perf_counter()
        json.loads(frame)
        longest = max(longest, time.perf_counter() - t0)
        parsed += 1
        await asyncio.sleep(0)
    return f"{parsed} frames of {len(frame) / 1e6:.2f} MB parsed, longest parse {longest * 1000:.1f} ms"


async def flood(port: int) -> None:
    """The CSMS side of the "frames" load (its own process): DataTransfer CALLs back to back."""
    from ocpp.exceptions import OCPPError

    from sim.csms import Csms, CsmsConfig

    csms = Csms(CsmsConfig(id_tags={"FreeVend"}, log_limit=10))
    await csms.start(port=port)
    data = vendor_document(FRAME_BYTES)
    print(f"flooding with DataTransfer frames of {len(data) / 1000:.0f} KB", flush=True)
    sent = 0

    async def send() -> None:
        nonlocal sent
        while True:
            await csms.wait_for(lambda c: bool(c.sessions))
            try:
                await csms.call(next(iter(csms.sessions)), "DataTransfer", {"vendorId": "bench", "data": data})
            except OCPPError:
                pass  # a CALLERROR is an answer too (a frame above the station's size limit)
            except (KeyError, ConnectionError, TimeoutError):
                continue  # the station went away: wait for it
            sent += 1

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sender = asyncio.create_task(send())
    await stop.wait()
    sender.cancel()
    print(f"{sent} frames of {len(data) / 1000:.0f} KB answered by the daemon", flush=True)


async def quiet(stop: asyncio.Event) -> str:
    """The "frames" load runs in the CSMS's process: nothing extra on this side."""
    await stop.wait()
    return "frames arrive from the CSMS process"


BACKGROUND: dict[str, Callable[[asyncio.Event], Coroutine[Any, Any, str]]] = {
    "hog": hog_the_loop,
    "frames": quiet,
    "parse": parse_frames,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def csms_process(port: int) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--flood", str(port)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert proc.stdout is not None
        print("  csms:", proc.stdout.readline().strip())  # listening from here on
        yield proc
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        lines = out.strip().splitlines()
        print("  csms:", lines[-1] if lines else "no frame answered")


async def until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("bench: condition not reached")
        await asyncio.sleep(0.002)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * p) - 1)]


async def measure(
    kind: str, events: int, period_ms: float, priority: int, state_dir: str, ocpp_port: int | None
) -> dict[str, Any]:
    toml = CONFIG.format(period_ms=period_ms, priority=priority, state_dir=state_dir)
    if ocpp_port is not None:
        toml += OCPP.format(port=ocpp_port)
    config = parse(toml, "safety_latency")
    daemon = Daemon(config, open_board(config))
    await daemon.start()
    world = daemon.board.simulation
    assert world is not None
    contactor = daemon.board.connector(1).contactor
    seen: list[ConnectorSnapshot] = []  # every snapshot the station is told about
    on_snapshot = daemon.station.on_snapshot
    daemon.station.on_snapshot = lambda snap: (seen.append(snap), on_snapshot(snap))  # type: ignore[method-assign]
    if ocpp_port is not None:
        await until(lambda: daemon.ocpp.status_json().get("ocpp", {}).get("registration") == "Accepted", 30)

    def closed() -> bool:
        return bool(contactor.feedback())

    async def plug_in() -> None:
        seen.clear()
        world.plug_in(1, 32.0, 3, 60.0, 0.2)
        plugged_at = world.cp_log(1)[-1][0]
        await until(lambda: any(s.cp is not CpState.A for s in seen))
        first = next(s for s in seen if s.cp is not CpState.A)
        plugins.append((first.at - plugged_at) * 1000)

    stop = asyncio.Event()
    background = asyncio.create_task(BACKGROUND[kind](stop))
    kinds: dict[str, list[float]] = {"C->B": [], "C->A": [], "rcd": []}
    plugins: list[float] = []
    await plug_in()
    try:
        for n in range(events):
            await until(closed)
            event = ("C->B", "C->A", "rcd")[n % 3]
            t0 = time.monotonic()
            if event == "C->B":
                world.ev_action(1, "pause")
            elif event == "C->A":
                world.unplug(1)
            else:
                world.set_fault(1, "rcd", True)
            await until(lambda: not closed())
            opened = [t for t, c in world.contactor_log(1) if not c and t >= t0]
            event_at = t0
            if event != "rcd":
                changes = [t for t, _ in world.cp_log(1) if t >= t0]
                event_at = changes[0] if changes else t0
            kinds[event].append((opened[0] - event_at) * 1000)
            # bring the EV back to charging
            if event == "C->B":
                world.ev_action(1, "resume")
            elif event == "C->A":
                # Plugged in again once the last transaction is over (a plug-in during its stop is
                # not what is measured here).
                await until(lambda: connector_status(daemon.station.view(1))[0] == "Available")
                await plug_in()
            else:
                world.set_fault(1, "rcd", False)
                world.unplug(1)
                await until(lambda: connector_status(daemon.station.view(1))[0] == "Available")
                await plug_in()
    finally:
        stop.set()
        what = await background
        await daemon.stop()
    latencies = sorted(v for values in kinds.values() for v in values)
    print(f"load {kind!r}: loop period {period_ms} ms, SCHED_FIFO priority {priority or 'none'}, {what}")
    for event, values in kinds.items():
        print(
            f"  {event:5} n={len(values):4}  p50 {statistics.median(values):6.2f} ms  "
            f"p99 {percentile(values, 0.99):6.2f} ms  max {max(values):6.2f} ms"
        )
    print(
        f"  plug-in seen n={len(plugins)}  p50 {statistics.median(plugins):6.2f} ms  "
        f"p99 {percentile(plugins, 0.99):6.2f} ms  max {max(plugins):6.2f} ms"
    )
    return {
        "events": len(latencies),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "max_ms": round(latencies[-1], 3),
        "plugin_p99_ms": round(percentile(plugins, 0.99), 3),
        "plugin_max_ms": round(max(plugins), 3),
    }


async def main(loads: list[str], events: int, period_ms: float, priority: int) -> dict[str, dict[str, Any]]:
    results = {}
    for kind in loads:
        with tempfile.TemporaryDirectory() as state_dir, contextlib.ExitStack() as stack:
            port = None
            if kind == "frames":
                port = free_port()
                stack.enter_context(csms_process(port))
            results[kind] = await measure(kind, events, period_ms, priority, state_dir, port)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", choices=[*BACKGROUND, "all"], default="all")
    parser.add_argument("--events", type=int, default=600, help="events per load")
    parser.add_argument("--period-ms", type=float, default=5.0)
    parser.add_argument("--realtime-priority", type=int, default=0)
    parser.add_argument("--flood", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the CSMS process
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the faults and CALLERRORs the bench causes are logged as warnings
    if args.flood is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(flood(args.flood))
        sys.exit(0)
    loads = list(BACKGROUND) if args.load == "all" else [args.load]
    print(json.dumps(asyncio.run(main(loads, args.events, args.period_ms, args.realtime_priority))))
