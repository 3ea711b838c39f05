"""Footprint: the daemon's resident memory and CPU on the bench, idle and while charging.

Starts ``evsed run`` on the simulated board in a subprocess (the real daemon, its
real-time loop at the default 5 ms period, the local API), waits until it answers,
then samples /proc/<pid> over a window with no EV, and again while one EV charges.

Run: python tests/bench/footprint.py [--seconds 20]
Last line: {"rss_mb":..,"rss_charging_mb":..,"idle_cpu_percent":..,"charging_cpu_percent":..,"threads":..}
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
[board]
type = "sim"
[[connector]]
id = 1
max_current_a = 32
[charging]
authorize = "any"
[storage]
state_dir = "{state_dir}"
[api]
listen = "127.0.0.1:{port}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def api(port: int, path: str, body: dict | None = None) -> object:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def window(pid: int, seconds: float) -> float:
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # measuring a time window, not synchronising
    return 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def main(seconds: float) -> dict[str, float]:
    port = free_port()
    with tempfile.TemporaryDirectory() as state_dir:
        cfg = Path(state_dir) / "evsed.toml"
        cfg.write_text(CONFIG.format(state_dir=state_dir, port=port))
        proc = subprocess.Popen(
            [sys.executable, "-m", "controller.cli", "run", "--config", str(cfg)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    api(port, "/api/status")
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("daemon did not come up") from None
                    time.sleep(0.1)
            time.sleep(2)  # let start-up work settle before measuring idle
            idle = window(proc.pid, seconds)
            rss_idle = rss_mb(proc.pid)
            api(port, "/api/sim/plug-in", {"connector": 1, "max_current_a": 32, "phases": 3})
            charging = window(proc.pid, seconds)
            status = api(port, "/api/status")
            assert status["connectors"][0]["status"] == "Charging", status["connectors"][0]["status"]
            result = {
                "rss_mb": round(rss_idle, 1),
                "rss_charging_mb": round(rss_mb(proc.pid), 1),
                "idle_cpu_percent": round(idle, 2),
                "charging_cpu_percent": round(charging, 2),
                "threads": threads(proc.pid),
            }
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"evsed run on the sim board, {seconds:.0f} s windows, one CPU = 100 %")
    print(f"  RSS idle {result['rss_mb']} MB, charging {result['rss_charging_mb']} MB, {result['threads']} threads")
    print(f"  CPU idle {result['idle_cpu_percent']} %, charging {result['charging_cpu_percent']} %")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    print(json.dumps(main(parser.parse_args().seconds)))
