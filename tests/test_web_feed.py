"""The fan-out to browsers (controller/web/feed.py) over the daemon's HTTP server and real HTTP clients:
sources run only while someone listens, a newcomer gets the latest of every topic, a burst is
coalesced to its newest frame, nothing is sent twice, and close() ends every stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from conftest import eventually

from controller.httpd.routing import Router
from controller.httpd.server import Server
from controller.web.feed import Feed, frame


class Sources:
    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0
        self.feed: Feed | None = None

    def start(self) -> Any:
        self.started += 1
        assert self.feed is not None
        self.feed.publish("evse:1", "evse", {"n": 0})  # what a source publishes when it starts
        return self.stop

    def stop(self) -> None:
        self.stopped += 1


@pytest.fixture
async def served() -> AsyncIterator[tuple[Feed, Sources, str]]:
    sources = Sources()
    feed = sources.feed = Feed(sources.start)
    routes = Router()
    routes.add("GET", "/live", lambda _request: _stream(feed))
    server = Server(lambda request: routes.resolve(request.method, request.raw_path)[0](request), 1024)
    await server.start("127.0.0.1", 0)
    yield feed, sources, f"http://127.0.0.1:{server.port}/live"
    feed.close()
    await server.stop()


async def _stream(feed: Feed) -> Any:
    return feed.stream()


class Reader:
    """Reads SSE events from one HTTP response into ``events``."""

    def __init__(self, resp: aiohttp.ClientResponse):
        self.resp = resp
        self.events: list[tuple[str, Any]] = []
        self.comments = 0
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind = None
        async for raw in self.resp.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                self.events.append((kind or "message", json.loads(line[6:])))
            elif line.startswith(":"):
                self.comments += 1


async def test_sources_run_only_while_a_browser_listens_and_newcomers_get_the_latest(served) -> None:
    feed, sources, url = served
    assert sources.started == 0
    feed.publish("evse:1", "evse", {"n": -1})  # nobody listens: kept, nothing started
    async with aiohttp.ClientSession() as http:
        first = Reader(await http.get(url))
        await eventually(lambda: first.events == [("evse", {"n": 0})], 5, "the state the source published")
        assert sources.started == 1 and feed.browsers == 1
        feed.publish("station", "station", {"link": "up"})
        await eventually(lambda: len(first.events) == 2, 5, "the station frame")

        second = Reader(await http.get(url))
        await eventually(lambda: len(second.events) == 2, 5, "the latest of both topics at once")
        assert second.events == [("evse", {"n": 0}), ("station", {"link": "up"})]
        assert sources.started == 1, "one start for many browsers"

        for reader in (first, second):
            reader.task.cancel()
            reader.resp.close()
        n = iter(range(1, 1000))

        def gone() -> bool:
            feed.publish("evse:1", "evse", {"n": next(n)})  # a leaver is found by a write (or the keepalive)
            return sources.stopped == 1 and feed.browsers == 0

        await eventually(gone, 5, "the sources stopped")


async def test_a_burst_is_coalesced_and_an_equal_frame_is_not_sent_again(served) -> None:
    feed, _, url = served
    async with aiohttp.ClientSession() as http:
        reader = Reader(await http.get(url))
        await eventually(lambda: reader.events, 5, "the first frame")
        for n in range(1, 101):  # no await in between: the writer sees only the newest
            feed.publish("evse:1", "evse", {"n": n})
        feed.publish("evse:2", "evse", {"n": 7})
        await eventually(lambda: len(reader.events) >= 3, 5, "the burst")
        feed.publish("evse:2", "evse", {"n": 7})  # the same again: nothing
        feed.publish("evse:1", "evse", {"n": 101})
        await eventually(lambda: len(reader.events) >= 4, 5, "the next change")
        assert reader.events == [("evse", {"n": 0}), ("evse", {"n": 100}), ("evse", {"n": 7}), ("evse", {"n": 101})]
        reader.task.cancel()
        reader.resp.close()


async def test_close_ends_every_stream(served) -> None:
    feed, sources, url = served
    async with aiohttp.ClientSession() as http:
        readers = [Reader(await http.get(url)) for _ in range(3)]
        await eventually(lambda: feed.browsers == 3, 5, "three browsers")
        feed.close()
        await asyncio.wait_for(asyncio.gather(*(r.task for r in readers)), 5)  # each response ended
        assert sources.stopped == 1 and feed.browsers == 0


def test_a_frame_is_one_event_with_one_line_of_json() -> None:
    assert frame("evse", {"a": "x\ny"}) == b'event: evse\ndata: {"a":"x\\ny"}\n\n'
