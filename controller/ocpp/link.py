"""The station's OCPP-J websocket to the CSMS: connect, answer CALLs, send CALLs, reconnect.

Rules kept here:
- One outgoing CALL at a time (OCPP-J 4.1.1): ``call()`` holds a lock until the CALLRESULT,
  the CALLERROR, the timeout (loop clock, monotonic) or the loss of the connection. Incoming
  CALLs are answered meanwhile: the receive loop never waits for a handler or a CALL.
- Incoming CALLs are handled one at a time, in arrival order, by a per-connection worker.
  Unknown action -> NotImplemented, known but without a handler -> NotSupported (rpc.py
  decides), a handler that raises ``Refuse`` -> that code, anything else -> InternalError.
  Frames rpc.py says to ignore are logged and dropped.
- Nothing a handler or a frame does ends the connection task: any exception in it (a bug,
  ours or a library's) is logged with its traceback, shown in ``last_error``, and the link
  connects again as after a lost connection.
- No loop step spends long on one frame: frames over ``INLINE_BYTES`` are parsed and
  validated in a worker thread (in arrival order; the receive loop waits for each).
- A CALLRESULT's ``on_result`` (the journal's confirmation) runs in the receive path the
  moment the answer is read, before the waiting CALL resumes or anything else is scheduled.
- A handler must not await ``call()`` (the CSMS waits for our answer first); it returns its
  response and may pass ``after``: work run once the response is on the wire, in a task the
  link keeps and whose exceptions are logged. ``spawn()`` is the same for anything else.
- Reconnect with exponential backoff, jitter and a cap (``backoff_delay``, pure), or with the
  version's own rule (``backoff(attempt, rand)``, e.g. OCPP-J 2.0.1 5.3); ``attempt`` counts
  the failures since the last successful connection (0 = the first retry). Websocket pings
  every ``ping_interval`` s (0 = off); no pong within ``ping_timeout`` means a half-open
  connection: the socket is aborted at once (no closing handshake can cross a dead path), so
  it is noticed within ping interval + ping timeout. ``drop(reason)`` does the same for a
  caller that got no answer (the journal after a CALL timeout). A closing handshake lasts at
  most ``ping_timeout`` too. The websocket itself is controller/ocpp/websocket.py; its errors
  (``WebSocketError``) count as a failed attempt or a lost connection, like OSError.
- While the registration is refused, incoming CALLs are dropped unanswered (``silent``, 1.6
  section 4.2) or answered with the CALLERROR ``refuse_with`` (2.0.1 B03.FR.08: SecurityError).
- ``state`` and ``last_error`` are observable for the local API; ``connected`` is an Event;
  ``down_since`` the monotonic time the last connection ended (B04 needs how long it was down).
  ``disconnect()`` stays down until ``connect()``. A deliberate close (``disconnect``,
  ``reconnect``) first lets the outstanding CALL get its answer (at most ``CLOSE_WAIT_S``):
  frames already received are processed, and a CSMS busy answering does not lose the answer.
- ``on_connected`` runs (tracked) after each (re)connect, so the front end sends its
  BootNotification first; ``on_disconnected`` is called after each connection ended;
  ``frame_log`` sees every frame in and out.
- Security hooks (the security profile decides them per attempt): ``before_attempt()`` runs
  first in each attempt (it may point ``url`` and ``call_timeout`` elsewhere, or raise
  ConnectionError: the attempt failed); ``additional_headers`` and ``ssl`` may be callables;
  ``url`` may be reassigned between attempts; ``on_open(ws)`` runs
  once the websocket is open and may raise ConnectionError to refuse it (e.g. server
  certificate dates checked against NTP time); ``on_failure(exc)`` sees every failed attempt
  and returns the reason shown in ``last_error`` (None keeps the default).
  ``reconnect()`` drops the connection and connects again at once (new credentials).
- An outgoing CALL's future is always read, whatever ended the CALL (no "Future exception
  was never retrieved" in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.ocpp.rpc import Call, CallError, CallResult, Ignored, PayloadInvalid, Reject, Rpc
from controller.ocpp.websocket import ConnectionClosed, WebSocket, WebSocketError, connect
from controller.tasks import Tasks

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable["Payload | Reply"]]
FollowUp = Callable[[], Awaitable[None]]
INLINE_BYTES = 8192  # larger frames are parsed / validated in a worker thread
CLOSE_WAIT_S = 5.0  # a deliberate close waits this long at most for the outstanding CALL's answer


class LinkState(enum.StrEnum):
    DISCONNECTED = "disconnected"  # by request (or not started)
    CONNECTING = "connecting"
    CONNECTED = "connected"
    WAITING = "waiting"  # backing off before the next attempt


@dataclass(frozen=True, slots=True)
class Reply:
    """A handler's response plus follow-up work to run once the response has been sent."""

    payload: Payload
    after: FollowUp | None = None


@dataclass(frozen=True, slots=True)
class Frame:
    direction: str  # "in" / "out"
    text: str
    at: float  # wall clock, for humans reading the log


class Refuse(Exception):
    """Raised by a handler to answer with a CALLERROR of ``code`` (one of the version's codes)."""

    def __init__(self, code: str, description: str = ""):
        super().__init__(f"{code}: {description}")
        self.code, self.description = code, description


class CallFailed(Exception):
    """An outgoing CALL got no usable CALLRESULT."""


class NotConnected(CallFailed):
    pass


class ConnectionLost(CallFailed):
    """The connection dropped while we waited for the response: it may or may not have arrived."""


class CallTimeout(CallFailed, TimeoutError):
    pass


class ResponseInvalid(CallFailed):
    """The CALLRESULT violates the schema (or was a broken frame)."""


class CallErrorReceived(CallFailed):
    def __init__(self, code: str, description: str, details: Payload):
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.details = code, description, details


@dataclass(frozen=True, slots=True)
class _Pending:
    """The one outstanding CALL."""

    unique_id: str
    action: str
    future: asyncio.Future[Payload]
    on_result: Callable[[Payload], object] | None


def backoff_delay(attempt: int, base: float, cap: float, rand: float) -> float:
    """Seconds to wait before connection attempt ``attempt`` (0 = first retry); ``rand`` in [0, 1)
    spreads stations that lost the CSMS together over the upper half of the window."""
    window = min(cap, base * 2.0**attempt)
    return window * (0.5 + rand / 2)


class Link:
    def __init__(
        self,
        url: str,
        charge_point_id: str,
        rpc: Rpc,
        *,
        call_timeout: float = 30.0,
        ping_interval: float = 60.0,
        ping_timeout: float = 10.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        additional_headers: Callable[[], Mapping[str, str]] | None = None,
        ssl: ssl_module.SSLContext | Callable[[], ssl_module.SSLContext | None] | None = None,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        frame_log: Callable[[Frame], None] | None = None,
        on_open: Callable[[WebSocket], None] | None = None,
        on_failure: Callable[[BaseException], str | None] | None = None,
        backoff: Callable[[int, float], float] | None = None,
    ):
        self.url = url.rstrip("/") + "/" + charge_point_id
        self.rpc = rpc
        self.call_timeout = call_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.backoff = backoff  # (attempt, rand in [0, 1)) -> seconds; None: backoff_delay
        # A callable so the security profile can change credentials between connections.
        self.additional_headers = additional_headers
        self.ssl = ssl
        self.on_connected = on_connected
        self.on_disconnected: Callable[[], object] | None = None  # after each connection ended
        self.frame_log = frame_log
        self.on_open, self.on_failure = on_open, on_failure
        self.before_attempt: Callable[[], None] | None = None
        self._at_once = False  # reconnect() asked for an immediate new attempt
        self._drop_reason: str | None = None  # why we are closing the connection ourselves
        self.state = LinkState.DISCONNECTED
        self._state_changed = asyncio.Event()
        self.last_error = ""
        self.connected = asyncio.Event()
        self.down_since: float | None = None  # monotonic time the last connection ended
        self.silent = False  # drop incoming CALLs unanswered (1.6 section 4.2: while Rejected)
        self.refuse_with: str | None = None  # answer every incoming CALL with this CALLERROR code
        self._handlers: dict[str, Handler] = {}
        self._wanted = asyncio.Event()
        self._kick = asyncio.Event()
        self._ws: WebSocket | None = None
        self._call_lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._tasks = Tasks("ocpp link")
        self._runner: asyncio.Task[None] | None = None

    def _set_state(self, state: LinkState) -> None:
        self.state = state
        # Wake everyone waiting on the old event; later waiters get a fresh one.
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    async def wait_state(self, state: LinkState) -> None:
        """Return once the link is in ``state`` (bound it with asyncio.timeout)."""
        while self.state != state:
            await self._state_changed.wait()

    # ---- registration -------------------------------------------------------------------

    def handle(self, action: str, handler: Handler) -> None:
        """Answer incoming ``action`` CALLs with ``handler``; the action becomes supported."""
        if action not in self.rpc.actions:
            raise ValueError(f"{action} is not an OCPP {self.rpc.dialect.version} action")
        self._handlers[action] = handler

    @property
    def supported(self) -> frozenset[str]:
        return frozenset(self._handlers)

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the connection task (connecting at once)."""
        self._wanted.set()
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="ocpp-link")

    def connect(self) -> None:
        """Come back online; a pending backoff wait is cut short."""
        self._wanted.set()
        self._kick.set()

    async def disconnect(self) -> None:
        """Close the connection and stay offline until ``connect()``; returns once the connection
        task has left the connection (the state then tells it, e.g. to the local API)."""
        self._wanted.clear()
        self._kick.set()
        if self._ws is None:
            self._set_state(LinkState.DISCONNECTED)
            return
        await self._close_after_call()
        while self.state == LinkState.CONNECTED:
            await self._state_changed.wait()

    async def reconnect(self) -> None:
        """Drop the connection and open a new one at once (new credentials or profile)."""
        self._at_once = True
        self._kick.set()
        await self._close_after_call()

    def drop(self, reason: str) -> None:
        """The connection is presumed dead (e.g. a CALL got no answer): abort it now, without a
        closing handshake, and connect again at once."""
        ws = self._ws
        if ws is None:
            return
        log.warning("dropping the OCPP connection: %s", reason)
        self._at_once = True
        self._drop_reason = reason
        self._ws = None  # nothing more goes out on it
        self.connected.clear()
        ws.transport.abort()

    async def _close_after_call(self) -> None:
        """Close once the outstanding CALL got its answer (at most CLOSE_WAIT_S): an answer on
        its way is still processed, and a CSMS busy answering it does not lose what we sent."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(CLOSE_WAIT_S, self.call_timeout)), self._call_lock:
                if self._ws is not None:
                    await self._ws.close()
                return
        if self._ws is not None:
            await self._ws.close()

    async def close(self) -> None:
        await self.disconnect()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        await self._tasks.cancel()

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in a task the link keeps a reference to; its exception is logged."""
        return self._tasks.spawn(coro, name)

    async def _run(self) -> None:
        attempt = 0
        while True:
            if not self._wanted.is_set():
                self._set_state(LinkState.DISCONNECTED)
                await self._wanted.wait()
            self._set_state(LinkState.CONNECTING)
            try:
                if self.before_attempt is not None:
                    self.before_attempt()
                ws = await self._open()
                try:
                    if ws.subprotocol != self.rpc.dialect.subprotocol:
                        raise ConnectionError(f"CSMS did not accept subprotocol {self.rpc.dialect.subprotocol}")
                    if self.on_open is not None:
                        self.on_open(ws)
                    attempt = 0
                    await self._serve(ws)
                    closed_by_csms = self._wanted.is_set() and not self._at_once
                    self.last_error = "closed by CSMS" if closed_by_csms else self._drop_reason or ""
                finally:
                    await ws.close()
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, WebSocketError, ConnectionError) as exc:
                judged = self.on_failure(exc) if self.on_failure is not None else None
                self.last_error = self._drop_reason or judged or f"{type(exc).__name__}: {exc}"
                log.warning("OCPP connection to %s failed: %s", self.url, self.last_error)
            except Exception as exc:
                # A bug must not end the link for good: report it and connect again.
                log.exception("OCPP link to %s failed; connecting again", self.url)
                self.last_error = f"link failure: {type(exc).__name__}: {exc}"
            self._drop_reason = None
            if not self._wanted.is_set():
                continue
            if self._at_once:
                self._at_once = False
                continue
            self._set_state(LinkState.WAITING)
            import random  # here: only a reconnection draws (with hashlib and bisect: an idle daemon spares them)

            rand = random.random()
            if self.backoff is not None:
                delay = self.backoff(attempt, rand)
            else:
                delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap, rand)
            attempt += 1
            log.info("reconnecting in %.1f s", delay)
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._kick.wait()

    async def _open(self) -> WebSocket:
        return await connect(
            self.url,
            subprotocols=[self.rpc.dialect.subprotocol],
            headers=self.additional_headers() if self.additional_headers else None,
            ssl=self.ssl() if callable(self.ssl) else self.ssl,
            close_timeout=self.ping_timeout,  # the closing handshake: a stalled connection cannot hold us
            # Room to read an oversized frame so it can be answered rather than the socket torn down.
            max_size=self.rpc.max_frame_bytes * 4,
        )

    async def _serve(self, ws: WebSocket) -> None:
        inbox: asyncio.Queue[Call] = asyncio.Queue()
        worker = asyncio.create_task(self._answer_calls(ws, inbox), name="ocpp-incoming")
        keepalive = asyncio.create_task(self._keepalive(ws), name="ocpp-keepalive")
        self._ws = ws
        self._set_state(LinkState.CONNECTED)
        self.last_error = ""
        self.connected.set()
        log.info("OCPP connected to %s", self.url)
        greeting = self.spawn(self.on_connected(), "ocpp-on-connected") if self.on_connected else None
        try:
            async for frame in ws:
                self._log("in", frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
                await self._dispatch(ws, frame, inbox)
        finally:
            self._ws = None
            self.connected.clear()
            self.down_since = time.monotonic()
            worker.cancel()
            keepalive.cancel()
            if greeting is not None:
                greeting.cancel()
            if self._pending is not None and not self._pending.future.done():
                self._pending.future.set_exception(ConnectionLost("connection closed while waiting for the response"))
            await asyncio.gather(worker, keepalive, return_exceptions=True)
            if self.on_disconnected is not None:
                self.on_disconnected()

    async def _keepalive(self, ws: WebSocket) -> None:
        """Ping every ``ping_interval``; no pong within ``ping_timeout``: the path is dead."""
        while self.ping_interval > 0:
            await asyncio.sleep(self.ping_interval)
            try:
                async with asyncio.timeout(self.ping_timeout):
                    await ws.ping()
            except TimeoutError:
                self.drop(f"ping timeout: no pong within {self.ping_timeout:g} s (half-open connection)")
                return
            except ConnectionClosed:
                return

    # ---- incoming -----------------------------------------------------------------------

    async def _offload(self, size: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``: inline for a small frame, in a worker thread for a large one."""
        if size <= INLINE_BYTES:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _dispatch(self, ws: WebSocket, frame: str | bytes, inbox: asyncio.Queue[Call]) -> None:
        message = await self._offload(len(frame), self.rpc.parse, frame, self._handlers)
        if isinstance(message, Ignored):
            log.warning("frame %s from CSMS ignored: %s", message.unique_id, message.description)
            return
        if isinstance(message, Call):
            if self.silent:
                log.info("%s %s from CSMS left unanswered: registration Rejected", message.action, message.unique_id)
                return
            if self.refuse_with is not None:
                log.info("%s %s from CSMS refused: %s", message.action, message.unique_id, self.refuse_with)
                await self._send(ws, self.rpc.error(message.unique_id, self.refuse_with, "registration not accepted"))
                return
            inbox.put_nowait(message)
            return
        if isinstance(message, Reject):
            log.warning("bad frame from CSMS (%s): %s", message.code, message.description)
            if message.reply is not None:
                await self._send(ws, message.reply)
                return
        pending = self._pending
        if pending is None or pending.unique_id != message.unique_id or pending.future.done():
            log.warning("response %s matches no outstanding CALL; ignored", message.unique_id)
            return
        if isinstance(message, CallResult):
            violation = await self._offload(len(frame), self.rpc.validate, pending.action, message.payload,
                                            response=True, formats=False)  # fmt: skip
            if pending.future.done():  # the CALL timed out while a large answer was checked
                return
            if violation is None:
                self._resolve(pending, message.payload)
            else:
                pending.future.set_exception(ResponseInvalid(f"{pending.action} response: {violation.description}"))
        elif isinstance(message, CallError):
            pending.future.set_exception(CallErrorReceived(message.code, message.description, message.details))
        else:
            pending.future.set_exception(ResponseInvalid(f"{pending.action} response: {message.description}"))

    @staticmethod
    def _resolve(pending: _Pending, payload: Payload) -> None:
        if pending.on_result is not None:
            try:
                pending.on_result(payload)
            except Exception as exc:
                pending.future.set_exception(exc)
                return
        pending.future.set_result(payload)

    async def _answer_calls(self, ws: WebSocket, inbox: asyncio.Queue[Call]) -> None:
        while True:
            call = await inbox.get()
            after: FollowUp | None = None
            try:
                answer = await self._handlers[call.action](call.payload)
                if isinstance(answer, Reply):
                    after = answer.after
                    answer = answer.payload
                frame = self.rpc.result(call.unique_id, call.action, answer)
            except asyncio.CancelledError:
                raise
            except Refuse as exc:
                after = None
                frame = self.rpc.error(call.unique_id, exc.code, exc.description)
            except Exception as exc:
                log.exception("handler for %s failed", call.action)
                after = None
                reason = "invalid response" if isinstance(exc, PayloadInvalid) else type(exc).__name__
                frame = self.rpc.error(call.unique_id, "InternalError", f"{call.action}: {reason}")
            try:
                await self._send(ws, frame)
            except ConnectionClosed:
                return
            if after is not None:
                self.spawn(after(), f"ocpp-after-{call.action}")

    # ---- outgoing -----------------------------------------------------------------------

    async def call(
        self,
        action: str,
        payload: Payload,
        timeout: float | None = None,  # noqa: ASYNC109 - the CALL's response timeout is part of the API
        unique_id: str | None = None,
        on_result: Callable[[Payload], object] | None = None,
    ) -> Payload:
        """Send a CALL and return the CALLRESULT payload. Raises CallErrorReceived, CallTimeout,
        ConnectionLost, NotConnected, ResponseInvalid (all CallFailed) or PayloadInvalid.
        ``on_result(payload)`` runs in the receive path as soon as a valid CALLRESULT is read;
        what it raises is what the CALL raises."""
        async with self._call_lock:
            ws = self._ws
            if ws is None:
                raise NotConnected(f"not connected ({self.state})")
            unique_id, frame = self.rpc.call(action, payload, unique_id)
            future: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
            self._pending = _Pending(unique_id, action, future, on_result)
            try:
                try:
                    await self._send(ws, frame)
                except ConnectionClosed as exc:
                    raise ConnectionLost(str(exc)) from exc
                async with asyncio.timeout(self.call_timeout if timeout is None else timeout):
                    return await future
            except TimeoutError as exc:
                raise CallTimeout(f"no response to {action} {unique_id}") from exc
            finally:
                self._pending = None
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # read: the connection may have failed it while we were sending

    async def _send(self, ws: WebSocket, text: str) -> None:
        self._log("out", text)
        await ws.send(text)

    def _log(self, direction: str, text: str) -> None:
        if self.frame_log is not None:
            self.frame_log(Frame(direction, text, time.time()))
