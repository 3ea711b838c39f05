"""One firmware update from request to trial boot: the thin I/O shell around ``update.step``.

Rules kept here (security whitepaper L01; OCPP 1.6 5.19):
- Every status change goes through ``update.step`` and is reported (awaited) before the next
  piece of work starts, with the request id; the front end picks the message.
- Files live in ``<state_dir>/firmware`` under fixed names (``download.part``,
  ``firmware.bin``): the URL never names anything on disk. The directory is emptied when a
  request starts and when it ends, whatever the outcome.
- Download attempts per request: ``attempts`` (the front end counts them from its protocol's
  ``retries``; absent, from config), ``retryInterval`` apart, each resuming the partial file; a
  bad location or an oversize file is not retried.
- A new request cancels one that has not begun installing; it starts once the cancelled one
  has cleaned up (its files, its hold on the station), so the two never share the directory.
- A file already on the box (``artifact``: a release uploaded through the local API) is moved
  into the directory instead of downloaded (reported Downloading, Downloaded); from there on it
  is checked and installed exactly as a downloaded one.
- A signed update is installed only after its signature verified; an unsigned one only when
  ``allow_unsigned`` (the front end refuses it earlier otherwise).
- Install waits until the station is idle (the core's ``until_idle``); meanwhile the station
  is inoperative for the firmware's reason (idle EVSEs Unavailable at once, busy ones after
  their transaction; no new ones), lifted again if the install does not happen. Other reasons
  (an operator's) are the core's business and stay as they are. Two front-end choices (2.0.1
  L01.FR.07 / FR.34): ``allow_new_sessions`` keeps idle EVSEs available until the last
  transaction ended (the hold comes then, for the install and the restart), and
  ``announce_wait`` reports InstallScheduled while the install waits for transactions.
- After the switch: InstallRebooting, then a reset of the station (the core ends what runs,
  runs the front end's ``settle``, e.g. storing the next boot's reason, and the daemon
  restarts). After the restart ``verify_boot`` decides from the marker: Installed once the
  backend accepted the new release within the verify timeout; otherwise roll back, reset, and
  the previous release reports the failure.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

from controller.clock import WallClock
from controller.core.commands import ResetWhen
from controller.core.vocabulary import AvailabilityReason, RestartKind, StopCause
from controller.firmware import FirmwareConfig
from controller.firmware.launcher import Marker
from controller.firmware.signature import SignatureRejected, verify_file
from controller.firmware.slots import InstallFailed, SlotRoot, Trial, run_installer
from controller.firmware.update import Event, FirmwareStatus, answer_new_request, step
from controller.tasks import Tasks
from controller.transfer import TransferError, download, redacted

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Report = Callable[[FirmwareStatus, int | None, bool], Awaitable[None]]  # status, request id, signed
SecurityEvent = Callable[[str, str | None], Awaitable[None]]
Settle = Callable[[], Awaitable[None]]
FINAL_TRANSFER_ERRORS = ("location", "unsupported", "too_big")  # retrying cannot help
_FAILURE_EVENT = {"InstallationFailed": Event.INSTALL_FAILED, "InstallVerificationFailed": Event.VERIFICATION_FAILED}


@dataclass(frozen=True)
class UpdateRequest:
    location: str
    retrieve_at: datetime
    request_id: int | None = None
    install_at: datetime | None = None
    attempts: int | None = None  # None: [firmware] retries
    retry_interval_s: float | None = None
    certificate: x509.Certificate | None = None  # None: unsigned (1.6 UpdateFirmware)
    signature: str | None = None
    artifact: Path | None = None  # uploaded, not to be downloaded (``location`` only names it)

    @property
    def signed(self) -> bool:
        return self.certificate is not None


class Updater:
    def __init__(self, config: FirmwareConfig, state_dir: Path, clock: WallClock, version: str, *,
                 report: Report, security_event: SecurityEvent,
                 restart_kind: RestartKind = RestartKind.HARD, settle: Settle | None = None,
                 allow_new_sessions: Callable[[], bool] = lambda: False, announce_wait: bool = False):  # fmt: skip
        self.config = config
        self.dir = state_dir / "firmware"
        self.clock = clock
        self.version = version
        self.report, self.security_event, self.restart_kind = report, security_event, restart_kind
        self.settle, self.allow_new_sessions, self.announce_wait = settle, allow_new_sessions, announce_wait
        self.slots = SlotRoot(config.slot_root)
        self.status = FirmwareStatus.IDLE
        self.request_id: int | None = None
        self.signed = False
        self.station: Station | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks = Tasks("firmware")
        shutil.rmtree(self.dir, ignore_errors=True)  # leftovers of a run a power cut ended

    def attach(self, station: Station) -> None:
        self.station = station

    async def close(self) -> None:
        await self._tasks.cancel()

    # ---- a new request ---------------------------------------------------------------------

    def answer(self) -> str:
        """What a new request gets now: Accepted, AcceptedCanceled or Rejected."""
        return answer_new_request(self.status)

    def start(self, request: UpdateRequest) -> None:
        """Begin ``request``, cancelling an update that has not begun installing."""
        if self.answer() == "Rejected":
            log.warning("firmware update %s not started: %s is installing", request.request_id, self.request_id)
            return
        previous = self._task
        if previous is not None and not previous.done():
            log.warning("firmware update %s cancelled by request %s", self.request_id, request.request_id)
            previous.cancel()
        self._task = self._tasks.spawn(self._run(request, previous), f"firmware update {request.request_id}")

    async def _to(self, event: Event) -> None:
        self.status = step(self.status, event)
        log.info("firmware update %s: %s", self.request_id, self.status.value)
        await self.report(self.status, self.request_id, self.signed)

    async def _run(self, request: UpdateRequest, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # the cancelled update's clean-up ends first
        self.status, self.request_id, self.signed = FirmwareStatus.IDLE, request.request_id, request.signed
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            artifact = await (self._take(request.artifact) if request.artifact else self._download(request))
            if artifact is None:
                return
            if request.certificate is not None:
                try:
                    await asyncio.to_thread(verify_file, artifact, request.certificate, request.signature or "")
                except SignatureRejected as exc:
                    log.error("firmware update %s: %s", self.request_id, exc)
                    await self._to(Event.SIGNATURE_INVALID)
                    await self.security_event("InvalidFirmwareSignature", str(exc))
                    return
                await self._to(Event.SIGNATURE_VALID)
            if request.install_at is not None and request.install_at > self.clock.now():
                await self._to(Event.SCHEDULE_INSTALL)
                await asyncio.sleep((request.install_at - self.clock.now()).total_seconds())  # the CSMS's schedule
            await self._install(artifact)
        except asyncio.CancelledError:
            await self._hold(False)
            raise
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    async def _download(self, request: UpdateRequest) -> Path | None:
        delay = (request.retrieve_at - self.clock.now()).total_seconds()
        if delay > 0:
            await self._to(Event.SCHEDULE)
            await asyncio.sleep(delay)  # the CSMS's retrieveDate: a schedule, not a synchronisation
        part = self.dir / "download.part"
        tries = max(1, self.config.retries if request.attempts is None else request.attempts)
        interval = self.config.retry_interval_s if request.retry_interval_s is None else request.retry_interval_s
        for attempt in range(1, tries + 1):
            await self._to(Event.DOWNLOAD)
            try:
                size = await download(request.location, part, self.config.max_size_bytes)
            except TransferError as exc:
                final = exc.kind in FINAL_TRANSFER_ERRORS or attempt == tries
                log.warning("firmware download %s/%s of %s: %s", attempt, tries, redacted(request.location), exc)
                if final:
                    await self._to(Event.DOWNLOAD_FAILED)
                    return None
                await self._to(Event.PAUSE)
                await asyncio.sleep(max(0.0, interval))  # the CSMS's retryInterval
                continue
            log.info("firmware update %s: %d bytes downloaded", self.request_id, size)
            artifact = self.dir / "firmware.bin"
            part.replace(artifact)
            await self._to(Event.DOWNLOADED)
            return artifact
        return None

    async def _take(self, upload: Path) -> Path:
        await self._to(Event.DOWNLOAD)
        artifact = self.dir / "firmware.bin"
        await asyncio.to_thread(shutil.move, upload, artifact)
        await self._to(Event.DOWNLOADED)
        return artifact

    async def _hold(self, on: bool) -> None:
        """Idle EVSEs Unavailable and no new transactions while an install waits (L01.FR.07),
        through the core's availability, for the firmware's reason only (not kept over a restart)."""
        if self.station is not None:
            await self.station.set_availability(None, not on, AvailabilityReason.FIRMWARE)

    async def restart(self) -> None:
        """Into the new (or back into the previous) release: the core resets the station."""
        if self.station is None:
            log.error("firmware installed, but nothing can restart this process: restart evsed")
            return
        await self.station.reset(None, ResetWhen.IMMEDIATE, StopCause.REBOOT, kind=self.restart_kind,
                                 settle=self.settle)  # fmt: skip

    async def _until_idle(self) -> None:
        """Wait for the running transactions to end, then hold the station for the install."""
        station = self.station
        if station is not None and any(v.transaction is not None for v in station.views()):
            log.info("firmware update %s: waiting for the running transactions to end", self.request_id)
            if self.announce_wait and self.status is not FirmwareStatus.INSTALL_SCHEDULED:
                await self._to(Event.SCHEDULE_INSTALL)
            if not self.allow_new_sessions():
                await self._hold(True)
            await station.until_idle()
        await self._hold(True)
        if station is not None:
            await station.until_idle()  # one that started before the hold took effect

    async def _install(self, artifact: Path) -> None:
        await self._until_idle()
        cfg = self.config
        trial = Trial(self.request_id, self.signed, self.version, time.time() + cfg.verify_timeout_s, cfg.trial_boots,
                      cfg.verify_timeout_s)  # fmt: skip
        try:
            if cfg.installer_command is not None:
                await self._to(Event.INSTALL)
                await run_installer(cfg.installer_command, artifact)
                marker = Marker("trial", "", "", trial.request_id, trial.signed, trial.from_version, None,
                                trial.deadline, trial.max_boots)  # fmt: skip
                await asyncio.to_thread(self._write_marker, marker)
            else:
                await self._to(Event.INSTALL)  # checking the release is the install's first step (L01.FR.29)
                release = await asyncio.to_thread(self.slots.verify, artifact, cfg.max_size_bytes * 4)
                slot = await asyncio.to_thread(self.slots.install, artifact, release, trial)
                log.warning("firmware update %s: release %s installed in %s", self.request_id, release.version, slot)
        except InstallFailed as exc:
            log.error("firmware update %s: %s", self.request_id, exc)
            await self._hold(False)
            await self._to(
                Event.VERIFICATION_FAILED if exc.status == "InstallVerificationFailed" else Event.INSTALL_FAILED
            )
            await self.security_event("FirmwareInstallationFailed", str(exc)[:255])
            return
        await self._to(Event.REBOOT)
        await self.restart()

    def _write_marker(self, marker: Marker) -> None:
        from controller.firmware.launcher import write_marker

        self.config.slot_root.mkdir(parents=True, exist_ok=True)
        write_marker(self.config.slot_root, marker)

    # ---- after a restart ---------------------------------------------------------------------

    async def verify_boot(self, accepted: asyncio.Event) -> None:
        """Settle an update the marker says is on trial or was rolled back (see module rules)."""
        marker = await asyncio.to_thread(self.slots.marker)
        if marker is None:
            return
        self.status, self.request_id, self.signed = FirmwareStatus.INSTALL_REBOOTING, marker.request_id, marker.signed
        if marker.state == "rolled_back":
            log.error("firmware update %s was rolled back: %s", marker.request_id, marker.reason)
            await self._settle(accepted, marker.failure or "InstallationFailed", marker.reason)
            return
        external = marker.to_version is None
        if not external and (self.slots.active() is None or str(self.slots.active()) != marker.slot):
            await self._settle(accepted, "InstallationFailed", "the switch to the new slot did not happen")
            return
        if external and self.version == marker.from_version:
            await self._settle(accepted, "InstallationFailed", f"still running {self.version} after the installer")
            return
        if not external and self.version != marker.to_version:
            await self._roll_back(marker, f"booted {self.version}, expected {marker.to_version}")
            return
        try:
            async with asyncio.timeout(max(0.0, marker.deadline - time.time())):
                await accepted.wait()
        except TimeoutError:
            await self._roll_back(marker, f"release {self.version} did not reach the backend in time")
            return
        await asyncio.to_thread(self.slots.finish_trial)
        await self._to(Event.INSTALLED)
        await self.security_event("FirmwareUpdated", f"{marker.from_version} -> {self.version}")

    async def _settle(self, accepted: asyncio.Event, failure: str, reason: str) -> None:
        await accepted.wait()
        await asyncio.to_thread(self.slots.finish_trial)
        await self._to(_FAILURE_EVENT.get(failure, Event.INSTALL_FAILED))
        await self.security_event("FirmwareInstallationFailed", reason[:255])

    async def _roll_back(self, marker: Marker, reason: str) -> None:
        log.error("firmware update %s: %s; rolling back to %s", marker.request_id, reason, marker.previous)
        try:
            await asyncio.to_thread(self.slots.rollback, marker, "InstallVerificationFailed", reason)
        except OSError:
            # The restart still helps: the launcher rolls back once the trial boots are used up.
            log.exception("firmware update %s: rollback failed", marker.request_id)
        await self.restart()
