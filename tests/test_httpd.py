"""The local API's HTTP server (controller/httpd) over real loopback sockets, spoken to byte by
byte: keep-alive in order, what a handler sees, bounded heads and bodies, slow and hostile
clients closed on time, a streamed answer closed when its client leaves, 503 past the
connection bound, and the multipart reader against every way a body can be cut into reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from conftest import eventually
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.httpd import server as httpd
from controller.httpd.messages import Request, Response, json_response, stream_response
from controller.httpd.multipart import parts
from controller.httpd.routing import Router
from controller.httpd.server import Server

MAX_BODY = 1024


class App:
    def __init__(self) -> None:
        self.routes = Router()
        self.stream_closed = asyncio.Event()
        self.routes.add("GET", "/echo/{name}", self.echo)
        self.routes.add("POST", "/body", self.body)
        self.routes.add("GET", "/boom", self.boom)
        self.routes.add("GET", "/stream", self.stream)

    async def handle(self, request: Request) -> Response:
        handler, request.params = self.routes.resolve(request.method, request.raw_path)
        return await handler(request)

    async def echo(self, request: Request) -> Response:
        seen = {"path": request.path, "params": request.params, "query": dict(request.query),
                "agent": request.headers.get("user-agent"), "cookies": request.cookies}  # fmt: skip
        return json_response(seen)

    async def body(self, request: Request) -> Response:
        return json_response({"length": len(await request.read())})

    async def boom(self, request: Request) -> Response:
        raise RuntimeError("a handler bug")

    async def stream(self, request: Request) -> Response:
        async def frames() -> AsyncIterator[bytes]:
            try:
                yield b"data: 1\n\n"
                await asyncio.Event().wait()  # nothing more until the client leaves
            finally:
                self.stream_closed.set()

        return stream_response(frames(), "text/event-stream")


@pytest.fixture
async def served() -> AsyncIterator[tuple[App, int]]:
    app = App()
    server = Server(app.handle, MAX_BODY)
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    yield app, server.port
    await server.stop()


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 5)
    return int(status_line.split()[1]), headers, body


async def test_keep_alive_answers_in_order_with_what_the_handler_sees(served) -> None:
    _, port = served
    reader, writer = await _open(port)
    writer.write(b"GET /echo/a%2Fb?x=1&x=2&y= HTTP/1.1\r\nHost: h\r\nUser-Agent: t\r\nCookie: s=1; t=\"2\"\r\n\r\n"
                 b"GET /echo/second HTTP/1.1\r\nHost: h\r\n\r\n")  # fmt: skip
    status, _, body = await _answer(reader)
    assert status == 200 and json.loads(body) == {"path": "/echo/a/b", "params": {"name": "a/b"},
                                                  "query": {"x": "1", "y": ""}, "agent": "t",
                                                  "cookies": {"s": "1", "t": "2"}}  # fmt: skip
    status, _, body = await _answer(reader)
    assert status == 200 and json.loads(body)["params"] == {"name": "second"}, "the pipelined second request"
    writer.write(b"HEAD /echo/x HTTP/1.1\r\nHost: h\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: 0" not in head.lower()
    writer.write(b"DELETE /echo/x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert await _answer(reader) == (405, {"allow": "GET, HEAD", "content-type": "application/json",
                                           "content-length": "31"}, b'{"error": "Method Not Allowed"}')  # fmt: skip
    writer.write(b"GET /boom HTTP/1.1\r\nHost: h\r\n\r\n")
    status, _, body = await _answer(reader)
    assert status == 500 and b"a handler bug" in body
    writer.write(b"GET /echo/still HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (await _answer(reader))[0] == 200, "a handler's exception leaves the connection usable"
    writer.close()


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        (b"NOT HTTP\r\n\r\n", 400),
        (b"GET /echo/x HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\n", 400),
        (b"GET /echo/x HTTP/1.1\r\nHost: h\r\nX: " + b"a" * (httpd.MAX_HEAD + 10) + b"\r\n\r\n", 431),
        (b"GET http://elsewhere/echo/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ],
)
async def test_bad_http_gets_a_json_4xx_and_the_server_lives_on(served, sent: bytes, status: int) -> None:
    _, port = served
    reader, writer = await _open(port)
    writer.write(sent)
    code, _, body = await _answer(reader)
    assert code == status and "error" in json.loads(body)
    assert await asyncio.wait_for(reader.read(), 5) == b"", "and the connection is closed"
    reader, writer = await _open(port)
    writer.write(b"GET /echo/next HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (await _answer(reader))[0] == 200
    writer.close()


async def test_bodies_are_bounded_and_the_client_reads_the_413(served) -> None:
    _, port = served
    reader, writer = await _open(port)
    writer.write(b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
    assert await _answer(reader) == (200, {"content-type": "application/json; charset=utf-8",
                                           "content-length": "13"}, b'{"length": 5}')  # fmt: skip
    big = b"x" * 200_000  # more than the socket buffers hold: the server must read what it refuses
    writer.write(b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big))
    code, headers, body = await _answer(reader)
    assert code == 413 and "Too Large" in json.loads(body)["error"] and headers["connection"] == "close"
    writer.close()
    reader, writer = await _open(port)
    chunks = b"".join(b"%x\r\n%s\r\n" % (300, b"y" * 300) for _ in range(5)) + b"0\r\n\r\n"
    writer.write(b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert (await _answer(reader))[0] == 413, "a chunked body is counted as it comes"
    writer.close()


async def test_slow_clients_are_closed_on_time(served, monkeypatch) -> None:
    _, port = served
    monkeypatch.setattr(httpd, "HEAD_TIMEOUT_S", 0.3)
    monkeypatch.setattr(httpd, "BODY_TIMEOUT_S", 0.3)
    monkeypatch.setattr(httpd, "KEEPALIVE_S", 0.6)
    reader, writer = await _open(port)
    writer.write(b"GET /echo/x HTTP/1.1\r\nHo")  # and nothing more
    assert await asyncio.wait_for(reader.read(), 5) == b"", "a head that never ends"
    reader, writer = await _open(port)
    writer.write(b"POST /body HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
    code, _, body = await _answer(reader)
    assert code == 408 and "stopped arriving" in json.loads(body)["error"]
    reader, writer = await _open(port)
    writer.write(b"GET /echo/x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (await _answer(reader))[0] == 200
    await asyncio.sleep(0.4)  # idle longer than a head may take, shorter than keep-alive allows
    writer.write(b"GET /echo/y HTTP/1.1\r\nHost: h\r\n\r\n")
    assert (await _answer(reader))[0] == 200, "kept alive past HEAD_TIMEOUT_S"
    assert await asyncio.wait_for(reader.read(), 5) == b"", "an idle keep-alive connection"


async def test_a_stream_is_closed_when_its_client_leaves(served) -> None:
    app, port = served
    reader, writer = await _open(port)
    writer.write(b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b"transfer-encoding: chunked" in head.lower() and b"connection: close" in head.lower()
    assert b"data: 1" in await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
    writer.close()
    await asyncio.wait_for(app.stream_closed.wait(), 5)  # no write needed to notice
    app.stream_closed.clear()
    reader, writer = await _open(port)
    writer.write(b"HEAD /stream HTTP/1.1\r\nHost: h\r\n\r\n")
    head = await asyncio.wait_for(reader.read(), 5)
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n"), "a head, no body, then closed"
    assert not app.stream_closed.is_set(), "the stream never started"


async def test_connections_past_the_bound_get_503(served, monkeypatch) -> None:
    _, port = served
    monkeypatch.setattr(httpd, "MAX_CONNECTIONS", 2)
    held = [await _open(port) for _ in range(2)]
    for reader, writer in held:
        writer.write(b"GET /echo/x HTTP/1.1\r\nHost: h\r\n\r\n")
        assert (await _answer(reader))[0] == 200
    reader, _ = await _open(port)
    code, _, body = await _answer(reader)
    assert code == 503 and json.loads(body) == {"error": "too many connections open"}
    held[0][1].close()
    await eventually(lambda: _answers(port), 5, "a slot freed")


async def _answers(port: int) -> bool:
    reader, writer = await _open(port)
    writer.write(b"GET /echo/x HTTP/1.1\r\nHost: h\r\n\r\n")
    try:
        return (await _answer(reader))[0] == 200
    finally:
        writer.close()


# -- multipart ----------------------------------------------------------------------------------

BOUNDARY = "b0undary"
FORM = (
    f"preamble\r\n--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    f"x--{BOUNDARY}\r\n--{BOUNDARY[:4]}\r\n-"  # near misses: a delimiter starts with a line break
    f"\r\n--{BOUNDARY}\r\n"
    'Content-Disposition: form-data; name="signature"\r\n\r\n'
    "c2ln\r\n"
    f"\r\n--{BOUNDARY}--\r\nepilogue"
).encode()


def _request(body: bytes, cuts: list[int], content_type: str) -> Request:
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]

    async def receive() -> bytes:
        return pieces.pop(0) if pieces else b""

    headers = httpd.Headers([("Content-Type", content_type)])
    return Request("POST", "/", "/", {}, headers, None, False, receive, MAX_BODY)


async def _read_parts(request: Request) -> list[tuple[str | None, str | None, bytes]]:
    out = []
    async for part in parts(request):
        out.append((part.name, part.filename, b"".join([c async for c in part.chunks()])))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, len(FORM) - 1), unique=True).map(sorted))
def test_multipart_parts_come_out_whole_however_the_body_is_cut(cuts: list[int]) -> None:
    found = asyncio.run(_read_parts(_request(FORM, cuts, f'multipart/form-data; boundary="{BOUNDARY}"')))
    content = f"x--{BOUNDARY}\r\n--{BOUNDARY[:4]}\r\n-".encode()
    assert found == [("file", "a.bin", content), ("signature", None, b"c2ln\r\n")]


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (FORM, "application/json", "expected a multipart/form-data body"),
        (FORM[: FORM.index(b"c2ln")], f"multipart/form-data; boundary={BOUNDARY}", "ends before its closing"),
        (b"x" * 20_000, f"multipart/form-data; boundary={BOUNDARY}", "preamble is longer"),
    ],
)
async def test_a_broken_multipart_body_is_a_400_saying_why(body: bytes, content_type: str, error: str) -> None:
    with pytest.raises(httpd.HttpError) as raised:
        await _read_parts(_request(body, list(range(1000, len(body), 1000)), content_type))
    assert raised.value.status == 400 and error in str(raised.value)
