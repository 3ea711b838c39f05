"""The file-transfer requests both OCPP versions share, read into the version-neutral requests of
the firmware updater and the diagnostics uploads, and the statuses they report: the signed
firmware update (1.6 security whitepaper SignedUpdateFirmware, which 2.0.1 calls UpdateFirmware)
and GetLog (the same in both).

Rules kept here (whitepaper L01, N01; 2.0.1 L01, L02, N01):
- ``retries`` is "how many times the Charge Point must try" in the whitepaper and "how many
  times the Charging Station must retry" in 2.0.1: ``extra_try`` counts the first try for 2.0.1.
  Absent, the configured number of attempts applies.
- The signing certificate is checked against the manufacturer roots before the answer
  (L01.FR.21/22): not trusted -> InvalidCertificate, with the security event
  InvalidFirmwareSigningCertificate. A request with neither certificate nor signature is a
  non-secure update (L02): only with ``[firmware] allow_unsigned``, else Rejected; one with
  only one of them is Rejected.
- A location that is not an http(s)/ftp(s) URL, or a date that does not parse: Rejected, before
  anything connects.
- The answer: Accepted, or as the updater says for a request arriving now (AcceptedCanceled when
  it cancels an update that has not begun installing, Rejected while one installs); an
  accepted request starts once the answer is on the wire.
- Firmware statuses carry the requestId (L01.FR.10/20); asked for by a trigger, the status is
  the last one sent, Idle after Installed or when no update ran (L01.FR.25/26; whitepaper
  L01.FR.28/29).
- Upload statuses: a failure is reported as precisely as known (N01.FR.10): PermissionDenied,
  BadMessage (a bad location), NotSupportedOperation (the scheme), else UploadFailure;
  AcceptedCanceled for an upload a new request cancelled (2.0.1 N01.FR.20; the whitepaper has
  no such status, its front end sends nothing then).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography import x509

from controller.clock import parse_time
from controller.diagnostics.upload import UploadRequest, UploadStatus
from controller.firmware.signature import CertificateRejected, check_signing_certificate
from controller.firmware.update import FirmwareStatus
from controller.firmware.updater import SecurityEvent, Updater, UpdateRequest
from controller.ocpp.link import Reply
from controller.transfer import Location, TransferError

log = logging.getLogger(__name__)

Payload = dict[str, Any]
INVALID_SIGNING_CERTIFICATE = "InvalidFirmwareSigningCertificate"
_FAILURE = {"permission": "PermissionDenied", "location": "BadMessage", "unsupported": "NotSupportedOperation"}
_UPLOAD = {UploadStatus.UPLOADING: "Uploading", UploadStatus.UPLOADED: "Uploaded",
           UploadStatus.CANCELED: "AcceptedCanceled"}  # fmt: skip


class Refused(Exception):
    """The request is answered with ``status`` (and, if named, a security event) and not started."""

    def __init__(self, status: str, reason: str, event: str | None = None):
        super().__init__(reason)
        self.status, self.event = status, event


def attempts(retries: int | None, *, extra_try: bool) -> int | None:
    return None if retries is None else retries + (1 if extra_try else 0)


def _time(text: str | None) -> datetime | None:
    return parse_time(text) if text is not None else None


def firmware_update(payload: Payload, roots: Sequence[x509.Certificate], now: datetime, *, extra_try: bool,
                    allow_unsigned: bool) -> UpdateRequest:  # fmt: skip
    """The updater's request for a signed (or, when allowed, a non-secure) firmware update."""
    firmware = payload["firmware"]
    pem, signature = firmware.get("signingCertificate"), firmware.get("signature")
    certificate = None
    if pem is None and signature is None:
        if not allow_unsigned:
            raise Refused("Rejected", "no signing certificate and signature: unsigned updates are disabled")
    elif pem is None or signature is None:
        raise Refused("Rejected", "a signature needs its signing certificate, and the other way round")
    else:
        try:
            certificate = check_signing_certificate(pem, roots, now)
        except CertificateRejected as exc:
            raise Refused("InvalidCertificate", str(exc), INVALID_SIGNING_CERTIFICATE) from exc
    try:
        Location.parse(firmware["location"])
        retrieve_at = parse_time(firmware["retrieveDateTime"])
        install_at = _time(firmware.get("installDateTime"))
    except (TransferError, ValueError) as exc:
        raise Refused("Rejected", str(exc)) from exc
    return UpdateRequest(
        location=firmware["location"],
        retrieve_at=retrieve_at,
        request_id=payload["requestId"],
        install_at=install_at,
        attempts=attempts(payload.get("retries"), extra_try=extra_try),
        retry_interval_s=payload.get("retryInterval"),
        certificate=certificate,
        signature=signature,
    )


def update_answer(action: str, payload: Payload, read: Callable[[Payload], UpdateRequest], updater: Updater,
                  security_event: SecurityEvent) -> Payload | Reply:  # fmt: skip
    """The answer to a firmware update request (``read`` makes the updater's request of it, or
    refuses it), with the follow-up that reports the refusal's security event or starts it."""
    try:
        request = read(payload)
    except Refused as exc:
        log.error("%s %s: %s", action, payload["requestId"], exc)
        event, reason = exc.event, str(exc)[:255]
        if event is None:
            return {"status": exc.status}
        return Reply({"status": exc.status}, after=lambda: security_event(event, reason))
    answer = updater.answer()
    if answer == "Rejected":
        log.warning("%s %s rejected: update %s is installing", action, request.request_id, updater.request_id)
        return {"status": answer}

    async def start() -> None:
        updater.start(request)

    return Reply({"status": answer}, after=start)


def firmware_status(status: FirmwareStatus, request_id: int | None) -> Payload:
    return {"status": status.value} | ({"requestId": request_id} if request_id is not None else {})


def triggered_firmware_status(status: FirmwareStatus, request_id: int | None) -> Payload:
    if status in (FirmwareStatus.IDLE, FirmwareStatus.INSTALLED):
        return {"status": FirmwareStatus.IDLE.value}
    return firmware_status(status, request_id)


def log_upload(payload: Payload, filename: str, *, extra_try: bool) -> UploadRequest:
    """The uploads' request for GetLog (DiagnosticsLog or SecurityLog)."""
    params = payload["log"]
    try:
        Location.parse(params["remoteLocation"])
        start, stop = _time(params.get("oldestTimestamp")), _time(params.get("latestTimestamp"))
    except (TransferError, ValueError) as exc:
        raise Refused("Rejected", str(exc)) from exc
    return UploadRequest(params["remoteLocation"], filename, payload["logType"] == "SecurityLog", start, stop,
                         payload["requestId"], attempts(payload.get("retries"), extra_try=extra_try),
                         payload.get("retryInterval"))  # fmt: skip


def log_status(status: UploadStatus, failure: str) -> str:
    """UploadLogStatusEnumType for an upload's status (and, for FAILED, the failure's kind)."""
    if status is UploadStatus.FAILED:
        return _FAILURE.get(failure, "UploadFailure")
    return _UPLOAD[status]
