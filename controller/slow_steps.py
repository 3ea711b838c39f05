"""A watchdog for the asyncio event loop: a step that holds the loop longer than
``threshold_s`` is logged with what it was doing.

Rules kept here:
- A step is what the loop runs between two waits in its selector. ``start()`` wraps the
  running loop's selector (asyncio's selector loop, the only one the daemon runs on) so that
  each return from the wait notes when a step began (one clock read per step), and the wait
  that ends a step being sampled notes when it ended; no timer in the loop.
- An idle loop wakes nothing (an idle wallbox's CPU is its owner's power): a daemon thread
  parks while the loop waits and is woken by the next step's start; a step still running
  ``threshold_s`` after it began is sampled every ``threshold_s / 2`` until it ends: the task
  (name and coroutine), or else the callback the step started in, and the innermost frame
  (file:line in function). When the loop wakes more often than that, the thread looks every
  ``threshold_s / 2`` instead of being woken by each step.
- When the step ends, one WARNING says how long it held the loop and what it was doing; a
  step still running after ``STILL_S`` is reported at once as well, so a loop that never
  comes back is in the log too.
- Sampling reads the loop thread's frames under the GIL (``sys._current_frames``). A step
  holding the GIL in one long C call is sampled as soon as that call returns, while the step
  still runs.
- ``start()`` on the loop's thread, ``stop()`` from it; ``stop()`` joins the thread and
  gives the selector back.
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
from typing import Any, cast

log = logging.getLogger(__name__)

STILL_S = 1.0
_HANDLE_RUN = asyncio.Handle._run.__code__  # the frame every loop step starts in


def describe(frame: FrameType | None, task: asyncio.Task[object] | None) -> str:
    """What a loop thread at ``frame`` is doing: task, the step's entry function, innermost frame."""
    if frame is None:
        return "unknown"
    # The loop thread runs on between our bytecodes: a frame's f_back turns None once it returned,
    # so each link is read once.
    entry, back = frame, frame.f_back
    while back is not None and back.f_code is not _HANDLE_RUN:
        entry, back = back, back.f_back
    where = f"{'/'.join(Path(frame.f_code.co_filename).parts[-2:])}:{frame.f_lineno} in {frame.f_code.co_name}"
    step = entry.f_code.co_qualname if back is not None else "?"
    return f"{f'task {task.get_name()!r} ' if task is not None else ''}{step} at {where}"


class SlowStepWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop, threshold_s: float = 0.1):
        self.loop = loop
        self.threshold_s = threshold_s
        self.period_s = threshold_s / 2
        # Written by the loop thread only (in its selector), read by the watching thread:
        self._waiting = False  # the loop waits in its selector
        self._steps = 0  # steps begun so far: which one runs
        self._began = time.monotonic()  # when the running step began
        self._held_until = 0.0  # when the step being sampled ended
        # Written by the watching thread:
        self._sampling = -1  # the step whose end the selector notes
        self._parked = False  # waiting for the next step to begin
        self._wake = threading.Event()
        self._stopped = threading.Event()  # its timed waits end at once on stop(): daemons stop fast
        self._thread: threading.Thread | None = None
        self._selector: selectors.BaseSelector | None = None
        self._loop_thread = threading.get_ident()

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._began = time.monotonic()  # the step running now, which calls this
        # Where asyncio's selector loop waits: a private attribute, but the one place a step ends
        # and the next begins, and every selector loop since Python 3.4 has it.
        self._selector = selector = cast(Any, self.loop)._selector
        wait = selector.select

        def select(timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if self._sampling == self._steps:
                self._held_until = time.monotonic()
            self._waiting = True
            try:
                return wait(timeout)
            finally:
                self._began = time.monotonic()
                self._steps += 1
                self._waiting = False
                if self._parked:
                    self._parked = False
                    self._wake.set()

        cast(Any, selector).select = select
        self._thread = threading.Thread(target=self._watch, name="evsed-slow-steps", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._selector is not None:
            del self._selector.select  # the class's own again
            self._selector = None

    def _sample(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        return describe(frame, asyncio.current_task(self.loop))

    def _park(self) -> None:
        """Wait until the loop begins its next step (or ``stop()``)."""
        self._wake.clear()
        self._parked = True
        if self._waiting and not self._stopped.is_set():
            self._wake.wait()
        self._parked = False

    def _watch(self) -> None:
        unparked = float("-inf")
        while not self._stopped.is_set():
            if self._waiting:
                if time.monotonic() - unparked < self.period_s:  # the loop wakes often: look, do not park
                    self._stopped.wait(self.period_s)
                else:
                    self._park()
                    unparked = time.monotonic()
                continue
            step, began = self._steps, self._began
            age = time.monotonic() - began
            if age < self.threshold_s:
                self._stopped.wait(self.threshold_s - age)  # then it is slow if it still runs
                continue
            self._follow(step, began)

    def _follow(self, step: int, began: float) -> None:
        """Sample the slow ``step`` until it ends, then report it."""
        self._sampling = step
        seen: list[str] = []
        told_still = False
        sampled = time.monotonic()
        while self._steps == step and not self._waiting and not self._stopped.is_set():
            what = self._sample()
            if not seen or seen[-1] != what:
                seen.append(what)
            sampled = time.monotonic()
            if sampled - began > STILL_S and not told_still:
                told_still = True
                log.warning("an asyncio step has held the event loop for over %.0f ms so far: %s",
                            (sampled - began) * 1000, what)  # fmt: skip
            self._stopped.wait(self.period_s)
        self._sampling = -1
        if not seen:
            return  # it ended between the look and the first sample: nothing to say what it was
        held_until = self._held_until if self._held_until > began else sampled
        log.warning("an asyncio step held the event loop for at least %.0f ms: %s",
                    (held_until - began) * 1000, "; then ".join(seen))  # fmt: skip
