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


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp from the wire or the database, as an aware datetime (no zone = UTC).
    Raises ValueError naming the text when it is not one."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 date-time") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
