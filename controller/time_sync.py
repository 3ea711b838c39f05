"""Trusted time: NTP against the configured servers, at start and periodically.

Rules kept here (issue #6 "Time"; README "Time"):
- Every server in ``[time] servers`` is asked (ntplib, in worker threads so the event loop
  never waits on UDP); of the answers with stratum 1-15 the one with the lowest round-trip
  delay wins (``best``, pure). Its offset, delay, stratum and server are shown in /api/status.
- If the process may set the clock (CAP_SYS_TIME in its effective set, ``set_clock = "auto"``)
  an offset beyond ``step_threshold_s`` steps the system clock and a SettingSystemTime
  security event is reported; smaller ones are left to the kernel. Otherwise the clock is not
  touched and every OCPP timestamp uses ``WallClock`` with the NTP offset (source "ntp").
- NTP outranks the CSMS's currentTime (clock.py): that one is a flagged fallback used only
  while no NTP server has answered.
- ``synced`` is set after the first successful sync; before it, a TLS certificate failing on
  its dates alone is retried after the sync (security.py). ``dates_by_offset()`` tells TLS to
  check certificate dates against the corrected time when the system clock is known wrong by
  more than ``DATE_TOLERANCE_S`` and may not be set.
- The next sync comes ``interval_s`` after a success, ``retry_s`` after a failure. Nothing
  here touches timers: the real-time loop, limits and timeouts run on ``time.monotonic()``,
  so a step of the wall clock never expires a limit or ends a session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ntplib

from controller.clock import WallClock
from hal.config import ConfigSection

log = logging.getLogger(__name__)

CAP_SYS_TIME = 25
DATE_TOLERANCE_S = 60.0  # system clock error a certificate check can live with


@dataclass(frozen=True)
class TimeConfig:
    servers: tuple[str, ...] = ()
    interval_s: float = 1024.0
    retry_s: float = 60.0
    timeout_s: float = 2.0
    set_clock: str = "auto"  # "auto": when the process has CAP_SYS_TIME; "never"
    step_threshold_s: float = 0.5

    @staticmethod
    def from_section(s: ConfigSection) -> TimeConfig:
        servers = tuple(s.get_list("servers", []))
        for server in servers:
            try:
                parse_server(server)
            except ValueError as exc:
                raise s.error("servers", server, str(exc)) from None
        return TimeConfig(
            servers=servers,
            interval_s=s.get_float("interval_s", 1024.0, minval=16.0, maxval=86400.0),
            retry_s=s.get_float("retry_s", 60.0, minval=1.0, maxval=3600.0),
            timeout_s=s.get_float("timeout_s", 2.0, minval=0.1, maxval=30.0),
            set_clock=s.get_str("set_clock", "auto", choices=("auto", "never")),
            step_threshold_s=s.get_float("step_threshold_s", 0.5, minval=0.001, maxval=3600.0),
        )


@dataclass(frozen=True)
class Sample:
    server: str
    offset_s: float
    delay_s: float
    stratum: int


def parse_server(text: str) -> tuple[str, int]:
    """A server as written in the config ("host", "host:port", "[v6]:port") -> (host, port)."""
    host, port = text, 123
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":")) if rest.removeprefix(":").isdigit() else -1
    elif text.count(":") == 1:
        host, _, number = text.partition(":")
        port = int(number) if number.isdigit() else -1
    if not host or not 0 < port < 65536:
        raise ValueError('expected "host" or "host:port"')
    return host, port


def best(samples: Iterable[Sample]) -> Sample | None:
    usable = [s for s in samples if 1 <= s.stratum <= 15]
    return min(usable, key=lambda s: s.delay_s) if usable else None


def has_cap_sys_time(status: Path = Path("/proc/self/status")) -> bool:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_TIME & 1)
    except (OSError, ValueError):
        pass
    return False


def step_system_clock(offset_s: float) -> None:
    time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME) + offset_s)


def query(server: str, timeout_s: float) -> Sample:
    host, port = parse_server(server)
    stats = ntplib.NTPClient().request(host, version=4, port=port, timeout=timeout_s)
    return Sample(server, float(stats.offset), float(stats.delay), int(stats.stratum))


class TimeSync:
    def __init__(
        self,
        config: TimeConfig,
        clock: WallClock,
        *,
        can_set: bool | None = None,
        step_clock: Callable[[float], None] = step_system_clock,
        on_step: Callable[[float], Awaitable[None]] | None = None,
    ):
        self.config, self.clock = config, clock
        self.can_set = (config.set_clock == "auto" and has_cap_sys_time()) if can_set is None else can_set
        self.step_clock, self.on_step = step_clock, on_step
        self.synced = asyncio.Event()
        self.last: Sample | None = None
        self.last_at: float | None = None  # wall time of the last success, for the API
        self.error = ""

    def dates_by_offset(self) -> bool:
        return self.synced.is_set() and self.clock.source == "ntp" and abs(self.clock.offset_s) > DATE_TOLERANCE_S

    async def sync_once(self) -> Sample | None:
        answers = await asyncio.gather(
            *(asyncio.to_thread(query, server, self.config.timeout_s) for server in self.config.servers),
            return_exceptions=True,
        )
        samples = [a for a in answers if isinstance(a, Sample)]
        chosen = best(samples)
        if chosen is None:
            reasons = [
                f"{s}: {a}" for s, a in zip(self.config.servers, answers, strict=True) if not isinstance(a, Sample)
            ]
            unsynchronised = [s.server for s in samples]
            self.error = "; ".join(reasons + [f"{s}: unsynchronised (stratum 0/16)" for s in unsynchronised])
            log.warning("NTP: no usable answer (%s)", self.error)
            return None
        await self._apply(chosen)
        self.last, self.last_at, self.error = chosen, time.time(), ""
        self.synced.set()
        return chosen

    async def _apply(self, sample: Sample) -> None:
        if self.can_set and abs(sample.offset_s) > self.config.step_threshold_s:
            try:
                self.step_clock(sample.offset_s)
            except OSError as exc:
                log.error("NTP: cannot set the system clock (%s); correcting timestamps instead", exc)
                self.can_set = False
            else:
                log.warning("NTP: system clock stepped by %+.3f s (server %s)", sample.offset_s, sample.server)
                self.clock.take(0.0, "ntp")
                if self.on_step is not None:
                    await self.on_step(sample.offset_s)
                return
        self.clock.take(0.0 if self.can_set else sample.offset_s, "ntp")

    async def run(self) -> None:
        while True:
            ok = await self.sync_once()
            await asyncio.sleep(self.config.interval_s if ok else self.config.retry_s)

    def status_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "ntp": {
                "servers": list(self.config.servers),
                "synced": self.synced.is_set(),
                "server": last.server if last else None,
                "offset_s": round(last.offset_s, 6) if last else None,
                "delay_s": round(last.delay_s, 6) if last else None,
                "stratum": last.stratum if last else None,
                "at": self.last_at,
                "sets_clock": self.can_set,
                "error": self.error,
            }
        }
