"""Firmware signatures: the signing certificate against the manufacturer roots, then the file.

Rules kept here (security whitepaper edition 3: 2.6 certificate hierarchy, L01.FR.04/12/23-25):
- The firmware signing certificate is PEM and issued directly by an installed
  ManufacturerRootCertificate (the whitepaper forbids intermediates); both must be within
  their validity period at ``now``; a key usage extension, when present, must allow
  digitalSignature. No root installed: every certificate is invalid.
- The signature is base64 over the whole file: RSA-PSS (MGF1-SHA256, any salt length) or
  ECDSA, both with SHA-256. The file is hashed in chunks, so its size does not matter.
- Base64 may come in RFC 2045 lines (CRLF or LF every 76 characters, as ``openssl base64``
  writes it): whitespace is skipped; any other character outside the alphabet is refused.
- Nothing here touches the network or the slots; callers decide what a failure means.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

CHUNK = 1 << 20


log = logging.getLogger(__name__)


class CertificateRejected(Exception):
    """The signing certificate cannot be trusted (InvalidCertificate)."""


class SignatureRejected(Exception):
    """The file does not match its signature (InvalidSignature)."""


def load_roots(path: Path | None) -> list[x509.Certificate]:
    """The manufacturer roots of ``[firmware] manufacturer_roots`` (a PEM file); none when unusable."""
    if path is None:
        return []
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        log.error("[firmware] manufacturer_roots %s unusable: %s", path, exc)
        return []


def check_signing_certificate(pem: str, roots: Sequence[x509.Certificate], now: datetime) -> x509.Certificate:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise CertificateRejected(f"signing certificate is not a PEM X.509 certificate: {exc}") from exc
    _within_validity(cert, now, "signing certificate")
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        raise CertificateRejected("signing certificate's key usage does not allow digital signatures")
    if not roots:
        raise CertificateRejected("no ManufacturerRootCertificate is installed")
    for root in roots:
        if root.subject != cert.issuer:
            continue
        try:
            cert.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            continue
        _within_validity(root, now, "manufacturer root")
        return cert
    raise CertificateRejected(f"signing certificate ({cert.subject.rfc4514_string()}) is not issued by an installed "
                              "ManufacturerRootCertificate")  # fmt: skip


def _within_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        valid = f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
        raise CertificateRejected(f"{what} valid {valid}, not at {now:%Y-%m-%d}")


def file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


def verify_file(path: Path, cert: x509.Certificate, signature_b64: str) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    try:
        signature = base64.b64decode("".join(signature_b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected("signature is not base64") from exc
    if not signature:
        raise SignatureRejected("signature is empty")
    digest, prehashed = file_digest(path), utils.Prehashed(hashes.SHA256())
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(signature, digest, pss, prehashed)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
        else:
            raise SignatureRejected(f"signing key type {type(key).__name__} not supported (RSA-PSS or ECDSA)")
    except InvalidSignature as exc:
        raise SignatureRejected("signature does not match the firmware file") from exc
