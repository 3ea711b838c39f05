"""Wall-clock time for records and protocol timestamps.

Rules kept here:
- Timers and the real-time loop use ``time.monotonic()``; this clock is only for
  timestamps that leave the station (session records, OCPP messages).
- When the process may not set the system clock, NTP (or a CSMS time) sets
  ``offset_s`` and every timestamp is corrected by it; ``source`` says where it came
  from so the API can show how far to trust it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass
class WallClock:
    offset_s: float = 0.0
    source: str = "system"

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)


def iso(t: datetime) -> str:
    """OCPP-style UTC timestamp with milliseconds and a Z."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp from the wire or the database, as an aware datetime (no zone = UTC).
    Raises ValueError naming the text when it is not one."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 date-time") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
