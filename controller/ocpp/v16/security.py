"""The OCPP 1.6 security whitepaper (edition 3) as a front-end feature: security profiles,
Basic auth, TLS, certificates, security events. The version-neutral rules (profile changes and
their prerequisites, what TLS asks of an attempt) are controller/ocpp/security_profile.py's.

Rules kept here:
- Profiles (2.1-2.5): 0 none; 1 Basic auth over ws; 2 Basic auth over TLS; 3 TLS with a client
  certificate. Profiles 2-3 connect to ``tls_url`` (or ``url`` with ws:// made wss://); 0-1 to
  ``url``. Basic auth: user = charge point id, password = AuthorizationKey as written (its
  ASCII characters: the whitepaper's hex text, or the 16-40 character password many CSMSs set)
  or, with ``[ocpp] basic_auth = "hex-decoded"``, the 16-20 bytes its hex digits denote (OCPP-J
  1.6 6.2.2); in that mode a key that is not 32-40 hex digits is Rejected.
- SecurityProfile only rises (A05.FR.01) and only when its prerequisites hold (A05.FR.02-04):
  1-2 need an AuthorizationKey, 2-3 a CSMS root (installed or ``ca_file``), 3 a valid charge
  point certificate. Accepted -> the answer goes out, then the link reconnects with the new
  profile (A05.FR.06/07). The upgrade is confirmed by the first connection that opens; if the
  CSMS refuses the credentials or TLS, or ``UPGRADE_ATTEMPTS`` attempts fail, the previous
  profile is restored and a ReconfigurationOfSecurityParameters event says so (A05.FR.08). Kept
  in memory: a restart during an upgrade keeps the new profile.
- AuthorizationKey is write-only and lives in ``secrets/authorization_key`` (0600); changing it
  reconnects with the new password (A01), is logged without its value (A01.FR.11/12).
- Security events (chapter 8) go to the rolling security log; critical ones, and the first
  connection failure of each kind per outage (spelled as ``TLS_EVENTS``), are queued in the
  transaction journal (guaranteed, in order, A04.FR.02); others are sent only if online.
- Handlers: InstallCertificate, GetInstalledCertificateIds, DeleteCertificate, CertificateSigned,
  ExtendedTriggerMessage, and ChangeConfiguration (wrapping the configuration's own, to
  reconnect after SecurityProfile / AuthorizationKey changes once the answer is sent).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from controller.clock import WallClock, iso
from controller.ocpp.certificates import CertificateError, CertificateStore, Kind
from controller.ocpp.frontend import TimeSource
from controller.ocpp.journal import Journal
from controller.ocpp.link import CallFailed, Link, Reply
from controller.ocpp.security_log import SecurityLog
from controller.ocpp.security_profile import ConnectionSecurity, Trust, missing, trial_failed
from controller.ocpp.tls import TlsEvent
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.websocket import WebSocket
from controller.tasks import Tasks

if TYPE_CHECKING:
    import ssl

    from cryptography import x509

    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
UPGRADE_ATTEMPTS = 3  # failed attempts with a new profile before falling back
EVENT = "SecurityEventNotification"
HEX_KEY = re.compile(r"(?:[0-9A-Fa-f]{2}){16,20}")  # 16-20 bytes (whitepaper 7.2)
KINDS = {"CentralSystemRootCertificate": Kind.CSMS_ROOT, "ManufacturerRootCertificate": Kind.MANUFACTURER_ROOT}
TLS_EVENTS = {  # whitepaper chapter 8 spellings
    TlsEvent.INVALID_CSMS_CERTIFICATE: "InvalidCentralSystemCertificate",
    TlsEvent.CREDENTIALS_REFUSED: "FailedToAuthenticationAtCentralSystem",
    TlsEvent.INVALID_TLS_VERSION: "InvalidTLSVersion",
    TlsEvent.INVALID_TLS_CIPHER_SUITE: "InvalidTLSCipherSuite",
}


@dataclass(frozen=True)
class TlsSettings:
    url: str
    tls_url: str | None = None
    ca_file: Path | None = None
    insecure: bool = False
    basic_auth: str = "as-written"  # or "hex-decoded"


def endpoint(settings: TlsSettings, profile: int) -> str:
    """The CSMS URL (without the charge point id) for ``profile``."""
    if profile < 2:
        return settings.url
    if settings.tls_url:
        return settings.tls_url
    scheme, _, rest = settings.url.partition("://")
    return settings.url if scheme == "wss" else "wss://" + rest


def password(key: str, encoding: str) -> bytes:
    """The Basic auth password for AuthorizationKey ``key``; ValueError when it cannot be one."""
    if encoding != "hex-decoded":
        return key.encode("ascii")
    if not HEX_KEY.fullmatch(key):
        raise ValueError('[ocpp] basic_auth = "hex-decoded" needs an AuthorizationKey of 32-40 hex digits')
    return bytes.fromhex(key)


def basic_auth(charge_point_id: str, key: str, encoding: str) -> str:
    return "Basic " + base64.b64encode(charge_point_id.encode() + b":" + password(key, encoding)).decode()


class ChargePoint(Protocol):
    """What this feature needs of the 1.6 charge point (controller/ocpp/v16/frontend.py)."""

    accepted: asyncio.Event  # set once a BootNotification was Accepted

    async def trigger_message(self, payload: Payload) -> Payload | Reply: ...


class Security:
    def __init__(
        self,
        link: Link,
        keys: Configuration,
        journal: Journal,
        clock: WallClock,
        store: CertificateStore,
        security_log: SecurityLog,
        settings: TlsSettings,
        *,
        charge_point_id: str,
        serial_number: str,
        time_source: TimeSource | None = None,
    ):
        self.link, self.keys, self.journal, self.clock = link, keys, journal, clock
        self.store, self.security_log, self.settings = store, security_log, settings
        self.charge_point_id, self.serial_number = charge_point_id, serial_number
        self.charge_point: ChargePoint | None = None  # set by build_frontend (ExtendedTriggerMessage)
        # ExtendedTriggerMessage targets other features provide (FirmwareStatusNotification, ...).
        self.triggers: dict[str, Callable[[], Awaitable[None]]] = {}
        self._upgrade_from: int | None = None
        self._upgrade_failures = 0
        self._tasks = Tasks("ocpp security")
        self.connection = ConnectionSecurity(
            store, clock, Trust(settings.ca_file, settings.insecure), report=self._report_tls_event,
            connect_again=link.connect, time_source=time_source,
        )  # fmt: skip
        keys.guard("SecurityProfile", self._prerequisites)
        if "AuthorizationKey" in keys.keys:
            keys.guard("AuthorizationKey", lambda key: self._unusable(str(key)))
        link.additional_headers = self.headers
        link.ssl = self.ssl_context
        link.on_open = self.opened
        link.on_failure = self.failed
        self._point_link()

    # ---- Feature ------------------------------------------------------------------------

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {
            "ChangeConfiguration": self.change_configuration,
            "InstallCertificate": self.install_certificate,
            "GetInstalledCertificateIds": self.installed_certificate_ids,
            "DeleteCertificate": self.delete_certificate,
            "CertificateSigned": self.certificate_signed,
            "ExtendedTriggerMessage": self.extended_trigger,
        }

    def attach(self, station: Station) -> None:
        self._spawn(self.report_event("StartupOfTheDevice", None, critical=True), "security-startup")

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        self._tasks.spawn(coro, name)

    @property
    def profile(self) -> int:
        return self.keys.integer("SecurityProfile")

    def status_json(self) -> dict[str, Any]:
        identity = self.store.client_identity()
        return {
            "security": {
                "profile": self.profile,
                "upgrading_from": self._upgrade_from,
                "tls": self.link.url.startswith("wss://"),
                "insecure": self.settings.insecure,
                "client_certificate": identity[0].name if identity else None,
            }
        }

    # ---- connection ---------------------------------------------------------------------

    def _point_link(self) -> None:
        self.link.url = endpoint(self.settings, self.profile).rstrip("/") + "/" + self.charge_point_id

    def headers(self) -> dict[str, str]:
        key = self.keys.text("AuthorizationKey", unwired="")
        if self.profile in (1, 2) and key:
            try:
                return {"Authorization": basic_auth(self.charge_point_id, key, self.settings.basic_auth)}
            except ValueError as exc:  # a key stored before basic_auth was changed: say why we cannot connect
                raise ConnectionError(str(exc)) from None
        return {}

    def _unusable(self, key: str) -> str | None:
        """Why ``key`` cannot be the Basic auth password with this ``basic_auth`` (None: it can)."""
        try:
            password(key, self.settings.basic_auth)
        except ValueError as exc:
            return str(exc)
        return None

    def ssl_context(self) -> ssl.SSLContext | None:
        return self.connection.ssl_context(self.link.url, self.profile)

    def opened(self, ws: WebSocket) -> None:
        """Link hook: the websocket is open. Raises ConnectionError (only) to refuse it."""
        self.connection.opened(ws)
        if self._upgrade_from is not None:
            log.info("security profile %s confirmed by the CSMS (was %s)", self.profile, self._upgrade_from)
            self._upgrade_from = None

    def failed(self, exc: BaseException) -> str | None:
        """Link hook: an attempt failed; returns the reason to show. Never raises."""
        try:
            judged = self.connection.judge(exc, self.profile)
            if judged.counts and self._upgrade_from is not None:
                self._upgrade_failures += 1
                if trial_failed(judged.failure, self._upgrade_failures, UPGRADE_ATTEMPTS):
                    self._spawn(self._fall_back(judged.reason), "security-fallback")
            return judged.reason
        except Exception:
            log.exception("judging the failed CSMS connection failed")
            return None

    async def _report_tls_event(self, event: TlsEvent, reason: str) -> None:
        await self.report_event(TLS_EVENTS[event], reason, critical=True)

    async def _fall_back(self, reason: str) -> None:
        failed, previous = self.profile, self._upgrade_from
        if previous is None:
            return
        self._upgrade_from, self._upgrade_failures = None, 0
        await self.keys.change("SecurityProfile", str(previous), restore=True)
        self._point_link()
        log.error("security profile %s failed (%s): back to profile %s", failed, reason, previous)
        await self.report_event("ReconfigurationOfSecurityParameters",
                                f"SecurityProfile {failed} failed ({reason}); fell back to {previous}")  # fmt: skip
        self.link.connect()  # cut the backoff wait short

    def _prerequisites(self, value: object) -> str | None:
        assert isinstance(value, int)
        key = self.keys.text("AuthorizationKey", unwired="")
        password = "" if key and not self._unusable(key) else "set a usable AuthorizationKey"
        return missing(value, password=password, roots=self.connection.has_roots(),
                       client_certificate=self.store.client_identity() is not None)  # fmt: skip

    def trust_anchors(self) -> list[x509.Certificate]:
        return self.connection.trust_anchors()

    # ---- security events --------------------------------------------------------------------

    async def report_event(self, type: str, tech_info: str | None = None, critical: bool = True) -> None:
        """Log a security event; critical ones are queued with guaranteed delivery (A04)."""
        timestamp = iso(self.clock.now())
        tech = tech_info[:255] if tech_info else None
        self.security_log.append(timestamp, type, tech, critical)
        log.info("security event %s%s", type, f": {tech}" if tech else "")
        payload: Payload = {"type": type[:50], "timestamp": timestamp}
        if tech:
            payload["techInfo"] = tech
        if critical:
            await self.journal.enqueue(EVENT, payload)
            return
        cp = self.charge_point
        if cp is not None and cp.accepted.is_set() and self.link.connected.is_set():
            try:
                await self.link.call(EVENT, payload)
            except CallFailed as exc:
                log.info("SecurityEventNotification %s not sent: %s", type, exc)

    # ---- CSMS -> charge point -------------------------------------------------------------

    async def change_configuration(self, payload: Payload) -> Payload | Reply:
        name = self.keys.name_of(payload["key"])  # any letter case (CiString50Type)
        before = self.profile
        status = await self.keys.change(payload["key"], payload["value"])
        if status != "Accepted":
            return {"status": status}
        if name == "SecurityProfile":
            self._upgrade_from, self._upgrade_failures = before, 0
            change = f"SecurityProfile {before} -> {self.profile}"
            self._spawn(
                self.report_event("ReconfigurationOfSecurityParameters", change, critical=False), "security-event"
            )
            return Reply({"status": status}, after=self._switch_profile)
        if name == "AuthorizationKey":
            self._spawn(self.report_event("ReconfigurationOfSecurityParameters", "AuthorizationKey changed",
                                          critical=False), "security-event")  # fmt: skip
            if self.profile in (1, 2):
                return Reply({"status": status}, after=self.link.reconnect)
        return {"status": status}

    async def _switch_profile(self) -> None:
        self._point_link()
        log.info("security profile %s: reconnecting to %s", self.profile, self.link.url)
        await self.link.reconnect()

    async def install_certificate(self, payload: Payload) -> Payload:
        kind = KINDS.get(payload["certificateType"])
        if kind is None:
            return {"status": "Rejected"}
        status = await asyncio.to_thread(self.store.install, kind, payload["certificate"])
        return {"status": status}

    async def installed_certificate_ids(self, payload: Payload) -> Payload:
        kind = payload["certificateType"]
        found = await asyncio.to_thread(self.store.ids, KINDS.get(kind))
        if not found or kind not in KINDS:
            return {"status": "NotFound"}
        return {"status": "Accepted", "certificateHashData": [h.payload() for h in found]}

    async def delete_certificate(self, payload: Payload) -> Payload:
        return {"status": await asyncio.to_thread(self.store.delete, payload["certificateHashData"])}

    async def certificate_signed(self, payload: Payload) -> Payload | Reply:
        limit = self.keys.integer("CertificateSignedMaxChainSize")
        try:
            await asyncio.to_thread(self.store.accept_chain, payload["certificateChain"], self.trust_anchors(), limit)
        except (CertificateError, ValueError) as exc:
            log.warning("CertificateSigned rejected: %s", exc)
            self._spawn(self.report_event("InvalidChargePointCertificate", str(exc), critical=False), "security-event")
            return {"status": "Rejected"}
        if self.profile == 3:  # use the new certificate now (A02.FR.08)
            return Reply({"status": "Accepted"}, after=self.link.reconnect)
        return {"status": "Accepted"}

    async def extended_trigger(self, payload: Payload) -> Payload | Reply:
        requested = payload["requestedMessage"]
        if requested == "SignChargePointCertificate":
            if not self.keys.text("CpoName"):
                log.info("SignChargePointCertificate rejected: CpoName is not set")
                return {"status": "Rejected"}
            return Reply({"status": "Accepted"}, after=self.sign_certificate)
        if requested in self.triggers:
            return Reply({"status": "Accepted"}, after=self.triggers[requested])
        if requested in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification") and self.charge_point:
            return await self.charge_point.trigger_message(payload)
        return {"status": "NotImplemented"}

    async def sign_certificate(self) -> None:
        """SignCertificate.req with a CSR for a fresh key (A02/A03)."""
        csr = await asyncio.to_thread(self.store.create_csr, self.serial_number, self.keys.text("CpoName"))
        try:
            response = await self.link.call("SignCertificate", {"csr": csr})
        except CallFailed as exc:
            log.warning("SignCertificate failed: %s", exc)
            return
        log.info("SignCertificate %s", response["status"])

    async def close(self) -> None:
        await self.connection.close()
        await self._tasks.cancel()
