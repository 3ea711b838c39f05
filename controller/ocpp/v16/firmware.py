"""OCPP 1.6 firmware management: UpdateFirmware (1.6) and SignedUpdateFirmware (whitepaper).

Rules kept here (OCPP 1.6 5.19, 4.5; security whitepaper L01):
- SignedUpdateFirmware is read as both versions read it (controller/ocpp/file_requests.py: the
  certificate checked before the answer, InvalidCertificate + SecurityEventNotification
  InvalidFirmwareSigningCertificate, a bad location Rejected, ``retries`` = attempts); then
  Accepted, or AcceptedCanceled / Rejected per ``update.answer_new_request``.
- UpdateFirmware (unsigned): a CALLERROR NotSupported unless ``[firmware] allow_unsigned``
  (L01.FR.20); a bad location is a PropertyConstraintViolation.
- Statuses: a signed update reports every status with its requestId in
  SignedFirmwareStatusNotification; an unsigned one reports the 1.6 FirmwareStatus subset
  (``V16``); whitepaper-only steps have no 1.6 message and are not sent.
- TriggerMessage FirmwareStatusNotification: where the update stands in 1.6 terms, Idle when
  none runs (4.5). ExtendedTriggerMessage (``send_signed_status``): the last status sent,
  Idle after Installed (L01.FR.28/29).
- The work starts once the answer is on the wire; status CALLs wait for an accepted boot and
  a connection (bounded), so a reboot report is not lost to a reconnect.
- Trusted roots: the installed ManufacturerRootCertificates plus ``[firmware]
  manufacturer_roots`` (a PEM file provisioned at the factory), read at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

from controller.clock import WallClock, parse_time
from controller.firmware import FirmwareConfig
from controller.firmware.signature import load_roots
from controller.firmware.update import FirmwareStatus
from controller.firmware.updater import Updater, UpdateRequest
from controller.ocpp.file_requests import (
    attempts,
    firmware_status,
    firmware_update,
    triggered_firmware_status,
    update_answer,
)
from controller.ocpp.link import CallFailed, Refuse, Reply
from controller.tasks import Tasks
from controller.transfer import Location, TransferError

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import ChargePoint

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ReportEvent = Callable[[str, str | None], Awaitable[None]]
S = FirmwareStatus
# The 1.6 FirmwareStatus sent for a whitepaper status; absent: 1.6 has no such step.
V16 = {
    S.DOWNLOADING: "Downloading",
    S.DOWNLOADED: "Downloaded",
    S.DOWNLOAD_FAILED: "DownloadFailed",
    S.INSTALLING: "Installing",
    S.INSTALLED: "Installed",
    S.INSTALLATION_FAILED: "InstallationFailed",
    S.INSTALL_VERIFICATION_FAILED: "InstallationFailed",
}
# Where an update stands, in 1.6 terms, for TriggerMessage (4.5: Idle when not busy).
V16_NOW = {
    S.DOWNLOADING: "Downloading",
    S.DOWNLOAD_PAUSED: "Downloading",
    S.DOWNLOADED: "Downloaded",
    S.SIGNATURE_VERIFIED: "Downloaded",
    S.INSTALL_SCHEDULED: "Downloaded",
    S.INSTALLING: "Installing",
    S.INSTALL_REBOOTING: "Installing",
}
SEND_ATTEMPTS = 3
CONNECT_WAIT_S = 60.0


class FirmwareManagement:
    charge_point: ChargePoint | None = None  # set by build_frontend: the link and the boot gate

    def __init__(self, config: FirmwareConfig, state_dir: Path, clock: WallClock, version: str, *,
                 installed_roots: Callable[[], list[x509.Certificate]], report_event: ReportEvent):  # fmt: skip
        self.config, self.clock = config, clock
        self.installed_roots = installed_roots
        self.factory_roots = load_roots(config.manufacturer_roots)
        self.report_event = report_event
        self.updater = Updater(config, state_dir, clock, version, report=self._report, security_event=report_event)
        self._tasks = Tasks("ocpp firmware")

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"UpdateFirmware": self.update_firmware, "SignedUpdateFirmware": self.signed_update_firmware}

    def trigger_messages(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"FirmwareStatusNotification": self.send_status}

    def attach(self, station: Station) -> None:
        self.updater.attach(station)
        assert self.charge_point is not None
        self._tasks.spawn(self.updater.verify_boot(self.charge_point.accepted), "firmware boot verification")

    async def close(self) -> None:
        await self.updater.close()
        await self._tasks.cancel()

    # ---- CSMS -> charge point ----------------------------------------------------------------

    async def update_firmware(self, payload: Payload) -> Payload | Reply:
        if not self.config.allow_unsigned:
            raise Refuse("NotSupported", "unsigned firmware updates are disabled; use SignedUpdateFirmware")
        try:
            Location.parse(payload["location"])
            retrieve_at = parse_time(payload["retrieveDate"])
        except (TransferError, ValueError) as exc:
            raise Refuse("PropertyConstraintViolation", str(exc)) from exc
        request = UpdateRequest(
            location=payload["location"],
            retrieve_at=retrieve_at,
            attempts=attempts(payload.get("retries"), extra_try=False),
            retry_interval_s=payload.get("retryInterval"),
        )
        if self.updater.answer() == "Rejected":
            log.warning("UpdateFirmware ignored: an install is under way")
            return {}
        return Reply({}, after=lambda: self._start(request))

    async def signed_update_firmware(self, payload: Payload) -> Payload | Reply:
        def read(p: Payload) -> UpdateRequest:
            roots = [*self.installed_roots(), *self.factory_roots]
            return firmware_update(p, roots, self.clock.now(), extra_try=False, allow_unsigned=False)

        return update_answer("SignedUpdateFirmware", payload, read, self.updater, self.report_event)

    async def _start(self, request: UpdateRequest) -> None:
        self.updater.start(request)

    # ---- charge point -> CSMS ----------------------------------------------------------------

    async def _report(self, status: FirmwareStatus, request_id: int | None, signed: bool) -> None:
        if signed:
            await self._send("SignedFirmwareStatusNotification", firmware_status(status, request_id))
        elif status in V16:
            await self._send("FirmwareStatusNotification", {"status": V16[status]})

    async def send_status(self) -> None:
        """TriggerMessage FirmwareStatusNotification."""
        await self._send("FirmwareStatusNotification", {"status": V16_NOW.get(self.updater.status, "Idle")})

    async def send_signed_status(self) -> None:
        """ExtendedTriggerMessage FirmwareStatusNotification (L01.FR.28/29)."""
        payload = triggered_firmware_status(self.updater.status, self.updater.request_id)
        await self._send("SignedFirmwareStatusNotification", payload)

    async def _send(self, action: str, payload: Payload) -> None:
        cp = self.charge_point
        assert cp is not None
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                async with asyncio.timeout(CONNECT_WAIT_S):
                    await cp.accepted.wait()
                    await cp.link.connected.wait()
                await cp.link.call(action, payload)
                return
            except (CallFailed, TimeoutError) as exc:
                log.warning("%s %s: attempt %d failed: %s", action, payload.get("status"), attempt, exc)
        log.error("%s %s not delivered", action, payload.get("status"))
