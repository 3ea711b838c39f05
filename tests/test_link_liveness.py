"""A half-open connection (the path to the CSMS silently drops everything, no FIN, no RST) is
noticed by websocket ping/pong within ping interval + ping timeout and aborted at once (no
closing handshake can cross a dead path); a CALL that got no answer drops the connection too.
Either way the link connects again and queued transaction messages go out, never dropped."""

import asyncio
import gc
import time

import pytest

from controller.ocpp.journal import Journal
from controller.ocpp.link import ConnectionLost, Link, LinkState
from controller.ocpp.rpc import Rpc
from controller.storage import Database
from sim.csms import Csms, CsmsConfig

TS = "2025-01-01T00:00:00Z"


class FreezingProxy:
    """TCP relay on loopback. ``freeze()`` makes the connections open now a black hole (relayed
    bytes are swallowed, both sockets stay open); ``stall()`` stops reading from them, so the
    sender's buffers fill up. Connections made later relay normally."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.writers: list[asyncio.StreamWriter] = []
        self.modes: list[dict[str, str]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._never = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [client_w, server_w]
        mode = {"mode": "relay"}
        self.modes.append(mode)

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                if mode["mode"] == "stall":
                    await self._never.wait()
                data = await reader.read(65536)
                if not data:
                    writer.close()  # pass the end of the stream on
                    return
                if mode["mode"] == "relay":
                    writer.write(data)
                    await writer.drain()

        await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w), return_exceptions=True)

    def freeze(self) -> None:
        for mode in self.modes:
            mode["mode"] = "freeze"  # swallowed: a black hole, as on a dead mobile link

    def stall(self) -> None:
        for mode in self.modes:
            mode["mode"] = "stall"

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


@pytest.fixture
async def proxy(csms):
    relay = FreezingProxy(csms.port)
    await relay.start()
    yield relay
    await relay.close()


def connection_counter(link: Link) -> asyncio.Queue[float]:
    """Each (re)connection's monotonic time, via the link's on_connected hook."""
    connected: asyncio.Queue[float] = asyncio.Queue()

    async def on_connected() -> None:
        connected.put_nowait(time.monotonic())

    link.on_connected = on_connected
    return connected


async def test_half_open_connection_is_detected_within_ping_interval_plus_timeout(csms, proxy, caplog):
    interval, timeout = 0.5, 1.5
    link = Link(f"ws://127.0.0.1:{proxy.port}", "CP-1", Rpc("1.6"), ping_interval=interval, ping_timeout=timeout,
                backoff_base=30.0)  # fmt: skip
    connected = connection_counter(link)
    link.start()
    try:
        async with asyncio.timeout(5):
            await connected.get()
        proxy.freeze()
        frozen_at = time.monotonic()
        async with asyncio.timeout(10):
            again = await connected.get()  # a fresh connection, at once (no backoff after a drop)
        noticed = again - frozen_at
        # next ping within ``interval``, no pong within ``timeout``, abort: no closing handshake
        # (which would add a close timeout) and no backoff wait (15-30 s here)
        assert noticed <= interval + timeout + 1.0, noticed
        assert "ping timeout: no pong within 1.5 s (half-open connection)" in caplog.text
        assert link.state == LinkState.CONNECTED
    finally:
        await link.close()


async def test_a_transaction_message_lost_in_a_half_open_connection_is_resent_not_dropped(csms, proxy, tmp_path):
    db = Database(tmp_path / "journal.db")
    sent: list[str] = []
    link = Link(f"ws://127.0.0.1:{proxy.port}", "CP-1", Rpc("1.6"), ping_interval=0, call_timeout=0.5,
                frame_log=lambda f: sent.append(f.text) if f.direction == "out" else None)  # fmt: skip
    journal = Journal(db, attempts=1, retry_interval=0)  # a timeout counted as a failure would drop it at once
    connected = connection_counter(link)
    link.start()
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        async with asyncio.timeout(5):
            await connected.get()
        proxy.freeze()
        meter_values = {"connectorId": 1, "meterValue": [{"timestamp": TS, "sampledValue": [{"value": "1"}]}]}
        await journal.enqueue("MeterValues", meter_values, tx_key="t")
        async with asyncio.timeout(10):
            await journal.wait_empty()
        received = csms.calls_received("MeterValues")
        assert len(received) == 1  # the first went into the black hole
        transmissions = [text for text in sent if '"MeterValues"' in text]
        assert len(transmissions) == 2 and transmissions[0] == transmissions[1]  # same message id
        assert connected.qsize() == 1  # the silent connection was dropped for a new one
    finally:
        delivery.cancel()
        await link.close()
        db.close()


async def test_a_call_cut_off_while_sending_leaves_no_unread_future(csms, proxy):
    reports: list[dict] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    link = Link(f"ws://127.0.0.1:{proxy.port}", "CP-1", Rpc("1.6"), ping_interval=0.2, ping_timeout=0.5,
                backoff_base=30.0)  # fmt: skip
    try:
        link.start()
        async with asyncio.timeout(5):
            await link.wait_state(LinkState.CONNECTED)
        proxy.stall()  # the CSMS side stops reading: our send buffers fill, sending blocks
        big = {"vendorId": "bench", "data": "x" * 32_000_000}
        with pytest.raises(ConnectionLost):  # the keepalive gives up on the stalled connection meanwhile
            async with asyncio.timeout(10):
                await link.call("DataTransfer", big)
        gc.collect()  # an unread future reports itself when collected
    finally:
        await link.close()
        loop.set_exception_handler(previous)
    assert not [r for r in reports if "never retrieved" in r.get("message", "")], reports
