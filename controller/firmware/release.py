"""A release artifact: a pure-Python wheel of evsed, checked before anything is unpacked.

Rules kept here:
- The artifact is a zip with exactly one ``*.dist-info`` whose METADATA names ``evsed`` and
  whose WHEEL says ``Root-Is-Purelib: true`` (no compiled code, nothing for ``*.data``).
- Every member is listed in RECORD with its SHA-256 and size, and matches; RECORD names no
  member that is missing. A damaged or doctored artifact is rejected as a whole.
- Member names are relative, without ``..`` or backslashes, and unpack below the target only;
  the unpacked total is bounded (a zip bomb is a failed verification, not a full disk).
- The release's own requirements (Requires-Dist without extras) must be met by the
  environment that will run it, because the built-in A/B install adds no dependencies.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata
import io
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement

NAME = "evsed"


class ReleaseInvalid(Exception):
    """The artifact is not an installable evsed release (InstallVerificationFailed)."""


@dataclass(frozen=True)
class Release:
    version: str
    requires: tuple[str, ...]


def read_release(path: Path, max_unpacked: int) -> Release:
    """Open and verify the artifact; raises ReleaseInvalid naming the first problem."""
    try:
        with zipfile.ZipFile(path) as wheel:
            return _verify(wheel, max_unpacked)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ReleaseInvalid(f"not a wheel (zip) file: {exc}") from exc


def _verify(wheel: zipfile.ZipFile, max_unpacked: int) -> Release:
    infos = [i for i in wheel.infolist() if not i.is_dir()]
    total = 0
    for info in infos:
        _check_name(info.filename)
        total += info.file_size
        if total > max_unpacked:
            raise ReleaseInvalid(f"unpacks to more than {max_unpacked} bytes")
    dist_infos = {
        PurePosixPath(i.filename).parts[0] for i in infos if PurePosixPath(i.filename).parts[0].endswith(".dist-info")
    }
    if len(dist_infos) != 1:
        raise ReleaseInvalid(f"expected one .dist-info directory, found {len(dist_infos)}")
    dist_info = dist_infos.pop()
    meta = Parser().parsestr(_text(wheel, f"{dist_info}/METADATA"))
    if (meta.get("Name") or "").lower() != NAME:
        raise ReleaseInvalid(f"the wheel is {meta.get('Name')!r}, not {NAME}")
    version = meta.get("Version") or ""
    if not version:
        raise ReleaseInvalid("METADATA has no Version")
    wheel_info = Parser().parsestr(_text(wheel, f"{dist_info}/WHEEL"))
    if (wheel_info.get("Root-Is-Purelib") or "").strip().lower() != "true":
        raise ReleaseInvalid("not a pure-Python wheel")
    _check_record(wheel, infos, f"{dist_info}/RECORD")
    return Release(version=version, requires=tuple(meta.get_all("Requires-Dist") or ()))


def _check_name(name: str) -> None:
    p = PurePosixPath(name)
    if "\\" in name or p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0].endswith(".data"):
        raise ReleaseInvalid(f"member {name!r} would unpack outside the slot")


def _text(wheel: zipfile.ZipFile, name: str) -> str:
    try:
        return wheel.read(name).decode("utf-8")
    except KeyError:
        raise ReleaseInvalid(f"{name} is missing") from None
    except UnicodeDecodeError as exc:
        raise ReleaseInvalid(f"{name} is not UTF-8") from exc


def _check_record(wheel: zipfile.ZipFile, infos: list[zipfile.ZipInfo], record_name: str) -> None:
    rows = {row[0]: row for row in csv.reader(io.StringIO(_text(wheel, record_name))) if row}
    for info in infos:
        if info.filename == record_name:
            continue
        row = rows.pop(info.filename, None)
        if row is None or len(row) < 3 or not row[1].startswith("sha256="):
            raise ReleaseInvalid(f"{info.filename} has no sha256 in RECORD")
        data = wheel.read(info)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if row[1] != f"sha256={digest}" or (row[2] and int(row[2]) != len(data)):
            raise ReleaseInvalid(f"{info.filename} does not match its RECORD hash")
    rows.pop(record_name, None)
    if rows:
        raise ReleaseInvalid(f"RECORD lists files the wheel lacks: {', '.join(sorted(rows))[:200]}")


def unmet_requirements(release: Release) -> list[str]:
    """Requirements of ``release`` the running environment does not satisfy."""
    unmet = []
    for text in release.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            unmet.append(text)
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an extra's or another platform's requirement
        try:
            installed = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(text)
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            unmet.append(f"{text} (have {installed})")
    return unmet


def unpack(path: Path, target: Path) -> None:
    """Unpack a verified artifact into ``target`` (which must not exist yet)."""
    target.mkdir(parents=True)
    root = target.resolve()
    with zipfile.ZipFile(path) as wheel:
        for info in wheel.infolist():
            _check_name(info.filename)
            dest = (root / info.filename).resolve()
            if not dest.is_relative_to(root):
                raise ReleaseInvalid(f"member {info.filename!r} would unpack outside the slot")
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(info) as src, dest.open("wb") as out:
                while chunk := src.read(1 << 16):
                    out.write(chunk)
