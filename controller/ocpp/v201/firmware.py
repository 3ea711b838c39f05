"""Firmware management (part 2 L01, L02): UpdateFirmware into the station's one updater
(controller/firmware/updater.py), and a FirmwareStatusNotification for each of its steps.

Rules kept here:
- UpdateFirmware is read as both versions read it (controller/ocpp/file_requests.py; 2.0.1's
  ``retries`` are retries after the first try): an untrusted signing certificate is
  InvalidCertificate with the security event InvalidFirmwareSigningCertificate (L01.FR.02/22);
  without certificate and signature it is a non-secure update (L02), only with ``[firmware]
  allow_unsigned``, else Rejected. Then Accepted; AcceptedCanceled when it cancels an update
  that has not begun installing (L01.FR.24); Rejected while one installs (L01.FR.27).
- Every status the updater reaches is a FirmwareStatusNotification with the requestId
  (L01.FR.01/10), queued in the journal: committed before the next step, delivered in order,
  never lost offline or across the install's restart (InstallRebooting goes out before it,
  Installed once the new release's BootNotification was Accepted).
- TriggerMessage FirmwareStatusNotification: the last status, Idle after Installed or when
  none ran (L01.FR.25/26), sent right after the response.
- An install waits for the running transactions and reports InstallScheduled meanwhile
  (L01.FR.34); ChargingStation.AllowNewSessionsPendingFirmwareUpdate, read when that wait
  begins, keeps idle EVSEs available until the last transaction ended (L01.FR.07).
- The install's restart stores the boot reason FirmwareUpdate first (B01.FR.09) and gives the
  queue a moment to deliver InstallRebooting.
- Trusted signers: the installed ManufacturerRootCertificates and those of ``[firmware]
  manufacturer_roots`` (a file provisioned at the factory, read at each request).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509
from controller.clock import WallClock
from controller.firmware import FirmwareConfig
from controller.firmware.signature import load_roots
from controller.firmware.update import FirmwareStatus
from controller.firmware.updater import SecurityEvent, Updater, UpdateRequest
from controller.ocpp.file_requests import firmware_status, firmware_update, triggered_firmware_status, update_answer
from controller.ocpp.journal import Journal
from controller.ocpp.link import CallFailed, Link, Reply
from controller.ocpp.v201.enums import BootReasonEnumType as BootReason
from controller.ocpp.v201.registration import BootReasons
from controller.ocpp.v201.reset import drain

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ACTION = "FirmwareStatusNotification"


class Firmware:
    def __init__(self, config: FirmwareConfig, state_dir: Path, clock: WallClock, version: str, *, link: Link,
                 journal: Journal, reasons: BootReasons, security_event: SecurityEvent,
                 installed_roots: Callable[[], list[x509.Certificate]],
                 allow_new_sessions: Callable[[], bool]):  # fmt: skip
        self.config, self.clock, self.link, self.journal, self.reasons = config, clock, link, journal, reasons
        self.security_event, self.installed_roots = security_event, installed_roots
        self.updater = Updater(config, state_dir, clock, version, report=self._report, security_event=security_event,
                               settle=self._settle, allow_new_sessions=allow_new_sessions,
                               announce_wait=True)  # fmt: skip

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"UpdateFirmware": self.update_firmware}

    async def update_firmware(self, payload: Payload) -> Payload | Reply:
        def read(p: Payload) -> UpdateRequest:
            roots = [*self.installed_roots(), *load_roots(self.config.manufacturer_roots)]
            return firmware_update(
                p, roots, self.clock.now(), extra_try=True, allow_unsigned=self.config.allow_unsigned
            )

        return update_answer("UpdateFirmware", payload, read, self.updater, self.security_event)

    async def _report(self, status: FirmwareStatus, request_id: int | None, _signed: bool) -> None:
        await self.journal.enqueue(ACTION, firmware_status(status, request_id))

    async def _settle(self) -> None:
        await self.reasons.set(BootReason.firmware_update)
        await drain(self.journal)

    async def send_triggered(self) -> None:
        """TriggerMessage FirmwareStatusNotification (F06, L01.FR.25/26)."""
        payload = triggered_firmware_status(self.updater.status, self.updater.request_id)
        try:
            await self.link.call(ACTION, payload)
        except CallFailed as exc:
            log.info("triggered %s not sent: %s", ACTION, exc)
