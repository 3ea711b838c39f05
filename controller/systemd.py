"""systemd integration: readiness, status lines, watchdog, journal logging.

Rules kept here:
- No systemd library (systemd-python needs a compiler and libsystemd headers on the box):
  the notify protocol is one datagram to ``$NOTIFY_SOCKET``, spoken directly, and under
  systemd the log goes to stderr with a ``<N>`` syslog priority on every line, which
  journald reads as the entry's priority (``journalctl -p warning`` works).
- Outside systemd every call is a no-op and the log is plain timestamped stderr.
"""

from __future__ import annotations

import logging
import os
import socket


def notify(*lines: str) -> bool:
    """Send ``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1`` to systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(lines).encode(), address)
        return True
    except OSError:
        return False


def watchdog_interval_s() -> float | None:
    """Half of WatchdogSec (as systemd recommends), if the watchdog is on for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


def log_handler() -> logging.Handler:
    """stderr: with syslog priorities for journald under systemd, else with timestamps."""
    handler = logging.StreamHandler()
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        handler.setFormatter(SyslogPrefix("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    return handler


class SyslogPrefix(logging.Formatter):
    """``<N>`` syslog priority prefixes, which journald reads from a service's stderr. Every
    line gets one: journald stores each line as an entry, so a traceback keeps its priority."""

    PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{self.PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())
