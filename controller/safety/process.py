"""The daemon's side of the real-time process.

Rules kept here:
- ``open_board(config)`` starts ``python -S -m controller.safety.child`` with this interpreter
  and this process's import path, has it build the board (a ``ConfigError`` raised there is raised
  here) and returns a ``RemoteBoard``: a ``hal.board.Board`` whose devices forward every
  method call and block the caller until the answer. A call after the process ended raises
  ``HardwareError``, which every caller of a device already handles.
- One reader thread receives everything: a reply wakes its caller, snapshots and reports go
  to the ``RealtimeProcess``, tags to the ``RemoteTokenReader``, log lines are logged here
  under their own logger names.
- ``RealtimeProcess`` has ``RealtimeLoop``'s interface. Controls and readings given before
  ``start`` travel with the start request. Controls and readings are sent from the asyncio
  event loop, and each one feeds the child's watchdog; when none went for a third of
  ``feed_timeout_s`` a ``Feed`` goes, also from the event loop: a stuck event loop starves the
  watchdog as surely as a dead daemon closes its socket. The station sets its controls every
  second, so ``set_control`` sends that ``Feed`` when one is due and pushes the feed timer back:
  the timer fires only when nobody sets controls (an idle event loop no longer wakes for it).
- A control that only moves its limit's ``valid_until`` later (the station renews its
  controls every second) goes once the one the loop has is past half of the new one's
  lifetime (``renewal_due``); any other change, a shortened validity included, goes at once.
- ``healthy()``: the process runs, its last report is younger than REPORT_STALE_S and says
  the loop ticks on time. The daemon feeds systemd's watchdog from its event loop and only
  then: both processes must be well.
- ``RemoteBoard.close()`` has the process close the board (outputs safe) and exit; one that
  does not within CLOSE_TIMEOUT_S is killed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import controller
from controller.config import Config, connector_slots
from controller.realtime import ConnectorControl, ConnectorLimits, ConnectorSnapshot, LoopSettings
from controller.safety.wire import (
    REPORT_INTERVAL_S,
    BoardShape,
    Channel,
    CloseBoard,
    Control,
    DeviceCall,
    Feed,
    LogLine,
    MeterPost,
    OpenBoard,
    Reply,
    Report,
    Request,
    Snapshot,
    StartLoop,
    StopLoop,
    Token,
)
from hal.board import Board, ConnectorHardware
from hal.errors import HardwareError
from hal.types import MeterReading

log = logging.getLogger(__name__)

REPORT_STALE_S = 3 * REPORT_INTERVAL_S  # within systemd's WatchdogSec=10s
CLOSE_TIMEOUT_S = 5.0
TOKEN_WAIT_S = 5.0
START_TIMEOUT_S = 30.0  # a Pi opening a Modbus board after a cold boot
PACKAGE_ROOT = str(Path(controller.__file__).resolve().parent.parent)  # where controller/, hal/... live


def child_interpreter() -> tuple[list[str], dict[str, str]]:
    """The interpreter the real-time process runs in and its environment: ``-S`` and the daemon's
    import path as it stands instead of site's start-up work (.pth files and their imports), which
    costs the process about 1 MB of its own."""
    path = os.pathsep.join([PACKAGE_ROOT, *(p for p in sys.path if p)])
    return [sys.executable, "-S"], {**os.environ, "PYTHONPATH": path}


class RealtimeChild:
    """The running real-time process and the socket to it."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair()
        interpreter, env = child_interpreter()
        self.process = subprocess.Popen(
            [*interpreter, "-m", "controller.safety.child", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        self.channel = Channel(mine)
        self.listener: Callable[[object], None] | None = None  # snapshots and reports
        self.token_sink: Callable[[str], None] | None = None  # the newest RemoteTokenReader
        self.alive = True
        self.closing = False
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_forever, name="evsed-rt-link", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, what: Any, timeout: float | None = None) -> Any:
        """Send a request and wait for its answer; the child's exception is raised here."""
        future: Future[Any] = Future()
        with self._lock:
            if not self.alive:
                raise HardwareError(f"the real-time process has ended (exit code {self.process.returncode})")
            request_id = next(self._ids)
            self._pending[request_id] = future
        try:
            self.channel.send(Request(request_id, what))
        except OSError:
            pass  # the reader sees the end and fails the request
        try:
            return future.result(timeout)
        finally:
            with self._lock:
                self._pending.pop(request_id, None)

    def call(self, target: tuple[str | int, ...], method: str, *args: Any, **kwargs: Any) -> Any:
        return self.request(DeviceCall(target, method, args, kwargs))

    def send(self, message: object) -> None:
        """A one-way message; nothing happens once the process has ended."""
        if self.alive:
            try:
                self.channel.send(message)
            except OSError:
                pass  # the reader sees the end and reports it

    def _read_forever(self) -> None:
        try:
            while True:
                message = self.channel.recv()
                if isinstance(message, Reply):
                    self._answer(message)
                elif isinstance(message, Token):
                    sink = self.token_sink
                    if sink is not None:
                        sink(message.id_tag)
                elif isinstance(message, LogLine):
                    logging.getLogger(message.logger).log(message.level, "%s", message.message)
                elif self.listener is not None:
                    self.listener(message)
        except (EOFError, OSError):
            pass
        finally:
            self._ended()

    def _answer(self, reply: Reply) -> None:
        with self._lock:
            future = self._pending.pop(reply.id, None)
        if future is None:
            return  # its caller gave up waiting
        if reply.error is not None:
            future.set_exception(reply.error)
        else:
            future.set_result(reply.value)

    def _ended(self) -> None:
        try:
            code = self.process.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        with self._lock:
            self.alive = False
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(HardwareError(f"the real-time process has ended (exit code {code})"))
        if not self.closing:
            log.critical("the real-time process ended (exit code %s): the safety loop is not running", code)

    def close(self) -> None:
        """Close the board there and end the process (killed if it does not end in time)."""
        self.closing = True
        try:
            self.request(CloseBoard(), timeout=CLOSE_TIMEOUT_S)
        except Exception as exc:
            if self.process.poll() is None:
                log.error("the real-time process did not close the board: %s", exc)
        try:
            self.process.wait(CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("the real-time process did not end: killing it")
            self.process.kill()
            self.process.wait()
        self._reader.join(CLOSE_TIMEOUT_S)
        self.channel.close()


class RemoteDevice:
    """One device of the board in the real-time process: each method call runs there."""

    def __init__(self, child: RealtimeChild, target: tuple[str | int, ...]) -> None:
        self._child, self._target = child, target

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        return partial(self._child.call, self._target, method)

    def close(self) -> None:
        """Nothing here: the real-time process closes its own board (``RemoteBoard.close``)."""


class RemoteTokenReader:
    """The tags the real-time process read from the board's reader.

    ``poll`` runs on a worker thread (``TokenReader`` may block): it waits up to TOKEN_WAIT_S for
    a tag, so the station's 10 Hz polling costs a thread hop every TOKEN_WAIT_S, not ten a second."""

    def __init__(self, child: RealtimeChild) -> None:
        self._tags: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._closed = False
        child.token_sink = self._tags.put  # the tags read from now on come here

    def poll(self) -> str | None:
        if self._closed:
            return None
        try:
            return self._tags.get(timeout=TOKEN_WAIT_S)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._closed = True
        self._tags.put(None)  # a poll waiting now returns at once


@dataclass
class RemoteBoard(Board):
    child: RealtimeChild = field(kw_only=True)
    shape: BoardShape = field(kw_only=True)

    def successor(self) -> RemoteBoard:
        """A new board on the same real-time process, for a bench that restarts the controller while
        the simulated world (and its EVs) stays; tags go to the successor's token reader."""
        return _remote_board(self.child, self.shape)

    def realtime(
        self,
        connectors: Sequence[tuple[int, ConnectorLimits]],
        settings: LoopSettings,
        on_change: Callable[[ConnectorSnapshot], object] | None = None,
        feed_timeout_s: float = 5.0,
    ) -> RealtimeProcess:
        return RealtimeProcess(self.child, connectors, settings, on_change, feed_timeout_s)


def open_board(config: Config) -> RemoteBoard:
    """Start the real-time process and build the configured board in it."""
    child = RealtimeChild()
    try:
        level = logging.getLogger().getEffectiveLevel()
        sections = config.sections
        slots, grid_meter = tuple(connector_slots(config)), sections.get("grid.meter")
        opened = OpenBoard(sections["root"], sections["board"], slots, grid_meter, level)
        shape: BoardShape = child.request(opened, timeout=START_TIMEOUT_S)
    except BaseException:
        child.close()
        raise
    return _remote_board(child, shape)


def _remote_board(child: RealtimeChild, shape: BoardShape) -> RemoteBoard:
    def device(*target: str | int) -> Any:
        return RemoteDevice(child, target)

    connectors = [
        ConnectorHardware(
            id=cid,
            pilot=device("connector", cid, "pilot"),
            contactor=device("connector", cid, "contactor"),
            meter=device("connector", cid, "meter"),
            **{name: device("connector", cid, name) for name in present},
        )
        for cid, present in shape.connectors
    ]
    board = RemoteBoard(
        kind=shape.kind,
        connectors=connectors,
        token_reader=RemoteTokenReader(child) if shape.token_reader else None,
        simulation=device("simulation") if shape.simulation else None,
        grid_meter=device("grid_meter") if shape.grid_meter else None,
        display=device("display") if shape.display else None,
        child=child,
        shape=shape,
    )
    board.on_close(child.close)
    return board


def renewal_due(sent: ConnectorControl | None, control: ConnectorControl, now: float) -> bool:
    """Whether ``control`` must go to a loop that has ``sent`` (see the rules above)."""
    if sent is None or replace(control, limit=replace(control.limit, valid_until=sent.limit.valid_until)) != sent:
        return True
    if control.limit.valid_until <= sent.limit.valid_until:
        return control.limit.valid_until < sent.limit.valid_until
    return sent.limit.valid_until - now < (control.limit.valid_until - now) / 2


class RealtimeProcess:
    """``RealtimeLoop``'s interface for the loop that runs in the real-time process."""

    def __init__(
        self,
        child: RealtimeChild,
        connectors: Sequence[tuple[int, ConnectorLimits]],
        settings: LoopSettings,
        on_change: Callable[[ConnectorSnapshot], object] | None = None,
        feed_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._child = child
        self._connectors = tuple(connectors)
        self._ids = frozenset(cid for cid, _ in connectors)
        self._on_change = on_change
        self._feed_timeout_s = feed_timeout_s
        self._clock = clock
        self._controls: dict[int, ConnectorControl] = {}
        self._sent_controls: dict[int, ConnectorControl] = {}  # what the loop has
        self._feed_interval_s = feed_timeout_s / 3
        self._meters: dict[int, MeterReading] = {}
        self._snapshots: dict[int, ConnectorSnapshot] = {}
        self._told: dict[int, tuple[object, ...]] = {}  # material fields of the last snapshot given to on_change
        self._report: Report | None = None
        self._report_at = float("-inf")
        self._running = False
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._feeder: asyncio.TimerHandle | None = None
        self._sent_at = float("-inf")  # the last message that fed the child's watchdog

    # -- inputs from the asyncio side ------------------------------------------
    def set_control(self, connector: int, control: ConnectorControl) -> None:
        self._known(connector)
        self._controls[connector] = control
        if not self._running:
            return
        if renewal_due(self._sent_controls.get(connector), control, self._clock()):
            self._send(Control(connector, control))
            self._sent_controls[connector] = control
        self._feed()

    def post_meter(self, connector: int, reading: MeterReading | None) -> None:
        """A meter reading (None after a failed read: the loop judges the meter by the last good one's age)."""
        self._known(connector)
        if reading is None:
            return
        if self._running:
            self._send(MeterPost(connector, reading))
        else:
            self._meters[connector] = reading

    def _known(self, connector: int) -> None:
        if connector not in self._ids:
            raise KeyError(connector)

    # -- outputs ----------------------------------------------------------------
    def snapshot(self, connector: int) -> ConnectorSnapshot | None:
        return self._snapshots.get(connector)

    def healthy(self) -> bool:
        report = self._report
        fresh = report is not None and self._clock() - self._report_at < REPORT_STALE_S
        return self._child.alive and self._running and fresh and report is not None and report.healthy

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        """Start the loop there; call from the daemon's event loop (it feeds the watchdog from it)."""
        event_loop = asyncio.get_running_loop()
        self._child.listener = self._heard
        self._child.request(
            StartLoop(self._connectors, self.settings, self._feed_timeout_s, dict(self._controls), dict(self._meters)),
            timeout=START_TIMEOUT_S,
        )
        self._sent_controls = dict(self._controls)
        self._running = True
        self._event_loop = event_loop
        self._feed()

    def _send(self, message: Control | MeterPost | Feed) -> None:
        self._child.send(message)
        self._sent_at = self._clock()

    def _feed(self) -> None:
        """On the event loop: a ``Feed`` if due, and the timer that calls this again pushed back."""
        if self._clock() - self._sent_at >= self._feed_interval_s:
            self._send(Feed())
        if self._feeder is not None:
            self._feeder.cancel()  # a cancelled timer wakes nothing: the loop drops it unseen
        assert self._event_loop is not None
        self._feeder = self._event_loop.call_later(self._feed_interval_s, self._feed)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the loop with every contactor open and every pilot X1 (the board stays open)."""
        if self._feeder is not None:
            self._feeder.cancel()
            self._feeder = None
        if self._running and self._child.alive:
            try:
                self._child.request(StopLoop(), timeout=timeout + CLOSE_TIMEOUT_S)
            except Exception:
                log.exception("the real-time process did not stop its loop")
        self._running = False

    def _heard(self, message: object) -> None:
        """On the reader thread."""
        if isinstance(message, Snapshot):
            snap = message.snapshot
            self._snapshots[snap.connector] = snap
            # Against what the station last heard, not the reports' snapshots: a report may
            # overtake the Snapshot of the same tick.
            material = snap.material()
            if self._told.get(snap.connector) != material:
                self._told[snap.connector] = material
                if self._on_change is not None:
                    self._on_change(snap)
        elif isinstance(message, Report):
            for snap in message.snapshots:
                self._snapshots[snap.connector] = snap
            self._report, self._report_at = message, self._clock()
