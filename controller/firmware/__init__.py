"""Firmware updates, version-neutral: the ``[firmware]`` section and the parts of an update.

- ``update``: the status table (pure), ``signature``: certificate and signature checks,
  ``release``: the artifact (a wheel) verified before it is unpacked, ``slots`` + ``launcher``:
  A/B install, trial boot and rollback, ``updater``: one update from download to the trial.
- The OCPP front ends (``controller/ocpp/v16/firmware.py``) only translate requests into
  ``UpdateRequest``s and statuses into their messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hal.config import ConfigSection

MIB = 1 << 20


@dataclass(frozen=True)
class FirmwareConfig:
    slot_root: Path = Path("/opt/evsed")
    allow_unsigned: bool = False  # accept the 1.6 UpdateFirmware (no signature) at all
    max_size_bytes: int = 64 * MIB
    verify_timeout_s: float = 300.0  # the new release must reach the backend within this
    trial_boots: int = 3  # starts of a new release before it is rolled back
    installer_command: str | None = None  # e.g. "rauc-install-and-reboot {file}" instead of the A/B slots
    manufacturer_roots: Path | None = None  # PEM file of roots trusted besides the installed ones
    retries: int = 3  # download attempts when the request names none
    retry_interval_s: float = 60.0

    @staticmethod
    def from_section(s: ConfigSection) -> FirmwareConfig:
        roots = s.get_str("manufacturer_roots", None, min_length=1)
        return FirmwareConfig(
            slot_root=Path(s.get_str("slot_root", "/opt/evsed", min_length=1)),
            allow_unsigned=s.get_bool("allow_unsigned", False),
            max_size_bytes=s.get_int("max_size_mb", 64, minval=1, maxval=4096) * MIB,
            verify_timeout_s=s.get_float("verify_timeout_s", 300.0, minval=10.0, maxval=86400.0),
            trial_boots=s.get_int("trial_boots", 3, minval=1, maxval=20),
            installer_command=s.get_str("installer_command", None, min_length=1),
            manufacturer_roots=Path(roots) if roots else None,
            retries=s.get_int("retries", 3, minval=1, maxval=100),
            retry_interval_s=s.get_float("retry_interval_s", 60.0, minval=0.0, maxval=86400.0),
        )
