"""OCPP 1.6 diagnostics: GetDiagnostics (1.6 5.9) and GetLog (security whitepaper N01).

Rules kept here (the upload itself: controller/diagnostics/upload.py):
- GetDiagnostics answers the file name it will upload (one tar.gz: controller/diagnostics/
  archive.py) and reports DiagnosticsStatusNotification Uploading, then Uploaded or
  UploadFailed. A location that is not an http(s)/ftp(s) URL is a CALLERROR
  PropertyConstraintViolation naming the problem.
- GetLog is read as both versions read it (controller/ocpp/file_requests.py: DiagnosticsLog or
  SecurityLog, a bad location Rejected, ``retries`` = attempts, the failure statuses); every
  LogStatusNotification carries the requestId (N01.FR.07). A new request while one uploads
  cancels it: AcceptedCanceled (N01.FR.11); the whitepaper has no status for the cancelled one.
- TriggerMessage DiagnosticsStatusNotification: Uploading while an upload runs, else Idle;
  ExtendedTriggerMessage LogStatusNotification (``send_log_status``) likewise.
- This feature keeps the log files it uploads (controller/diagnostics/logs.py): started at
  attach, stopped at close; it is also the link's frame log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.clock import WallClock, parse_time
from controller.diagnostics import DiagnosticsConfig
from controller.diagnostics.upload import UploadRequest, Uploads, UploadStatus
from controller.ocpp.file_requests import Refused, log_status, log_upload
from controller.ocpp.link import CallFailed, Refuse, Reply
from controller.ocpp.v16.status import connector_status
from controller.transfer import Location, TransferError

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import ChargePoint

log = logging.getLogger(__name__)

Payload = dict[str, Any]
DIAGNOSTICS_STATUS = {UploadStatus.UPLOADING: "Uploading", UploadStatus.UPLOADED: "Uploaded",
                      UploadStatus.FAILED: "UploadFailed"}  # fmt: skip


class Diagnostics:
    charge_point: ChargePoint | None = None  # set by build_frontend

    def __init__(self, config: DiagnosticsConfig, state_dir: Path, clock: WallClock, *,
                 effective_config: dict[str, Any], version: str, charge_point_id: str):  # fmt: skip
        self.clock, self.version, self.charge_point_id = clock, version, charge_point_id
        self.station: Station | None = None
        self.uploads = Uploads(config, state_dir, report=self._report, status=self.status,
                               effective_config=effective_config)  # fmt: skip

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"GetDiagnostics": self.get_diagnostics, "GetLog": self.get_log}

    def trigger_messages(self) -> dict[str, Callable[[], Awaitable[None]]]:
        return {"DiagnosticsStatusNotification": self.send_status}

    def attach(self, station: Station) -> None:
        self.station = station
        self.uploads.open()
        if self.charge_point is not None:
            self.charge_point.link.frame_log = self.uploads.logs.frame

    async def close(self) -> None:
        await self.uploads.close()

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
        security = payload["logType"] == "SecurityLog"
        try:
            request = log_upload(payload, self._filename("security" if security else "diagnostics"), extra_try=False)
        except Refused as exc:
            log.error("GetLog %s rejected: %s", payload["requestId"], exc)
            return {"status": exc.status}
        answer = "AcceptedCanceled" if self.uploads.busy else "Accepted"
        return Reply({"status": answer, "filename": request.filename}, after=lambda: self._start(request))

    async def _start(self, request: UploadRequest) -> None:
        self.uploads.start(request)

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

    async def _report(self, request: UploadRequest, status: UploadStatus, failure: str) -> None:
        if status is UploadStatus.CANCELED:
            return  # neither 1.6 nor the whitepaper has a status for it
        if request.request_id is None:
            await self._send("DiagnosticsStatusNotification", {"status": DIAGNOSTICS_STATUS[status]})
        else:
            payload = {"status": log_status(status, failure), "requestId": request.request_id}
            await self._send("LogStatusNotification", payload)

    async def send_status(self) -> None:
        """TriggerMessage DiagnosticsStatusNotification."""
        current = self.uploads.current
        await self._send("DiagnosticsStatusNotification", {"status": "Uploading" if current else "Idle"})

    async def send_log_status(self) -> None:
        """ExtendedTriggerMessage LogStatusNotification (N01.FR.12)."""
        current = self.uploads.current
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
