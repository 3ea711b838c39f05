"""Meter polling cost: reads per second and CPU per read against an emulated SDM630.

Run alone: ``.venv/bin/python tests/bench/meter_poll.py``. The emulator (pymodbus
server, and for RTU the pty null modem) runs in a child process, so
``time.process_time`` here counts only the driver's side: ModbusMeter, the bus and
the pymodbus client. RTU runs over a pty pair, which moves bytes instantly: the
figure is the software's ceiling, not what 9600 baud allows on a real line.
The loop_* figures run the real-time loop on the simulated board (an EV charging)
while a MeterPoller reads the emulated SDM630 over TCP every 100 ms on its worker
thread: first with the meter answering, then with it silent (every read times out
after its retries). They are the p99 of the interval between two loop ticks
(period 5 ms): meter I/O must not move it.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from hal.config import ConfigSection
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

DURATION_S = 2.0


def serve(transport: str, conn: Connection) -> None:
    meter = EmulatedMeter("sdm630", values=MeterValues(power_w=11_000.0, energy_import_wh=1e6))
    with EmulatedBus([meter], transport, baudrate=115200) as bus:
        conn.send(bus.keys)
        while (command := conn.recv()) != "stop":  # the parent can silence the meter
            meter.mode = command


def measure(transport: str) -> tuple[float, float]:
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=serve, args=(transport, child), daemon=True)
    proc.start()
    keys = parent.recv()
    pool = BusPool()
    try:
        meter = build_meter(ConfigSection("bench", "meter", {"model": "sdm630", **keys}, {}), pool)
        meter.read()  # connect and read the serial number outside the measurement
        reads = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - wall0 < DURATION_S:
            meter.read()
            reads += 1
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        pool.close()
        parent.send("stop")
        proc.join(5)
    return reads / wall, cpu / reads * 1e6


def loop_tick_p99_ms(meter_mode: str, seconds: float = 5.0) -> float:
    """p99 of the real-time loop's tick interval while a Modbus meter is polled (ok / silent)."""
    import asyncio
    import statistics

    from controller.metering import MeterPoller
    from controller.realtime import ConnectorControl, ConnectorLimits, Limit, LoopSettings, RealtimeLoop
    from hal.board import ConnectorSlot
    from sim.board import build_board

    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=serve, args=("tcp", child), daemon=True)
    proc.start()
    keys = parent.recv()
    parent.send(meter_mode)
    pool = BusPool()
    slot = ConnectorSlot(1, 3, 32.0, ConfigSection("bench", "connector", {}, {}))
    board = build_board(ConfigSection("bench", "board", {"ev_reaction_s": 0.1}, {}), [slot])
    meter = build_meter(
        ConfigSection("bench", "meter", {"model": "sdm630", "timeout_s": 0.2, "retries": 2, **keys}, {}), pool
    )
    rt = RealtimeLoop([(board.connector(1), ConnectorLimits(32.0))], LoopSettings(period_s=0.005))
    rt.set_control(1, ConnectorControl(True, Limit(32.0, 3, float("inf"))))
    board.simulation.plug_in(1, 32.0, 3, 60.0, 0.2)
    poller = MeterPoller({1: meter}, [rt.post_meter], interval_s=0.1, deadline_s=2.0)

    async def run() -> None:
        task = asyncio.create_task(poller.run())
        await asyncio.sleep(seconds)  # the measurement window
        task.cancel()

    rt.start()
    try:
        asyncio.run(run())
    finally:
        rt.stop()
        poller.close()
        pool.close()
        board.close()
        parent.send("stop")
        proc.join(5)
    intervals = sorted(rt.tick_intervals)[1:]  # the first interval spans start-up
    print(
        f"loop with the meter {meter_mode:6}: {len(intervals)} ticks, median "
        f"{statistics.median(intervals) * 1000:.2f} ms, p99 {intervals[int(len(intervals) * 0.99)] * 1000:.2f} ms, "
        f"poll failures {poller.failures[1]}"
    )
    return intervals[int(len(intervals) * 0.99)] * 1000


def main() -> None:
    tcp_rate, tcp_cpu = measure("tcp")
    print(f"TCP : {tcp_rate:8.1f} reads/s, {tcp_cpu:7.1f} us CPU per read")
    rtu_rate, rtu_cpu = measure("rtu")
    print(f"RTU : {rtu_rate:8.1f} reads/s, {rtu_cpu:7.1f} us CPU per read (pty, 115200 baud nominal)")
    healthy = loop_tick_p99_ms("ok")
    failing = loop_tick_p99_ms("silent")
    figures = {
        "tcp_reads_per_s": round(tcp_rate, 1),
        "rtu_reads_per_s": round(rtu_rate, 1),
        "cpu_us_per_read": round(tcp_cpu, 1),
        "rtu_cpu_us_per_read": round(rtu_cpu, 1),
        "loop_p99_ms_healthy": round(healthy, 3),
        "loop_p99_ms_meter_failing": round(failing, 3),
        "loop_p99_shift_ms": round(failing - healthy, 3),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
