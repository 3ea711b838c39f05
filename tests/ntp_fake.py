"""A fake NTP server: a real UDP socket on loopback answering NTP v4 client packets with a
chosen clock offset and stratum (or staying silent, like an unreachable server)."""

from __future__ import annotations

import asyncio
import time

import ntplib


class FakeNtp(asyncio.DatagramProtocol):
    def __init__(self, offset_s: float = 0.0, stratum: int = 2, silent: bool = False):
        self.offset_s, self.stratum, self.silent = offset_s, stratum, silent
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        if self.silent or self.transport is None:
            return
        request = ntplib.NTPPacket()
        request.from_data(data)
        now = ntplib.system_to_ntp_time(time.time() + self.offset_s)
        reply = ntplib.NTPPacket(version=4, mode=4, tx_timestamp=now)
        reply.stratum, reply.ref_id, reply.ref_timestamp = self.stratum, 0x7F000001, now - 10
        reply.orig_timestamp, reply.recv_timestamp = request.tx_timestamp, now
        self.transport.sendto(reply.to_data(), addr)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def start_ntp(offset_s: float = 0.0, stratum: int = 2, silent: bool = False) -> FakeNtp:
    loop = asyncio.get_running_loop()
    transport, server = await loop.create_datagram_endpoint(
        lambda: FakeNtp(offset_s, stratum, silent), local_addr=("127.0.0.1", 0)
    )
    server.port = transport.get_extra_info("sockname")[1]
    return server
