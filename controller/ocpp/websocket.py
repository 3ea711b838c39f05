"""The station's websocket client (RFC 6455): wsproto's sans-I/O protocol on asyncio streams.

Rules kept here:
- ``connect`` opens TCP, or TLS with the given context and the URL's host as server name (a
  default verifying context for wss:// without one), sends the opening handshake (the URL's
  path and query, its Host, the offered subprotocols, the additional headers such as Basic
  auth) and returns once the server answered 101, all within ``open_timeout`` (TimeoutError
  after it: a server that stalls mid-handshake holds nothing longer). A non-101 answer is
  ``HandshakeRefused`` with its status code, an end of the connection before the answer is
  ``HandshakeClosed`` (with TLS 1.3 a refused client certificate looks like that), an answer
  that breaks HTTP or RFC 6455 (a bad accept key, a subprotocol we did not offer, a head over
  h11's bound) is ``ProtocolError``. TLS and socket failures stay what they are (ssl.SSLError,
  OSError): tls.py tells them apart.
- One reader task per connection feeds wsproto: fragments are joined into messages, text
  arrives as ``str`` and binary as ``bytes`` (the caller decides what binary means). A message
  over ``max_size`` bytes ends the connection with 1009, invalid UTF-8 in text with 1007, any
  other broken frame with wsproto's code (1002): the server's input never raises out of here
  but as the closure it caused. At most ``QUEUE`` messages wait for ``recv``; then reading
  stops, so a server outpacing us fills its own buffers, not our memory.
- Pings from the server are answered; ``ping()`` returns when its pong (or a later one)
  arrives: the caller bounds it with its own timeout. ``send`` awaits the transport's drain
  (backpressure): a server that stops reading blocks the sender, not memory.
- The closing handshake: ``close()`` sends a Close frame and waits up to ``close_timeout`` for
  the server's Close and the end of the stream, then drops the socket; a Close from the server
  is answered at once. ``transport.abort()`` drops it without one (a dead path). The closure is
  reported as ``ConnectionClosed`` with its code and reason (1006: no Close frame crossed):
  iterating over the socket ends on a normal closure (1000, 1001) and raises it on any other;
  ``send``, ``recv`` and ``ping`` raise it once the socket is closed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

log = logging.getLogger(__name__)

READ_BYTES = 65536
QUEUE = 16  # messages received but not yet taken by recv()
NORMAL_CLOSURE, GOING_AWAY, ABNORMAL_CLOSURE, MESSAGE_TOO_BIG = 1000, 1001, 1006, 1009
CLEAN = frozenset({NORMAL_CLOSURE, GOING_AWAY})


class WebSocketError(Exception):
    """Anything the websocket layer reports; the link catches this."""


class HandshakeRefused(WebSocketError):
    """The server answered the upgrade with another status than 101."""

    def __init__(self, status_code: int):
        super().__init__(f"HTTP {status_code}: the server refused the websocket upgrade")
        self.status_code = status_code


class HandshakeClosed(WebSocketError):
    """The connection ended before the server answered the upgrade."""


class ProtocolError(WebSocketError):
    """The server's opening handshake broke HTTP or RFC 6455."""


class ConnectionClosed(WebSocketError):
    """The websocket is closed: ``code`` and ``reason`` of the closing handshake (1006: none)."""

    def __init__(self, code: int, reason: str, by_us: bool):
        side = "sent" if by_us else "received"
        super().__init__(f"closed: {side} {code}" + (f" ({reason})" if reason else ""))
        self.code, self.reason, self.by_us = code, reason, by_us


@dataclass(frozen=True)
class Address:
    secure: bool
    host: str  # to connect to (no brackets)
    port: int
    authority: str  # the Host header
    target: str  # path and query


def address(url: str) -> Address:
    """Where a ws:// or wss:// URL points; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a websocket URL: {url}")
    secure = parts.scheme == "wss"
    default = 443 if secure else 80
    port = parts.port or default
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == default else f"{shown}:{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Address(secure, host, port, authority, target)


async def connect(
    url: str,
    *,
    subprotocols: Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    ssl: ssl_module.SSLContext | None = None,
    max_size: int = 1 << 20,
    open_timeout: float = 10.0,
    close_timeout: float = 10.0,
) -> WebSocket:
    where = address(url)
    if ssl is not None and not where.secure:
        raise ValueError(f"a TLS context for a ws:// URL: {url}")
    if where.secure and ssl is None:
        ssl = ssl_module.create_default_context()
    async with asyncio.timeout(open_timeout):
        reader, writer = await asyncio.open_connection(
            where.host, where.port, ssl=ssl, server_hostname=where.host if where.secure else None
        )
        try:
            return await _handshake(where, reader, writer, list(subprotocols), headers or {}, max_size, close_timeout)
        except BaseException:
            writer.transport.abort()
            raise


async def _handshake(
    where: Address,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    subprotocols: list[str],
    headers: Mapping[str, str],
    max_size: int,
    close_timeout: float,
) -> WebSocket:
    protocol = WSConnection(ConnectionType.CLIENT)
    extra = [(name.encode(), value.encode()) for name, value in headers.items()]
    request = Request(host=where.authority, target=where.target, subprotocols=subprotocols, extra_headers=extra)
    writer.write(protocol.send(request))
    await writer.drain()
    while True:
        try:
            data = await reader.read(READ_BYTES)
        except ConnectionResetError as exc:
            raise HandshakeClosed("connection reset during the opening handshake") from exc
        if not data:
            raise HandshakeClosed("connection closed during the opening handshake")
        try:
            protocol.receive_data(data)
        except RemoteProtocolError as exc:
            raise ProtocolError(f"bad opening handshake answer: {exc}") from None
        for event in protocol.events():
            if isinstance(event, AcceptConnection):
                return WebSocket(protocol, reader, writer, event.subprotocol, max_size, close_timeout)
            if isinstance(event, RejectConnection):
                raise HandshakeRefused(event.status_code)


class WebSocket:
    """An open websocket (made by ``connect``)."""

    def __init__(
        self,
        protocol: WSConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        subprotocol: str | None,
        max_size: int,
        close_timeout: float,
    ):
        self.subprotocol = subprotocol
        self.transport = writer.transport
        self.max_size, self.close_timeout = max_size, close_timeout
        self._protocol, self._reader, self._writer = protocol, reader, writer
        self._messages: deque[str | bytes] = deque()
        self._arrived = asyncio.Event()  # a message arrived or the socket closed
        self._room = asyncio.Event()  # recv() took a message off a full queue
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._ping_count = 0
        self._text: list[str] = []  # the fragments of the message being received
        self._binary: list[bytes] = []
        self._size = 0
        self._failed = False  # we fail the connection (1009, broken frame): what follows is dropped
        self.closure: ConnectionClosed | None = None  # how it closed (or is closing)
        self._deadline: float | None = None  # loop time by which our closing handshake must be over
        self._ended = asyncio.Event()  # the reader is done and the socket dropped
        self._reading = asyncio.create_task(self._read(), name="websocket-reader")

    # ---- out ------------------------------------------------------------------------------

    async def send(self, message: str | bytes) -> None:
        self._check_open()
        await self._write(TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message))

    async def ping(self) -> None:
        """Send a ping and return once its pong arrived (bound it with a timeout)."""
        self._check_open()
        self._ping_count += 1
        payload = self._ping_count.to_bytes(4, "big")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[payload] = waiter
        await self._write(Ping(payload=payload))
        await waiter

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """The closing handshake, at most ``close_timeout``; then the socket is dropped."""
        if self.closure is None and self._protocol.state is ConnectionState.OPEN:
            self._close_with(code, reason)
        self._room.set()  # nobody may take queued messages any more: the reader must not wait for it
        try:
            async with asyncio.timeout(self.close_timeout):
                await self._writer.drain()
                await self._ended.wait()
        except (TimeoutError, OSError):
            self.transport.abort()
            self._reading.cancel()
            await asyncio.gather(self._reading, return_exceptions=True)

    def _check_open(self) -> None:
        if self.closure is not None or self._protocol.state is not ConnectionState.OPEN:
            raise self._error()

    def _error(self, detail: str = "") -> ConnectionClosed:
        """A fresh exception telling the closure (one raised many times would pile up tracebacks)."""
        closure = self.closure
        if closure is None:
            return ConnectionClosed(ABNORMAL_CLOSURE, detail, by_us=False)
        return ConnectionClosed(closure.code, closure.reason, closure.by_us)

    async def _write(self, event: Event) -> None:
        self._writer.write(self._protocol.send(event))
        try:
            await self._writer.drain()
        except OSError as exc:
            raise self._error(str(exc)) from None

    def _close_with(self, code: int, reason: str) -> None:
        """Start the closing handshake (our Close frame out); the reader finishes it."""
        self._writer.write(self._protocol.send(CloseConnection(code=code, reason=reason)))
        self.closure = ConnectionClosed(code, reason, by_us=True)
        self._deadline = asyncio.get_running_loop().time() + self.close_timeout

    def _fail(self, code: int, reason: str) -> None:
        log.warning("websocket failed: %s %s", code, reason)
        self._failed = True
        self._text.clear()
        self._binary.clear()
        if self._protocol.state is ConnectionState.OPEN:
            self._close_with(code, reason)

    # ---- in -------------------------------------------------------------------------------

    async def recv(self) -> str | bytes:
        while not self._messages:
            if self._ended.is_set():
                raise self._error()
            self._arrived.clear()
            await self._arrived.wait()
        message = self._messages.popleft()
        self._room.set()
        return message

    def __aiter__(self) -> WebSocket:
        return self

    async def __anext__(self) -> str | bytes:
        try:
            return await self.recv()
        except ConnectionClosed as closed:
            if closed.code in CLEAN:
                raise StopAsyncIteration from None
            raise

    async def _read(self) -> None:
        try:
            while True:
                await self._take_events()
                if self._protocol.state is ConnectionState.CLOSED:
                    break
                async with asyncio.timeout_at(self._deadline):  # None until we started closing
                    data = await self._reader.read(READ_BYTES)
                self._protocol.receive_data(data or None)  # None: the stream ended (1006)
            # The server ends the TCP connection first (RFC 6455 7.1.1); one that does not is cut off.
            async with asyncio.timeout_at(self._deadline or asyncio.get_running_loop().time() + self.close_timeout):
                while await self._reader.read(READ_BYTES):
                    pass
        except (OSError, TimeoutError):
            pass  # the stream failed or lingered: the socket is dropped below
        except Exception:  # a bug (ours or wsproto's) must not leave a half-open socket behind
            log.exception("websocket reader failed")
        finally:
            self._finish()

    async def _take_events(self) -> None:
        for event in self._protocol.events():
            if isinstance(event, TextMessage | BytesMessage):
                await self._take_part(event)
            elif isinstance(event, Ping):
                if self._protocol.state is ConnectionState.OPEN:
                    self._writer.write(self._protocol.send(event.response()))
                    await self._writer.drain()
            elif isinstance(event, Pong):
                self._ponged(bytes(event.payload))
            elif isinstance(event, CloseConnection):
                self._closed(event)

    async def _take_part(self, event: TextMessage | BytesMessage) -> None:
        if self._failed:
            return
        if isinstance(event, TextMessage):
            text = event.data
            self._size += len(text) if text.isascii() else len(text.encode())
            self._text.append(text)
        else:
            self._size += len(event.data)
            self._binary.append(bytes(event.data))
        if self._size > self.max_size:
            self._fail(MESSAGE_TOO_BIG, f"message over {self.max_size} bytes")
            return
        if not event.message_finished:
            return
        message = "".join(self._text) if isinstance(event, TextMessage) else b"".join(self._binary)
        self._text, self._binary, self._size = [], [], 0
        while len(self._messages) >= QUEUE and self.closure is None:
            self._room.clear()
            await self._room.wait()
        self._messages.append(message)
        self._arrived.set()

    def _ponged(self, payload: bytes) -> None:
        """A pong answers its ping and every earlier one."""
        if payload not in self._pings:
            return
        for key in list(self._pings):
            waiter = self._pings.pop(key)
            if not waiter.done():
                waiter.set_result(None)
            if key == payload:
                return

    def _closed(self, event: CloseConnection) -> None:
        state = self._protocol.state
        if state is ConnectionState.OPEN:  # wsproto found a broken frame (1002, 1007): fail the connection
            self._fail(event.code, event.reason or "")
        elif state is ConnectionState.REMOTE_CLOSING:  # the server's Close: answer it
            self._writer.write(self._protocol.send(event.response()))
            self.closure = ConnectionClosed(event.code, event.reason or "", by_us=False)
        elif self.closure is None:  # the stream ended without a Close frame (1006)
            self.closure = ConnectionClosed(event.code, event.reason or "", by_us=False)

    def _finish(self) -> None:
        self.closure = self.closure or ConnectionClosed(ABNORMAL_CLOSURE, "", by_us=False)
        self.transport.abort()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(self._error())
                waiter.exception()  # read: nobody may be waiting any more
        self._pings.clear()
        # recv() wakes first: whoever iterates sees the end before close() returns to its caller
        self._arrived.set()
        self._ended.set()
        self._room.set()
