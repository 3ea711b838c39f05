"""One diagnostics upload at a time: the archive of the kept logs, sent to the backend's location
with attempts. Version-neutral: the OCPP front ends translate requests and statuses.

Rules kept here (OCPP 1.6 5.9; security whitepaper N01; 2.0.1 N01):
- The daemon's log files (logs.py) are kept while the uploads are open: ``open`` starts them
  (and removes an archive a power cut left behind), ``close`` stops them.
- ``start`` begins an upload; one under way is cancelled, and once its clean-up has ended it is
  reported CANCELED, before the new one reports anything (a request cancelled before it
  reported the one it cancelled leaves that report to the next: each is reported once, in order).
- Each status is reported (awaited) before the next piece of work: UPLOADING, then UPLOADED or
  FAILED with the failure's kind (controller/transfer.py: "permission", "location",
  "unsupported", "failed"); an archive that cannot be built is FAILED "failed".
- Attempts: ``attempts`` (None: ``[diagnostics] retries``), ``retry_interval_s`` apart (None:
  the configured interval); a bad location, an unsupported scheme or a refused permission is
  not retried.
- The archive lives in ``<state_dir>/diagnostics/upload.tar.gz`` (a fixed name: the URL never
  names a local file) only while it is uploaded.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from controller.diagnostics import DiagnosticsConfig
from controller.diagnostics.archive import build_archive, diagnostics_logs, security_logs
from controller.diagnostics.logs import LogFiles
from controller.tasks import Tasks
from controller.transfer import TransferError, redacted, upload

log = logging.getLogger(__name__)

FINAL = ("location", "unsupported", "permission")  # retrying cannot help


class UploadStatus(StrEnum):
    UPLOADING = "uploading"
    UPLOADED = "uploaded"
    FAILED = "failed"
    CANCELED = "canceled"


@dataclass(frozen=True)
class UploadRequest:
    location: str
    filename: str
    security: bool  # the security log instead of the diagnostics
    start: datetime | None  # bounds of the log lines included
    stop: datetime | None
    request_id: int | None  # None: 1.6 GetDiagnostics
    attempts: int | None = None
    retry_interval_s: float | None = None


Report = Callable[[UploadRequest, UploadStatus, str], Awaitable[None]]  # request, status, failure kind


class Uploads:
    def __init__(self, config: DiagnosticsConfig, state_dir: Path, *, report: Report,
                 status: Callable[[], dict[str, Any]], effective_config: dict[str, Any]):  # fmt: skip
        self.config, self.state_dir = config, state_dir
        self.report, self.status, self.effective_config = report, status, effective_config
        self.logs = LogFiles(state_dir / "logs", config.log_max_bytes, config.log_backups)
        self.work_dir = state_dir / "diagnostics"
        self.current: UploadRequest | None = None  # the upload under way
        self._cancelled: list[UploadRequest] = []  # cancelled, not reported yet
        self._task: asyncio.Task[None] | None = None
        self._tasks = Tasks("diagnostics uploads")

    def open(self) -> None:
        shutil.rmtree(self.work_dir, ignore_errors=True)
        self.logs.start()

    async def close(self) -> None:
        await self._tasks.cancel()
        self.logs.stop()

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, request: UploadRequest) -> None:
        previous = self._task if self.busy else None
        if previous is not None:
            if self.current is not None:
                log.warning("upload of %s cancelled by a new request", self.current.filename)
                self._cancelled.append(self.current)
            previous.cancel()
        self.current = request
        self._task = self._tasks.spawn(self._run(request, previous), f"upload {request.filename}")

    async def _run(self, request: UploadRequest, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        while self._cancelled:  # kept for the next upload if this one is cancelled meanwhile
            await self.report(self._cancelled[0], UploadStatus.CANCELED, "")
            self._cancelled.pop(0)
        try:
            await self._upload(request)
        finally:
            if self.current is request:
                self.current = None
            shutil.rmtree(self.work_dir, ignore_errors=True)

    async def _upload(self, request: UploadRequest) -> None:
        await self.report(request, UploadStatus.UPLOADING, "")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        archive = self.work_dir / "upload.tar.gz"
        try:
            logs = security_logs(self.state_dir) if request.security else diagnostics_logs(self.logs)
            await asyncio.to_thread(build_archive, archive, config=self.effective_config, status=self.status(),
                                    logs=logs, start=request.start, stop=request.stop)  # fmt: skip
            await self._send(request, archive)
        except OSError as exc:
            log.error("diagnostics archive %s not built or read: %s", request.filename, exc)
            await self.report(request, UploadStatus.FAILED, "failed")

    async def _send(self, request: UploadRequest, archive: Path) -> None:
        tries = max(1, self.config.retries if request.attempts is None else request.attempts)
        interval = self.config.retry_interval_s if request.retry_interval_s is None else request.retry_interval_s
        for attempt in range(1, tries + 1):
            try:
                await upload(request.location, archive, request.filename, method=self.config.upload_method)
            except TransferError as exc:
                log.warning("upload %s/%s to %s: %s", attempt, tries, redacted(request.location), exc)
                if exc.kind in FINAL or attempt == tries:
                    await self.report(request, UploadStatus.FAILED, exc.kind)
                    return
                await asyncio.sleep(max(0.0, interval))  # the backend's retryInterval
                continue
            log.info("uploaded %s to %s", request.filename, redacted(request.location))
            await self.report(request, UploadStatus.UPLOADED, "")
            return
