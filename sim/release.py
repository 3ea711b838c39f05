"""Bench release artifacts: a wheel of the running evsed's own source, with a chosen version,
signed by a bench manufacturer CA, for firmware updates on the bench and in tests.

Rules kept here:
- The wheel is what ``python -m build`` would make of this tree for a pure-Python release:
  the packages controller, drivers, hal, sim (sources and package data), METADATA with the
  installed evsed's Requires-Dist, WHEEL (purelib), entry points and a RECORD with SHA-256s.
  It is built in memory in well under a second, offline, without setuptools or wheel.
- ``version`` replaces ``controller.__version__``; ``patches`` replace whole files (a broken
  release for rollback tests is the real tree with one file replaced).
- Signing: ECDSA P-256 over SHA-256, base64, with a certificate issued directly by the bench
  manufacturer root (``Manufacturer``), as the security whitepaper requires.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

import controller
from sim import pki

SOURCE = Path(controller.__file__).resolve().parent.parent
PACKAGES = ("controller", "drivers", "hal", "sim")
SUFFIXES = (".py", ".toml", ".json", ".js", ".html", ".css")  # the package data, as pyproject.toml ships it


def _requirements() -> list[str]:
    try:
        requires = importlib.metadata.requires("evsed") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [r for r in requires if "extra ==" not in r]


def _sources(source: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        for path in sorted((source / package).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                files[path.relative_to(source).as_posix()] = path.read_bytes()
    return files


def build_wheel(out_dir: Path, version: str, *, patches: Mapping[str, str] | None = None,
                source: Path = SOURCE) -> Path:  # fmt: skip
    files = _sources(source)
    init = files["controller/__init__.py"].decode()
    files["controller/__init__.py"] = re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', init).encode()
    for name, text in (patches or {}).items():
        files[name] = text.encode()
    dist = f"evsed-{version}.dist-info"
    metadata = "Metadata-Version: 2.1\nName: evsed\nVersion: " + version + "\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in _requirements())
    files[f"{dist}/METADATA"] = metadata.encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: evsed-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{dist}/entry_points.txt"] = b"[console_scripts]\nevsed = controller.cli:main\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([f"{dist}/RECORD", "", ""])
    files[f"{dist}/RECORD"] = record.getvalue().encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"evsed-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return path


@dataclass(frozen=True)
class Manufacturer:
    """A bench manufacturer: its root (what the station trusts) and a firmware signing certificate."""

    root: pki.Issued
    signer: pki.Issued

    @staticmethod
    def create() -> Manufacturer:
        root = pki.authority("evsed bench manufacturer root", "evsed bench manufacturer")
        # A leaf issued directly by the root, digitalSignature only (whitepaper: no intermediates).
        return Manufacturer(root, pki.client(root, "evsed firmware signer", organization="evsed bench manufacturer"))

    def sign(self, path: Path) -> str:
        signature = self.signer.key.sign(path.read_bytes(), ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode()
