"""The bench's live area (sim/live.py): log lines above it, lines that fit the terminal."""

from __future__ import annotations

import io
import logging

import pytest

from sim.live import LiveArea

ERASE_TWO_LINES = "\r\033[F\033[J"  # back to the first line of a two-line area, clear to the end


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


PARTS = ["#1 Charging      C2 32.0 A  22.08 kW", "#2 SuspendedEV   B2 16.0 A   0.00 kW"]


@pytest.fixture
def columns(monkeypatch):  # type: ignore[no-untyped-def]
    def set_to(n: int) -> None:
        monkeypatch.setenv("COLUMNS", str(n))  # shutil.get_terminal_size reads it first

    return set_to


def test_the_connectors_share_a_line_when_it_fits_else_one_line_each_cut_to_the_width(columns) -> None:
    out = Terminal()
    area = LiveArea(out, out)
    columns(120)
    area.show(PARTS)
    assert out.getvalue() == " | ".join(PARTS)  # one line, no newline: redrawn in place
    columns(30)
    area.show(PARTS)
    assert out.getvalue().split(" | ".join(PARTS), 1)[1] == "\r\033[J" + "\n".join(p[:29] for p in PARTS)


def test_a_log_record_is_printed_above_the_area_which_is_drawn_again(columns) -> None:
    columns(40)
    out, err = Terminal(), Terminal()
    area = LiveArea(out, err)
    log = logging.getLogger("test_live")
    log.propagate = False
    handler = area.handler()
    log.addHandler(handler)
    try:
        area.show(PARTS)
        log.warning("connector 1: fault meter_offline")
    finally:
        log.removeHandler(handler)
    drawn = "\n".join(PARTS)
    assert out.getvalue() == drawn + ERASE_TWO_LINES + drawn  # erased, then drawn again after the record
    assert err.getvalue() == "connector 1: fault meter_offline\n"  # on a line of its own, not glued
    area.say("evsed sim: done")
    assert out.getvalue().endswith(ERASE_TWO_LINES + "evsed sim: done\n" + drawn)
    area.close()
    assert out.getvalue().endswith(drawn + "\n")  # the last picture stays, the summary goes below
    area.say("scenario basic: done")
    assert out.getvalue().endswith(drawn + "\nscenario basic: done\n")


def test_off_a_terminal_the_area_is_plain_lines() -> None:
    out = io.StringIO()
    area = LiveArea(out, out)
    area.show(PARTS)
    area.say("a log line")
    area.show(PARTS)
    area.close()
    assert out.getvalue() == f"{' | '.join(PARTS)}\na log line\n{' | '.join(PARTS)}\n"
