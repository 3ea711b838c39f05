"""A bench public-key infrastructure: CAs, server and client certificates, CSR signing.

Rules kept here:
- Everything is generated in memory with ``cryptography``; ``Issued.write`` puts a certificate
  and its key on disk, the key with mode 0600.
- Keys are ECDSA P-256 (fast to generate, allowed by the 1.6 security whitepaper A00.FR.503);
  signatures SHA-256 (A00.FR.506).
- Certificates carry what OCPP and Python's TLS stack look at: O and CN in the subject
  (A00.FR.509-511), BasicConstraints, KeyUsage, ExtendedKeyUsage, subject / authority key ids,
  and for servers a subjectAltName (Python matches host names against it only).
- Validity is explicit (``not_before`` / ``not_after``) so tests can make expired and
  not-yet-valid certificates.
Used by the bench CSMS (``evsed sim --tls``) and by the tests.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def write(self, directory: Path, name: str, chain: tuple[Issued, ...] = ()) -> tuple[Path, Path]:
        """``name.pem`` (the certificate, then ``chain``) and ``name.key`` (mode 0600)."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_text(self.cert_pem + "".join(c.cert_pem for c in chain))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.key_pem)
        return cert_path, key_path


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _window(not_before: datetime | None, not_after: datetime | None, days: float) -> tuple[datetime, datetime]:
    start = not_before or datetime.now(UTC) - DAY
    return start, not_after or start + DAY * days


def _build(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: Issued | None,
    signing_key: PrivateKey,
    window: tuple[datetime, datetime],
    *,
    ca: bool,
    usage: list[x509.ObjectIdentifier],
    hostnames: tuple[str, ...] = (),
) -> x509.Certificate:
    issuer_name = issuer.certificate.subject if issuer else subject
    issuer_public = issuer.certificate.public_key() if issuer else public_key
    if not isinstance(issuer_public, ec.EllipticCurvePublicKey):
        raise TypeError("the bench PKI's certificates carry EC keys")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(window[0])
        .not_valid_after(window[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False)
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if hostnames:
        names: list[x509.GeneralName] = []
        for host in hostnames:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def authority(
    common_name: str = "evsed bench root CA",
    organization: str = "evsed bench",
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A root CA (``issuer`` None) or a sub-CA signed by ``issuer``."""
    key = key or new_key()
    signer = issuer.key if issuer else key
    cert = _build(_name(common_name, organization), key.public_key(), issuer, signer,
                  _window(not_before, not_after, 3650), ca=True, usage=[])  # fmt: skip
    return Issued(cert, key)


def server(
    issuer: Issued,
    hostnames: tuple[str, ...] = ("localhost", "127.0.0.1"),
    *,
    organization: str = "evsed bench",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A CSMS (TLS server) certificate: CN and subjectAltName = the host names."""
    key = new_key()
    cert = _build(_name(hostnames[0], organization), key.public_key(), issuer, issuer.key,
                  _window(not_before, not_after, 365), ca=False, usage=[ExtendedKeyUsageOID.SERVER_AUTH],
                  hostnames=hostnames)  # fmt: skip
    return Issued(cert, key)


def client(
    issuer: Issued,
    serial_number: str,
    *,
    organization: str = "evsed bench",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Issued:
    """A charge point (TLS client) certificate: CN = the charge point's serial number, O = the CPO."""
    key = new_key()
    cert = _build(_name(serial_number, organization), key.public_key(), issuer, issuer.key,
                  _window(not_before, not_after, 365), ca=False, usage=[ExtendedKeyUsageOID.CLIENT_AUTH])  # fmt: skip
    return Issued(cert, key)


def sign_csr(
    issuer: Issued, csr_pem: str, *, days: float = 365, not_before: datetime | None = None
) -> x509.Certificate:
    """What a CPO's CA does with SignCertificate.req: a client certificate for the CSR's key and subject."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    if not csr.is_signature_valid:
        raise ValueError("CSR signature is not valid")
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ValueError("the bench CA signs EC keys only")
    return _build(csr.subject, public_key, issuer, issuer.key, _window(not_before, None, days), ca=False,
                  usage=[ExtendedKeyUsageOID.CLIENT_AUTH])  # fmt: skip


def pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)
