"""Meter polling cost: reads per second and CPU per read against an emulated SDM630.

Run alone: ``.venv/bin/python tests/bench/meter_poll.py``. The emulator (pymodbus
server, and for RTU the pty null modem) runs in a child process, so
``time.process_time`` here counts only the driver's side: ModbusMeter, the bus and
the pymodbus client. RTU runs over a pty pair, which moves bytes instantly: the
figure is the software's ceiling, not what 9600 baud allows on a real line.
The loop_* figures need the real-time loop (controller/realtime.py) committed; until
then they are null.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
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
        conn.recv()  # until the parent is done


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


def realtime_loop_committed() -> bool:
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "controller/realtime.py"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
    )
    return tracked.returncode == 0


def main() -> None:
    tcp_rate, tcp_cpu = measure("tcp")
    print(f"TCP : {tcp_rate:8.1f} reads/s, {tcp_cpu:7.1f} us CPU per read")
    rtu_rate, rtu_cpu = measure("rtu")
    print(f"RTU : {rtu_rate:8.1f} reads/s, {rtu_cpu:7.1f} us CPU per read (pty, 115200 baud nominal)")
    if not realtime_loop_committed():
        print("loop p99: controller/realtime.py is not committed yet; not measured")
    figures = {
        "tcp_reads_per_s": round(tcp_rate, 1),
        "rtu_reads_per_s": round(rtu_rate, 1),
        "cpu_us_per_read": round(tcp_cpu, 1),
        "rtu_cpu_us_per_read": round(rtu_cpu, 1),
        "loop_p99_ms_healthy": None,
        "loop_p99_ms_meter_failing": None,
        "loop_p99_shift_ms": None,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
