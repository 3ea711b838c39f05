"""One connected station as the bench CSMS sees it: what both OCPP versions share.

Rules kept here:
- ``Session`` is mixed in before a version's ``ChargePoint`` (``class V16Session(Session,
  ocpp.v16.ChargePoint)``): the handlers here build their answers from that version's
  ``call_result`` module, so a message both versions have with the same answer is written once.
- Faults are data: ``csms.fail_next[action] = n`` answers the next n CALLs of that action, of
  either version, with an InternalError CALLERROR before any handler runs (nothing recorded).
- SignCertificate is answered with ``config.sign_status``; with ``csms.signer`` set, an accepted
  one is followed by CertificateSigned with the CSR signed by that CA (2.0.1: with the
  certificateType asked for). The CALL goes out from a task the CSMS holds (an ``@on`` handler
  must not await a CALL), and its failure is logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ocpp.charge_point import ChargePoint
from ocpp.exceptions import InternalError
from ocpp.messages import Call
from ocpp.routing import after, on

from sim import pki

if TYPE_CHECKING:
    from sim.csms.server import Csms, Recording

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class UnknownAction(ValueError):
    """A CSMS -> station message the station's OCPP version does not have, or a payload that does
    not fit it: nothing was sent."""


class Session(ChargePoint):
    _call: ModuleType  # the version's call / call_result modules (set by ocpp.v16 / ocpp.v201)
    _call_result: ModuleType

    def __init__(self, cp_id: str, connection: Recording, csms: Csms):
        super().__init__(cp_id, connection)
        self.csms = csms

    async def _handle_call(self, msg: Call) -> Any:
        left = self.csms.fail_next.get(msg.action, 0)
        if left > 0:
            self.csms.fail_next[msg.action] = left - 1
            raise InternalError(description=f"injected failure of {msg.action}")
        return await super()._handle_call(msg)

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        cfg = self.csms.config
        return self._call_result.BootNotification(
            current_time=now_iso(), interval=cfg.heartbeat_interval, status=cfg.boot_status
        )

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return self._call_result.Heartbeat(current_time=now_iso())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return self._call_result.StatusNotification()

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return self._call_result.MeterValues()

    @on("DataTransfer")
    def on_data_transfer(self, **_: Any) -> Any:
        return self._call_result.DataTransfer(status="Accepted")

    @on("FirmwareStatusNotification")
    def on_firmware_status(self, **_: Any) -> Any:
        return self._call_result.FirmwareStatusNotification()

    @on("LogStatusNotification")
    def on_log_status(self, **_: Any) -> Any:
        return self._call_result.LogStatusNotification()

    @on("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> Any:
        return self._call_result.SecurityEventNotification()

    @on("SignCertificate")
    def on_sign_certificate(self, **_: Any) -> Any:
        return self._call_result.SignCertificate(status=self.csms.config.sign_status)

    @after("SignCertificate")
    def sign_csr(self, csr: str, certificate_type: str | None = None, **_: Any) -> None:
        if self.csms.signer is not None and self.csms.config.sign_status == "Accepted":
            self.csms.spawn(self._send_certificate(self.csms.signer, csr, certificate_type))

    async def _send_certificate(self, signer: pki.Issued, csr: str, certificate_type: str | None) -> None:
        chain = pki.pem(pki.sign_csr(signer, csr), signer.certificate)
        kind = {"certificate_type": certificate_type} if certificate_type else {}  # 2.0.1 only
        response = await self.call(self._call.CertificateSigned(certificate_chain=chain, **kind), suppress=False)
        log.info("CertificateSigned to %s: %s", self.id, response.status)
