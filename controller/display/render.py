"""The one renderer: the lines the display shows, fitted to its size. Pure.

Rules kept here:
- A notice fills the whole display: its text wrapped at word boundaries (a word longer than a
  row is cut), as many rows as there are; what does not fit is cut off, the last row ending in
  "..." when the display is at least 8 columns wide.
- The station's page: one EVSE gets its session's lines, each wrapped; several EVSEs get one
  row each (``#1 Charging 7.4 kW``) while rows last, then the rest of each EVSE's lines.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from hal.types import DisplaySize

MORE = "..."


def wrap(text: str, columns: int) -> list[str]:
    rows: list[str] = []
    for paragraph in text.splitlines() or [""]:
        rows += textwrap.wrap(paragraph, columns, break_long_words=True, break_on_hyphens=False) or [""]
    return rows


def fitted(rows: list[str], size: DisplaySize) -> tuple[str, ...]:
    if len(rows) > size.rows:
        rows = rows[: size.rows]
        if size.columns >= 8:
            rows[-1] = rows[-1][: size.columns - len(MORE)].rstrip() + MORE
    return tuple(row[: size.columns] for row in rows)


def notice_page(text: str, size: DisplaySize) -> tuple[str, ...]:
    return fitted(wrap(text, size.columns), size)


def station_page(sessions: Sequence[tuple[int, list[str]]], size: DisplaySize) -> tuple[str, ...]:
    """``sessions``: (EVSE id, its session's lines) in EVSE order."""
    if len(sessions) == 1:
        return fitted([row for line in sessions[0][1] for row in wrap(line, size.columns)], size)
    rows = [f"#{evse} {lines[0]}" for evse, lines in sessions]
    for evse, lines in sessions:
        rows += [f"#{evse} {line}" for line in lines[1:]]
    return fitted(rows, size)
