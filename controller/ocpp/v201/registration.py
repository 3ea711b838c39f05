"""Registration with the CSMS: BootNotification and its answer, the heartbeat, and the reason for
booting that outlives the restart it explains.

Rules kept here (part 2 B01-B03, G02, F06.FR.17; part 4 section 5.3):
- On every connection until one is Accepted, BootNotification goes first, with the reason
  for booting (B01.FR.09): the one stored before the restart that caused it (RemoteReset,
  ScheduledReset, FirmwareUpdate...), else PowerUp; Triggered when the CSMS asked for it with
  TriggerMessage. A stored reason is kept until a BootNotification is Accepted, so a power
  cut before that does not lose it.
- Accepted: an interval > 0 becomes HeartbeatInterval (B01.FR.04), then ``on_accepted`` runs
  (every connector's status, then the queue opens).
- Pending: the CSMS's requests are answered (B02.FR.01); nothing of our own is sent but what it
  triggers; BootNotification again after the interval (0: ``BOOT_RETRY_S``, B02.FR.07), at
  once when triggered. Rejected: nothing is sent until the interval passed (B03.FR.02) and
  every CALL from the CSMS is answered with CALLERROR SecurityError (B03.FR.08); the
  connection stays open.
- After an Accepted, a reconnect sends no BootNotification (part 4 section 5.3): it runs
  ``on_reconnected`` with the time the link was down. TriggerMessage BootNotification is
  Rejected then (F06.FR.17). ``register_again`` is the exception: a connection through another
  network profile registers anew (errata B10.FR.10), with the reason of this boot.
- The currentTime of the BootNotification and Heartbeat answers sets the clock when
  ClockCtrlr.TimeSource names Heartbeat (B01.FR.06); NTP outranks it (controller/clock.py).
- Heartbeat every HeartbeatInterval seconds while Accepted and connected (G02.FR.02); a change
  of the interval starts the count again (controller/ocpp/heartbeat.py, shared with 1.6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from controller.clock import WallClock, parse_time
from controller.ocpp.heartbeat import Heartbeat
from controller.ocpp.link import CallFailed, Link
from controller.ocpp.v201.configuration import Configuration
from controller.ocpp.v201.enums import BootReasonEnumType as BootReason
from controller.ocpp.v201.enums import RegistrationStatusEnumType as RegistrationStatus
from controller.storage import Database

log = logging.getLogger(__name__)

BOOT_RETRY_S = 60.0  # when a Pending or Rejected answer gives interval 0
SECURITY_ERROR = "SecurityError"
HEARTBEAT_INTERVAL = "OCPPCommCtrlr.HeartbeatInterval"
TIME_SOURCE = "ClockCtrlr.TimeSource"
_DDL = "CREATE TABLE ocpp201_boot_reason (id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL)"


@dataclass(frozen=True)
class Identity:
    """What BootNotification says about the station (ChargingStationType)."""

    vendor: str
    model: str
    serial_number: str | None
    firmware_version: str

    def payload(self) -> dict[str, str]:
        out = {"model": self.model[:20], "vendorName": self.vendor[:50], "firmwareVersion": self.firmware_version[:50]}
        if self.serial_number:
            out["serialNumber"] = self.serial_number[:25]
        return out


class BootReasons:
    """The reason the next boot will give, in SQLite: written before a restart, cleared when a
    BootNotification carrying it was Accepted."""

    def __init__(self, db: Database):
        db.migrate("ocpp201_boot_reason_0001", _DDL)
        self.db = db
        row = db.run_sync(lambda conn: conn.execute("SELECT reason FROM ocpp201_boot_reason").fetchone())
        self.stored = BootReason(row[0]) if row is not None else None

    async def set(self, reason: BootReason) -> None:
        await self.db.run(lambda conn: conn.execute("INSERT OR REPLACE INTO ocpp201_boot_reason VALUES (1, ?)",
                                                    (reason.value,)))  # fmt: skip

    async def clear(self) -> None:
        self.stored = None
        await self.db.run(lambda conn: conn.execute("DELETE FROM ocpp201_boot_reason"))


class Registration:
    def __init__(
        self,
        link: Link,
        configuration: Configuration,
        clock: WallClock,
        identity: Identity,
        reasons: BootReasons,
        on_accepted: Callable[[], Awaitable[None]],
        on_reconnected: Callable[[float], Awaitable[None]],
    ):
        self.link, self.configuration, self.clock = link, configuration, clock
        self.identity, self.reasons = identity, reasons
        self.on_accepted, self.on_reconnected = on_accepted, on_reconnected
        self.accepted = asyncio.Event()
        self.status: RegistrationStatus | None = None  # the last answer
        self._triggered = asyncio.Event()
        self.heart = Heartbeat(link, self.accepted, lambda: configuration.number(HEARTBEAT_INTERVAL), self.take_time)
        self._boot_reason = BootReason.power_up  # the reason this boot was registered with

    # ---- boot ---------------------------------------------------------------------------

    async def on_connected(self) -> None:
        if self.accepted.is_set():
            down = self.link.down_since
            await self.on_reconnected(time.monotonic() - down if down is not None else 0.0)
            return
        reason = self.reasons.stored or self._boot_reason
        while not self.accepted.is_set():
            wait = await self._boot(reason)
            if wait is None:
                return
            self._triggered.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._triggered.wait()
            if self._triggered.is_set():
                reason = BootReason.triggered

    async def _boot(self, reason: BootReason) -> float | None:
        """One BootNotification; the wait before the next one, or None when done or offline."""
        payload = {"chargingStation": self.identity.payload(), "reason": reason.value}
        try:
            response = await self.link.call("BootNotification", payload)
        except CallFailed as exc:
            if not self.link.connected.is_set():
                return None
            log.warning("BootNotification failed: %s", exc)
            return BOOT_RETRY_S
        self.status = RegistrationStatus(response["status"])
        self.link.refuse_with = SECURITY_ERROR if self.status is RegistrationStatus.rejected else None
        self.take_time(response["currentTime"])
        interval = int(response["interval"])
        if self.status is not RegistrationStatus.accepted:
            log.info("BootNotification %s; again in %s s", self.status.value, interval or BOOT_RETRY_S)
            return float(interval) if interval > 0 else BOOT_RETRY_S
        log.info("BootNotification (%s) accepted; heartbeat every %s s", reason.value, interval)
        if interval > 0 and interval != self.configuration.number(HEARTBEAT_INTERVAL):
            await self.configuration.write(HEARTBEAT_INTERVAL, str(interval))
        if self.reasons.stored is not None:
            await self.reasons.clear()
        self._boot_reason = reason if reason is not BootReason.triggered else self._boot_reason
        self.accepted.set()
        await self.on_accepted()
        return None

    def register_again(self) -> None:
        """The next connection goes to another network profile: BootNotification again (B10.FR.10)."""
        self.accepted.clear()

    def trigger(self) -> bool:
        """TriggerMessage BootNotification: False (Rejected) once accepted (F06.FR.17)."""
        if self.accepted.is_set():
            return False
        self._triggered.set()
        return True

    def take_time(self, current_time: str) -> None:
        sources = self.configuration.value(TIME_SOURCE)
        if not isinstance(sources, tuple) or "Heartbeat" not in sources:
            return
        try:
            csms = parse_time(current_time)
        except ValueError:
            log.warning("CSMS time %r unreadable; clock not adjusted", current_time)
            return
        self.clock.take((csms - datetime.now(UTC)).total_seconds(), "csms")
