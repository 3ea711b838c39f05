"""The OCPP 1.6 Firmware Management profile as built for the daemon: firmware updates
(firmware.py) and diagnostics uploads (diagnostics.py), wired to the security features.

Rules kept here:
- Both features are built whenever OCPP is: unsigned updates stay refused unless
  ``[firmware] allow_unsigned``, signed ones need a manufacturer root.
- Security events go through the security feature (its log, its queue); FirmwareUpdated and
  failed installs are critical (guaranteed delivery), the signature/certificate ones are not
  (whitepaper chapter 8).
- A finished install resets the station through the core (controller/firmware/updater.py).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from controller import __version__
from controller.ocpp.v16.diagnostics import Diagnostics
from controller.ocpp.v16.firmware import FirmwareManagement

if TYPE_CHECKING:
    from controller.clock import WallClock
    from controller.config import Config
    from controller.ocpp.certificates import CertificateStore
    from controller.ocpp.v16.frontend import ChargePoint
    from controller.ocpp.v16.security import Security

log = logging.getLogger(__name__)

CRITICAL_EVENTS = frozenset({"FirmwareUpdated", "FirmwareInstallationFailed"})


Features = tuple[FirmwareManagement, Diagnostics]


def build(config: Config, clock: WallClock, certificates: CertificateStore, security: Security,
          charge_point_id: str) -> Features:  # fmt: skip
    async def report_event(kind: str, tech_info: str | None) -> None:
        await security.report_event(kind, tech_info, critical=kind in CRITICAL_EVENTS)

    state_dir = config.storage.state_dir
    firmware = FirmwareManagement(
        config.firmware, state_dir, clock, __version__,
        installed_roots=lambda: certificates.certificates("ManufacturerRootCertificate"),
        report_event=report_event,
    )  # fmt: skip
    diagnostics = Diagnostics(config.diagnostics, state_dir, clock, effective_config=config.effective,
                              version=__version__, charge_point_id=charge_point_id)  # fmt: skip
    return firmware, diagnostics


def bind(features: Features, charge_point: ChargePoint, security: Security) -> None:
    firmware, diagnostics = features
    for feature in features:
        feature.charge_point = charge_point
    # ExtendedTriggerMessage (security whitepaper) asks for the whitepaper messages.
    security.triggers["FirmwareStatusNotification"] = firmware.send_signed_status
    security.triggers["LogStatusNotification"] = diagnostics.send_log_status
