"""OCPPCommCtrlr's connection rules, as values the link takes (OCPP-J 2.0.1 part 4 sections
5.2, 5.3 and 8; errata 4.12).

Rules kept here:
- The first reconnection after a lost connection waits RetryBackOffWaitMinimum seconds plus a
  random part of at most RetryBackOffRandomRange seconds; every failed attempt doubles the
  wait, at most RetryBackOffRepeatTimes times, then it stays there, always with a new random
  part. A successful connection starts over at the minimum (the link counts ``attempt`` from
  its last successful connection).
- The station never tries more often than once per ``FLOOR_S``: a minimum and a range of 0
  would otherwise hammer the CSMS (and the station's own loop) without pause.
- WebSocketPingInterval 0 means no pings from the station; a change applies from the next
  ping (the link reads the interval before each one).
"""

from __future__ import annotations

from dataclasses import dataclass

FLOOR_S = 0.5


@dataclass(frozen=True)
class RetryBackOff:
    wait_minimum_s: int
    random_range_s: int
    repeat_times: int

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds before reconnection attempt ``attempt`` (0 = the first after the loss);
        ``rand`` in [0, 1)."""
        doubled = self.wait_minimum_s * 2 ** min(max(attempt, 0), self.repeat_times)
        return max(FLOOR_S, doubled + rand * self.random_range_s)
