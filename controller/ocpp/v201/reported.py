"""What the CSMS was told about facts that come and go (connector statuses, device-model
variables such as Problem), and sending what it has not been told yet.

Rules kept here (part 2 B01.FR.05, B01.FR.08, B04.FR.01/02; appendix OCPPCommCtrlr
MinimumStatusDuration):
- ``facts()`` says what is now, key -> value; a value that differs from the last one seen is
  a change, noted with the time it happened (``refresh``, called at every station event).
- Nothing is sent before the registration is Accepted or while the link is down. After each
  Accepted every fact goes out (``report_all``) but those at the value the CSMS may assume
  without being told (``assumed``, e.g. no Problem); after a reconnect every fact when the
  station was offline longer than OfflineThreshold, else those that differ from what was sent.
- Meanwhile a change goes out once it has held for ``settle_s()`` seconds (0: at once), with
  the time it happened; a fact that changes back before then is not sent at all.
- One report at a time, in the order the facts were first seen, so a change never overtakes
  the boot report. A fact whose send failed stays unsent and goes with the next report.
- A key ``facts()`` no longer yields is no longer a fact: nothing of it is waiting to go out.
- ``forget`` makes facts unsent (the next report sends them again); ``send_now`` sends one
  fact's current value at once, whatever was sent (TriggerMessage).
- ``reported``: the CSMS has the current value of every fact.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Change(Generic[K, V]):
    key: K
    value: V
    at: datetime  # wall time it happened
    mono: float  # monotonic time it happened


# Sends changes in order; returns how many of them (from the first) reached the CSMS.
Send = Callable[[list[Change[K, V]]], Awaitable[int]]


class Reported(Generic[K, V]):
    def __init__(
        self,
        facts: Callable[[], Iterable[tuple[K, V]]],
        send: Send[K, V],
        accepted: asyncio.Event,
        connected: asyncio.Event,
        now: Callable[[], datetime],
        *,
        settle_s: Callable[[], float] = lambda: 0.0,
        assumed: Mapping[K, V] | None = None,
    ):
        self.facts, self.send, self.accepted, self.connected, self.now = facts, send, accepted, connected, now
        self.settle_s = settle_s
        self.assumed = dict(assumed or {})
        self._seen: dict[K, Change[K, V]] = {}
        self._sent: dict[K, V] = {}
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()

    def refresh(self) -> None:
        facts = dict(self.facts())
        for key in self._seen.keys() - facts.keys():  # no longer a fact (its monitor removed)
            del self._seen[key]
        for key, value in facts.items():
            seen = self._seen.get(key)
            if seen is None or seen.value != value:
                self._seen[key] = Change(key, value, self.now(), time.monotonic())
                self._changed.set()

    def value(self, key: K) -> V | None:
        seen = self._seen.get(key)
        return seen.value if seen is not None else None

    @property
    def reported(self) -> bool:
        self.refresh()
        return all(self._told(c) for c in self._seen.values())

    def _told(self, change: Change[K, V]) -> bool:
        return change.key in self._sent and self._sent[change.key] == change.value

    async def run(self) -> None:
        """Send every change once it has settled, while accepted and connected."""
        while True:
            self._changed.clear()
            await self.accepted.wait()
            wait = await self._send_unsent(settled_only=True) if self.connected.is_set() else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._changed.wait()

    async def report_all(self) -> None:
        """Every fact as it is now (after an Accepted, after a long time offline)."""
        self.refresh()
        async with self._lock:
            self._sent = dict(self.assumed)
        await self._send_unsent(settled_only=False)

    async def reconnected(self, offline_s: float, threshold_s: float) -> None:
        if offline_s > threshold_s:
            await self.report_all()
        else:
            await self._send_unsent(settled_only=False)
        self._changed.set()  # changes still settling: the run loop takes them again

    def forget(self, keys: Iterable[K]) -> None:
        """Send these facts again with the next report, as if the CSMS had never been told."""
        for key in keys:
            self._sent.pop(key, None)
        self._changed.set()

    async def send_now(self, key: K) -> None:
        """The fact's current value, whatever was sent before (TriggerMessage)."""
        self.refresh()
        seen = self._seen.get(key)
        if seen is None:
            return
        async with self._lock:
            change = Change(key, seen.value, self.now(), time.monotonic())
            if await self.send([change]):
                self._sent[key] = change.value

    async def _send_unsent(self, settled_only: bool) -> float | None:
        """Send what the CSMS lacks; returns when the next change still settling is due."""
        async with self._lock:
            unsent = [c for c in self._seen.values() if not self._told(c)]
            settle, now = self.settle_s(), time.monotonic()
            due = [c for c in unsent if not settled_only or now - c.mono >= settle]
            if due:
                for change in due[: await self.send(due)]:
                    self._sent[change.key] = change.value
            waiting = [c.mono + settle - now for c in unsent if c not in due]
            return max(0.0, min(waiting)) if waiting else None
