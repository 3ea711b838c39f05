"""The heartbeat both OCPP versions send (1.6 section 4.6, 2.0.1 G02): the same rule, each version
naming where its interval lives and what it does with the CSMS's time.

Rules kept here:
- A Heartbeat every ``interval()`` seconds while the registration is accepted and the link is
  up; 0 means none. ``changed()`` (the interval was set) starts the count again.
- The answer's currentTime goes to ``take_time``; a Heartbeat that fails is logged, not retried
  (the next one comes after the interval). ``beat()`` sends one now (TriggerMessage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from controller.ocpp.link import CallFailed, Link

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, link: Link, accepted: asyncio.Event, interval: Callable[[], int],
                 take_time: Callable[[str], None]):  # fmt: skip
        self.link, self.accepted, self.interval, self.take_time = link, accepted, interval, take_time
        self._changed = asyncio.Event()

    def changed(self, *_why: object) -> None:
        self._changed.set()

    async def run(self) -> None:
        while True:
            await self.accepted.wait()
            await self.link.connected.wait()
            interval = self.interval()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval if interval > 0 else None):
                    await self._changed.wait()
                continue  # the interval changed: start counting again
            await self.beat()

    async def beat(self) -> None:
        try:
            response = await self.link.call("Heartbeat", {})
        except CallFailed as exc:
            log.info("Heartbeat failed: %s", exc)
            return
        self.take_time(response["currentTime"])
