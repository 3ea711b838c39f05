"""systemd integration: readiness, status lines, watchdog, journal logging.

Rules kept here:
- Works with or without systemd-python: the notify protocol is one datagram to
  ``$NOTIFY_SOCKET``, so we speak it directly when the library is missing.
- Outside systemd every call is a no-op.
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
    """The journal when we run under systemd (and the library exists), else stderr."""
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        try:
            from systemd.journal import JournalHandler  # type: ignore[import-not-found]

            return JournalHandler(SYSLOG_IDENTIFIER="evsed")
        except ImportError:
            pass  # stderr goes to the journal anyway under systemd
        handler = logging.StreamHandler()
        handler.setFormatter(_SyslogPrefix("%(name)s: %(message)s"))
        return handler
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    return handler


class _SyslogPrefix(logging.Formatter):
    """``<N>`` syslog priority prefixes, which journald reads from a service's stderr."""

    PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6, logging.DEBUG: 7}

    def format(self, record: logging.LogRecord) -> str:
        return f"<{self.PRIORITY.get(record.levelno, 6)}>" + super().format(record)
