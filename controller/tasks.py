"""Background tasks that are never lost.

Rules kept here:
- asyncio holds only weak references to tasks: every task we start is kept here until
  it ends, so it cannot be garbage-collected mid-flight.
- A task that fails is logged with its traceback (never a silent "exception was never
  retrieved"), and the owner may react (the daemon stops when a duty of its own dies).
- ``cancel()`` cancels every task still running and waits for all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)


class Tasks:
    def __init__(self, owner: str, on_failure: Callable[[asyncio.Task[Any]], None] | None = None):
        self.owner = owner
        self._on_failure = on_failure
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self.owner, task.get_name(), exc_info=task.exception())
            if self._on_failure is not None:
                self._on_failure(task)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._running))

    async def cancel(self) -> None:
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
