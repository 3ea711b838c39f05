"""Secrets on disk: the AuthorizationKey and private keys, one file each, mode 0600.

Rules kept here (issue #6; security whitepaper A01.FR.10-12, A02.FR.05):
- A secret is written to a temporary file created with mode 0600 (never a moment readable
  by others), fsynced, then renamed over the old one: a crash leaves the old or the new secret.
- The directory holding secrets is created with mode 0700.
- A secret file readable by group or others is tightened to 0600 when read, with a warning
  naming the file (never its content).
- Secret values never reach a log line, an exception message, the API or a diagnostics file:
  errors name the path only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_MODE = 0o600


def write_secret(path: Path, data: bytes | str) -> None:
    """Replace ``path`` atomically with ``data``, readable by the owner only."""
    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_MODE)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_secret(path: Path) -> bytes | None:
    """The secret in ``path``, or None when there is none."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("secret file %s was readable by group/others (mode %o); tightened to 0600", path, mode & 0o777)
        os.chmod(path, SECRET_MODE)
    return path.read_bytes()


def remove_secret(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
