"""Clock-aligned instants: every multiple of an interval counted from the day's midnight (UTC).

Rules kept here (1.6 ClockAlignedDataInterval, 2.0.1 AlignedDataCtrlr.Interval):
- The first aligned instant strictly after ``now``; the count restarts at every midnight, so an
  interval that does not divide a day ends its last period at midnight.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DAY_S = 86400


def next_aligned(now: datetime, interval_s: int) -> datetime:
    """The first clock-aligned instant strictly after ``now`` (aware UTC)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    steps = int(elapsed // interval_s) + 1
    if steps * interval_s >= DAY_S:
        return midnight + timedelta(days=1)
    return midnight + timedelta(seconds=steps * interval_s)
