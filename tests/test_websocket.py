"""The websocket client (controller/ocpp/websocket.py) over loopback sockets: websockets' server
as the well-behaved peer, raw asyncio servers as the broken ones, TLS with generated
certificates."""

import asyncio
import base64
import hashlib
import ssl
from http import HTTPStatus

import pytest
from tls_bench import make_pki
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode

from controller.ocpp.websocket import (
    ConnectionClosed,
    HandshakeClosed,
    HandshakeRefused,
    ProtocolError,
    address,
    connect,
)
from sim.csms import tls_context

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Peer:
    """A websockets server whose handler the test sets; it records each upgrade request."""

    def __init__(self) -> None:
        self.handler = self.echo
        self.requests: list = []
        self.done = asyncio.Event()  # the handler returned

    @staticmethod
    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def serve(self, ws: ServerConnection) -> None:
        self.requests.append(ws.request)
        try:
            await self.handler(ws)
        finally:
            self.done.set()


@pytest.fixture
async def peer():
    p = Peer()
    async with serve(p.serve, "127.0.0.1", 0, subprotocols=["ocpp1.6"], max_size=None) as server:
        p.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        yield p


async def open_to(url: str, **kwargs):
    kwargs.setdefault("subprotocols", ["ocpp1.6"])
    return await connect(url, open_timeout=5, close_timeout=2, **kwargs)


async def raw_server(answer):
    """A TCP server on loopback calling ``answer(head, writer)`` with the upgrade request head; then
    it reads (and ignores) whatever comes until the client ends the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        try:
            await answer(head, writer)
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/CP1"


def upgrade_answer(head: bytes, subprotocol: str | None) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    protocol = f"Sec-WebSocket-Protocol: {subprotocol}\r\n".encode() if subprotocol else b""
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
        + accept
        + b"\r\n"
        + protocol
        + b"\r\n"
    )


def test_address_of_a_url():
    plain = address("ws://csms.example/ocpp/CP1?a=1")
    assert (plain.secure, plain.host, plain.port, plain.authority, plain.target) == (
        False, "csms.example", 80, "csms.example", "/ocpp/CP1?a=1")  # fmt: skip
    secure = address("wss://[::1]:8443")
    assert (secure.secure, secure.host, secure.port, secure.authority, secure.target) == (
        True, "::1", 8443, "[::1]:8443", "/")  # fmt: skip
    assert address("wss://h:443/x").authority == "h"
    with pytest.raises(ValueError):
        address("http://h/x")


async def test_handshake_sends_path_query_host_subprotocol_and_headers(peer):
    ws = await open_to(peer.url + "/ocpp/CP1?v=2", headers={"Authorization": "Basic Q1AxOnNlY3JldA=="})
    try:
        assert ws.subprotocol == "ocpp1.6"
        request = peer.requests[0]
        assert request.path == "/ocpp/CP1?v=2"
        assert request.headers["Host"] == peer.url.removeprefix("ws://")
        assert request.headers["Authorization"] == "Basic Q1AxOnNlY3JldA=="
        assert request.headers["Sec-WebSocket-Protocol"] == "ocpp1.6"
        await ws.send('[2,"1","Heartbeat",{}]')
        assert await ws.recv() == '[2,"1","Heartbeat",{}]'
    finally:
        await ws.close()


async def test_fragmented_messages_are_joined_and_binary_stays_binary(peer):
    async def fragments(ws: ServerConnection) -> None:
        await ws.send(["[2,", '"f1",', '"Héartbeat",{}]'])  # one text message in three frames
        await ws.send([b"\x00\x01", b"\x02"])
        await ws.wait_closed()

    peer.handler = fragments
    ws = await open_to(peer.url)
    try:
        assert await ws.recv() == '[2,"f1","Héartbeat",{}]'
        assert await ws.recv() == b"\x00\x01\x02"
    finally:
        await ws.close()


async def test_a_message_over_max_size_closes_with_1009(peer):
    async def flood(ws: ServerConnection) -> None:
        await ws.send("x" * 1000)
        await ws.send(["y" * 600, "y" * 600])  # 1200 bytes in two fragments of 600
        await ws.wait_closed()
        peer.close_code = ws.close_code

    peer.handler = flood
    ws = await open_to(peer.url, max_size=1000)
    assert await ws.recv() == "x" * 1000  # exactly max_size is fine
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.code == 1009 and closed.value.by_us
    await asyncio.wait_for(peer.done.wait(), 5)
    assert peer.close_code == 1009  # the server got our Close frame


async def test_multibyte_text_counts_bytes_not_characters(peer):
    async def send(ws: ServerConnection) -> None:
        await ws.send("é" * 600)  # 1200 bytes of UTF-8
        await ws.wait_closed()

    peer.handler = send
    ws = await open_to(peer.url, max_size=1000)
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.code == 1009


async def test_invalid_utf8_closes_with_1007(peer):
    async def bad(ws: ServerConnection) -> None:
        await ws.send("first")
        await ws.send(b'["\xff"]', text=True)
        await ws.send("never delivered")
        await ws.wait_closed()
        peer.close_code = ws.close_code

    peer.handler = bad
    ws = await open_to(peer.url)
    assert await ws.recv() == "first"
    after = []
    with pytest.raises(ConnectionClosed) as closed:
        async for message in ws:
            after.append(message)
    assert closed.value.code == 1007 and closed.value.by_us
    assert after == []  # nothing from a connection we failed
    await asyncio.wait_for(peer.done.wait(), 5)
    assert peer.close_code == 1007


async def test_a_masked_frame_from_the_server_closes_with_1002_within_the_close_timeout():
    async def masked(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(upgrade_answer(head, "ocpp1.6"))
        writer.write(Frame(Opcode.TEXT, b"hi").serialize(mask=True))  # servers must not mask

    server, url = await raw_server(masked)
    async with server:
        ws = await connect(url, subprotocols=["ocpp1.6"], close_timeout=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.code == 1002 and closed.value.by_us
        assert loop.time() - started < 3  # the server ignores our Close: dropped after close_timeout


async def test_ping_is_answered_by_a_pong_both_ways(peer):
    async def pinger(ws: ServerConnection) -> None:
        await asyncio.wait_for(await ws.ping(b"from server"), 5)  # our client answers
        await ws.send("ponged")
        await ws.wait_closed()

    peer.handler = pinger
    ws = await open_to(peer.url)
    try:
        assert await ws.recv() == "ponged"
        async with asyncio.timeout(5):
            await ws.ping()  # the server answers ours
    finally:
        await ws.close()


async def test_a_ping_without_pong_waits_and_the_abort_ends_it():
    async def silent(head: bytes, writer: asyncio.StreamWriter) -> None:  # never answers a ping
        writer.write(upgrade_answer(head, "ocpp1.6"))

    server, url = await raw_server(silent)
    async with server:
        ws = await open_to(url)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await ws.ping()
        pending = asyncio.ensure_future(ws.ping())
        ws.transport.abort()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(pending, 5)
        assert closed.value.code == 1006


@pytest.mark.parametrize(("code", "reason"), [(1001, "going away"), (4001, "bye now"), (1011, "")])
async def test_server_close_code_and_reason_are_reported(peer, code, reason):
    async def closer(ws: ServerConnection) -> None:
        await ws.send("last words")
        await ws.close(code, reason)

    peer.handler = closer
    ws = await open_to(peer.url)
    received = []
    if code == 1001:
        async for message in ws:  # a normal closure ends the iteration
            received.append(message)
    else:
        with pytest.raises(ConnectionClosed):
            async for message in ws:
                received.append(message)
    assert received == ["last words"]
    assert (ws.closure.code, ws.closure.reason, ws.closure.by_us) == (code, reason, False)
    with pytest.raises(ConnectionClosed):
        await ws.send("too late")


async def test_our_close_is_a_closing_handshake_with_code_1000(peer):
    async def wait(ws: ServerConnection) -> None:
        await ws.wait_closed()
        peer.close = (ws.close_code, ws.close_reason)

    peer.handler = wait
    ws = await open_to(peer.url)
    await ws.close()
    await asyncio.wait_for(peer.done.wait(), 5)
    assert peer.close == (1000, "")
    assert ws.closure.code == 1000 and ws.closure.by_us
    assert [m async for m in ws] == []  # ended cleanly


async def test_close_is_bounded_when_the_server_never_answers():
    async def deaf(head: bytes, writer: asyncio.StreamWriter) -> None:  # ignores our Close frame
        writer.write(upgrade_answer(head, "ocpp1.6"))

    server, url = await raw_server(deaf)
    async with server:
        ws = await connect(url, subprotocols=["ocpp1.6"], close_timeout=0.3)
        async with asyncio.timeout(5):
            await ws.close()
        assert ws.transport.is_closing() and ws.closure.code == 1000


@pytest.mark.parametrize("status", [HTTPStatus.UNAUTHORIZED, HTTPStatus.NOT_FOUND])
async def test_a_refused_upgrade_reports_its_status(status):
    def refuse(connection, request):
        return connection.respond(status, "no\n")

    async with serve(Peer.echo, "127.0.0.1", 0, process_request=refuse) as server:
        with pytest.raises(HandshakeRefused) as refused:
            await open_to(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/CP1")
    assert refused.value.status_code == status
    assert f"HTTP {status.value}" in str(refused.value)


async def test_a_server_choosing_no_subprotocol_opens_without_one():
    async with serve(Peer.echo, "127.0.0.1", 0) as server:
        ws = await open_to(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/CP1")
        assert ws.subprotocol is None  # the link refuses it (ConnectionError)
        await ws.close()


@pytest.mark.parametrize(
    ("key", "subprotocol", "why"),
    [
        (None, "ocpp2.0.1", "unrecognized subprotocol"),  # one we did not offer
        (b"something-else", "ocpp1.6", "accept"),  # an accept key for another request
    ],
)
async def test_a_broken_upgrade_answer_is_a_protocol_error(key, subprotocol, why):
    async def answer(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(upgrade_answer(head if key is None else b"Sec-WebSocket-Key: " + key + b"\r\n", subprotocol))
        await writer.drain()

    server, url = await raw_server(answer)
    async with server:
        with pytest.raises(ProtocolError, match=why):
            await open_to(url)


async def test_a_connection_closed_before_the_answer_is_handshake_closed():
    async def hang_up(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server, url = await raw_server(hang_up)
    async with server:
        with pytest.raises(HandshakeClosed):
            await open_to(url)


async def test_a_server_stalling_mid_handshake_times_out():
    async def stall(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")  # and no more
        await writer.drain()

    server, url = await raw_server(stall)
    async with server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await connect(url, subprotocols=["ocpp1.6"], open_timeout=0.3)
        assert loop.time() - started < 3


async def test_an_endless_response_head_is_a_protocol_error_not_memory():
    async def endless(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\n")
        for _ in range(200):  # 200 KB of header lines: h11 bounds a head to 16 KB
            writer.write(b"X-Pad: " + b"a" * 1000 + b"\r\n")
            await writer.drain()

    server, url = await raw_server(endless)
    async with server:
        with pytest.raises(ProtocolError):
            await open_to(url)


async def test_tls_with_server_name_and_a_trusted_root(tmp_path):
    bench = make_pki(tmp_path)
    cert, key = bench.server_files()
    async with serve(Peer.echo, "127.0.0.1", 0, subprotocols=["ocpp1.6"], ssl=tls_context(cert, key, None)) as server:
        port = server.sockets[0].getsockname()[1]
        trusting = ssl.create_default_context(cafile=str(bench.root_file))
        ws = await open_to(f"wss://localhost:{port}/CP1", ssl=trusting)
        try:
            tls = ws.transport.get_extra_info("ssl_object")
            assert tls.server_hostname == "localhost" and tls.version() in ("TLSv1.2", "TLSv1.3")
            await ws.send("over tls")
            assert await ws.recv() == "over tls"
        finally:
            await ws.close()
        with pytest.raises(ssl.SSLCertVerificationError):  # the system store does not know our root
            await open_to(f"wss://localhost:{port}/CP1")
        with pytest.raises(ValueError):
            await open_to(f"ws://localhost:{port}/CP1", ssl=trusting)
