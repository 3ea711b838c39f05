"""OCPP 1.6 diagnostics: GetDiagnostics (1.6 5.9) and GetLog (security whitepaper N01).

Rules kept here:
- GetDiagnostics answers the file name it will upload (one tar.gz: controller/diagnostics/
  archive.py) and reports DiagnosticsStatusNotification Uploading, then Uploaded or
  UploadFailed. A location that is not an http(s)/ftp(s) URL is a CALLERROR
  PropertyConstraintViolation naming the problem.
- GetLog: DiagnosticsLog or SecurityLog; every LogStatusNotification carries the requestId
  (N01.FR.07); a failure is reported as precisely as known: PermissionDenied (401/403, FTP
  530/550), BadMessage (bad location), NotSupportedOperation (scheme), else UploadFailure
  (N01.FR.10). A new request while one uploads cancels it: AcceptedCanceled (N01.FR.11).
- startTime/stopTime (oldestTimestamp/latestTimestamp) bound the log lines included.
- Attempts: ``retries`` (default from config) ``retryInterval`` apart; a bad location is not
  retried. The archive lives in ``<state_dir>/diagnostics`` only while it is uploaded.
- TriggerMessage DiagnosticsStatusNotification: Uploading while an upload runs, else Idle;
  ExtendedTriggerMessage LogStatusNotification (``send_log_status``) likewise.
- This feature keeps the log files it uploads (controller/diagnostics/logs.py): started at
  attach, stopped at close; it is also the link's frame log.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.clock import WallClock, parse_time
from controller.diagnostics import DiagnosticsConfig
from controller.diagnostics.archive import LogSet, build_archive, diagnostics_logs, security_logs
from controller.diagnostics.logs import LogFiles
from controller.firmware.update import attempts
from controller.ocpp.link import CallFailed, Refuse, Reply
from controller.ocpp.v16.status import connector_status
from controller.tasks import Tasks
from controller.transfer import Location, TransferError, redacted, upload

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import ChargePoint

log = logging.getLogger(__name__)

Payload = dict[str, Any]
LOG_FAILURE = {"permission": "PermissionDenied", "location": "BadMessage", "unsupported": "NotSupportedOperation"}
FINAL = ("location", "unsupported", "permission")


@dataclass(frozen=True)
class UploadRequest:
    location: str
    filename: str
    security: bool  # SecurityLog instead of the diagnostics
    start: datetime | None
    stop: datetime | None
    request_id: int | None  # None: 1.6 GetDiagnostics
    retries: int | None
    retry_interval_s: float | None


class Diagnostics:
    charge_point: ChargePoint | None = None  # set by build_frontend

    def __init__(self, config: DiagnosticsConfig, state_dir: Path, clock: WallClock, *,
                 effective_config: dict[str, Any], version: str, charge_point_id: str):  # fmt: skip
        self.config, self.state_dir, self.clock = config, state_dir, clock
        self.effective_config, self.version = effective_config, version
        self.charge_point_id = charge_point_id
        self.station: Station | None = None
        self.logs = LogFiles(state_dir / "logs", config.log_max_bytes, config.log_backups)
        self.work_dir = state_dir / "diagnostics"
        self.current: UploadRequest | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks = Tasks("ocpp diagnostics")

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"GetDiagnostics": self.get_diagnostics, "GetLog": self.get_log}

    def trigger_messages(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"DiagnosticsStatusNotification": self.send_status}

    def attach(self, station: Station) -> None:
        self.station = station
        shutil.rmtree(self.work_dir, ignore_errors=True)  # an archive a power cut left behind
        self.logs.start()
        if self.charge_point is not None:
            self.charge_point.link.frame_log = self.logs.frame

    async def close(self) -> None:
        await self._tasks.cancel()
        self.logs.stop()

    # ---- CSMS -> charge point ----------------------------------------------------------------

    def _filename(self, kind: str) -> str:
        return f"{kind}-{self.charge_point_id}-{self.clock.now():%Y%m%dT%H%M%SZ}.tar.gz"[:255]

    async def get_diagnostics(self, payload: Payload) -> Payload | Reply:
        try:
            Location.parse(payload["location"])
            start = parse_time(payload["startTime"]) if "startTime" in payload else None
            stop = parse_time(payload["stopTime"]) if "stopTime" in payload else None
        except (TransferError, ValueError) as exc:
            raise Refuse("PropertyConstraintViolation", str(exc)) from exc
        request = UploadRequest(payload["location"], self._filename("diagnostics"), False, start, stop, None,
                                payload.get("retries"), payload.get("retryInterval"))  # fmt: skip
        return Reply({"fileName": request.filename}, after=lambda: self._start(request))

    async def get_log(self, payload: Payload) -> Payload | Reply:
        params = payload["log"]
        try:
            Location.parse(params["remoteLocation"])
            start = parse_time(params["oldestTimestamp"]) if "oldestTimestamp" in params else None
            stop = parse_time(params["latestTimestamp"]) if "latestTimestamp" in params else None
        except (TransferError, ValueError) as exc:
            log.error("GetLog %s rejected: %s", payload["requestId"], exc)
            return {"status": "Rejected"}
        security = payload["logType"] == "SecurityLog"
        request = UploadRequest(params["remoteLocation"], self._filename("security" if security else "diagnostics"),
                                security, start, stop, payload["requestId"], payload.get("retries"),
                                payload.get("retryInterval"))  # fmt: skip
        busy = self._task is not None and not self._task.done()
        answer = "AcceptedCanceled" if busy else "Accepted"
        return Reply({"status": answer, "filename": request.filename}, after=lambda: self._start(request))

    async def _start(self, request: UploadRequest) -> None:
        if self._task is not None and not self._task.done():
            log.warning("upload of %s cancelled by a new request", self.current.filename if self.current else "?")
            self._task.cancel()
        self._task = self._tasks.spawn(self._upload(request), f"upload {request.filename}")

    # ---- the upload --------------------------------------------------------------------------

    async def _upload(self, request: UploadRequest) -> None:
        self.current = request
        await self._report(request, "Uploading")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        archive = self.work_dir / "upload.tar.gz"  # a fixed name: the URL never names a local file
        try:
            logs: list[LogSet] = security_logs(self.state_dir) if request.security else diagnostics_logs(self.logs)
            await asyncio.to_thread(build_archive, archive, config=self.effective_config, status=self.status(),
                                    logs=logs, start=request.start, stop=request.stop)  # fmt: skip
            tries = attempts(request.retries, self.config.retries)
            interval = self.config.retry_interval_s if request.retry_interval_s is None else request.retry_interval_s
            for attempt in range(1, tries + 1):
                try:
                    await upload(request.location, archive, request.filename, method=self.config.upload_method)
                    break
                except TransferError as exc:
                    log.warning("upload %s/%s to %s: %s", attempt, tries, redacted(request.location), exc)
                    if exc.kind in FINAL or attempt == tries:
                        await self._report(request, "UploadFailed", exc.kind)
                        return
                    await asyncio.sleep(max(0.0, interval))  # the CSMS's retryInterval
            log.info("uploaded %s to %s", request.filename, redacted(request.location))
            await self._report(request, "Uploaded")
        except OSError as exc:
            log.error("diagnostics archive not built: %s", exc)
            await self._report(request, "UploadFailed")
        finally:
            self.current = None
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def status(self) -> dict[str, Any]:
        """What status.json says: version, backend link, each connector."""
        connectors = [
            {"connector": v.id, "status": connector_status(v)[0].value,
             "fault": v.fault.value if v.fault else None, "operative": v.operative,
             "transaction": v.transaction.id if v.transaction else None}
            for v in (self.station.views() if self.station else ())
        ]  # fmt: skip
        ocpp = self.charge_point.status_json()["ocpp"] if self.charge_point is not None else None
        return {"version": self.version, "charge_point_id": self.charge_point_id,
                "generated_at": self.clock.now().isoformat(), "ocpp": ocpp, "connectors": connectors}  # fmt: skip

    async def _report(self, request: UploadRequest, status: str, failure: str = "failed") -> None:
        if request.request_id is None:
            await self._send("DiagnosticsStatusNotification", {"status": status})
            return
        if status == "UploadFailed":
            status = LOG_FAILURE.get(failure, "UploadFailure")
        await self._send("LogStatusNotification", {"status": status, "requestId": request.request_id})

    async def send_status(self) -> None:
        """TriggerMessage DiagnosticsStatusNotification."""
        await self._send("DiagnosticsStatusNotification", {"status": "Uploading" if self.current else "Idle"})

    async def send_log_status(self) -> None:
        """ExtendedTriggerMessage LogStatusNotification (N01.FR.12)."""
        current = self.current
        if current is not None and current.request_id is not None:
            await self._send("LogStatusNotification", {"status": "Uploading", "requestId": current.request_id})
        else:
            await self._send("LogStatusNotification", {"status": "Idle"})

    async def _send(self, action: str, payload: Payload) -> None:
        cp = self.charge_point
        if cp is None:
            return
        try:
            await cp.link.call(action, payload)
        except CallFailed as exc:
            log.info("%s %s not sent: %s", action, payload["status"], exc)
