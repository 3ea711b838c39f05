"""Diagnostics over OCPP on the bench: GetDiagnostics and GetLog from the bench CSMS, the
archive uploaded to a real HTTP server (PUT and POST) and a real FTP server (pyftpdlib) on
loopback, its contents read back, secrets searched for and not found."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from datetime import UTC, datetime, timedelta

import pytest
from conftest import eventually
from firmware_bench import FileServer, FtpServer
from ocpp.exceptions import OCPPError

from controller.config import parse
from controller.daemon import Daemon
from controller.diagnostics import DiagnosticsConfig
from controller.diagnostics.archive import redact
from controller.diagnostics.logs import FRAME_LOG_CHARS, frame_line, lines_between
from controller.diagnostics.upload import UploadRequest, Uploads, UploadStatus
from controller.safety.process import open_board
from sim.csms import Csms, CsmsConfig

AUTH_KEY = "A1B2C3D4E5F60718293A4B5C6D7E8F90"  # 16 bytes as hex
FTP_PASSWORD = "s3cr3t-ftp"
CONFIG = """
[station]
charge_point_id = "CP-DIAG"
[board]
type = "sim"
[[connector]]
id = 1
[charging]
authorize = "local"
tokens = ["SECRET-TAG-1"]
[storage]
state_dir = "{state}"
[api]
enabled = false
[ocpp]
url = "ws://127.0.0.1:{port}"
reconnect_cap_s = 0.2
[diagnostics]
upload_method = "{method}"
retry_interval_s = 0
"""


@pytest.fixture
async def bench(tmp_path):
    csms = Csms(CsmsConfig())
    await csms.start()
    files = FileServer()
    await files.start()
    daemons: list[Daemon] = []

    async def start(method: str = "PUT") -> Daemon:
        config = parse(CONFIG.format(state=tmp_path / "state", port=csms.port, method=method), "diag.toml")
        daemon = Daemon(config, open_board(config))
        await daemon.start()
        daemons.append(daemon)
        async with asyncio.timeout(15):
            await csms.wait_for(lambda c: c.received["StatusNotification"] >= 2)
        return daemon

    yield csms, files, start
    for daemon in daemons:
        await daemon.stop()
    await files.stop()
    await csms.stop()


def statuses(csms: Csms, action: str) -> list[str]:
    return [f[3]["status"] for f in csms.calls_received(action)]


async def wait(csms: Csms, action: str, status: str, request_id: int | None = None) -> None:
    def sent(c: Csms) -> bool:
        return any(f[3]["status"] == status and f[3].get("requestId") == request_id for f in c.calls_received(action))

    async with asyncio.timeout(20):
        await csms.wait_for(sent)


def members(data: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]


async def test_get_diagnostics_uploads_logs_config_status_over_http_without_secrets(bench):
    csms, files, start = bench
    await start()
    cp = "CP-DIAG"
    assert await csms.call(cp, "ChangeConfiguration", {"key": "AuthorizationKey", "value": AUTH_KEY}) == {
        "status": "Accepted"}  # fmt: skip
    answer = await csms.call(cp, "GetDiagnostics", {"location": files.url("/up/diag.tar.gz"), "retries": 2})
    assert answer["fileName"].startswith("diagnostics-CP-DIAG-") and answer["fileName"].endswith(".tar.gz")
    await wait(csms, "DiagnosticsStatusNotification", "Uploaded")
    assert statuses(csms, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    archive = members(files.uploads["diag.tar.gz"])
    assert set(archive) == {"status.json", "config.toml", "logs/evsed.log", "logs/ocpp.log"}
    status = json.loads(archive["status.json"])
    assert status["charge_point_id"] == cp and status["version"] and status["connectors"][0]["status"] == "Available"
    assert status["ocpp"]["state"] == "connected"
    assert '"BootNotification"' in archive["logs/ocpp.log"] and '"GetDiagnostics"' in archive["logs/ocpp.log"]
    assert "AuthorizationKey" in archive["logs/ocpp.log"]  # the change is there ...
    everything = "".join(archive.values())
    assert AUTH_KEY not in everything and "SECRET-TAG-1" not in everything  # ... its value and the tokens are not
    assert "tokens" in archive["config.toml"] and "[ocpp]" in archive["config.toml"]


async def test_get_log_security_and_diagnostics_over_ftp_and_post_with_failures_reported(bench, tmp_path):
    csms, files, start = bench
    await start(method="POST")
    cp = "CP-DIAG"
    with FtpServer(tmp_path / "ftp", FTP_PASSWORD) as ftp:
        location = f"ftp://evsed:{FTP_PASSWORD}@127.0.0.1:{ftp.port}/"
        answer = await csms.call(cp, "GetLog", {"logType": "DiagnosticsLog", "requestId": 5, "retries": 1,
                                                "log": {"remoteLocation": location}})  # fmt: skip
        assert answer["status"] == "Accepted"
        await wait(csms, "LogStatusNotification", "Uploaded", 5)
        uploaded = tmp_path / "ftp" / answer["filename"]
        archive = members(uploaded.read_bytes())
        assert FTP_PASSWORD not in "".join(archive.values())
        assert "ftp://evsed:***@" in archive["logs/ocpp.log"]
        # A read-only FTP account: PermissionDenied, not retried into a generic failure.
        reader = f"ftp://reader:{FTP_PASSWORD}@127.0.0.1:{ftp.port}/"
        await csms.call(cp, "GetLog", {"logType": "SecurityLog", "requestId": 6, "log": {"remoteLocation": reader}})
        await wait(csms, "LogStatusNotification", "PermissionDenied", 6)
    # HTTP POST (multipart) of the security log, which has the StartupOfTheDevice event in it.
    answer = await csms.call(cp, "GetLog", {"logType": "SecurityLog", "requestId": 7,
                                            "log": {"remoteLocation": files.url("/form/")}})  # fmt: skip
    await wait(csms, "LogStatusNotification", "Uploaded", 7)
    security = members(files.uploads[answer["filename"]])
    assert set(security) == {"status.json", "config.toml", "logs/security.log"}
    assert "StartupOfTheDevice" in security["logs/security.log"]
    sent = [(f[3]["status"], f[3].get("requestId")) for f in csms.calls_received("LogStatusNotification")]
    assert sent == [("Uploading", 5), ("Uploaded", 5), ("Uploading", 6), ("PermissionDenied", 6), ("Uploading", 7),
                    ("Uploaded", 7)]  # fmt: skip
    # Bad locations: a clear refusal, nothing uploaded.
    bad = {"logType": "DiagnosticsLog", "requestId": 8, "log": {"remoteLocation": "file:///etc/passwd"}}
    assert (await csms.call(cp, "GetLog", bad))["status"] == "Rejected"
    with pytest.raises(OCPPError) as err:
        await csms.call(cp, "GetDiagnostics", {"location": "../../etc/shadow"})
    assert "PropertyConstraint" in type(err.value).__name__
    assert await csms.call(cp, "TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"}) == {
        "status": "Accepted"}  # fmt: skip
    async with asyncio.timeout(10):
        await csms.wait_for(lambda c: statuses(c, "DiagnosticsStatusNotification") == ["Idle"])


def test_redaction_and_time_window_are_pure_rules():
    tree = {"ocpp": {"url": "wss://cp:pw@csms.example/ocpp", "keys": {"AuthorizationKey": "00"}, "basic_auth": "x"},
            "charging": {"tokens": ["T1"]}, "station": {"vendor": "evsed"}}  # fmt: skip
    assert redact(tree) == {
        "ocpp": {"url": "wss://cp:***@csms.example/ocpp", "keys": {"AuthorizationKey": "***"}, "basic_auth": "x"},
        "charging": {"tokens": "***"},
        "station": {"vendor": "evsed"},
    }
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    lines = [f"{(t0 + timedelta(minutes=i)).isoformat()} line {i}\n" for i in range(5)]
    lines.insert(3, "Traceback (a continuation of line 2)\n")
    kept = list(lines_between(lines, t0 + timedelta(minutes=1), t0 + timedelta(minutes=2)))
    assert kept == [lines[1], lines[2], lines[3]]


def test_frame_log_lines_are_redacted_and_bounded():
    located = '[2,"a","GetDiagnostics",{"location":"ftp://user:pw@host/x"}]'
    assert frame_line(located) == '[2,"a","GetDiagnostics",{"location":"ftp://user:***@host/x"}]'
    secret = '[2,"c","ChangeConfiguration",{"key":"AuthorizationKey","value":"00ff00ff00ff00ff"}]'
    assert frame_line(secret) == '[2,"c","ChangeConfiguration",{"key":"AuthorizationKey","value":"***"}]'
    escaped = '[2,"d","ChangeConfiguration",{"key":"\\u0041uthorizationKey","value":"00ff00ff00ff00ff"}]'
    assert "00ff" not in frame_line(escaped)  # the key spelled with a JSON escape is the same key
    password = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"},
                "attributeValue": "evsed-secret-Pass-0123"}  # fmt: skip
    other = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}, "attributeValue": "9"}
    written = json.dumps([2, "e", "SetVariables", {"setVariableData": [other, password]}])
    assert json.loads(frame_line(written)) == [
        2, "e", "SetVariables", {"setVariableData": [other, {**password, "attributeValue": "***"}]}
    ]  # fmt: skip
    nested = '[2,"c","ChangeConfiguration",{"key":"AuthorizationKey","value":' + "[" * 3000 + "]" * 3000 + "}]"
    assert frame_line(nested) == "***"  # unreadable yet naming a secret: nothing of it
    cut = "x" * (FRAME_LOG_CHARS - 20) + ' "ftp://user:secretsecret@host/fw.bin"'  # the cut falls in the password
    line = frame_line(cut)
    assert "secret" not in line and line.endswith(f"ftp://***... [{len(cut)} characters]")
    hex_blob = json.dumps([2, "d", "DataTransfer", {"vendorId": "v", "data": "0123456789abcdef" * 12500}])
    assert frame_line(hex_blob) == hex_blob[:FRAME_LOG_CHARS] + f"... [{len(hex_blob)} characters]"


async def test_uploads_cancelled_one_after_the_other_are_each_reported_once_in_order(tmp_path):
    """A held upload A; B starts and is cancelled by C before B even ran: A and B are reported
    CANCELED (in that order, once each) before C reports anything; C uploads."""
    files = FileServer()
    await files.start()
    reported: list[tuple[int | None, UploadStatus]] = []

    async def report(request: UploadRequest, status: UploadStatus, _failure: str) -> None:
        reported.append((request.request_id, status))

    uploads = Uploads(DiagnosticsConfig(retry_interval_s=0), tmp_path, report=report, status=dict, effective_config={})
    uploads.open()
    files.held["a.tar.gz"] = asyncio.Event()
    try:
        request = {n: UploadRequest(files.url(f"/up/{n}.tar.gz"), f"{n}.tar.gz", False, None, None, i)
                   for i, n in enumerate("abc", 1)}  # fmt: skip
        uploads.start(request["a"])
        await eventually(lambda: ("PUT", "/up/a.tar.gz") in files.requests, 10, "A under way")
        uploads.start(request["b"])
        uploads.start(request["c"])  # B's task has not run yet
        await eventually(lambda: (3, UploadStatus.UPLOADED) in reported, 10, "C uploaded")
        assert reported == [(1, UploadStatus.UPLOADING), (1, UploadStatus.CANCELED), (2, UploadStatus.CANCELED),
                            (3, UploadStatus.UPLOADING), (3, UploadStatus.UPLOADED)]  # fmt: skip
        assert set(files.uploads) == {"c.tar.gz"}
    finally:
        files.held["a.tar.gz"].set()
        await uploads.close()
        await files.stop()
