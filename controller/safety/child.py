"""The real-time process: ``python -m controller.safety.child FD`` (started by ``open_board``).

Rules kept here:
- It builds the board, answers the daemon's device calls, and runs ``RealtimeLoop`` from
  ``StartLoop`` to ``StopLoop``; nothing else shares its interpreter.
- Its own watchdog, while the loop runs: when the daemon's end of the socket closes (the
  daemon died, kill -9 included) or nothing came from the daemon's event loop (``Control``,
  ``MeterPost``, ``Feed``) for ``feed_timeout_s`` (that loop is stuck), it stops the loop
  (every contactor open, then every pilot X1), closes the board and exits, unasked. The
  daemon, seeing it gone, stops feeding systemd.
- The loop thread never waits for the socket: its snapshots and log lines go into a queue
  that one sender thread drains; that thread also sends a ``Report`` every REPORT_INTERVAL_S.
- Device calls run on a thread pool: a meter read hanging on a dead bus delays neither the
  loop nor the other calls. A failure goes back as the exception the device raised.
- The token reader is polled here at most every TOKEN_POLL_S (at once again after a poll that
  waited that long for a card itself) and each tag is pushed to the daemon, so the daemon
  does not cross the socket ten times a second to hear nothing.
- What it imports is its own memory (a fresh interpreter shares no objects with the daemon):
  the modules it loads do not import ``typing`` (0.6 MB here), and take the names only the
  type checker needs under a ``TYPE_CHECKING = False`` of their own. A test checks it.
- SIGINT and SIGTERM are ignored: a Ctrl-C reaches the whole process group and systemd
  signals the whole unit, while the daemon decides when this process closes the board; if
  the daemon dies instead, the watchdog above acts.
"""

from __future__ import annotations

import logging
import pickle
import queue
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

from controller.realtime import ConnectorSnapshot, RealtimeLoop
from controller.safety.wire import (
    REPORT_INTERVAL_S,
    TOKEN_POLL_S,
    BoardShape,
    Channel,
    CloseBoard,
    Control,
    DeviceCall,
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
from hal.board import Board, ConnectorHardware, build_board
from hal.errors import HardwareError

TYPE_CHECKING = False  # typing: controller/safety/child.py says why
if TYPE_CHECKING:
    from typing import Any

log = logging.getLogger(__name__)

DEVICES = tuple(f.name for f in fields(ConnectorHardware) if f.name != "id")
OPTIONAL_DEVICES = tuple(f.name for f in fields(ConnectorHardware) if f.default is None)  # rcd, lock...
EXIT_CLOSED, EXIT_ORPHANED, EXIT_UNFED = 0, 3, 4
CALL_THREADS = 8
_DONE = object()  # the sender's last item
SENDER_FLUSH_S = 2.0


class _Forward(logging.Handler):
    """Log records travel to the daemon, which writes them where its own go."""

    def __init__(self, outbox: queue.SimpleQueue[object]) -> None:
        super().__init__()
        self.outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.outbox.put(LogLine(record.name, record.levelno, message))


class Child:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self.board: Board | None = None
        self.loop: RealtimeLoop | None = None
        self.connectors: tuple[int, ...] = ()
        self.feed_timeout_s = 0.0
        self.fed_at = 0.0
        self.calls = ThreadPoolExecutor(max_workers=CALL_THREADS, thread_name_prefix="evsed-rt-call")
        self.sender = threading.Thread(target=self._send_forever, name="evsed-rt-send", daemon=True)
        self.sender.start()

    # -- the main thread: messages from the daemon and the watchdog --------------------------
    def serve(self) -> int:
        """Handle messages until told to close (0) or until the daemon is gone or silent."""
        while True:
            timeout = None if self.loop is None else max(0.0, self.fed_at + self.feed_timeout_s - time.monotonic())
            if not self.channel.readable(timeout):
                self._alone(f"no word from the daemon for {self.feed_timeout_s:.1f} s")
                return EXIT_UNFED
            try:
                message = self.channel.recv()
            except (EOFError, OSError):
                self._alone("the daemon is gone")
                return EXIT_ORPHANED
            if isinstance(message, Request):
                if self._request(message):
                    return EXIT_CLOSED
                continue
            self.fed_at = time.monotonic()  # the rest comes from the daemon's event loop
            if self.loop is not None and isinstance(message, Control):
                self.loop.set_control(message.connector, message.control)
            elif self.loop is not None and isinstance(message, MeterPost):
                self.loop.post_meter(message.connector, message.reading)

    def _alone(self, why: str) -> None:
        # The daemon cannot log for us any more: straight to stderr (journald under systemd).
        logging.getLogger().addHandler(logging.StreamHandler(sys.stderr))
        if self.loop is not None:
            log.critical("real-time process: %s: every contactor opens, every pilot goes to X1", why)

    def _request(self, request: Request) -> bool:
        what = request.what
        if isinstance(what, DeviceCall):
            self.calls.submit(self._device_call, request.id, what)
            return False
        try:
            value = self._control_request(what)
        except Exception as exc:
            self.outbox.put(Reply(request.id, error=exc))
            return False
        self.outbox.put(Reply(request.id, value))
        return isinstance(what, CloseBoard)

    def _control_request(self, what: object) -> Any:
        if isinstance(what, OpenBoard):
            return self._open(what)
        if isinstance(what, StartLoop):
            return self._start(what)
        if isinstance(what, StopLoop):
            self.stop_loop()
            return None
        if isinstance(what, CloseBoard):
            self.make_safe()
            return None
        raise TypeError(f"unknown request {what!r}")

    def _open(self, what: OpenBoard) -> BoardShape:
        logging.getLogger().setLevel(what.log_level)
        board = build_board(what.board, what.slots, grid_meter=what.grid_meter)
        try:
            what.root.check_unused()
        except Exception:
            board.close()
            raise
        self.board = board
        if board.token_reader is not None:
            threading.Thread(target=self._poll_tokens, args=(board,), name="evsed-rt-tokens", daemon=True).start()
        return BoardShape(
            kind=board.kind,
            connectors=tuple(
                (hw.id, frozenset(name for name in OPTIONAL_DEVICES if getattr(hw, name) is not None))
                for hw in board.connectors
            ),
            token_reader=board.token_reader is not None,
            simulation=board.simulation is not None,
            grid_meter=board.grid_meter is not None,
            display=board.display is not None,
        )

    def _start(self, what: StartLoop) -> None:
        if self.board is None or self.loop is not None:
            raise RuntimeError("StartLoop needs an open board and no running loop")
        loop = RealtimeLoop(
            [(self.board.connector(cid), limits) for cid, limits in what.connectors],
            what.settings,
            on_change=lambda snap: self.outbox.put(Snapshot(snap)),
            change=ConnectorSnapshot.observable,  # the daemon's API shows them live; it tells the material ones
        )
        for cid, control in what.controls.items():
            loop.set_control(cid, control)
        for cid, reading in what.meters.items():
            loop.post_meter(cid, reading)
        self.connectors = tuple(cid for cid, _ in what.connectors)
        self.feed_timeout_s, self.fed_at = what.feed_timeout_s, time.monotonic()
        loop.start()
        self.loop = loop
        self.outbox.put(self._report(loop))  # before the reply: the daemon knows the loop's health from the start

    def stop_loop(self) -> None:
        loop, self.loop = self.loop, None
        if loop is not None:
            loop.stop()  # every contactor open, every pilot X1

    def make_safe(self) -> None:
        self.stop_loop()
        board, self.board = self.board, None
        if board is not None:
            board.close()

    # -- device calls (pool threads) ---------------------------------------------------------
    def _device_call(self, request_id: int, call: DeviceCall) -> None:
        try:
            value = getattr(self._device(call.target), _public(call.method))(*call.args, **call.kwargs)
        except Exception as exc:
            self.outbox.put(Reply(request_id, error=exc))
        else:
            self.outbox.put(Reply(request_id, value))

    def _device(self, target: tuple[str | int, ...]) -> Any:
        board = self.board
        if board is None:
            raise HardwareError("the board is closed")
        match target:
            case ("connector", int(cid), str(name)) if name in DEVICES:
                return getattr(board.connector(cid), name)
            case ("grid_meter",):
                return board.grid_meter
            case ("display",):
                return board.display
            case ("simulation",):
                return board.simulation
        raise ValueError(f"no device {target!r}")

    def _poll_tokens(self, board: Board) -> None:
        reader, failing = board.token_reader, False
        while reader is not None and self.board is board:
            asked = time.monotonic()
            try:
                tag = reader.poll()
                failing = False
            except HardwareError as exc:
                if not failing:
                    log.warning("token reader: %s", exc)
                tag, failing = None, True
            rest = asked + TOKEN_POLL_S - time.monotonic()
            if tag:
                self.outbox.put(Token(tag))
            elif rest > 0:  # a reader that waited for a card itself is asked again at once
                time.sleep(rest)  # (not with a sleep(0): that too is a wake-up)

    # -- the sender thread -------------------------------------------------------------------
    def _send_forever(self) -> None:
        next_report = time.monotonic() + REPORT_INTERVAL_S
        while True:
            try:
                item: object = self.outbox.get(timeout=max(0.0, next_report - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _DONE:
                return
            try:
                if item is not None:
                    self._send(item)
                if time.monotonic() >= next_report:
                    next_report = time.monotonic() + REPORT_INTERVAL_S
                    loop = self.loop
                    if loop is not None:
                        self._send(self._report(loop))
            except OSError:
                return  # the daemon is gone: the main thread sees the end of the socket

    def _report(self, loop: RealtimeLoop) -> Report:
        snapshots = (loop.snapshot(cid) for cid in self.connectors)
        return Report(loop.healthy(), tuple(s for s in snapshots if s is not None))

    def _send(self, item: object) -> None:
        try:
            self.channel.send(item)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            if not isinstance(item, Reply):
                raise
            # An answer that does not pickle (an exotic exception) still answers.
            self.channel.send(Reply(item.id, error=HardwareError(f"{item.error or item.value!r} ({exc})")))


def _public(method: str) -> str:
    if method.startswith("_"):
        raise AttributeError(f"{method} is not a device method")
    return method


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.setswitchinterval(0.001)  # bound how long a call thread holds the interpreter from the loop
    channel = Channel(socket.socket(fileno=int(argv[0])))
    child = Child(channel)
    root = logging.getLogger()
    root.handlers[:] = [_Forward(child.outbox)]
    try:
        return child.serve()
    finally:
        try:
            child.make_safe()
        finally:
            child.outbox.put(_DONE)  # what is queued (the last reply, the shutdown's log lines) goes first
            child.sender.join(SENDER_FLUSH_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
