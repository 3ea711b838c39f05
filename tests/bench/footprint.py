"""Footprint: the daemon as a wallbox runs it, measured from the outside through /proc.

Starts the bench CSMS (``python -m sim.csms``) and ``evsed run`` on the simulated board in
subprocesses: the real daemon with its defaults (5 ms loop, the meter read every 1 s, or 4 s while idle, the local API,
the OCPP frame and daemon logs), connected over OCPP 1.6 with MeterValueSampleInterval = 10
and MeterValuesSampledData = Energy.Active.Import.Register,Power.Active.Import (as the energy
platform in the design notes configures it). Then, for the daemon and every process it started:

- idle (connected, no EV): CPU and wake-ups (threads that end within a window are not counted), RSS,
  PSS (the fair share when several processes share pages), resident (the daemon's RSS plus
  the private pages of the processes it started),
  bytes written to storage (``write_bytes`` of /proc/PID/io, counted when a page is dirtied);
- charging (one EV, MeterValues every 10 s): the same, the bytes written per charging hour and
  per transaction message the CSMS received in the window, and what the logs grew by (on
  storage plus staged; the rest of the writes is SQLite: database and WAL).

The daemon runs as the systemd unit runs it: with the unit's ``Environment=`` (glibc's malloc
tunable, ``-OO`` and the code cache) and none of the shell's ``PYTHON*`` variables, with its code
compiled into the cache by a first start (``warm_up``), and with ``RUNTIME_DIRECTORY`` (a temporary
directory in /dev/shm here, /run/evsed on a wallbox): its log lines are staged there
(controller/diagnostics/stage.py) and appended to ``<state_dir>/logs`` in large pieces, at the
latest 5 minutes after they were logged. The stage is tmpfs, RAM: ``write_bytes`` does not count
it (nothing of it reaches storage), only the appends to the log files. A window shorter than
those 5 minutes may hold one append of the logs or none: average runs, or charge 300 s or more.

Run: python tests/bench/footprint.py [--idle-seconds 60] [--charging-seconds 120]
Last line: {"rss_mb":..,"pss_mb":..,"idle_cpu_percent":..,"idle_wakeups_per_second":..,
            "charging_cpu_percent":..,"write_mb_per_charging_hour":..,...}
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
[ocpp]
url = "ws://127.0.0.1:{csms_port}"
[ocpp.keys]
MeterValueSampleInterval = 10
MeterValuesSampledData = "Energy.Active.Import.Register,Power.Active.Import"
"""
TRANSACTION_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")


def unit_environment(unit: Path = ROOT / "systemd" / "evsed.service") -> dict[str, str]:
    """The variables the unit's ``Environment=`` lines give the daemon."""
    found: dict[str, str] = {}
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            for assignment in shlex.split(line.removeprefix("Environment=")):
                name, _, value = assignment.partition("=")
                found[name] = value
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- /proc ---------------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            found.extend(tree(int(child)))
    return found


def scheduled(pid: int) -> tuple[float, int]:
    """(seconds on a CPU, times put on a CPU) of every thread of ``pid``, from the scheduler
    (exact, where /proc/PID/stat samples at the clock tick and misjudges a process that wakes 20
    times a second). Each time a thread is put on a CPU is a wake-up: what one costs is the
    machine's (a VM's timer and cold caches), how many there are is the daemon's."""
    on_cpu_ns, runs = 0, 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        ns, _, slices = (int(field) for field in (task / "schedstat").read_text().split())
        on_cpu_ns, runs = on_cpu_ns + ns, runs + slices
    return on_cpu_ns / 1e9, runs


def status_kb(pid: int, field: str, file: str = "status") -> int:
    for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise KeyError("write_bytes")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def totals(root: int) -> dict[int, tuple[float, int, int]]:
    """pid -> (CPU seconds, wake-ups, bytes written) for the process tree."""
    return {p: (*scheduled(p), write_bytes(p)) for p in tree(root)}


def private_kb(pid: int) -> int:
    return status_kb(pid, "Private_Clean", "smaps_rollup") + status_kb(pid, "Private_Dirty", "smaps_rollup")


def memory(root: int) -> dict[str, Any]:
    pids = tree(root)
    return {
        "rss_mb": round(sum(status_kb(p, "VmRSS") for p in pids) / 1024, 1),
        "pss_mb": round(sum(status_kb(p, "Pss", "smaps_rollup") for p in pids) / 1024, 1),
        # What the box pays: the daemon's resident pages, plus what only its children hold
        # (their interpreter and libraries are the daemon's pages, shared).
        "resident_mb": round((status_kb(root, "VmRSS") + sum(private_kb(p) for p in pids[1:])) / 1024, 1),
        "rss_per_process_mb": [round(status_kb(p, "VmRSS") / 1024, 1) for p in pids],
        "threads": sum(threads(p) for p in pids),
    }


# ---- the daemon and its CSMS ---------------------------------------------------------------


def http(port: int, path: str, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method="POST" if body is not None else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def until(what: str, predicate: Any, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if predicate():
                return
        except OSError:
            pass  # not answering yet
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: {what} not reached within {within:.0f} s")
        time.sleep(0.2)


@contextmanager
def process(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


def evsed_run(cfg: Path) -> list[str]:
    return [sys.executable, "-m", "controller.cli", "run", "--config", str(cfg)]


def unit_process_environment(runtime: str, cache: str) -> dict[str, str]:
    """The environment systemd gives the daemon: none of the ``PYTHON*`` variables of the shell
    the bench runs in (``PYTHONDONTWRITEBYTECODE`` would leave the code cache empty), the unit's
    ``Environment=``, and its RuntimeDirectory and CacheDirectory (here temporary directories)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    env.update(unit_environment(), RUNTIME_DIRECTORY=runtime)
    env["PYTHONPYCACHEPREFIX"] = str(Path(cache) / "pycache")
    return env


def warm_up(env: dict[str, str], csms_port: int) -> None:
    """A box measured is one that has started before: the code it loads is compiled into its
    cache directory at the first start (compiling it would hold about 2 MB more), so the daemon
    runs once through the start of a session, in a state directory of its own, before the
    measured run."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "evsed.toml"
        cfg.write_text(CONFIG.format(state_dir=tmp, port=port, csms_port=csms_port))
        with process(evsed_run(cfg), env=env):
            until("OCPP accepted (warm-up)", lambda: http(port, "/api/status")["ocpp"]["registration"] == "Accepted")
            http(port, "/api/sim/plug-in", {"connector": 1, "max_current_a": 32, "phases": 3})
            until("Charging (warm-up)", lambda: http(port, "/api/status")["connectors"][0]["status"] == "Charging")


def received(csms_http: int, actions: tuple[str, ...] = TRANSACTION_ACTIONS) -> int:
    """How many messages of ``actions`` the bench CSMS has received."""
    counts = http(csms_http, "/csms/summary")["received"]
    return sum(int(counts.get(action, 0)) for action in actions)


def log_sizes(state_dir: Path, runtime: Path) -> dict[str, int]:
    """Bytes in each log: its file on storage plus its lines still staged."""
    sizes: dict[str, int] = {}
    for p in [*(state_dir / "logs").glob("*.log"), *runtime.glob("evsed-*/*.log")]:
        sizes[p.name] = sizes.get(p.name, 0) + p.stat().st_size
    return dict(sorted(sizes.items()))


def window(pid: int, seconds: float) -> tuple[list[float], list[float], int]:
    """(CPU % of one core per process, wake-ups a second per process, bytes written by all) of
    the process tree over ``seconds``."""
    before, t0 = totals(pid), time.monotonic()
    time.sleep(seconds)  # measuring a time window, not synchronising
    after, elapsed = totals(pid), time.monotonic() - t0
    grown = {p: [now - then for now, then in zip(after[p], before.get(p, (0.0, 0, 0)), strict=True)] for p in after}
    cpu = [100 * g[0] / elapsed for g in grown.values()]
    wakeups = [g[1] / elapsed for g in grown.values()]
    return cpu, wakeups, int(sum(g[2] for g in grown.values()))


def rounded(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]


def main(idle_s: float, charging_s: float) -> dict[str, Any]:
    port, csms_port, csms_http = free_port(), free_port(), free_port()
    csms = [sys.executable, "-m", "sim.csms", "--port", str(csms_port), "--http-port", str(csms_http)]
    csms += ["--tag", "FreeVend", "--log-limit", "100"]
    with (
        tempfile.TemporaryDirectory() as tmp,
        tempfile.TemporaryDirectory(dir="/dev/shm") as run,
        tempfile.TemporaryDirectory() as cache,
        process(csms),
    ):
        state_dir, runtime = Path(tmp), Path(run)
        env = unit_process_environment(run, cache)
        warm_up(env, csms_port)
        cfg = state_dir / "evsed.toml"
        cfg.write_text(CONFIG.format(state_dir=state_dir, port=port, csms_port=csms_port))
        with process(evsed_run(cfg), env=env) as daemon:
            pid = daemon.pid
            until("OCPP accepted", lambda: http(port, "/api/status")["ocpp"]["registration"] == "Accepted")
            time.sleep(5)  # start-up work (boot, status notifications, first writes) settles
            idle_cpu, idle_wakeups, idle_written = window(pid, idle_s)
            idle_memory = memory(pid)

            sampled = received(csms_http, ("MeterValues",))  # the warm-up's session may have sent some
            http(port, "/api/sim/plug-in", {"connector": 1, "max_current_a": 32, "phases": 3})
            until("Charging", lambda: http(port, "/api/status")["connectors"][0]["status"] == "Charging")
            until("the first MeterValues", lambda: received(csms_http, ("MeterValues",)) > sampled)
            messages, logs = received(csms_http), log_sizes(state_dir, runtime)
            charging_cpu, _, charging_written = window(pid, charging_s)
            messages = received(csms_http) - messages
            grown = {name: size - logs.get(name, 0) for name, size in log_sizes(state_dir, runtime).items()}
            charging_memory = memory(pid)
            status = http(port, "/api/status")
            assert status["connectors"][0]["status"] == "Charging", status["connectors"][0]["status"]
    per_hour = charging_written * 3600 / charging_s
    result = {
        "rss_mb": idle_memory["rss_mb"],
        "pss_mb": idle_memory["pss_mb"],
        "resident_mb": idle_memory["resident_mb"],
        "rss_charging_mb": charging_memory["rss_mb"],
        "processes": len(idle_memory["rss_per_process_mb"]),
        "idle_cpu_percent": round(sum(idle_cpu), 2),
        "idle_wakeups_per_second": round(sum(idle_wakeups), 1),
        "charging_cpu_percent": round(sum(charging_cpu), 2),
        "idle_write_kb_per_hour": round(idle_written * 3600 / idle_s / 1024, 1),
        "write_mb_per_charging_hour": round(per_hour / 2**20, 2),
        "transaction_messages": messages,
        "write_kb_per_message": round(charging_written / max(1, messages) / 1024, 1),
        "log_kb_per_charging_hour": {name: round(b * 3600 / charging_s / 1024, 1) for name, b in grown.items()},
    }
    idle_m, charging_m = idle_memory, charging_memory
    print(f"evsed run on the sim board, OCPP 1.6 to the bench CSMS, one CPU = 100 %, {result['processes']} processes")
    print(
        f"  idle {idle_s:.0f} s: CPU {result['idle_cpu_percent']} % {rounded(idle_cpu)}, {idle_m['threads']} threads, "
        f"{result['idle_wakeups_per_second']} wake-ups a second {[round(w, 1) for w in idle_wakeups]}"
    )
    print(
        f"    RSS {idle_m['rss_mb']} MB {idle_m['rss_per_process_mb']}, PSS {idle_m['pss_mb']} MB, "
        f"resident {idle_m['resident_mb']} MB; written {result['idle_write_kb_per_hour']} KB/h"
    )
    print(
        f"  charging {charging_s:.0f} s: CPU {result['charging_cpu_percent']} % {rounded(charging_cpu)}, "
        f"RSS {charging_m['rss_mb']} MB; {messages} transaction messages"
    )
    print(
        f"    written {charging_written / 1024:.0f} KB = {result['write_mb_per_charging_hour']} MB/h, "
        f"{result['write_kb_per_message']} KB per message; log files grew by {result['log_kb_per_charging_hour']} KB/h"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--charging-seconds", type=float, default=120.0)
    args = parser.parse_args()
    print(json.dumps(main(args.idle_seconds, args.charging_seconds)))
