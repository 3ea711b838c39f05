"""Security events (part 2 A04, appendix 1): every event goes to the security log; the critical
ones are also queued for the CSMS as SecurityEventNotification.

Rules kept here:
- ``CRITICAL`` is appendix 1's column "Critical"; an event not in the table is logged only.
- A critical event is journaled (committed before anything is sent, delivered in order once
  the registration is Accepted, never lost offline or across a restart); the journal treats
  it as a message that is not transaction-related.
- techInfo is cut to 255 characters and carries reasons, never secrets.
- The station reports StartupOfTheDevice at every start; a reset reports ResetOrReboot before
  the restart (reset.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from controller.clock import iso
from controller.ocpp.journal import Journal
from controller.ocpp.security_log import SecurityLog

log = logging.getLogger(__name__)

ACTION = "SecurityEventNotification"
CRITICAL = frozenset({
    "FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot", "SecurityLogWasCleared",
    "MemoryExhaustion", "TamperDetectionActivated", "InvalidFirmwareSignature", "InvalidFirmwareSigningCertificate",
    "InvalidCsmsCertificate", "InvalidChargingStationCertificate", "InvalidTLSVersion", "InvalidTLSCipherSuite",
    "MaintenanceLoginAccepted", "MaintenanceLoginFailed",
})  # fmt: skip


class SecurityEvents:
    def __init__(self, journal: Journal, security_log: SecurityLog, now: Callable[[], datetime]):
        self.journal, self.security_log, self.now = journal, security_log, now

    async def report(self, kind: str, tech_info: str | None = None) -> None:
        timestamp = iso(self.now())
        tech = tech_info[:255] if tech_info else None
        critical = kind in CRITICAL
        self.security_log.append(timestamp, kind, tech, critical)
        log.info("security event %s%s", kind, f": {tech}" if tech else "")
        if critical:
            payload = {"type": kind[:50], "timestamp": timestamp} | ({"techInfo": tech} if tech else {})
            await self.journal.enqueue(ACTION, payload)
