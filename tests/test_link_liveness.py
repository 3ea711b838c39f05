"""A half-open connection (the path to the CSMS silently drops everything, no FIN, no RST) is
noticed by websocket ping/pong within ping interval + ping timeout, and the link drops it one
close timeout later (no closing handshake can cross a dead path) and reconnects."""

import asyncio
import time

import pytest

from controller.ocpp.link import Link, LinkState
from controller.ocpp.rpc import Rpc
from sim.csms import Csms, CsmsConfig


class FreezingProxy:
    """TCP relay on loopback; ``freeze()`` stops relaying while keeping both sockets open."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.frozen = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [client_w, server_w]

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                if self.frozen.is_set():
                    continue  # swallowed: a black hole, as on a dead mobile link
                writer.write(data)
                await writer.drain()

        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w), return_exceptions=True)

    def freeze(self) -> None:
        self.frozen.set()

    async def close(self) -> None:
        for writer in self.writers:
            writer.close()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def csms():
    server = Csms(CsmsConfig())
    await server.start()
    yield server
    await server.stop()


async def test_half_open_connection_is_detected_within_the_ping_timeout(csms):
    proxy = FreezingProxy(csms.port)
    await proxy.start()
    interval, timeout = 0.3, 0.5
    link = Link(f"ws://127.0.0.1:{proxy.port}", "CP-1", Rpc("1.6"), ping_interval=interval, ping_timeout=timeout,
                backoff_base=30.0)  # fmt: skip
    link.start()
    try:
        async with asyncio.timeout(5):
            await link.wait_state(LinkState.CONNECTED)
        proxy.freeze()
        frozen_at = time.monotonic()
        async with asyncio.timeout(5):
            await link.wait_state(LinkState.WAITING)
        noticed = time.monotonic() - frozen_at
        # next ping within ``interval``, no pong within ``timeout``, then the closing handshake
        # the dead path cannot complete is given up after close_timeout (= ping timeout)
        assert noticed <= interval + 2 * timeout + 0.3, noticed
        assert "ping timeout" in link.last_error, link.last_error
        assert not link.connected.is_set()
    finally:
        await link.close()
        await proxy.close()
