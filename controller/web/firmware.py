"""A signed release uploaded from the page, installed with the same checks as an OCPP update.

Rules kept here:
- Only signed releases. The signing certificate (PEM) must be issued by a trusted manufacturer
  root (the installed ManufacturerRootCertificates and ``[firmware] manufacturer_roots``), as
  for SignedUpdateFirmware; then the station's one updater (controller/firmware/updater.py)
  checks the signature over the file and the release itself, waits for charging to end,
  installs on trial and restarts, reporting each step to the backend when there is one.
- The file streams to ``<state_dir>/firmware-upload`` within ``[firmware] max_size_mb``; a
  bigger one is refused (413) and nothing of it is kept. While an install is under way a new
  upload is refused (409); one that has not begun installing is replaced, as over OCPP.
- A refused certificate is the security event InvalidFirmwareSigningCertificate, as over OCPP.
- Without a backend the page keeps an updater of its own; its statuses are only logged.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller import __version__
from controller.api import BadRequest
from controller.core.vocabulary import RestartKind
from controller.firmware.signature import CertificateRejected, check_signing_certificate, load_roots
from controller.firmware.update import FirmwareStatus
from controller.firmware.updater import Updater, UpdateRequest
from controller.httpd.messages import Request, Response, json_response, too_large
from controller.httpd.multipart import Part, parts
from controller.web import WEB, Web
from controller.web.words import FIRMWARE_STEPS

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509

    from controller.daemon import Daemon

log = logging.getLogger(__name__)

MAX_TEXT = 16 * 1024  # a PEM certificate or a base64 signature: a few kB
UPLOAD_DIR = "firmware-upload"
UPLOAD_NAME = "release.bin"  # a fixed name: the browser's file name never reaches the file system


def updater(shared: Web) -> Updater:
    daemon = shared.api.daemon
    found = daemon.ocpp.firmware_updater if daemon.ocpp is not None else None
    if found is not None:
        return found
    made = shared.made.get("updater")
    if made is None:
        cfg = daemon.config
        made = Updater(
            cfg.firmware, cfg.storage.state_dir, daemon.clock, __version__,
            report=_logged, security_event=_security_event(daemon), restart_kind=RestartKind.SOFT,
        )  # fmt: skip
        made.attach(daemon.station)
        shared.made["updater"] = made
    return made


async def _logged(status: FirmwareStatus, request_id: int | None, signed: bool) -> None:
    """No backend to tell: the updater logs every step itself."""


def _security_event(daemon: Daemon) -> Callable[[str, str | None], Awaitable[None]]:
    async def report(kind: str, detail: str | None) -> None:
        if daemon.ocpp is not None:
            await daemon.ocpp.report_security_event(kind, detail or "")
        else:
            log.warning("security event %s: %s", kind, detail)

    return report


def progress(shared: Web) -> dict[str, Any]:
    """Where the station's update stands, in words and percent (None: nothing under way)."""
    status = updater(shared).status
    words, percent = FIRMWARE_STEPS[status]
    return {"status": status.value, "words": words, "progress": percent}


def roots(daemon: Daemon) -> list[x509.Certificate]:
    store = getattr(daemon.ocpp, "certificates", None)
    installed = store.certificates("ManufacturerRootCertificate") if store is not None else []
    return [*installed, *load_roots(daemon.config.firmware.manufacturer_roots)]


async def _text(part: Part, name: str) -> str:
    data = b""
    async for chunk in part.chunks():
        data += chunk
        if len(data) > MAX_TEXT:
            raise BadRequest(f"{name} is longer than {MAX_TEXT} bytes")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise BadRequest(f"{name} is not ASCII text") from None


async def _save(part: Part, path: Path, limit: int) -> int:
    size = 0
    with path.open("wb") as out:
        async for chunk in part.chunks():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            out.write(chunk)  # small chunks on the loop: the upload itself is the slow part
    return size


async def upload(request: Request) -> Response:
    shared = request[WEB]
    daemon = shared.api.daemon
    target = updater(shared)
    if target.answer() == "Rejected":
        return json_response({"error": f"an update is installing ({target.status.value}): try later"}, status=409)
    folder = daemon.config.storage.state_dir / UPLOAD_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = folder / UPLOAD_NAME
    fields: dict[str, str] = {}
    size = 0
    try:
        async for part in parts(request):
            if part.headers.get("Content-Type", "").lower().startswith("multipart/"):
                raise BadRequest("nested multipart bodies are not accepted")
            if part.name == "file":
                size = await _save(part, path, daemon.config.firmware.max_size_bytes)
            elif part.name in ("certificate", "signature"):
                fields[part.name] = await _text(part, part.name)
            else:
                raise BadRequest(f"unexpected field {str(part.name)[:40]!r}: file, certificate, signature")
        missing = ([] if size else ["file"]) + [name for name in ("certificate", "signature") if name not in fields]
        if missing:
            raise BadRequest("a release needs its file, its signing certificate (PEM) and its signature (base64): "
                             f"missing {', '.join(missing)}")  # fmt: skip
        try:
            certificate = check_signing_certificate(fields["certificate"], roots(daemon), daemon.clock.now())
        except CertificateRejected as exc:
            await _security_event(daemon)("InvalidFirmwareSigningCertificate", str(exc)[:255])
            raise BadRequest(f"the signing certificate is not trusted: {exc}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.warning("firmware upload of %d bytes from %s: verifying and installing", size, request.remote)
    target.start(UpdateRequest(location="upload", retrieve_at=daemon.clock.now(), certificate=certificate,
                               signature=fields["signature"], artifact=path))  # fmt: skip
    words = "Uploaded: the signature and the release are checked, then it installs once charging has ended."
    return json_response({"ok": True, "words": words}, status=202)
