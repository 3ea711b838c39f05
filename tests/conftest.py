"""Shared fixtures for the integration tests: a real daemon on the simulated board.

- ``start_daemon(toml)`` builds a ``controller.daemon.Daemon`` from a TOML string exactly as
  ``evsed run`` does (``parse`` + ``open_board``), with its SQLite file in ``tmp_path`` and
  its local API on a free loopback port, starts it and returns a ``Running`` handle; every
  daemon still running at the end of the test is stopped.
- ``eventually(pred)`` polls a condition every 20 ms until it holds or a timeout passes:
  the only way these tests wait (never a bare sleep).
- ``evsed_process(config_path)`` runs ``evsed run`` in a real subprocess, for the CLI,
  SIGTERM and kill -9 tests; ``SimRun.start`` runs ``evsed sim`` in the background.

Simulated EVs follow the pilot after ``ev_reaction_s``; the configs here use 0.2 s and a
fast meter so a whole plug-in/charge/stop sequence takes well under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[1]
EVSED = str(Path(sys.executable).with_name("evsed"))

# One connector, free vend, fast EV and meter. Tests append/replace sections as needed.
BOARD = """
[board]
type = "sim"
ev_reaction_s = 0.2
"""
LOOP = """
[loop]
period_ms = 5.0
meter_interval_s = 0.2
meter_timeout_s = 1.0
"""
ONE_CONNECTOR = """
[[connector]]
id = 1
phases = 3
max_current_a = 32.0
"""
# A grid meter at the house connection: 40 A main fuse, 1 A margin, quick to react (energy management).
GRID_METER = """
[grid]
source = "meter"
main_fuse_a = 40
margin_a = 1
max_age_s = 2
raise_delay_s = 0.5
interval_s = 0.2
[grid.meter]
"""
FREE_VEND = BOARD + ONE_CONNECTOR + LOOP + '\n[charging]\nauthorize = "any"\n'
LOCAL_TOKENS = BOARD + ONE_CONNECTOR + LOOP + '\n[charging]\nauthorize = "local"\ntokens = ["TAG-A", "TAG-B"]\n'
# bench-2.toml's hardware: a tethered 32 A connector and a 16 A socket with a 20 A cable and a lock.
TWO_CONNECTORS = (
    BOARD
    + ONE_CONNECTOR
    + """
[[connector]]
id = 2
phases = 3
max_current_a = 16.0
[connector.sim]
cable_ampacity_a = 20
lock = true
"""
    + LOOP
)

EV = {"max_current_a": 32.0, "phases": 3, "battery_kwh": 60.0, "soc": 0.2}


@pytest.fixture(scope="session", autouse=True)
def runtime_directory() -> Iterator[None]:
    """The daemons' log stage (controller/diagnostics/stage.py) in one tmpfs directory of this
    run, as systemd's RuntimeDirectory: what a daemon killed with SIGKILL leaves goes with it."""
    if not Path("/dev/shm").is_dir():
        yield  # no tmpfs: the daemons write their logs to storage at once
        return
    path = tempfile.mkdtemp(prefix="evsed-tests-", dir="/dev/shm")
    os.environ["RUNTIME_DIRECTORY"] = path
    try:
        yield
    finally:
        del os.environ["RUNTIME_DIRECTORY"]
        shutil.rmtree(path, ignore_errors=True)


async def eventually(pred: Callable[[], Any], within: float = 10.0, what: str | None = None) -> Any:
    """Poll ``pred`` (sync or async) every 20 ms; return its first truthy value or fail."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        last = pred()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or pred}; last value {last!r}")
        await asyncio.sleep(0.02)


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, what: str | None = None) -> Any:
    """The blocking twin of ``eventually`` for subprocess tests."""
    deadline = time.monotonic() + timeout
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or pred}; last value {last!r}")
        time.sleep(0.02)


@dataclass
class Running:
    """A started daemon plus what the tests need around it."""

    daemon: Any
    http: aiohttp.ClientSession
    events: list[Any] = field(default_factory=list)
    announced: dict[int, list[str]] = field(default_factory=dict)  # 1.6 statuses, in order, per connector
    stopped: bool = False

    @property
    def sim(self) -> Any:
        return self.daemon.board.simulation

    @property
    def station(self) -> Any:
        return self.daemon.station

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.daemon.api.port}"

    def status(self, connector: int = 1) -> str | None:
        """The connector's status in OCPP 1.6 words (the v16 front end's projection of its view)."""
        from controller.ocpp.v16.status import connector_status

        view = self.station.view(connector)
        return connector_status(view)[0].value if view.indication is not None else None

    def statuses(self, connector: int = 1) -> list[str]:
        """Every status the station showed for ``connector``, in order (1.6 words)."""
        return self.announced.get(connector, [])

    def record(self, event: Any) -> None:
        self.events.append(event)
        for cid in self.station.evse_ids:
            seen, now = self.announced.setdefault(cid, []), self.status(cid)
            if now is not None and (not seen or seen[-1] != now):
                seen.append(now)

    def transaction(self, connector: int = 1) -> Any:
        return self.station.view(connector).transaction

    async def wait_status(self, status: str, connector: int = 1, within: float = 10.0) -> None:
        await eventually(lambda: self.status(connector) == status, within, f"connector {connector} {status}")

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(self.url + path) as resp:
            return resp.status, await resp.json(content_type=None)

    async def post(self, path: str, body: Any = None, data: bytes | str | None = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": body}
        async with self.http.post(self.url + path, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)

    async def connector_json(self, connector: int = 1) -> dict[str, Any]:
        code, body = await self.get("/api/status")
        assert code == 200, body
        return body["connectors"][connector - 1]

    def transactions_in_db(self) -> list[dict[str, Any]]:
        return read_transactions(self.daemon.config.storage.database)

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.daemon.stop()


def read_transactions(db_path: Path) -> list[dict[str, Any]]:
    """The ledger's transactions table straight from the SQLite file, with a connection of our own."""
    conn = sqlite3.connect(db_path)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM transactions ORDER BY rowid")]
    finally:
        conn.close()


def read_log(logs: Path, name: str) -> str:
    """A log file of the running daemon as every reader reads it: the staged lines flushed to
    storage first (controller/diagnostics/logs.py; the local API's download does the same)."""
    from controller.diagnostics.logs import LogFiles

    LogFiles(logs, max_bytes=1, backups=1).flush()
    return (logs / name).read_text()


def with_runtime_sections(
    toml: str, state_dir: Path, listen: str = "127.0.0.1:0", api: str = "", storage: str = ""
) -> str:
    """``toml`` plus [storage] and [api] (``api`` / ``storage``: more lines for them, e.g. a password_hash)."""
    return toml + f'\n[storage]\nstate_dir = "{state_dir}"\n{storage}\n[api]\nlisten = "{listen}"\n{api}\n'


@pytest.fixture
async def start_daemon(tmp_path: Path) -> Any:
    """``await start_daemon(toml, simulated=True, api="")`` -> a started ``Running``; stopped at teardown."""
    from controller.config import parse
    from controller.daemon import Daemon
    from controller.safety.process import open_board

    running: list[Running] = []
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def start(
        toml: str, simulated: bool = True, name: str = "daemon", api: str = "", storage: str = ""
    ) -> Running:
        state_dir = tmp_path / f"{name}-{len(running)}"
        config = parse(with_runtime_sections(toml, state_dir, api=api, storage=storage), f"{name}.toml")
        board = open_board(config)
        if not simulated:
            board.simulation = None  # the HAL devices stay; the bench controls go away
        daemon = Daemon(config, board)
        run = Running(daemon, http)
        await daemon.start()
        views = daemon.station.views
        await eventually(lambda: all(v.indication is not None for v in views()), 5, "the first loop snapshots")
        # Seed with the status at subscription time, then every change the station's events bring.
        daemon.station.subscribe(run.record)
        for cid in daemon.station.evse_ids:
            run.announced[cid] = [run.status(cid)]
        running.append(run)
        return run

    try:
        yield start
    finally:
        for run in running:
            with contextlib.suppress(Exception):
                await run.stop()
        await http.close()


@pytest.fixture
def eventually_fn() -> Callable[..., Awaitable[Any]]:
    return eventually


# -- subprocesses ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    method: str, url: str, body: Any = None, timeout: float = 5.0, password: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {password}"} if password else {})
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def run_cli(
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``evsed *args``; stdin is ``input``, else empty (never the terminal)."""
    return subprocess.run(
        [EVSED, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env or os.environ.copy(),
        input=input or "",
    )


@dataclass
class EvsedProcess:
    proc: subprocess.Popen[str]
    port: int
    state_dir: Path
    log_path: Path
    password: str | None = None  # the API's, when its config has a password_hash

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
        return http_json(method, self.url + path, body, timeout, self.password)

    def connector(self, cid: int = 1) -> dict[str, Any]:
        code, body = self.api("GET", "/api/status")
        assert code == 200, body
        return body["connectors"][cid - 1]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 15.0) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"evsed run exited with {self.proc.returncode}:\n{self.log()}")
            if self.port == 0:  # listening on a port of its choice: its log names it
                found = re.search(r"local API on http://127\.0\.0\.1:(\d+)/", self.log())
                if found is None:
                    return False
                self.port = int(found.group(1))
            try:
                return self.api("GET", "/api/status", timeout=0.5)[0] == 200
            except (OSError, urllib.error.URLError):
                return False

        wait_until(up, timeout, "the daemon's API")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


@pytest.fixture
def evsed_process(tmp_path: Path) -> Iterator[Callable[..., EvsedProcess]]:
    """``evsed_process(toml, state_dir=None, port=None, api="")``: ``evsed run`` in a subprocess, API up
    (``api``: more [api] lines; with a password_hash, pass ``password`` too so readiness can be seen;
    ``env``: its whole environment instead of this one's)."""
    procs: list[EvsedProcess] = []

    def start(
        toml: str,
        state_dir: Path | None = None,
        port: int | None = None,
        api: str = "",
        password: str | None = None,
        env: dict[str, str] | None = None,
    ) -> EvsedProcess:
        state_dir = state_dir or tmp_path / "state"
        # Port 0: the daemon binds a free port itself. A port picked here and bound by the daemon
        # a second later was now and then taken in between (another process's outgoing connection).
        port = port or 0
        cfg = tmp_path / f"evsed-{len(procs)}.toml"
        cfg.write_text(with_runtime_sections(toml, state_dir, f"127.0.0.1:{port}", api))
        log_path = tmp_path / f"evsed-{len(procs)}.log"
        with open(log_path, "w") as log_file:
            proc = subprocess.Popen(
                [EVSED, "run", "--config", str(cfg)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=REPO,
                env=env,
            )
        p = EvsedProcess(proc, port, state_dir, log_path, password)
        procs.append(p)
        p.wait_ready()
        return p

    yield start
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)


SIM_FINISH_S = 120.0  # a scenario's pace, slowed by whatever else runs beside it on two cores


@dataclass
class SimRun:
    """``evsed sim *args`` started in the background: a scenario lasts as long as its holds, not as
    long as its work, so tests start runs early and read them later. The output goes to files, not
    pipes: a run whose output nobody reads yet never blocks on a full pipe."""

    name: str
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @classmethod
    def start(cls, name: str, args: tuple[str, ...], where: Path) -> SimRun:
        out, err = where / f"{name}.out", where / f"{name}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen([EVSED, "sim", *args], cwd=REPO, stdout=stdout, stderr=stderr)
        return cls(name, proc, out, err)

    def finish(self) -> tuple[str, str]:
        """Its stdout and stderr once it has ended with exit code 0."""
        code = self.proc.wait(SIM_FINISH_S)
        out, err = self.out.read_text(), self.err.read_text()
        assert code == 0, f"{self.name}: exit {code}\n{out}\n{err}"
        return out, err

    def summary(self) -> dict[str, Any]:
        out, _ = self.finish()
        summary: dict[str, Any] = json.loads(out)  # the whole of stdout is one JSON object
        return summary

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
async def csms() -> Any:
    """The bench CSMS on a free loopback port (sim/csms/)."""
    from sim.csms import Csms, CsmsConfig

    server = Csms(CsmsConfig(heartbeat_interval=300))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def bench(csms: Any, tmp_path: Path) -> Any:
    """A daemon on the simulated board talking OCPP 1.6J to ``csms`` (tests/ocpp_bench.py)."""
    from ocpp_bench import Bench

    b = Bench(csms, tmp_path)
    yield b
    await b.stop()
