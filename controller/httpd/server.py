"""HTTP/1.1 on asyncio streams, framed by h11: the I/O edge under the local API.

Rules kept here:
- One task per connection; its requests are answered in order (keep-alive). At most
  ``MAX_CONNECTIONS`` at once: the next is answered 503 and closed.
- A request head is at most ``MAX_HEAD`` bytes (431). The first must be complete within
  ``HEAD_TIMEOUT_S`` of the connection opening; a later one must begin within ``KEEPALIVE_S``
  of the previous answer (an idle keep-alive connection closes then; browsers and clients
  retry a request that meets a closed idle connection) and be complete ``HEAD_TIMEOUT_S``
  after its first byte. Each piece of a body must come within ``BODY_TIMEOUT_S`` (408); an
  answer the client does not take within ``WRITE_TIMEOUT_S`` ends the connection. A slow or
  silent client holds one bounded buffer and one of the connections, never the loop.
- Malformed HTTP gets its 4xx (h11's hint) as JSON and the connection closes; an exception out
  of the handler is a 500; nothing a client sends ends the server.
- A request whose body the handler left unread ends its connection after the answer; the rest
  is read and dropped for up to ``LINGER_S`` first, so the client reads the answer, not a reset.
- A streamed answer (server-sent events) goes out chunked as its iterator yields and ends the
  connection; the iterator is closed as soon as the client leaves (its EOF is watched).
- ``stop()`` closes the listener and every connection at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

import h11

from controller.httpd.messages import Headers, HttpError, Request, Response

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
MAX_HEAD = 16 * 1024
HEAD_TIMEOUT_S = 15.0
KEEPALIVE_S = 60.0
BODY_TIMEOUT_S = 30.0
WRITE_TIMEOUT_S = 30.0
LINGER_S = 2.0
READ_SIZE = 64 * 1024
_BUSY_BODY = b'{"error": "too many connections open"}'
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
BUSY += b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)

Handle = Callable[[Request], Awaitable[Response]]


def _query(text: str) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        query.setdefault(name, value)
    return query


def _error(status: int, text: str) -> Response:
    return Response(status, json.dumps({"error": text}).encode(), [("Content-Type", "application/json")])


class Server:
    def __init__(self, handle: Handle, max_body: int):
        self._handle = handle
        self._max_body = max_body
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._connected, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()

    def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_CONNECTIONS:
            writer.write(BUSY)
            writer.close()
            return
        # A task of our own (not the one asyncio runs a coroutine callback in): stop() cancels it quietly.
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer), name="HTTP connection")
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _Connection(reader, writer, self._handle, self._max_body).serve()
        except (ConnectionError, TimeoutError):
            pass  # the client left, or was too slow
        except Exception:
            log.exception("HTTP connection failed")
        finally:
            writer.close()


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: Handle, max_body: int):
        self.reader, self.writer = reader, writer
        self.handle = handle
        self.max_body = max_body
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        peer = writer.get_extra_info("peername")
        self.remote = str(peer[0]) if isinstance(peer, tuple) else None
        self.secure = writer.get_extra_info("sslcontext") is not None

    async def serve(self) -> None:
        idle_s = HEAD_TIMEOUT_S  # a new connection comes to send a request
        while True:
            try:
                event = self.h11.next_event()  # a pipelined request may be buffered already
                if event is h11.NEED_DATA:
                    async with asyncio.timeout(idle_s):
                        self.h11.receive_data(await self.reader.read(READ_SIZE))
                    async with asyncio.timeout(HEAD_TIMEOUT_S):
                        event = await self._next_event()
            except h11.RemoteProtocolError as exc:
                await self._refuse(exc.error_status_hint, f"bad request: {exc}")
                return
            if not isinstance(event, h11.Request):
                return  # the client closed the connection
            if len(event.target) + sum(len(name) + len(value) for name, value in event.headers) > MAX_HEAD:
                # h11 bounds a head still arriving; this bounds one that came whole in a single read
                await self._refuse(431, f"request header fields larger than {MAX_HEAD} bytes")
                return
            if not event.target.startswith(b"/"):
                await self._refuse(400, "bad request: the request target must be a path")
                return
            if not await self._exchange(event):
                return
            self.h11.start_next_cycle()
            idle_s = KEEPALIVE_S

    async def _next_event(self) -> h11.Event | type[h11.PAUSED] | type[h11.NEED_DATA]:  # never NEED_DATA
        while (event := self.h11.next_event()) is h11.NEED_DATA:
            self.h11.receive_data(await self.reader.read(READ_SIZE))
        return event

    async def _receive(self) -> bytes:
        """The next piece of the request's body; b"" at its end."""
        if self.h11.their_state is not h11.SEND_BODY:
            return b""
        if self.h11.they_are_waiting_for_100_continue:
            self._write(h11.InformationalResponse(status_code=100, headers=[]))
        while True:
            try:
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    event = await self._next_event()
            except TimeoutError:
                raise HttpError(408, f"the request body stopped arriving ({BODY_TIMEOUT_S:g} s)") from None
            except h11.RemoteProtocolError as exc:
                raise HttpError(400, f"the request body is malformed or cut short: {exc}") from None
            if isinstance(event, h11.Data):
                if event.data:
                    return bytes(event.data)
            else:
                return b""  # EndOfMessage

    def _request(self, head: h11.Request) -> Request:
        target = head.target.decode("ascii")  # h11 lets only visible ASCII through
        raw_path, _, query = target.partition("?")
        headers = Headers((name.decode("ascii"), value.decode("latin-1")) for name, value in head.headers)
        return Request(
            method=head.method.decode("ascii"), path=unquote(raw_path), raw_path=raw_path, query=_query(query),
            headers=headers, remote=self.remote, secure=self.secure, receive=self._receive, max_body=self.max_body,
        )  # fmt: skip

    async def _exchange(self, head: h11.Request) -> bool:
        """Answer one request; whether the connection may carry the next."""
        try:
            response = await self.handle(self._request(head))
        except HttpError as exc:  # the handler's layer normally answers these itself
            response = _error(exc.status, str(exc))
            response.headers += exc.headers.items()
        except Exception as exc:
            log.exception("HTTP handler failed: %s %s", head.method, head.target[:200])
            response = _error(500, f"internal error: {exc}")
        whole = self._body_read()
        await self._send(response, head.method, close=not whole)
        if not whole:
            await self._linger()
            return False
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    async def _send(self, response: Response, method: bytes, close: bool) -> None:
        """The answer; a streamed one, or ``close``, ends the connection after it."""
        body = response.body
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        if close or not isinstance(body, bytes):
            headers.append((b"Connection", b"close"))
        if isinstance(body, bytes) and response.status not in (204, 304):
            headers.append((b"Content-Length", str(len(body)).encode()))
        self._write(h11.Response(status_code=response.status, headers=headers, reason=_reason(response.status)))
        if not isinstance(body, bytes) and method != b"HEAD":
            await self._stream(body)
            return
        if not isinstance(body, bytes):  # HEAD of a stream: its head is the answer
            await _close(body)
            body = b""
        if body and method != b"HEAD":
            self._write(h11.Data(data=body))
        self._write(h11.EndOfMessage())
        await self._drain()

    def _body_read(self) -> bool:
        """Whether the request's body has been read to its end (what is already buffered is dropped)."""
        try:
            while self.h11.their_state is h11.SEND_BODY:
                if self.h11.next_event() is h11.NEED_DATA:
                    return False
        except h11.RemoteProtocolError:
            return False
        return self.h11.their_state is h11.DONE

    async def _stream(self, chunks: AsyncIterator[bytes]) -> None:
        async def pump() -> None:
            async for chunk in chunks:
                if chunk:
                    self._write(h11.Data(data=chunk))
                    await self._drain()
            self._write(h11.EndOfMessage())
            await self._drain()

        pumping = asyncio.ensure_future(pump())
        leaving = asyncio.ensure_future(self._until_eof())
        try:
            await asyncio.wait((pumping, leaving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pumping, leaving):
                task.cancel()
            await asyncio.gather(pumping, leaving, return_exceptions=True)
            await _close(chunks)
        if (
            not pumping.cancelled()
            and (exc := pumping.exception())
            and not isinstance(exc, (ConnectionError, TimeoutError))
        ):
            log.error("HTTP stream failed", exc_info=exc)

    async def _until_eof(self) -> None:
        """Returns when the client closes its side (what it sends meanwhile is dropped)."""
        while await self.reader.read(READ_SIZE):
            pass

    async def _linger(self) -> None:
        if self.writer.can_write_eof():
            self.writer.write_eof()
        try:
            async with asyncio.timeout(LINGER_S):
                await self._until_eof()
        except (TimeoutError, ConnectionError):
            pass

    async def _refuse(self, status: int, text: str) -> None:
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return  # an answer is under way: closing is all that is left
        await self._send(_error(status, text), b"", close=True)

    def _write(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)

    async def _drain(self) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await self.writer.drain()


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)  # an async generator's: its finally runs now
    if aclose is not None:
        await aclose()


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
