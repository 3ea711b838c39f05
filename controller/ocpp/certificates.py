"""The station's certificates: CSMS, manufacturer, V2G and MO roots, and its own TLS client
certificate, for both OCPP versions.

Rules kept here (OCPP 1.6 security whitepaper edition 3: 2.6, A02/A03, M03-M05; OCPP 2.0.1 part 2
A02/A03, M03-M05 and the 2025-09 errata):
- ``Kind`` names a kind of root by meaning; each front end has its own spelling table (1.6
  CentralSystemRootCertificate, 2.0.1 CSMSRootCertificate). Roots live as PEM files, one per
  certificate, in ``<dir>/<kind>/<sha256>.pem`` (the folder names are the 1.6 spellings the
  store has always used). At most ``max_length`` of them in all (CertificateStoreMaxLength,
  CertificateEntries; M05.FR.03 / 2.0.1 M05.FR.06).
- InstallCertificate: one PEM X.509 CA certificate, self-signature valid when self-issued, key
  strong enough (RSA >= 2048 bits, EC >= 224, A00.FR.501-503), not expired by the station
  clock -> Accepted; anything else -> Rejected (M05.FR.06); a disk failure -> Failed
  (M05.FR.04). Installing one already there is Accepted and changes nothing.
- AdditionalRootCertificateCheck (M05.FR.08-13): a new CSMS root must be signed by the one it
  replaces; the old one stays as a fallback (still trusted) until ``confirm_root()`` after a
  connection validated with the new root.
- Hash data (certificateHashData) follows OCSP (RFC 6960 CertID): hash of the DER issuer name
  of the certificate and of the issuer's subjectPublicKey bits; for a root that is its own key,
  for a sub-CA the installed certificate that issued it, else its own key (documented fallback).
  Serial number in hex without leading zeros. Matching is case-insensitive (CiString).
- DeleteCertificate never touches the charge point certificate: a hash naming it is Failed
  (1.6 M04.FR.05, 2.0.1 M04.FR.06); it refuses (Failed) a CSMS root validating the current
  connection (``in_use``, 1.6 M04.FR.06, 2.0.1 M04.FR.03). A hash algorithm the station does
  not know matches nothing (NotFound).
- Charge point certificate (profile 3): ``create_csr`` makes a fresh EC P-256 key (stored 0600
  as ``pending.key``, it never leaves the station, A02.FR.05) and a CSR with CN = the serial
  number and O = CpoName (A02.FR.13). ``accept_chain`` checks the signed chain: PEM, the leaf's
  key is the pending key, each certificate signed by the next, the last by a trusted CSMS root
  (the CPO hierarchy), every one within its validity at the station clock, at most
  CertificateSignedMaxChainSize characters (A02.FR.06). Accepted chains are kept next to
  their keys; ``client_identity`` picks the one installed last among those valid now
  (A02.FR.08; 1.6 A02.FR.09 "newest" read as the newest installed).
  ``keep_only_client`` discards every other one once a connection worked with it, and
  ``discard_client`` drops one that did not work (2.0.1 errata A02.FR.10/28).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography (8 MB resident) is imported by the functions that use it
    from cryptography import x509

from controller.secret_files import read_secret, remove_secret, write_secret

log = logging.getLogger(__name__)


class Kind(StrEnum):
    """A kind of root certificate by meaning; the value is the store's folder for it."""

    CSMS_ROOT = "CentralSystemRootCertificate"
    MANUFACTURER_ROOT = "ManufacturerRootCertificate"
    V2G_ROOT = "V2GRootCertificate"
    MO_ROOT = "MORootCertificate"


CENTRAL_SYSTEM_ROOT = Kind.CSMS_ROOT
MANUFACTURER_ROOT = Kind.MANUFACTURER_ROOT
KINDS = tuple(Kind)
_CHARGE_POINT_DIR = "ChargePointCertificate"
_FALLBACK_DIR = "fallback"
_HASHES = frozenset({"SHA256", "SHA384", "SHA512"})  # hashAlgorithm values = cryptography's class names
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class HashData:
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    def payload(self) -> dict[str, str]:
        return {"hashAlgorithm": self.hash_algorithm, "issuerNameHash": self.issuer_name_hash,
                "issuerKeyHash": self.issuer_key_hash, "serialNumber": self.serial_number}  # fmt: skip

    @staticmethod
    def of(payload: Mapping[str, str]) -> HashData:
        return HashData(payload["hashAlgorithm"], payload["issuerNameHash"], payload["issuerKeyHash"],
                        payload["serialNumber"])  # fmt: skip

    def matches(self, other: HashData) -> bool:
        def key(h: HashData) -> tuple[str, ...]:
            serial = h.serial_number.lower().lstrip("0") or "0"
            return h.hash_algorithm.upper(), h.issuer_name_hash.lower(), h.issuer_key_hash.lower(), serial

        return key(self) == key(other)


class CertificateError(ValueError):
    """A certificate or chain that cannot be used; the message says why (no key material)."""


def _digest(algorithm: str, data: bytes) -> str:
    from cryptography.hazmat.primitives import hashes

    if algorithm not in _HASHES:
        raise KeyError(algorithm)
    h = hashes.Hash(getattr(hashes, algorithm)())
    h.update(data)
    return h.finalize().hex()


def _public_key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (what RFC 6960 issuerKeyHash is computed over)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise CertificateError(f"unsupported public key type {type(key).__name__}")


def hash_data(certificate: x509.Certificate, issuer: x509.Certificate | None = None,
              algorithm: str = "SHA256") -> HashData:  # fmt: skip
    issuer = issuer or certificate
    return HashData(
        algorithm,
        _digest(algorithm, certificate.issuer.public_bytes()),
        _digest(algorithm, _public_key_bits(issuer)),
        format(certificate.serial_number, "X"),
    )


def fingerprint(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import hashes

    return certificate.fingerprint(hashes.SHA256()).hex()


def parse_pem_chain(text: str) -> list[x509.Certificate]:
    """Every certificate in ``text``, in order; CertificateError when there is none or one is broken."""
    from cryptography import x509

    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise CertificateError("no PEM certificate found")
    try:
        return [x509.load_pem_x509_certificate(b.encode()) for b in blocks]
    except ValueError as exc:
        raise CertificateError(f"unreadable certificate: {exc}") from exc


def signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_key_strength(certificate: x509.Certificate) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise CertificateError(f"RSA key of {key.key_size} bits; at least 2048 required")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 224:
        raise CertificateError(f"EC key of {key.curve.key_size} bits; at least 224 required")


def check_validity(certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        raise CertificateError(f"not valid before {certificate.not_valid_before_utc.isoformat()}")
    if now > certificate.not_valid_after_utc:
        raise CertificateError(f"expired {certificate.not_valid_after_utc.isoformat()}")


def is_ca(certificate: x509.Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_chain(chain: list[x509.Certificate], anchors: Iterable[x509.Certificate], now: datetime) -> None:
    """Each certificate signed by the next, the last by one of ``anchors``, all valid at ``now``."""
    for certificate in chain:
        check_validity(certificate, now)
        check_key_strength(certificate)
    for child, parent in itertools.pairwise(chain):
        if not (is_ca(parent) and signed_by(child, parent)):
            raise CertificateError(f"{child.subject.rfc4514_string()} is not signed by the next certificate")
    if not any(signed_by(chain[-1], anchor) or chain[-1] == anchor for anchor in anchors):
        raise CertificateError("chain does not lead to an installed CentralSystemRootCertificate")


class CertificateStore:
    def __init__(
        self,
        directory: Path,
        max_length: int,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        additional_root_check: Callable[[], bool] = lambda: False,
    ):
        self.directory = directory
        self.max_length = max_length
        self.now = now
        self.additional_root_check = additional_root_check
        self.in_use: set[str] = set()  # fingerprints of roots validating the current connection
        for kind in (*KINDS, _CHARGE_POINT_DIR):
            (directory / kind).mkdir(parents=True, exist_ok=True)

    # ---- roots ---------------------------------------------------------------------------

    def _files(self, kind: str, fallback: bool = True) -> list[Path]:
        found = sorted((self.directory / kind).glob("*.pem"))
        if fallback:
            found += sorted((self.directory / kind / _FALLBACK_DIR).glob("*.pem"))
        return found

    def _load(self, path: Path) -> x509.Certificate | None:
        from cryptography import x509

        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError) as exc:
            log.error("certificate store: %s unreadable (%s); ignored", path, exc)
            return None

    def certificates(self, kind: str, fallback: bool = True) -> list[x509.Certificate]:
        """Installed roots of ``kind`` (a CSMS root's fallback included unless ``fallback`` is False:
        it is still trusted, but not when migrating to another CSMS, 2.0.1 M05.FR.15)."""
        if kind not in KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}")
        return [c for c in map(self._load, self._files(kind, fallback)) if c is not None]

    def _issuer_of(self, certificate: x509.Certificate) -> x509.Certificate | None:
        if certificate.issuer == certificate.subject:
            return certificate
        for kind in KINDS:
            for candidate in self.certificates(kind):
                if candidate.subject == certificate.issuer and signed_by(certificate, candidate):
                    return candidate
        return None

    def ids(self, kind: str | None = None, algorithm: str = "SHA256") -> list[HashData]:
        kinds = KINDS if kind is None else (kind,)
        return [h for _kind, h in self.ids_by_kind(kinds, algorithm)]

    def ids_by_kind(self, kinds: Iterable[str] = KINDS, algorithm: str = "SHA256") -> list[tuple[Kind, HashData]]:
        """Every installed root of ``kinds`` (a fallback included) with its hash data, kind by kind."""
        return [(Kind(k), hash_data(c, self._issuer_of(c), algorithm)) for k in kinds for c in self.certificates(k)]

    def count(self) -> int:
        """Roots installed, of every kind (CertificateEntries)."""
        return sum(len(self._files(kind)) for kind in KINDS)

    def install(self, kind: str, pem: str) -> str:
        """InstallCertificate: "Accepted", "Rejected" or "Failed" (whitepaper M05)."""
        from cryptography.hazmat.primitives import serialization

        if kind not in KINDS:
            return "Rejected"
        try:
            certificate = self._acceptable_root(kind, pem)
        except CertificateError as exc:
            log.warning("InstallCertificate %s rejected: %s", kind, exc)
            return "Rejected"
        name = fingerprint(certificate) + ".pem"
        target = self.directory / kind / name
        if target.exists():
            return "Accepted"
        replacing = kind == CENTRAL_SYSTEM_ROOT and self.additional_root_check()
        current = self._files(kind, fallback=False)
        if not replacing and self.count() >= self.max_length:
            log.warning("InstallCertificate %s rejected: the store is full (%d)", kind, self.max_length)
            return "Rejected"
        if replacing and current:
            old = [c for c in map(self._load, current) if c is not None]
            if not any(signed_by(certificate, o) for o in old):
                log.warning("InstallCertificate rejected: the new CSMS root is not signed by the installed one")
                return "Rejected"
        try:
            if replacing:
                self._make_fallback(current)
            target.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        except OSError as exc:
            log.error("InstallCertificate %s failed: %s", kind, exc)
            return "Failed"
        log.info("installed %s %s", kind, certificate.subject.rfc4514_string())
        return "Accepted"

    def _acceptable_root(self, kind: str, pem: str) -> x509.Certificate:
        chain = parse_pem_chain(pem)
        if len(chain) != 1:
            raise CertificateError(f"{len(chain)} certificates; InstallCertificate takes one")
        certificate = chain[0]
        if not is_ca(certificate):
            raise CertificateError("not a CA certificate (BasicConstraints ca=false or absent)")
        check_key_strength(certificate)
        if certificate.not_valid_after_utc < self.now():
            raise CertificateError(f"expired {certificate.not_valid_after_utc.isoformat()}")
        if certificate.issuer == certificate.subject and not signed_by(certificate, certificate):
            raise CertificateError("self-signature does not verify")
        return certificate

    def _make_fallback(self, current: list[Path]) -> None:
        fallback = self.directory / CENTRAL_SYSTEM_ROOT / _FALLBACK_DIR
        shutil.rmtree(fallback, ignore_errors=True)  # only the latest replaced root is kept
        fallback.mkdir()
        for path in current:
            path.rename(fallback / path.name)

    def confirm_root(self, *validated_by: str) -> None:
        """A connection was validated by a chain with these fingerprints: when one of them is the
        new CSMS root (not the fallback), drop the fallback (1.6 M05.FR.12, 2.0.1 M05.FR.13)."""
        fallback = self.directory / CENTRAL_SYSTEM_ROOT / _FALLBACK_DIR
        current = {p.stem for p in self._files(CENTRAL_SYSTEM_ROOT, fallback=False)}
        if fallback.exists() and current & set(validated_by):
            shutil.rmtree(fallback, ignore_errors=True)
            log.info("CSMS root fallback certificate removed: the new root works")

    def delete(self, wanted: HashData | Mapping[str, str]) -> str:
        """DeleteCertificate: "Accepted", "Failed" or "NotFound" (whitepaper M04)."""
        target = wanted if isinstance(wanted, HashData) else HashData.of(wanted)
        if target.hash_algorithm not in _HASHES:
            return "NotFound"
        if any(target.matches(h) for h in self.client_ids(target.hash_algorithm)):
            log.warning("DeleteCertificate refused: that is the station's own client certificate")
            return "Failed"
        for kind in KINDS:
            for path in self._files(kind):
                certificate = self._load(path)
                if certificate is None:
                    continue
                if not target.matches(hash_data(certificate, self._issuer_of(certificate), target.hash_algorithm)):
                    continue
                if kind == CENTRAL_SYSTEM_ROOT and fingerprint(certificate) in self.in_use:
                    log.warning("DeleteCertificate refused: that CSMS root validates the current connection")
                    return "Failed"
                try:
                    path.unlink()
                except OSError as exc:
                    log.error("DeleteCertificate failed: %s", exc)
                    return "Failed"
                return "Accepted"
        return "NotFound"

    # ---- the charge point's own certificate (security profile 3) --------------------------

    @property
    def _pending_key(self) -> Path:
        return self.directory / _CHARGE_POINT_DIR / "pending.key"

    def create_csr(self, common_name: str, organization: str) -> str:
        """A new key pair (private key kept, 0600) and the PEM CSR to send in SignCertificate."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                             x509.NameAttribute(NameOID.COMMON_NAME, common_name)])  # fmt: skip
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        write_secret(self._pending_key, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
        return csr.public_bytes(serialization.Encoding.PEM).decode()

    def accept_chain(self, chain_pem: str, anchors: Iterable[x509.Certificate], max_chars: int) -> None:
        """Install the signed chain of CertificateSigned.req; CertificateError says why not."""
        from cryptography.hazmat.primitives import serialization

        if len(chain_pem) > max_chars:
            raise CertificateError(f"chain of {len(chain_pem)} characters; the limit is {max_chars}")
        chain = parse_pem_chain(chain_pem)
        pending = read_secret(self._pending_key)
        if pending is None:
            raise CertificateError("no certificate signing request is pending")
        key = serialization.load_pem_private_key(pending, password=None)
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if chain[0].public_key().public_bytes(serialization.Encoding.DER, public) != key.public_key().public_bytes(
            serialization.Encoding.DER, public
        ):
            raise CertificateError("the certificate is not for the key of the pending request")
        check_chain(chain, anchors, self.now())
        stem = f"{int(chain[0].not_valid_before_utc.timestamp())}-{fingerprint(chain[0])[:16]}"
        folder = self.directory / _CHARGE_POINT_DIR
        write_secret(folder / f"{stem}.key", pending)
        (folder / f"{stem}.pem").write_text(chain_pem)
        remove_secret(self._pending_key)
        log.info("charge point certificate installed: %s, valid %s..%s", chain[0].subject.rfc4514_string(),
                 chain[0].not_valid_before_utc.isoformat(), chain[0].not_valid_after_utc.isoformat())  # fmt: skip

    def client_identity(self) -> tuple[Path, Path] | None:
        """(certificate chain, key) of the charge point certificate installed last among those valid
        now, if any: a CertificateSigned's certificate is used from the next connection on even
        when it starts no later than the one in use (2.0.1 errata A02.FR.08)."""
        now = self.now()
        best: tuple[int, Path, Path] | None = None
        for cert_path in (self.directory / _CHARGE_POINT_DIR).glob("*.pem"):
            key_path = cert_path.with_suffix(".key")
            leaf = self._load(cert_path)
            if leaf is None or not key_path.exists():
                continue
            with contextlib.suppress(CertificateError, OSError):
                check_validity(leaf, now)
                installed = cert_path.stat().st_mtime_ns
                if best is None or installed > best[0]:
                    best = (installed, cert_path, key_path)
        return (best[1], best[2]) if best else None

    def _client_chains(self) -> list[tuple[Path, list[x509.Certificate]]]:
        found = []
        for cert_path in sorted((self.directory / _CHARGE_POINT_DIR).glob("*.pem")):
            try:
                found.append((cert_path, parse_pem_chain(cert_path.read_text())))
            except (OSError, CertificateError) as exc:
                log.error("certificate store: %s unreadable (%s); ignored", cert_path, exc)
        return found

    def client_ids(self, algorithm: str = "SHA256") -> list[HashData]:
        """Hash data of the station's own client certificates (to refuse deleting them)."""
        out = []
        for _path, chain in self._client_chains():
            issuer = chain[1] if len(chain) > 1 else self._issuer_of(chain[0])
            out.append(hash_data(chain[0], issuer, algorithm))
        return out

    def client_certificate(self) -> x509.Certificate | None:
        """The leaf of ``client_identity()``, if any."""
        identity = self.client_identity()
        return self._load(identity[0]) if identity else None

    def keep_only_client(self, cert_path: Path) -> None:
        """A connection worked with ``cert_path``: every other client certificate goes (errata A02.FR.10)."""
        for other, _chain in self._client_chains():
            if other != cert_path:
                self.discard_client(other)

    def discard_client(self, cert_path: Path) -> None:
        """Remove one client certificate and its key."""
        with contextlib.suppress(FileNotFoundError):
            cert_path.unlink()
        remove_secret(cert_path.with_suffix(".key"))
        log.info("client certificate %s discarded", cert_path.name)

    def provision_client(self, cert_pem: str, key_pem: bytes) -> None:
        """Install a factory (or bench) charge point certificate and key, e.g. before profile 3."""
        leaf = parse_pem_chain(cert_pem)[0]
        stem = f"{int(leaf.not_valid_before_utc.timestamp())}-{fingerprint(leaf)[:16]}"
        folder = self.directory / _CHARGE_POINT_DIR
        write_secret(folder / f"{stem}.key", key_pem)
        (folder / f"{stem}.pem").write_text(cert_pem)
