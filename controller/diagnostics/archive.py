"""The diagnostics archive: one tar.gz with logs, configuration, status and version.

Rules kept here:
- Members: ``status.json`` (version, platform, time window, what the caller adds),
  ``config.toml`` (the effective configuration, redacted), and the requested logs, each the
  concatenation of a rotated file set filtered to [start, stop]:
  DiagnosticsLog -> ``logs/evsed.log`` + ``logs/ocpp.log``; SecurityLog -> ``logs/security.log``.
- Redaction (``redact``, pure): a value whose key names a password, secret, token or key
  (``AuthorizationKey``, ``password``, ``tokens``...) becomes "***", as does the password
  part of any URL. Values the config reader already masked stay masked.
- The archive is written to a path the caller chooses under the state directory.
"""

from __future__ import annotations

import io
import json
import platform
import re
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.diagnostics.logs import REDACTED, LogFiles, lines_between
from controller.transfer import redacted
from hal.config import format_toml

if TYPE_CHECKING:
    import tarfile

_SECRET_NAME = re.compile(r"(password|passwd|secret|token|authorization_?key|private|credential)", re.IGNORECASE)


def redact(tree: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if _SECRET_NAME.search(key):
            out[key] = REDACTED
        elif isinstance(value, Mapping):
            out[key] = redact(value)
        elif isinstance(value, list):
            out[key] = [redact(v) if isinstance(v, Mapping) else _redact_value(v) for v in value]
        else:
            out[key] = _redact_value(value)
    return out


def _redact_value(value: Any) -> Any:
    return redacted(value) if isinstance(value, str) and "://" in value else value


@dataclass(frozen=True)
class LogSet:
    name: str  # member name in the archive
    files: tuple[Path, ...]  # oldest first


def build_archive(dest: Path, *, config: Mapping[str, Any], status: Mapping[str, Any], logs: Iterable[LogSet],
                  start: datetime | None, stop: datetime | None) -> Path:  # fmt: skip
    status_doc = {
        **status,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "window": {"start": start.isoformat() if start else None, "stop": stop.isoformat() if stop else None},
    }
    import tarfile  # with gzip, bz2, lzma: loaded when an archive is made, not by every running daemon

    with tarfile.open(dest, "w:gz") as tar:
        _add(tar, "status.json", json.dumps(status_doc, indent=2, default=str).encode())
        _add(tar, "config.toml", format_toml(redact(config)).encode())
        for log_set in logs:
            lines: list[str] = []
            for path in log_set.files:
                try:
                    lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True))
                except OSError:
                    continue  # rotated away while we read: the rest still helps
            _add(tar, log_set.name, "".join(lines_between(lines, start, stop)).encode())
    return dest


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tar.tarinfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))


def diagnostics_logs(files: LogFiles) -> list[LogSet]:
    files.flush()
    return [LogSet("logs/evsed.log", tuple(files.rotated(files.daemon_log))),
            LogSet("logs/ocpp.log", tuple(files.rotated(files.ocpp_log)))]  # fmt: skip


def security_logs(state_dir: Path) -> list[LogSet]:
    """The security log (controller/ocpp/security_log.py): ``security.log`` and ``.1``."""
    path = state_dir / "security.log"
    return [LogSet("logs/security.log", tuple(p for p in (path.with_name(path.name + ".1"), path) if p.exists()))]
