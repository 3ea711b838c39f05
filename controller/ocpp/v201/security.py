"""Certificates and the station's own identity (part 2 A01-A03, M03-M05; errata 2025-09 2.8, 2.9):
InstallCertificate, GetInstalledCertificateIds, DeleteCertificate, SignCertificate (on the CSMS's
request and before the client certificate expires), CertificateSigned, and what a new
BasicAuthPassword does. The store and its rules are controller/ocpp/certificates.py's.

Rules kept here:
- Kinds are spelled the 2.0.1 way (``KINDS``); hash data is SHA256 (A00.FR.506).
  V2GCertificateChain lists nothing: the station speaks no ISO 15118 and holds no V2G
  certificate, and a CertificateSigned for a V2GCertificate is Rejected.
- Nothing that changes what the station trusts or who it is goes over an unsecured connection
  (security profile 1, ws://): InstallCertificate and CertificateSigned are Rejected,
  DeleteCertificate Failed, TriggerMessage SignChargingStationCertificate Rejected, each with
  statusInfo UnsupportedRequest saying why (the lists are answered).
- InstallCertificate: Accepted / Rejected / Failed as the store decides (M05); Accepted is
  logged as ReconfigurationOfSecurityParameters. GetInstalledCertificateIds: Accepted with every
  root of the kinds asked for (all without certificateType), NotFound when there is none
  (M03.FR.02). DeleteCertificate: Accepted / NotFound / Failed as the store decides (the
  station's client certificate and the CSMS root in use are Failed, M04.FR.03/06).
- SignCertificate (A02.FR.02/03, A03.FR.02/03): a fresh key that never leaves the station, a CSR
  with CN the serial number and O SecurityCtrlr.OrganizationName, certificateType
  ChargingStationCertificate; without an OrganizationName there is none (TriggerMessage
  Rejected). Accepted: the same CSR again after CertSigningWaitMinimum, the wait doubled each
  time, at most CertSigningRepeatTimes doublings (A02.FR.17-19, part 5 AS-3), until a
  CertificateSigned arrives; a Rejected answer ends it (TC_A_15).
- A03: after each Accepted boot and then every ``CHECK_EVERY``, a client certificate that expires
  within ``RENEW_BEFORE`` gets a SignCertificate.
- CertificateSigned (A02.FR.06-08, errata 2.9): the chain at most MaxCertificateChainSize
  characters, the leaf for the key of the pending CSR, every certificate signed by the next and
  the last by a CSMS root, each valid now -> Accepted, and with profile 3 the station reconnects
  with it once the answer is out; else Rejected and InvalidChargingStationCertificate (A02.FR.07).
- A new BasicAuthPassword (A01) is logged without its value (A01.FR.11/12) and, when the
  connection uses profile 1 or 2, the station reconnects with it once the SetVariables response
  is out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from controller.ocpp.certificates import CertificateError, CertificateStore, Kind
from controller.ocpp.link import CallFailed, Link, Reply
from controller.tasks import Tasks

if TYPE_CHECKING:
    from controller.ocpp.v201.configuration import Configuration
    from controller.ocpp.v201.connectivity import Connectivity
    from controller.ocpp.v201.device_model import Write

log = logging.getLogger(__name__)

Payload = dict[str, Any]
KINDS = {"CSMSRootCertificate": Kind.CSMS_ROOT, "ManufacturerRootCertificate": Kind.MANUFACTURER_ROOT,
         "V2GRootCertificate": Kind.V2G_ROOT, "MORootCertificate": Kind.MO_ROOT}  # fmt: skip
SPELLING = {kind: name for name, kind in KINDS.items()}
CHARGING_STATION_CERTIFICATE = "ChargingStationCertificate"
ORGANIZATION = "SecurityCtrlr.OrganizationName"
CHAIN_SIZE = "SecurityCtrlr.MaxCertificateChainSize"
WAIT_MINIMUM = "SecurityCtrlr.CertSigningWaitMinimum"
REPEAT_TIMES = "SecurityCtrlr.CertSigningRepeatTimes"
RENEW_BEFORE = timedelta(days=30)  # A03.FR.02: "will expire in one month"
CHECK_EVERY = timedelta(hours=12)
UNSECURED = {"reasonCode": "UnsupportedRequest",
             "additionalInfo": "not over an unsecured connection (security profile 1)"}  # fmt: skip
Report = Callable[[str, str | None], Awaitable[None]]


class Security:
    def __init__(
        self,
        link: Link,
        store: CertificateStore,
        configuration: Configuration,
        connectivity: Connectivity,
        report: Report,
        *,
        serial_number: str,
        now: Callable[[], datetime],
    ):
        self.link, self.store, self.configuration, self.connectivity = link, store, configuration, connectivity
        self.report, self.serial_number, self.now = report, serial_number, now
        self._signing: asyncio.Task[None] | None = None
        self._tasks = Tasks("ocpp 2.0.1 security")

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {
            "InstallCertificate": self.install_certificate,
            "GetInstalledCertificateIds": self.installed_certificate_ids,
            "DeleteCertificate": self.delete_certificate,
            "CertificateSigned": self.certificate_signed,
        }

    def bind(self) -> None:
        model = self.configuration.model
        model.on_change("basic_auth_password", self._password_changed)
        model.read_at_use("organization_name")
        if "cert_signing_retry" in model.effects():
            model.read_at_use("cert_signing_retry")

    def _unsecured(self) -> bool:
        return self.connectivity.connected_profile == 1

    # ---- roots (M03-M05) ----------------------------------------------------------------

    async def install_certificate(self, payload: Payload) -> Payload:
        if self._unsecured():
            return {"status": "Rejected", "statusInfo": UNSECURED}
        kind = KINDS[payload["certificateType"]]
        status = await asyncio.to_thread(self.store.install, kind, payload["certificate"])
        if status == "Accepted":
            await self.report("ReconfigurationOfSecurityParameters", f"{payload['certificateType']} installed")
        return {"status": status}

    async def installed_certificate_ids(self, payload: Payload) -> Payload:
        asked = payload.get("certificateType") or list(KINDS)
        kinds = [KINDS[name] for name in asked if name in KINDS]  # V2GCertificateChain: none held
        found = await asyncio.to_thread(self.store.ids_by_kind, kinds)
        if not found:
            return {"status": "NotFound"}
        chain = [{"certificateType": SPELLING[kind], "certificateHashData": ids.payload()} for kind, ids in found]
        return {"status": "Accepted", "certificateHashDataChain": chain}

    async def delete_certificate(self, payload: Payload) -> Payload:
        if self._unsecured():
            return {"status": "Failed", "statusInfo": UNSECURED}
        status = await asyncio.to_thread(self.store.delete, payload["certificateHashData"])
        if status == "Accepted":
            await self.report("ReconfigurationOfSecurityParameters",
                              f"certificate {payload['certificateHashData']['serialNumber']} deleted")  # fmt: skip
        return {"status": status}

    # ---- the station's own certificate (A02, A03) ----------------------------------------

    def sign_offer(self, _evse: Payload | None) -> Callable[[], Awaitable[None]] | None:
        """TriggerMessage SignChargingStationCertificate: the work, or None (Rejected)."""
        if self._unsecured() or not self.configuration.value(ORGANIZATION):
            log.info("SignChargingStationCertificate rejected: %s",
                     "unsecured connection" if self._unsecured() else "OrganizationName is not set")  # fmt: skip
            return None
        return self.sign_certificate

    async def sign_certificate(self) -> None:
        """A new key and its CSR to the CSMS, resent until a certificate comes (A02.FR.17-19)."""
        if self._signing is not None:
            self._signing.cancel()
        organization = str(self.configuration.value(ORGANIZATION))
        csr = await asyncio.to_thread(self.store.create_csr, self.serial_number, organization)
        self._signing = self._tasks.spawn(self._request_signing(csr), "ocpp201-sign-certificate")

    def _retry(self) -> tuple[int, int]:
        """(CertSigningWaitMinimum, CertSigningRepeatTimes); without AS-3 declared: no resend."""
        if REPEAT_TIMES not in self.configuration.model.inventory:
            return 0, -1
        return self.configuration.number(WAIT_MINIMUM), self.configuration.number(REPEAT_TIMES)

    async def _request_signing(self, csr: str) -> None:
        wait, repeat = self._retry()
        for attempt in range(repeat + 2):
            payload = {"csr": csr, "certificateType": CHARGING_STATION_CERTIFICATE}
            try:
                response = await self.link.call("SignCertificate", payload)
            except CallFailed as exc:
                log.warning("SignCertificate failed: %s", exc)
                return
            if response["status"] != "Accepted":
                log.warning("SignCertificate %s by the CSMS", response["status"])
                return
            if attempt == repeat + 1:
                log.warning("no CertificateSigned after %d SignCertificate requests; waiting for a TriggerMessage",
                            attempt + 1)  # fmt: skip
                return
            await asyncio.sleep(wait * 2**attempt)
            log.info("no CertificateSigned within %d s: SignCertificate again", wait * 2**attempt)

    async def watch_expiry(self, accepted: asyncio.Event) -> None:
        """A03: renew the client certificate before it expires."""
        while True:
            await accepted.wait()
            leaf = await asyncio.to_thread(self.store.client_certificate)
            expires = leaf.not_valid_after_utc if leaf is not None else None
            due = expires is not None and expires - self.now() < RENEW_BEFORE
            idle = self._signing is None or self._signing.done()
            if due and idle and self.configuration.value(ORGANIZATION):
                log.warning("the client certificate expires %s: requesting a new one", expires)
                await self.sign_certificate()
            await asyncio.sleep(CHECK_EVERY.total_seconds())

    async def certificate_signed(self, payload: Payload) -> Payload | Reply:
        if self._signing is not None:  # a certificate came: no more resends (A02.FR.17)
            self._signing.cancel()
            self._signing = None
        if self._unsecured():
            return {"status": "Rejected", "statusInfo": UNSECURED}
        kind = payload.get("certificateType", CHARGING_STATION_CERTIFICATE)
        try:
            if kind != CHARGING_STATION_CERTIFICATE:
                raise CertificateError(f"{kind}: this station holds no ISO 15118 certificate")
            await asyncio.to_thread(self.store.accept_chain, payload["certificateChain"],
                                    self.connectivity.connection.trust_anchors(),
                                    self.configuration.number(CHAIN_SIZE))  # fmt: skip
        except (CertificateError, ValueError) as exc:
            log.warning("CertificateSigned rejected: %s", exc)
            await self.report("InvalidChargingStationCertificate", str(exc))
            return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidCertificate",
                                                         "additionalInfo": str(exc)[:512]}}  # fmt: skip
        await self.report("ReconfigurationOfSecurityParameters", "client certificate renewed")
        if self.connectivity.connected_profile == 3:  # A02.FR.08: use it now
            return Reply({"status": "Accepted"}, after=self.link.reconnect)
        return {"status": "Accepted"}

    # ---- A01 ----------------------------------------------------------------------------

    def _password_changed(self, _write: Write) -> None:
        self._tasks.spawn(self.report("ReconfigurationOfSecurityParameters", "BasicAuthPassword changed"),
                          "ocpp201-password-event")  # fmt: skip
        if self.connectivity.connected_profile in (1, 2):
            self.configuration.after_response(self.link.reconnect)

    async def close(self) -> None:
        await self._tasks.cancel()
