"""One fan-out from the station to every connected browser: server-sent events.

Rules kept here:
- The feed keeps the latest frame per topic ("evse:1", "station", ...). A browser that
  connects gets every latest frame at once, then each change as it is published; nobody
  polls. A frame is encoded once, whoever listens.
- Per browser only the newest frame of each topic waits to be written: a slow or stalled
  browser delays nobody else and costs at most one frame per topic; frames of one topic
  are never reordered. A frame equal to the topic's latest is not sent again.
- The sources are started when the first browser connects and stopped when the last one
  leaves (``start`` returns the stop), so a daemon nobody watches does no work for the page.
- While browsers are connected a comment line goes out every ``KEEPALIVE_S`` (dead TCP
  connections are found, proxies keep the stream open). ``close`` ends every stream, so
  the server can shut down at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from controller.httpd.messages import Response, stream_response

log = logging.getLogger(__name__)

KEEPALIVE_S = 20.0
RETRY_MS = 2000  # how soon a browser's EventSource reconnects after the stream broke
Start = Callable[[], Callable[[], None]]  # starts the sources; returns what stops them


def frame(kind: str, data: Any) -> bytes:
    """One SSE event: ``event: kind`` and the JSON on one ``data:`` line."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclass(eq=False)
class _Browser:
    pending: dict[str, bytes] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class Feed:
    def __init__(self, start: Start):
        self._start = start
        self._stop: Callable[[], None] | None = None
        self._latest: dict[str, bytes] = {}
        self._browsers: set[_Browser] = set()
        self._keepalive: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def browsers(self) -> int:
        return len(self._browsers)

    def publish(self, topic: str, kind: str, data: Any) -> None:
        encoded = frame(kind, data)
        if self._latest.get(topic) == encoded:
            return
        self._latest[topic] = encoded
        for browser in self._browsers:
            browser.pending[topic] = encoded
            browser.wake.set()

    def stream(self) -> Response:
        """The SSE response for one browser, until it leaves or the feed closes."""
        return stream_response(
            self._frames(), "text/event-stream", {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    async def _frames(self) -> AsyncIterator[bytes]:
        """What one browser is sent; the server closes this when the browser leaves."""
        browser = self._join()
        try:
            yield f"retry: {RETRY_MS}\n\n".encode() + b"".join(self._latest.values())
            while not self.closed:
                await browser.wake.wait()
                browser.wake.clear()
                out, browser.pending = b"".join(browser.pending.values()), {}
                if out:
                    yield out
        finally:
            self._leave(browser)

    def close(self) -> None:
        self.closed = True
        for browser in self._browsers:
            browser.wake.set()

    def _join(self) -> _Browser:
        browser = _Browser()
        if not self._browsers:
            self._stop = self._start()
            self._schedule_keepalive()
        self._browsers.add(browser)
        return browser

    def _leave(self, browser: _Browser) -> None:
        self._browsers.discard(browser)
        if self._browsers:
            return
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()
        self._latest.clear()  # stale once the sources stop: the next start publishes afresh

    def _schedule_keepalive(self) -> None:
        self._keepalive = asyncio.get_running_loop().call_later(KEEPALIVE_S, self._send_keepalive)

    def _send_keepalive(self) -> None:
        for browser in self._browsers:
            browser.pending["keepalive"] = b": keepalive\n\n"
            browser.wake.set()
        self._schedule_keepalive()
