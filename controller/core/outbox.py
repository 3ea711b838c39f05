"""Events waiting to be told, and the listeners they are told to.

Rules kept here:
- ``tell`` records what happened at once (its wall and monotonic time); ``flush`` tells it
  later, once the state the event describes is complete, building each event then (with the
  EVSE's view and latest reading as the station gives them).
- Events go out in the order they were told, synchronously to each listener, in the order the
  listeners subscribed. A listener that raises is logged and the others still hear the event.
- A flush started while one runs (a listener's command) adds its events behind the current
  ones instead of telling them in between.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.core.events import Event, EventKind, Listener

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Told:
    kind: EventKind
    evse: int | None
    at: datetime
    mono: float
    fields: dict[str, Any]


class Outbox:
    def __init__(self, now: Callable[[], datetime], build: Callable[[Told], Event]):
        self._now, self._build = now, build
        self._waiting: deque[Told] = deque()
        self._listeners: list[Listener] = []
        self._flushing = False

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns the unsubscribe call."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def tell(self, kind: EventKind, evse: int | None, **fields: Any) -> None:
        self._waiting.append(Told(kind, evse, self._now(), time.monotonic(), fields))

    def flush(self) -> None:
        if self._flushing:
            return  # a listener's command: its events follow the current ones
        self._flushing = True
        try:
            while self._waiting:
                event = self._build(self._waiting.popleft())
                for listener in list(self._listeners):
                    try:
                        listener(event)
                    except Exception:
                        log.exception("event listener failed on %s", event.kind.value)
        finally:
            self._flushing = False
