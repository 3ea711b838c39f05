"""A watchdog for the asyncio event loop: a step that holds the loop longer than
``threshold_s`` is logged with what it was doing.

Rules kept here:
- The loop pays one timer callback every ``threshold_s / 2`` (a heartbeat) and nothing per
  step; a daemon thread looks at the heartbeat's age as often. When the loop has not come
  back for ``threshold_s``, the thread samples what the loop thread is running: the task (name
  and coroutine), or else the callback the step started in, and the innermost frame
  (file:line in function). Samples are taken every period while the step lasts.
- When the loop comes back, one WARNING says how long it was held at least and what it was
  doing; a step still running after ``STILL_S`` is reported at once as well, so a loop that
  never comes back is in the log too.
- Sampling reads the loop thread's frames under the GIL (``sys._current_frames``): no hook
  into asyncio's internals. A step holding the GIL in one long C call is sampled as soon as
  that call returns, while the step still runs.
- ``start()`` on the loop's thread, ``stop()`` from it; ``stop()`` joins the thread.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path
from types import FrameType

log = logging.getLogger(__name__)

STILL_S = 1.0
_HANDLE_RUN = asyncio.Handle._run.__code__  # the frame every loop step starts in


def describe(frame: FrameType | None, task: asyncio.Task[object] | None) -> str:
    """What a loop thread at ``frame`` is doing: task, the step's entry function, innermost frame."""
    if frame is None:
        return "unknown"
    entry = frame
    while entry.f_back is not None and entry.f_back.f_code is not _HANDLE_RUN:
        entry = entry.f_back
    where = f"{'/'.join(Path(frame.f_code.co_filename).parts[-2:])}:{frame.f_lineno} in {frame.f_code.co_name}"
    step = entry.f_code.co_qualname if entry.f_back is not None else "?"
    return f"{f'task {task.get_name()!r} ' if task is not None else ''}{step} at {where}"


class SlowStepWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, threshold_s: float = 0.1):
        self.loop = loop
        self.threshold_s = threshold_s
        self.period_s = threshold_s / 2
        self._beat = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread = threading.get_ident()

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="evsed-slow-steps", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _tick(self) -> None:
        self._beat = time.monotonic()
        self._timer = self.loop.call_later(self.period_s, self._tick)

    def _sample(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        return describe(frame, asyncio.current_task(self.loop))

    def _watch(self) -> None:
        held_since: float | None = None  # the last heartbeat before the step being watched
        seen: list[str] = []
        told_still = False
        while not self._stopping.wait(self.period_s):
            beat = self._beat
            if held_since is not None and beat != held_since:  # the loop is back
                held = beat - held_since - self.period_s
                log.warning("an asyncio step held the event loop for at least %.0f ms: %s", held * 1000,
                            "; then ".join(seen))  # fmt: skip
                held_since, seen, told_still = None, [], False
            age = time.monotonic() - beat
            if age < self.period_s + self.threshold_s:
                continue
            held_since = beat
            what = self._sample()
            if not seen or seen[-1] != what:
                seen.append(what)
            if age > STILL_S + self.period_s and not told_still:
                told_still = True
                log.warning("an asyncio step has held the event loop for over %.0f ms so far: %s",
                            (age - self.period_s) * 1000, what)  # fmt: skip
