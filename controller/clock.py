"""Wall-clock time for records and protocol timestamps.

Rules kept here:
- Timers and the real-time loop use ``time.monotonic()``; this clock is only for
  timestamps that leave the station (session records, OCPP messages).
- When the process may not set the system clock, NTP (or a CSMS time) sets
  ``offset_s`` and every timestamp is corrected by it; ``source`` says where it came
  from so the API can show how far to trust it.
- Sources rank: "ntp" (controller/time_sync.py) beats "csms" (BootNotification / Heartbeat
  currentTime), which beats "system". A CSMS time is a flagged fallback (``fallback``): it is
  taken only while no NTP server has answered, so it never overrides NTP.
- Timestamps are written by ``iso`` and read by ``parse_time``, one rule for every message and
  record: an RFC 3339 date-time (the JSON schemas' ``format: date-time``), i.e. a date, "T", a
  time with seconds (fraction optional) and "Z" or an offset. A date alone, a time without
  seconds or a time without offset is refused; only ``assume_utc`` (for the CSMS's answers,
  where field backends send naive times) reads a missing offset as UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class WallClock:
    offset_s: float = 0.0
    source: str = "system"

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def take(self, offset_s: float, source: str) -> bool:
        """Adopt ``offset_s`` from ``source`` unless a better-ranked source set the clock."""
        if _RANK.get(source, 0) < _RANK.get(self.source, 0):
            return False
        self.offset_s, self.source = offset_s, source
        return True

    @property
    def fallback(self) -> bool:
        """True while the time comes from the CSMS, not from NTP."""
        return self.source == "csms"


_RANK = {"system": 0, "csms": 1, "ntp": 2}


def iso(t: datetime) -> str:
    """OCPP-style UTC timestamp with milliseconds and a Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?")


def parse_time(text: str, *, assume_utc: bool = False) -> datetime:
    """An RFC 3339 date-time as an aware datetime. Raises ValueError naming the text when it is
    not one; with ``assume_utc`` a time without offset is taken as UTC instead."""
    match = _DATE_TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None or (match["offset"] is None and not assume_utc):
        raise ValueError(f"{text!r} is not an RFC 3339 date-time (e.g. 2025-01-31T12:00:00Z)")
    try:
        t = datetime.fromisoformat(text[:10] + "T" + text[11:].upper().replace("Z", "+00:00"))
    except ValueError:  # e.g. month 13, second 60
        raise ValueError(f"{text!r} is not an RFC 3339 date-time (e.g. 2025-01-31T12:00:00Z)") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def is_date_time(text: object) -> bool:
    """True for an RFC 3339 date-time with offset (the check behind the schemas' date-time)."""
    try:
        return isinstance(text, str) and bool(parse_time(text))
    except ValueError:
        return False
