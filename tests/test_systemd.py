"""systemd integration over a real notify socket: readiness, status, watchdog gated on the loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys

import pytest
from conftest import FREE_VEND, eventually

from controller import systemd


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    lines = []
    while True:
        try:
            lines.extend(sock.recv(4096).decode().splitlines())
        except BlockingIOError:
            return lines


def test_notify_is_a_no_op_outside_systemd(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


def test_under_systemd_every_log_line_carries_its_syslog_priority(monkeypatch):
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    monkeypatch.setenv("INVOCATION_ID", "0123")
    handler = systemd.log_handler()
    try:
        raise ValueError("no answer")
    except ValueError:
        error = logging.LogRecord("evsed.meter", logging.ERROR, "", 1, "read %s failed", ("sdm630",), sys.exc_info())
    lines = handler.format(error).splitlines()
    assert lines[0] == "<3>evsed.meter: read sdm630 failed" and lines[-1] == "<3>ValueError: no answer"
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)  # the traceback too
    warning = logging.LogRecord("evsed", logging.WARNING, __file__, 1, "two\nlines", None, None)
    assert handler.format(warning) == "<4>evsed: two\n<4>lines"
    monkeypatch.delenv("INVOCATION_ID")  # a terminal: timestamps, no priorities
    assert " WARNING evsed: two\nlines" in systemd.log_handler().format(warning)


def test_watchdog_interval_is_half_of_watchdog_sec_for_this_process_only(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert systemd.watchdog_interval_s() == 5.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert systemd.watchdog_interval_s() is None


async def test_daemon_reports_ready_status_and_feeds_the_watchdog_only_while_healthy(
    notify_socket, monkeypatch, start_daemon
):
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # pings every 50 ms
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    run = await start_daemon(FREE_VEND)
    lines: list[str] = []

    def got(line: str) -> bool:
        lines.extend(received(notify_socket))
        return line in lines

    await eventually(lambda: got("READY=1"), what="READY=1")
    assert any(line.startswith("STATUS=evsed") for line in lines)
    await eventually(lambda: got("WATCHDOG=1"), what="a watchdog ping")

    # The real-time process dies: no more pings, however long we wait for one.
    os.kill(run.daemon.board.child.pid, signal.SIGKILL)
    await eventually(lambda: not run.daemon.rt.healthy(), what="the loop reported unhealthy")
    received(notify_socket)
    await asyncio.sleep(0.3)  # a time window in which pings would have come (every 50 ms)
    assert "WATCHDOG=1" not in received(notify_socket)
