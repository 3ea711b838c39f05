"""TLS for the CSMS connection: the client context, and why a connection attempt failed.

Rules kept here (OCPP 1.6 security whitepaper 2.4/2.5; OCPP 2.0.1 A00 is the same):
- TLS 1.2 minimum, no compression, the server certificate is verified and its host name
  checked (SNI is sent by the ssl module from the URL's host). Trust: ``ca_file`` when
  configured, else the system store; plus every installed CentralSystemRootCertificate.
- ``insecure`` turns verification off for a bench; it is logged as an error at every
  connection attempt so nobody runs that way unknowingly. There is no other way to disable it.
- ``ignore_dates``: when NTP says the system clock is wrong and the process may not set it,
  OpenSSL (which only knows the system clock) skips the date check and ``check_dates`` checks
  the verified chain against the NTP-corrected time instead. Signatures, chain and host name
  are still checked by OpenSSL.
- A wildcard certificate (a ``*`` in a host name of its CN or subjectAltName) is refused where the
  version says so (``check_no_wildcard``; 2.0.1 errata 2.62 without AllowCSMSTLSWildcards).
- With the AdditionalRootCertificateCheck (``partial_chain``) a chain is trusted once it
  reaches any installed CSMS root, also one signed by another (2.0.1 RCV 2.2.6: the old root
  may expire or go while the new one it signed is still in use).
- ``classify`` turns an exception of a failed attempt into a reason for people (the API's
  ``last_error``), the security event it calls for by meaning (``TlsEvent``; whitepaper
  chapter 8, 2.0.1 appendix 1: each front end spells it), whether the
  server certificate failed on its dates only (the clock may be wrong), and whether the CSMS
  refused our credentials (401 / a TLS alert about our certificate). With TLS 1.3 the server
  judges the client certificate after the handshake, and asyncio reports its alert as a plain
  end of stream: a connection closed before the HTTP answer while we ``presented_certificate``
  counts as the certificate refused.
"""

from __future__ import annotations

import _ssl
import logging
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from controller.ocpp.websocket import HandshakeClosed, HandshakeRefused

if TYPE_CHECKING:
    from cryptography import x509

log = logging.getLogger(__name__)

NO_CHECK_TIME = 0x200000  # OpenSSL X509_V_FLAG_NO_CHECK_TIME (not named by the ssl module)
PARTIAL_CHAIN = 0x80000  # OpenSSL X509_V_FLAG_PARTIAL_CHAIN
CERT_NOT_YET_VALID, CERT_HAS_EXPIRED = 9, 10  # OpenSSL X509_V_ERR_* verify codes
_DATE_CODES = frozenset({CERT_NOT_YET_VALID, CERT_HAS_EXPIRED})


class TlsEvent(StrEnum):
    """A security event a failed connection calls for, by meaning (the spellings differ per version)."""

    INVALID_CSMS_CERTIFICATE = "invalid-csms-certificate"
    CREDENTIALS_REFUSED = "credentials-refused"
    INVALID_TLS_VERSION = "invalid-tls-version"
    INVALID_TLS_CIPHER_SUITE = "invalid-tls-cipher-suite"


class CertificateDatesRejected(ConnectionError):
    """The server certificate chain is outside its validity at the NTP-corrected time."""


class WildcardRejected(ConnectionError):
    """The CSMS presented a wildcard certificate and wildcards are not allowed (2.0.1 errata 2.62)."""


def client_context(
    *,
    ca_file: Path | None,
    roots: Iterable[x509.Certificate] = (),
    identity: tuple[Path, Path] | None = None,
    insecure: bool = False,
    ignore_dates: bool = False,
    partial_chain: bool = False,
) -> ssl.SSLContext:
    from cryptography.hazmat.primitives import serialization

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    if insecure:
        log.error("TLS server verification is OFF ([ocpp] insecure = true): for a bench only, never in the field")
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        if ca_file is not None:
            context.load_verify_locations(cafile=str(ca_file))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        pems = "".join(r.public_bytes(serialization.Encoding.PEM).decode() for r in roots)
        if pems:
            context.load_verify_locations(cadata=pems)
        if ignore_dates:
            context.verify_flags |= NO_CHECK_TIME
        if partial_chain:
            context.verify_flags |= PARTIAL_CHAIN
    if identity is not None:
        context.load_cert_chain(certfile=str(identity[0]), keyfile=str(identity[1]))
    return context


def verified_chain(ssl_object: ssl.SSLObject) -> list[x509.Certificate]:
    """The chain OpenSSL verified, leaf first (empty without verification)."""
    from cryptography import x509

    getter = getattr(ssl_object, "get_verified_chain", None)  # public from Python 3.13
    if getter is None:
        getter = getattr(getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
    if getter is None:
        leaf = ssl_object.getpeercert(binary_form=True)
        return [x509.load_der_x509_certificate(leaf)] if leaf else []
    return [x509.load_der_x509_certificate(c.public_bytes(_ssl.ENCODING_DER)) for c in getter() or ()]


def check_dates(chain: Iterable[x509.Certificate], now: datetime) -> None:
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise CertificateDatesRejected(
                f"server certificate {certificate.subject.rfc4514_string()} is valid "
                f"{certificate.not_valid_before_utc.isoformat()}..{certificate.not_valid_after_utc.isoformat()}, "
                f"not at {now.isoformat(timespec='seconds')} (NTP time)"
            )


def check_no_wildcard(leaf: x509.Certificate) -> None:
    """Refuse a server certificate naming its host with a wildcard, in its CN or subjectAltName."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        names += leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    except x509.ExtensionNotFound:
        pass
    wild = [n for n in names if "*" in n]
    if wild:
        raise WildcardRejected(f"server certificate {leaf.subject.rfc4514_string()} names wildcard hosts {wild}")


@dataclass(frozen=True)
class Failure:
    reason: str
    event: TlsEvent | None = None  # the security event to report
    dates_only: bool = False  # the server certificate failed on validity dates alone
    credentials_refused: bool = False  # the CSMS refused our Basic auth or client certificate


def classify(exc: BaseException, presented_certificate: bool = False) -> Failure:
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        return Failure(f"server certificate rejected: {why}", TlsEvent.INVALID_CSMS_CERTIFICATE,
                       dates_only=exc.verify_code in _DATE_CODES)  # fmt: skip
    if isinstance(exc, WildcardRejected):
        return Failure(str(exc), TlsEvent.INVALID_CSMS_CERTIFICATE)
    if isinstance(exc, CertificateDatesRejected):
        return Failure(str(exc), TlsEvent.INVALID_CSMS_CERTIFICATE, dates_only=True)
    if isinstance(exc, HandshakeRefused):
        code = exc.status_code
        if code in (401, 403):
            return Failure(f"HTTP {code}: the CSMS refused our credentials (Basic auth / client certificate)",
                           TlsEvent.CREDENTIALS_REFUSED, credentials_refused=True)  # fmt: skip
        return Failure(f"HTTP {code}: the CSMS refused the websocket upgrade")
    if presented_certificate and isinstance(exc, HandshakeClosed):
        return Failure("the CSMS closed the connection after the TLS handshake: it refused our client certificate",
                           TlsEvent.CREDENTIALS_REFUSED, credentials_refused=True)  # fmt: skip
    if isinstance(exc, ssl.SSLError):
        text = f"{exc.reason or ''} {exc}".upper()
        if any(k in text for k in ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN",
                                   "CERTIFICATE_EXPIRED", "ACCESS_DENIED")):  # fmt: skip
            return Failure(f"the CSMS refused our TLS client certificate ({exc.reason})",
                           TlsEvent.CREDENTIALS_REFUSED, credentials_refused=True)  # fmt: skip
        if any(k in text for k in ("UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE")):
            return Failure(f"the CSMS offers no TLS version >= 1.2 ({exc.reason})", TlsEvent.INVALID_TLS_VERSION)
        if any(k in text for k in ("NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE")):
            return Failure(f"no acceptable TLS cipher suite in common ({exc.reason})",
                           TlsEvent.INVALID_TLS_CIPHER_SUITE)  # fmt: skip
        if "WRONG_VERSION_NUMBER" in text or "RECORD_LAYER" in text:
            return Failure(f"the CSMS did not answer with TLS (a plain ws:// server?) ({exc.reason})")
        return Failure(f"TLS failed: {exc.reason or exc}")
    return Failure(f"{type(exc).__name__}: {exc}")
