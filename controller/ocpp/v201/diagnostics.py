"""Log upload (part 2 N01): GetLog into the station's diagnostics uploads
(controller/diagnostics/upload.py), a LogStatusNotification for each of their steps.

Rules kept here:
- GetLog is read as both versions read it (controller/ocpp/file_requests.py): DiagnosticsLog
  (the daemon's log and the OCPP frame log) or SecurityLog (N01.FR.03/04), only the lines
  between oldestTimestamp and latestTimestamp, ``retries`` after the first try
  ``retryInterval`` apart; a location that is not an http(s)/ftp(s) URL is Rejected. The
  answer names the file (N01.FR.01); the upload starts once the answer is on the wire.
- A GetLog while an upload is assembled or sent cancels it: AcceptedCanceled (N01.FR.12), then
  LogStatusNotification AcceptedCanceled with the cancelled request's id, before the new
  upload reports anything (N01.FR.20).
- Every status carries its request's id (N01.FR.07): Uploading when the upload starts
  (N01.FR.08), then Uploaded (N01.FR.09) or, after the last attempt, the failure as precisely
  as known (N01.FR.10). They are queued in the journal: delivered in order, not lost offline.
- TriggerMessage LogStatusNotification: Uploading with the running upload's id, else Idle
  without one (F06.FR.14/15, N01.FR.13), sent right after the response.
- This block keeps the log files it uploads (controller/diagnostics/logs.py) while the front
  end runs, and is the link's frame log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller.clock import WallClock
from controller.diagnostics import DiagnosticsConfig
from controller.diagnostics.upload import UploadRequest, Uploads, UploadStatus
from controller.ocpp.file_requests import Refused, log_status, log_upload
from controller.ocpp.journal import Journal
from controller.ocpp.link import CallFailed, Link, Reply
from controller.ocpp.v201.availability import connector_status

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ACTION = "LogStatusNotification"
FILE_KIND = {"DiagnosticsLog": "diagnostics", "SecurityLog": "security"}


class Diagnostics:
    def __init__(self, config: DiagnosticsConfig, state_dir: Path, clock: WallClock, *, link: Link,
                 journal: Journal, station: Station, identity: str, ocpp_status: Callable[[], Payload],
                 effective_config: dict[str, Any]):  # fmt: skip
        self.clock, self.link, self.journal, self.station = clock, link, journal, station
        self.identity, self.ocpp_status = identity, ocpp_status
        self.uploads = Uploads(config, state_dir, report=self._report, status=self.status,
                               effective_config=effective_config)  # fmt: skip

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"GetLog": self.get_log}

    def open(self) -> None:
        self.uploads.open()
        self.link.frame_log = self.uploads.logs.frame

    async def close(self) -> None:
        self.link.frame_log = None
        await self.uploads.close()

    async def get_log(self, payload: Payload) -> Payload | Reply:
        name = f"{FILE_KIND[payload['logType']]}-{self.identity}-{self.clock.now():%Y%m%dT%H%M%SZ}.tar.gz"[:255]
        try:
            request = log_upload(payload, name, extra_try=True)
        except Refused as exc:
            log.error("GetLog %s rejected: %s", payload["requestId"], exc)
            return {"status": exc.status}
        answer = "AcceptedCanceled" if self.uploads.busy else "Accepted"

        async def start() -> None:
            self.uploads.start(request)

        return Reply({"status": answer, "filename": request.filename}, after=start)

    async def _report(self, request: UploadRequest, status: UploadStatus, failure: str) -> None:
        await self.journal.enqueue(ACTION, {"status": log_status(status, failure), "requestId": request.request_id})

    async def send_triggered(self) -> None:
        """TriggerMessage LogStatusNotification (F06.FR.14/15)."""
        current = self.uploads.current
        payload = {"status": "Uploading", "requestId": current.request_id} if current else {"status": "Idle"}
        try:
            await self.link.call(ACTION, payload)
        except CallFailed as exc:
            log.info("triggered %s not sent: %s", ACTION, exc)

    def status(self) -> Payload:
        """The archive's status.json: version, backend link, each connector."""
        connectors = [
            {"evse": v.id, "status": s.value if (s := connector_status(v)) else None,
             "fault": v.fault.value if v.fault else None, "operative": v.operative,
             "transaction": v.transaction.id if v.transaction else None}
            for v in self.station.views()
        ]  # fmt: skip
        return {"version": "2.0.1", "charge_point_id": self.identity, "generated_at": self.clock.now().isoformat(),
                "ocpp": self.ocpp_status(), "connectors": connectors}  # fmt: skip
