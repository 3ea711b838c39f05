"""The firmware update process as a table: status x event -> status. Pure, no I/O.

Rules kept here (security whitepaper edition 3, L01 and FirmwareStatusEnumType; OCPP 1.6 5.19):
- The statuses are the whitepaper's FirmwareStatusEnumType; the 1.6 FirmwareStatusNotification
  carries a subset of them (the front end maps, see ``controller/ocpp/v16/firmware.py``).
- A transition not in ``TRANSITIONS`` raises ``IllegalTransition`` and changes nothing (h11's
  rule): a bug in the orchestration can never report a status out of order.
- End states: DownloadFailed, InvalidSignature, Installed, InstallationFailed,
  InstallVerificationFailed (and Idle, where nothing runs). A new request arriving in an end
  state is Accepted; one arriving while an update runs cancels it (AcceptedCanceled) unless
  the install has begun, which cannot be undone half-way (Rejected, L01.FR.26/27).
- Between download attempts the status is DownloadPaused: DownloadFailed is an end state and
  is reported only when no attempt is left.
"""

from __future__ import annotations

from enum import StrEnum


class FirmwareStatus(StrEnum):
    IDLE = "Idle"
    DOWNLOAD_SCHEDULED = "DownloadScheduled"
    DOWNLOADING = "Downloading"
    DOWNLOAD_PAUSED = "DownloadPaused"
    DOWNLOADED = "Downloaded"
    DOWNLOAD_FAILED = "DownloadFailed"
    INVALID_SIGNATURE = "InvalidSignature"
    SIGNATURE_VERIFIED = "SignatureVerified"
    INSTALL_SCHEDULED = "InstallScheduled"
    INSTALLING = "Installing"
    INSTALL_REBOOTING = "InstallRebooting"
    INSTALLED = "Installed"
    INSTALLATION_FAILED = "InstallationFailed"
    INSTALL_VERIFICATION_FAILED = "InstallVerificationFailed"


class Event(StrEnum):
    SCHEDULE = "schedule"  # retrieveDate lies ahead
    DOWNLOAD = "download"  # an attempt starts
    PAUSE = "pause"  # an attempt failed, another one is left
    DOWNLOADED = "downloaded"
    DOWNLOAD_FAILED = "download_failed"  # no attempt left
    SIGNATURE_VALID = "signature_valid"
    SIGNATURE_INVALID = "signature_invalid"
    SCHEDULE_INSTALL = "schedule_install"  # installDateTime lies ahead
    INSTALL = "install"
    REBOOT = "reboot"  # the new release is in place; the daemon restarts into it
    INSTALLED = "installed"  # the new release booted and reached the backend
    INSTALL_FAILED = "install_failed"
    VERIFICATION_FAILED = "verification_failed"  # the artifact or the booted release is not what was promised


class IllegalTransition(Exception):
    pass


S, E = FirmwareStatus, Event
_READY = (S.DOWNLOADED, S.SIGNATURE_VERIFIED)  # may install (unsigned: straight from Downloaded)
TRANSITIONS: dict[tuple[FirmwareStatus, Event], FirmwareStatus] = {
    (S.IDLE, E.SCHEDULE): S.DOWNLOAD_SCHEDULED,
    (S.IDLE, E.DOWNLOAD): S.DOWNLOADING,
    (S.DOWNLOAD_SCHEDULED, E.DOWNLOAD): S.DOWNLOADING,
    (S.DOWNLOADING, E.PAUSE): S.DOWNLOAD_PAUSED,
    (S.DOWNLOAD_PAUSED, E.DOWNLOAD): S.DOWNLOADING,
    (S.DOWNLOADING, E.DOWNLOADED): S.DOWNLOADED,
    (S.DOWNLOADING, E.DOWNLOAD_FAILED): S.DOWNLOAD_FAILED,
    (S.DOWNLOADED, E.SIGNATURE_VALID): S.SIGNATURE_VERIFIED,
    (S.DOWNLOADED, E.SIGNATURE_INVALID): S.INVALID_SIGNATURE,
    **{(ready, E.SCHEDULE_INSTALL): S.INSTALL_SCHEDULED for ready in _READY},
    **{(ready, E.INSTALL): S.INSTALLING for ready in (*_READY, S.INSTALL_SCHEDULED)},
    **{(ready, E.VERIFICATION_FAILED): S.INSTALL_VERIFICATION_FAILED for ready in (*_READY, S.INSTALL_SCHEDULED)},
    (S.INSTALLING, E.REBOOT): S.INSTALL_REBOOTING,
    (S.INSTALLING, E.INSTALLED): S.INSTALLED,  # an external installer that needs no restart
    (S.INSTALLING, E.INSTALL_FAILED): S.INSTALLATION_FAILED,
    (S.INSTALLING, E.VERIFICATION_FAILED): S.INSTALL_VERIFICATION_FAILED,
    (S.INSTALL_REBOOTING, E.INSTALLED): S.INSTALLED,
    (S.INSTALL_REBOOTING, E.INSTALL_FAILED): S.INSTALLATION_FAILED,
    (S.INSTALL_REBOOTING, E.VERIFICATION_FAILED): S.INSTALL_VERIFICATION_FAILED,
}

END_STATES = frozenset(
    {S.IDLE, S.DOWNLOAD_FAILED, S.INVALID_SIGNATURE, S.INSTALLED, S.INSTALLATION_FAILED, S.INSTALL_VERIFICATION_FAILED}
)
_NOT_CANCELLABLE = frozenset({S.INSTALLING, S.INSTALL_REBOOTING})


def step(status: FirmwareStatus, event: Event) -> FirmwareStatus:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTransition(f"{event.value} is not allowed in {status.value}") from None


def answer_new_request(status: FirmwareStatus) -> str:
    """SignedUpdateFirmware.conf status for a request arriving while in ``status``."""
    if status in END_STATES:
        return "Accepted"
    if status in _NOT_CANCELLABLE:
        return "Rejected"
    return "AcceptedCanceled"
