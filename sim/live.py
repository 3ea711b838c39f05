"""The bench's terminal: log lines scroll above a live area that shows every connector.

Rules kept here:
- On a terminal the live area is redrawn in place at the bottom: the connectors side by side
  when they fit the terminal's width, else one line each, every line cut to the width (the
  terminal never wraps it). A log record (``handler()``) or a message (``say``) erases the
  area, is printed above it, and the area is drawn again: nothing is glued to the live line.
- Elsewhere (a pipe, a file) ``show`` prints the connectors as one plain line, no control codes.
- Drawing and printing happen under one lock: the real-time thread logs too.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
from typing import TextIO

ERASE_TO_END = "\033[J"
UP_TO_LINE_START = "\033[F"
SEPARATOR = " | "


class LiveArea:
    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out, self.err = out, err
        self.tty = out.isatty()
        self._lines: list[str] = []
        self._drawn = 0  # lines of the area now on the screen
        self._lock = threading.Lock()

    def show(self, parts: list[str]) -> None:
        """Draw the connectors' lines (in place on a terminal)."""
        width = shutil.get_terminal_size().columns
        joined = SEPARATOR.join(parts)
        with self._lock:
            if not self.tty:
                self.out.write(joined + "\n")
                self.out.flush()
                return
            lines = [joined] if len(joined) < width else parts
            self._lines = [line[: width - 1] for line in lines]  # the last column would wrap
            self._erase()
            self._draw()

    def say(self, text: str, stream: TextIO | None = None) -> None:
        """Print ``text`` above the live area (on stdout unless ``stream``)."""
        stream = stream or self.out
        with self._lock:
            self._erase()
            stream.write(text + "\n")
            stream.flush()
            self._draw()

    def close(self) -> None:
        """Leave the last picture on the screen and move below it."""
        with self._lock:
            if self._drawn:
                self.out.write("\n")
                self.out.flush()
            self._drawn, self._lines = 0, []

    def handler(self) -> logging.Handler:
        return _AboveLiveArea(self)

    def _erase(self) -> None:
        if self._drawn:
            self.out.write("\r" + UP_TO_LINE_START * (self._drawn - 1) + ERASE_TO_END)
            self.out.flush()
            self._drawn = 0

    def _draw(self) -> None:
        if self.tty and self._lines:
            self.out.write("\n".join(self._lines))
            self.out.flush()
            self._drawn = len(self._lines)


class _AboveLiveArea(logging.Handler):
    """Log records on stderr, printed above the live area."""

    def __init__(self, area: LiveArea):
        super().__init__()
        self.area = area

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.area.say(text, self.area.err)
