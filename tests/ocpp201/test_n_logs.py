"""Part 6 section 2.13, N Diagnostics: log upload (N01).

The bench behind the station: an HTTP server on loopback that takes uploads with PUT under
``/up/<name>`` (<Configured log_location>), answers 404 elsewhere (a location with a non-existing
path, errata 6.2.93), and can hold an upload under way (``held``).
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from typing import Any

from firmware_bench import FileServer

from ocpp201.harness import MODULE, Harness

pytestmark = MODULE
# A dropped link comes back within a second (the default back-off may wait longer than a step may take).
PRESETS = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
           "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0}  # fmt: skip
STATUS = "LogStatusNotification"
RETRY_INTERVAL_S = 1  # <Configured retryInterval>


def get_log(files: FileServer, request_id: int, log_type: str = "DiagnosticsLog", path: str = "", **extra: Any
            ) -> dict[str, Any]:  # fmt: skip
    location = files.url(path or f"/up/log-{request_id}.tar.gz")
    return {"logType": log_type, "requestId": request_id, "log": {"remoteLocation": location}, **extra}


def log_status(status: str, request_id: int) -> Any:
    return lambda p: p["status"] == status and p.get("requestId") == request_id


def statuses(cs: Harness, since: int) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("requestId")) for p in cs.calls(STATUS, since)]


def members(archive: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


async def test_TC_N_25_CS(cs: Harness, files: FileServer) -> None:
    """Retrieve Log Information - Diagnostics Log - Success: Accepted with a file name; Uploading,
    then Uploaded (the table's "Updated" is a typo for the only success status), both with the
    requestId; the file holds the daemon's log and the OCPP frames."""
    since = cs.mark()
    answer = await cs.call("GetLog", get_log(files, 2501))
    assert answer["status"] == "Accepted" and answer["filename"]  # step 2
    await cs.expect(STATUS, log_status("Uploaded", 2501), since)  # step 5
    assert statuses(cs, since) == [("Uploading", 2501), ("Uploaded", 2501)]  # steps 3, 5
    uploaded = members(files.uploads["log-2501.tar.gz"])
    assert '"GetLog"' in uploaded["logs/ocpp.log"] and "logs/evsed.log" in uploaded
    assert "logs/security.log" not in uploaded


async def test_TC_N_26_CS(cs: Harness, files: FileServer) -> None:
    """Retrieve Log Information - Diagnostics Log - Upload failed (errata 6.2.93): retries 3 to a
    location with a non-existing path; Uploading once, UploadFailure once, after 4 attempts
    <Configured retryInterval> apart."""
    since, attempts = cs.mark(), len(files.requests)
    request = get_log(files, 2601, path="/missing/log.tar.gz", retries=3, retryInterval=RETRY_INTERVAL_S)
    assert (await cs.call("GetLog", request))["status"] == "Accepted"  # step 2
    failed = await cs.expect_frame(STATUS, log_status("UploadFailure", 2601), since)  # step 5
    uploading = await cs.expect_frame(STATUS, log_status("Uploading", 2601), since)  # step 3
    assert statuses(cs, since) == [("Uploading", 2601), ("UploadFailure", 2601)]  # exactly once each
    assert files.requests[attempts:] == [("PUT", "/missing/log.tar.gz")] * 4
    assert failed.at - uploading.at >= 3 * RETRY_INTERVAL_S


async def test_TC_N_35_CS(cs: Harness, files: FileServer) -> None:
    """Retrieve Log Information - Security Log - Success: Uploading, Uploaded with the requestId;
    the file is the security log (the startup's security event is in it), not the diagnostics."""
    since = cs.mark()
    assert (await cs.call("GetLog", get_log(files, 3501, "SecurityLog")))["status"] == "Accepted"  # step 2
    await cs.expect(STATUS, log_status("Uploaded", 3501), since)  # step 5
    assert statuses(cs, since) == [("Uploading", 3501), ("Uploaded", 3501)]  # steps 3, 5
    uploaded = members(files.uploads["log-3501.tar.gz"])
    assert "StartupOfTheDevice" in uploaded["logs/security.log"] and "logs/ocpp.log" not in uploaded


async def test_TC_N_36_CS(cs: Harness, files: FileServer) -> None:
    """Retrieve Log Information - Second Request (errata 6.2.97): the first upload is held under
    way; a second GetLog is AcceptedCanceled, the first is reported AcceptedCanceled with its
    own requestId, then the second Uploading and Uploaded."""
    files.held["log-3601.tar.gz"] = asyncio.Event()  # the first upload stays under way
    since = cs.mark()
    assert (await cs.call("GetLog", get_log(files, 3601)))["status"] == "Accepted"  # step 2
    await cs.expect(STATUS, log_status("Uploading", 3601), since)  # step 3
    await cs.until(lambda: ("PUT", "/up/log-3601.tar.gz") in files.requests, what="the first upload")
    assert (await cs.call("GetLog", get_log(files, 3602)))["status"] == "AcceptedCanceled"  # step 6
    await cs.expect(STATUS, log_status("Uploaded", 3602), since)  # step 11
    assert statuses(cs, since) == [("Uploading", 3601), ("AcceptedCanceled", 3601), ("Uploading", 3602),
                                   ("Uploaded", 3602)]  # steps 3, 7, 9, 11  # fmt: skip
    assert "log-3601.tar.gz" not in files.uploads and "log-3602.tar.gz" in files.uploads


# ---- beyond part 6 ----------------------------------------------------------------------------


async def test_only_the_lines_between_oldest_and_latest_timestamp_are_uploaded(cs: Harness, files: FileServer
                                                                              ) -> None:  # fmt: skip
    """oldestTimestamp / latestTimestamp bound the log lines: a window that ended before the
    station started holds none of its lines."""
    since = cs.mark()
    window = {"remoteLocation": files.url("/up/old.tar.gz"), "oldestTimestamp": "2001-01-01T00:00:00Z",
              "latestTimestamp": "2001-01-02T00:00:00Z"}  # fmt: skip
    assert (await cs.call("GetLog", {"logType": "DiagnosticsLog", "requestId": 7, "log": window}))["status"] == (
        "Accepted"
    )
    await cs.expect(STATUS, log_status("Uploaded", 7), since)
    uploaded = members(files.uploads["old.tar.gz"])
    assert uploaded["logs/ocpp.log"] == uploaded["logs/evsed.log"] == ""


async def test_a_location_that_is_no_url_is_rejected_and_nothing_starts(cs: Harness) -> None:
    """A remoteLocation that is not an http(s)/ftp(s) URL: Rejected, no LogStatusNotification."""
    since = cs.mark()
    request = {"logType": "DiagnosticsLog", "requestId": 8, "log": {"remoteLocation": "file:///etc/passwd"}}
    assert (await cs.call("GetLog", request))["status"] == "Rejected"
    await cs.barrier()
    assert cs.calls(STATUS, since) == []


async def test_statuses_wait_in_the_queue_while_offline(cs: Harness, files: FileServer) -> None:
    """The link drops while an upload runs: its Uploaded is delivered after the reconnect, in order."""
    files.held["offline.tar.gz"] = gate = asyncio.Event()
    since = cs.mark()
    request = {"logType": "DiagnosticsLog", "requestId": 9, "log": {"remoteLocation": files.url("/up/offline.tar.gz")}}
    assert (await cs.call("GetLog", request))["status"] == "Accepted"
    await cs.expect(STATUS, log_status("Uploading", 9), since)
    await cs.until(lambda: ("PUT", "/up/offline.tar.gz") in files.requests, what="the upload")
    async with asyncio.timeout(10):  # Uploading confirmed: a link lost before that resends it (same id)
        await cs.frontend.journal.wait_empty()
    await cs.drop()
    gate.set()
    await cs.until(lambda: "offline.tar.gz" in files.uploads, what="the upload to end")
    cs.accept()
    await cs.connected()
    await cs.expect(STATUS, log_status("Uploaded", 9), since)
    assert statuses(cs, since) == [("Uploading", 9), ("Uploaded", 9)]
