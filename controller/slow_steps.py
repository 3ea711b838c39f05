"""A watchdog for the asyncio event loop: a step that holds the loop longer than
``threshold_s`` is logged with what it was doing.

Rules kept here:
- An idle loop pays nothing (no timer wakes it: an idle wallbox's CPU is its owner's power):
  a daemon thread looks at the loop thread every ``threshold_s / 2``. Waiting for I/O in
  ``selectors`` it is idle; else it is running a step, and the thread posts a beat
  (``call_soon_threadsafe``, it runs once the loop is back). When a beat has waited
  ``threshold_s``, the thread samples what the loop thread is running: the task (name and
  coroutine), or else the callback the step started in, and the innermost frame (file:line
  in function). Samples are taken every period while the step lasts.
- When the loop comes back, one WARNING says how long it was held at least (from the beat's
  posting to its run) and what it was doing; a step still running after ``STILL_S`` is
  reported at once as well, so a loop that never comes back is in the log too.
- Sampling reads the loop thread's frames under the GIL (``sys._current_frames``): no hook
  into asyncio's internals. A step holding the GIL in one long C call is sampled as soon as
  that call returns, while the step still runs.
- ``start()`` on the loop's thread, ``stop()`` from it; ``stop()`` joins the thread.
"""

from __future__ import annotations

import asyncio
import logging
import selectors
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
        self._posted: float | None = None  # when the beat waiting for the loop was posted
        self._beat: float | None = None  # when it ran
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop_thread = threading.get_ident()

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._thread = threading.Thread(target=self._watch, name="evsed-slow-steps", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True  # seen within one period
        if self._thread is not None:
            self._thread.join()

    def _ran(self) -> None:
        self._beat = time.monotonic()

    def _idle(self) -> bool:
        """The loop thread waits in ``selectors`` (for I/O or its next timer): no step runs."""
        frame = sys._current_frames().get(self._loop_thread)
        return frame is not None and frame.f_code.co_filename == selectors.__file__

    def _sample(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        return describe(frame, asyncio.current_task(self.loop))

    def _watch(self) -> None:
        seen: list[str] = []
        told_still = False
        while True:
            time.sleep(self.period_s)  # half the cost of an Event wait, twenty times a second
            if self._stopping:
                return
            posted, beat = self._posted, self._beat
            if posted is not None and beat is not None:  # the loop is back
                if seen:
                    log.warning("an asyncio step held the event loop for at least %.0f ms: %s",
                                (beat - posted) * 1000, "; then ".join(seen))  # fmt: skip
                self._posted, seen, told_still = None, [], False
                continue
            if posted is None:
                if self._idle():
                    continue
                self._posted, self._beat = time.monotonic(), None
                try:
                    self.loop.call_soon_threadsafe(self._ran)
                except RuntimeError:  # the loop is closed
                    return
                continue
            age = time.monotonic() - posted
            if age < self.threshold_s:
                continue
            what = self._sample()
            if not seen or seen[-1] != what:
                seen.append(what)
            if age > STILL_S and not told_still:
                told_still = True
                log.warning("an asyncio step has held the event loop for over %.0f ms so far: %s",
                            age * 1000, what)  # fmt: skip
