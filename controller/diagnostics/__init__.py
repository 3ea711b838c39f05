"""Diagnostics, version-neutral: the ``[diagnostics]`` section, the log files kept for upload
(``logs``) and the archive built from them (``archive``). Uploads use ``controller/transfer.py``;
the OCPP front ends (``controller/ocpp/v16/diagnostics.py``, ``controller/ocpp/v201/diagnostics.py``)
only translate requests and statuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from hal.config import ConfigSection

KIB = 1024


@dataclass(frozen=True)
class DiagnosticsConfig:
    upload_method: str = "PUT"  # HTTP(S) uploads: PUT (raw body) or POST (multipart field "file")
    log_max_bytes: int = 1024 * KIB  # per log file; ``log_backups`` older files are kept besides
    log_backups: int = 3
    retries: int = 3  # upload attempts when the request names none
    retry_interval_s: float = 30.0

    @staticmethod
    def from_section(s: ConfigSection) -> DiagnosticsConfig:
        return DiagnosticsConfig(
            upload_method=s.get_str("upload_method", "PUT", choices=("PUT", "POST")),
            log_max_bytes=s.get_int("log_max_kb", 1024, minval=16, maxval=65536) * KIB,
            log_backups=s.get_int("log_backups", 3, minval=1, maxval=20),
            retries=s.get_int("retries", 3, minval=1, maxval=100),
            retry_interval_s=s.get_float("retry_interval_s", 30.0, minval=0.0, maxval=86400.0),
        )
