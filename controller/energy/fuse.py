"""The main fuse's trip curve: how long an overload may last before the house goes dark.

Rules kept here:
- The curve is data: the points IEC 60898-1 (miniature circuit breakers) guarantees on the
  *lower*, non-tripping boundary of the time-current band, joined by straight lines on
  log-log axes (the shape of a thermal release's band). Nothing slower is assumed:
  1.13 x In holds for at least 1 h, 2.55 x In for at least 1 s (In <= 32 A), and the
  magnetic release does not trip within 0.1 s below 3 x In (curve B) or 5 x In (curve C).
  gG fuses (IEC 60269) and selective main breakers (SLS, E characteristic) are slower than
  that at the overloads a wallbox can cause, so the B boundary is the safe assumption.
- ``min_trip_s(curve, factor)`` is the shortest time the fuse may take to trip at
  ``factor`` x its rating, from cold. Below the first point it never trips (inf); past the
  last point it may trip at once (0).
- How fast evsed can clear an overload is fixed by IEC 61851-1 (``clearing_s``): a lower
  duty may wait up to 5 s for the previous change and the EV gets 5 s to follow (the
  normal path, 10 s); switching the PWM off is immediate and the contactor is forced open
  6 s later if the EV does not stop (the pause path, 6 s). Load management takes the
  normal path while the curve leaves it time, and pauses when it does not.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import StrEnum

from controller.iec61851 import TIMING


class TripCurve(StrEnum):
    B = "B"
    C = "C"


@dataclass(frozen=True)
class CurvePoint:
    factor: float  # current / rated current
    min_s: float  # the breaker does not trip sooner than this


# The thermal band's lower boundary is common to B and C; only the magnetic release differs.
_THERMAL = (CurvePoint(1.13, 3600.0), CurvePoint(2.55, 1.0))
CURVES: dict[TripCurve, tuple[CurvePoint, ...]] = {
    TripCurve.B: (*_THERMAL, CurvePoint(3.0, 0.1)),
    TripCurve.C: (*_THERMAL, CurvePoint(5.0, 0.1)),
}

# The slowest way evsed sheds a connector's current, by IEC 61851-1 (controller/iec61851.py).
NORMAL_PATH_S = TIMING.pwm_change_interval_s + TIMING.ev_follow_s  # a lower duty, waiting out the 5 s rule
PAUSE_PATH_S = TIMING.force_open_after_x1_s  # PWM off now; contactor forced open if the EV keeps drawing


def min_trip_s(curve: TripCurve, factor: float) -> float:
    """Shortest time to trip at ``factor`` x the rated current (inf: it holds)."""
    points = CURVES[curve]
    if factor <= points[0].factor:
        return math.inf
    for lo, hi in itertools.pairwise(points):
        if factor <= hi.factor:
            # straight line between lo and hi on log-log axes
            slope = math.log(hi.min_s / lo.min_s) / math.log(hi.factor / lo.factor)
            return lo.min_s * (factor / lo.factor) ** slope
    return 0.0


def needs_pause(curve: TripCurve, factor: float, detection_s: float) -> bool:
    """True when the normal path (plus the time to see the overload) is too slow for the fuse."""
    return min_trip_s(curve, factor) <= NORMAL_PATH_S + detection_s


def cleared_in_time(curve: TripCurve, factor: float, detection_s: float) -> bool:
    """Whether evsed can clear an overload of ``factor`` at all (by pausing) before the fuse trips."""
    return min_trip_s(curve, factor) > PAUSE_PATH_S + detection_s


def largest_clearable_factor(curve: TripCurve, detection_s: float, path_s: float) -> float:
    """The highest overload factor the fuse survives for ``detection_s + path_s`` (bisection)."""
    lo, hi = 1.0, CURVES[curve][-1].factor
    for _ in range(60):
        mid = (lo + hi) / 2
        if min_trip_s(curve, mid) > detection_s + path_s:
            lo = mid
        else:
            hi = mid
    return lo
