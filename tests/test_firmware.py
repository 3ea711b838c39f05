"""Firmware updates over OCPP on the bench: the real daemon (in this process), the bench CSMS
over a real websocket, releases built from the checkout and served over HTTP/FTP on loopback,
signatures by a manufacturer CA generated here. The full restart into a new release runs in
tests/test_firmware_e2e.py."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import eventually
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from firmware_bench import FileServer, FtpServer, signed_update
from ocpp.exceptions import OCPPError
from ocpp_bench import v16_status

from controller.config import parse
from controller.daemon import Daemon
from controller.firmware import launcher
from controller.firmware.release import ReleaseInvalid, read_release
from controller.firmware.signature import CertificateRejected, SignatureRejected, check_signing_certificate, verify_file
from controller.firmware.slots import InstallFailed, SlotRoot, Trial
from controller.firmware.update import END_STATES, Event, FirmwareStatus, IllegalTransition, answer_new_request, step
from controller.ocpp.v16.idtag import token
from controller.safety.process import open_board
from controller.transfer import Location, TransferError, download
from sim.csms import Csms, CsmsConfig
from sim.release import Manufacturer, build_wheel

CONFIG = """
[station]
charge_point_id = "CP-FW"
[board]
type = "sim"
ev_reaction_s = 0.2
[[connector]]
id = 1
phases = 3
max_current_a = 32.0
[charging]
authorize = "any"
[loop]
meter_interval_s = 0.2
meter_timeout_s = 2.0
[storage]
state_dir = "{state_dir}"
[api]
enabled = false
[ocpp]
url = "ws://127.0.0.1:{port}"
reconnect_cap_s = 0.2
[firmware]
slot_root = "{slot_root}"
manufacturer_roots = "{roots}"
max_size_mb = 2
verify_timeout_s = 20
{firmware_extra}
"""
S = FirmwareStatus


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("releases")
    return {"0.2.0": build_wheel(out, "0.2.0")}


@pytest.fixture(scope="module")
def manufacturer() -> Manufacturer:
    return Manufacturer.create()


@pytest.fixture
async def csms():
    server = Csms(CsmsConfig(id_tags={"TAG1", "FreeVend"}))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def files(releases):
    server = FileServer(files={p.name: p for p in releases.values()})
    await server.start()
    yield server
    await server.stop()


class Station:
    """The daemon in this process, with a slot root whose current slot is a plain directory."""

    def __init__(self, csms: Csms, tmp_path: Path, manufacturer: Manufacturer):
        self.csms, self.tmp_path = csms, tmp_path
        self.slot_root = tmp_path / "opt"
        (self.slot_root / "factory").mkdir(parents=True)
        launcher.switch_current(self.slot_root, self.slot_root / "factory")
        self.roots = tmp_path / "roots.pem"
        self.roots.write_text(manufacturer.root.cert_pem)
        self.daemon: Daemon | None = None

    async def start(self, firmware_extra: str = "") -> Daemon:
        text = CONFIG.format(state_dir=self.tmp_path / "state", port=self.csms.port, slot_root=self.slot_root,
                             roots=self.roots, firmware_extra=firmware_extra)  # fmt: skip
        config = parse(text, "test")
        self.daemon = Daemon(config, open_board(config))
        await self.daemon.start()
        async with asyncio.timeout(15):
            await self.csms.wait_for(lambda c: c.received["StatusNotification"] >= 2)
        return self.daemon

    async def stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()

    async def call(self, action: str, payload: dict) -> dict:
        async with asyncio.timeout(15):
            return await self.csms.call("CP-FW", action, payload)

    def statuses(self, action: str = "SignedFirmwareStatusNotification") -> list[str]:
        return [f[3]["status"] for f in self.csms.calls_received(action)]

    async def wait_status(self, status: str, action: str = "SignedFirmwareStatusNotification") -> None:
        async with asyncio.timeout(20):
            await self.csms.wait_for(lambda _c: status in self.statuses(action))

    def events(self) -> list[str]:
        return [f[3]["type"] for f in self.csms.calls_received("SecurityEventNotification")]


@pytest.fixture
async def station(csms, tmp_path, manufacturer):
    s = Station(csms, tmp_path, manufacturer)
    yield s
    await s.stop()


# ---- pure parts -------------------------------------------------------------------------------


def test_status_table_walks_a_signed_update_and_refuses_the_rest():
    status = S.IDLE
    for event in (Event.DOWNLOAD, Event.PAUSE, Event.DOWNLOAD, Event.DOWNLOADED, Event.SIGNATURE_VALID,
                  Event.INSTALL, Event.REBOOT, Event.INSTALLED):  # fmt: skip
        status = step(status, event)
    assert status is S.INSTALLED and status in END_STATES
    with pytest.raises(IllegalTransition):
        step(S.DOWNLOADED, Event.REBOOT)  # never install what was not verified or scheduled
    with pytest.raises(IllegalTransition):
        step(S.INVALID_SIGNATURE, Event.INSTALL)
    assert [answer_new_request(s) for s in (S.IDLE, S.DOWNLOADING, S.INSTALLING, S.INSTALLED)] == [
        "Accepted", "AcceptedCanceled", "Rejected", "Accepted"]  # fmt: skip


def test_launcher_decides_rollback_on_boots_and_deadline():
    marker = launcher.Marker("trial", "/s/b", "/s/a", 1, True, "0.1", "0.2", deadline=100.0, max_boots=2, boots=2)
    assert launcher.decide(marker, "/s/b", now=50.0) == "run"
    assert launcher.decide(marker, "/s/a", now=500.0) == "run"  # the marker is about another slot
    assert launcher.decide(marker, "/s/b", now=101.0) == "rollback"
    assert launcher.decide(launcher.Marker(**{**marker.__dict__, "boots": 3}), "/s/b", now=50.0) == "rollback"


@pytest.mark.parametrize(
    "url, kind",
    [("file:///etc/passwd", "unsupported"), ("/var/lib/evsed/x", "location"), ("http:///nohost", "location"),
     ("http://h/a\nb", "location"), ("gopher://h/x", "unsupported")],
)  # fmt: skip
def test_bad_locations_are_refused_before_any_connection(url, kind):
    with pytest.raises(TransferError) as err:
        Location.parse(url)
    assert err.value.kind == kind


def _rsa_signer(root: Manufacturer) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa firmware signer")]))
        .issuer_name(root.root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(root.root.key, hashes.SHA256())
    )
    return key, cert


def rfc2045(text: str) -> str:
    """Base64 as MIME (and ``openssl base64``) writes it: lines of 76 characters, CRLF."""
    return "\r\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\r\n"


def test_rsa_pss_and_ecdsa_signatures_verify_and_a_changed_byte_does_not(tmp_path, manufacturer, releases):
    artifact = releases["0.2.0"]
    now = datetime.now(UTC)
    cert = check_signing_certificate(manufacturer.signer.cert_pem, [manufacturer.root.certificate], now)
    verify_file(artifact, cert, manufacturer.sign(artifact))
    key, rsa_cert = _rsa_signer(manufacturer)
    pem = rsa_cert.public_bytes(serialization.Encoding.PEM).decode()
    rsa_cert = check_signing_certificate(pem, [manufacturer.root.certificate], now)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    rsa_signature = base64.b64encode(key.sign(artifact.read_bytes(), pss, hashes.SHA256())).decode()
    verify_file(artifact, rsa_cert, rsa_signature)
    verify_file(artifact, rsa_cert, rfc2045(rsa_signature))  # line breaks are no reason to refuse it
    verify_file(artifact, rsa_cert, base64.encodebytes(base64.b64decode(rsa_signature)).decode())  # LF only
    tampered = tmp_path / "tampered.whl"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 1
    tampered.write_bytes(bytes(data))
    with pytest.raises(SignatureRejected):
        verify_file(tampered, cert, manufacturer.sign(artifact))
    with pytest.raises(SignatureRejected):
        verify_file(artifact, cert, "not base64!")
    with pytest.raises(SignatureRejected):  # whitespace is skipped, nothing else
        verify_file(artifact, rsa_cert, rsa_signature[:40] + "*" + rsa_signature[40:])
    other = Manufacturer.create()
    with pytest.raises(CertificateRejected):
        check_signing_certificate(other.signer.cert_pem, [manufacturer.root.certificate], now)
    with pytest.raises(CertificateRejected):
        check_signing_certificate(manufacturer.signer.cert_pem, [], now)
    with pytest.raises(CertificateRejected):
        check_signing_certificate(
            manufacturer.signer.cert_pem, [manufacturer.root.certificate], now + timedelta(days=4000)
        )


def test_a_release_with_a_doctored_member_or_a_path_trick_is_rejected(tmp_path, releases):
    import zipfile

    good = releases["0.2.0"]
    assert read_release(good, 50 << 20).version == "0.2.0"
    doctored = tmp_path / "doctored.whl"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(doctored, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data + b"\n# evil\n" if info.filename == "controller/cli.py" else data)
    with pytest.raises(ReleaseInvalid, match="RECORD hash"):
        read_release(doctored, 50 << 20)
    escaping = tmp_path / "escape.whl"
    with zipfile.ZipFile(escaping, "w") as dst:
        dst.writestr("../../etc/evil.py", b"x")
    with pytest.raises(ReleaseInvalid, match="outside the slot"):
        read_release(escaping, 50 << 20)
    with pytest.raises(ReleaseInvalid, match="more than"):
        read_release(good, 1000)


async def test_download_resumes_after_a_cut_and_stops_at_the_size_limit(tmp_path, files, releases):
    artifact = releases["0.2.0"]
    files.cut[artifact.name] = 50_000
    part = tmp_path / "download.part"
    with pytest.raises(TransferError):
        await download(files.url(f"/fw/{artifact.name}"), part, 10 << 20)
    assert part.stat().st_size == 50_000
    size = await download(files.url(f"/fw/{artifact.name}"), part, 10 << 20)
    assert size == artifact.stat().st_size and part.read_bytes() == artifact.read_bytes()
    assert files.ranges == [None, "bytes=50000-"]
    with pytest.raises(TransferError) as err:
        await download(files.url(f"/fw/{artifact.name}"), tmp_path / "small.part", 1000)
    assert err.value.kind == "too_big"


async def test_ftp_download_resumes_with_rest(tmp_path, releases):
    artifact = releases["0.2.0"]
    with FtpServer(tmp_path / "ftp") as ftp:
        (tmp_path / "ftp" / "fw.whl").write_bytes(artifact.read_bytes())
        part = tmp_path / "fw.part"
        part.write_bytes(artifact.read_bytes()[:70_000])  # what an interrupted attempt left
        size = await download(f"ftp://evsed:secret@127.0.0.1:{ftp.port}/fw.whl", part, 10 << 20)
    assert size == artifact.stat().st_size and part.read_bytes() == artifact.read_bytes()


# ---- over OCPP ---------------------------------------------------------------------------------


async def test_signed_update_with_a_bad_signature_installs_nothing(station, files, manufacturer, releases):
    await station.start()
    artifact = releases["0.2.0"]
    payload = signed_update(manufacturer, artifact, files.url(f"/fw/{artifact.name}"), 11)
    other = manufacturer.signer.key.sign(b"some other firmware", ec.ECDSA(hashes.SHA256()))
    payload["firmware"]["signature"] = base64.b64encode(other).decode()  # a real signature, of other bytes
    assert await station.call("SignedUpdateFirmware", payload) == {"status": "Accepted"}
    await station.wait_status("InvalidSignature")
    assert station.statuses() == ["Downloading", "Downloaded", "InvalidSignature"]
    assert all(f[3]["requestId"] == 11 for f in station.csms.calls_received("SignedFirmwareStatusNotification"))
    async with asyncio.timeout(10):
        await station.csms.wait_for(lambda _c: "InvalidFirmwareSignature" in station.events())
    assert os.readlink(station.slot_root / "current") == str(station.slot_root / "factory")
    assert not (station.slot_root / "slots").exists()
    await eventually(lambda: not (station.tmp_path / "state" / "firmware").exists(), what="the download cleaned up")


async def test_unknown_signer_is_invalid_certificate_and_unsigned_is_not_supported(
    station, files, manufacturer, releases
):
    await station.start()
    artifact = releases["0.2.0"]
    stranger = Manufacturer.create()
    payload = signed_update(stranger, artifact, files.url(f"/fw/{artifact.name}"), 12)
    assert await station.call("SignedUpdateFirmware", payload) == {"status": "InvalidCertificate"}
    async with asyncio.timeout(10):
        await station.csms.wait_for(lambda _c: "InvalidFirmwareSigningCertificate" in station.events())
    tricky = signed_update(manufacturer, artifact, "file:///etc/shadow", 13)
    assert await station.call("SignedUpdateFirmware", tricky) == {"status": "Rejected"}
    with pytest.raises(OCPPError) as err:
        await station.call(
            "UpdateFirmware", {"location": files.url("/fw/x"), "retrieveDate": datetime.now(UTC).isoformat()}
        )
    assert type(err.value).__name__ == "NotSupportedError"
    assert files.ranges == []  # nothing was fetched


async def test_interrupted_download_is_resumed_then_installed_after_the_session(station, files, manufacturer, releases):
    daemon = await station.start()
    sim = daemon.board.simulation
    sim.plug_in(1, max_current_a=16.0, phases=3, battery_kwh=60.0, soc=0.2)
    await eventually(lambda: daemon.station.view(1).transaction is not None)
    artifact = releases["0.2.0"]
    files.cut[artifact.name] = 100_000
    payload = signed_update(manufacturer, artifact, files.url(f"/fw/{artifact.name}"), 21)
    payload["firmware"]["signature"] = rfc2045(payload["firmware"]["signature"])  # as some backends send it
    assert "\r\n" in payload["firmware"]["signature"].strip()
    assert await station.call("SignedUpdateFirmware", payload) == {"status": "Accepted"}
    await station.wait_status("SignatureVerified")
    assert station.statuses() == ["Downloading", "DownloadPaused", "Downloading", "Downloaded", "SignatureVerified"]
    assert files.ranges == [None, "bytes=100000-"]
    # The session goes on; nothing installs, and no new session may start meanwhile.
    assert daemon.station.view(1).transaction is not None and daemon.restart_requested is None
    assert await daemon.station.remote_start(token("TAG1"), 1) == "rejected"
    sim.unplug(1)
    await station.wait_status("InstallRebooting")
    assert station.statuses()[-2:] == ["Installing", "InstallRebooting"]
    await eventually(lambda: daemon.restart_requested == "Hard")
    assert os.readlink(station.slot_root / "current") == str(station.slot_root / "slots" / "a")
    marker = json.loads((station.slot_root / "update.json").read_text())
    assert (marker["state"], marker["to_version"], marker["request_id"]) == ("trial", "0.2.0", 21)
    assert (station.slot_root / "slots" / "a" / "bin" / "evsed").stat().st_mode & 0o111
    assert v16_status(daemon, 1) == "Unavailable"  # until the restart


async def test_oversize_firmware_fails_without_retrying(station, files, manufacturer, tmp_path):
    await station.start()
    big = tmp_path / "big.whl"
    big.write_bytes(os.urandom(3 << 20))  # max_size_mb = 2
    files.files["big.whl"] = big
    payload = signed_update(manufacturer, big, files.url("/fw/big.whl"), 31)
    assert await station.call("SignedUpdateFirmware", payload) == {"status": "Accepted"}
    await station.wait_status("DownloadFailed")
    assert station.statuses() == ["Downloading", "DownloadFailed"]
    assert len(files.ranges) == 1


async def test_unsigned_update_when_allowed_reports_in_16_terms(station, files, releases):
    await station.start(firmware_extra="allow_unsigned = true")
    artifact = releases["0.2.0"]
    when = datetime.now(UTC).isoformat()
    assert (
        await station.call("UpdateFirmware", {"location": files.url(f"/fw/{artifact.name}"), "retrieveDate": when})
        == {}
    )
    await station.wait_status("Installing", "FirmwareStatusNotification")
    assert station.statuses("FirmwareStatusNotification") == ["Downloading", "Downloaded", "Installing"]
    await eventually(lambda: station.daemon.restart_requested == "Hard")
    assert await station.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {
        "status": "Accepted"}  # fmt: skip
    async with asyncio.timeout(10):
        await station.csms.wait_for(lambda _c: len(station.statuses("FirmwareStatusNotification")) == 4)
    assert station.statuses("FirmwareStatusNotification")[-1] == "Installing"  # InstallRebooting, in 1.6 terms


def test_slot_install_keeps_the_running_slot_when_the_build_fails(tmp_path, releases):
    root = SlotRoot(tmp_path / "opt")
    first = root.provision(releases["0.2.0"])
    assert root.active() == first and root.inactive().name == "b"
    (tmp_path / "opt" / "slots" / "b.partial").write_text("in the way")  # the new slot cannot be built
    release = read_release(releases["0.2.0"], 50 << 20)
    with pytest.raises(InstallFailed, match="building slot"):
        root.install(releases["0.2.0"], release, Trial(1, True, "0.1", 0.0, 1))
    assert root.active() == first and root.marker() is None


def test_only_evsed_run_counts_a_trial_boot(tmp_path, releases):
    """Admin commands through the launcher (ctl, check, --version) never touch the trial marker:
    three `evsed ctl status` during a trial must not roll a good release back."""
    root = SlotRoot(tmp_path / "opt")
    first = root.provision(releases["0.2.0"])
    release = read_release(releases["0.2.0"], 50 << 20)
    second = root.install(releases["0.2.0"], release, Trial(7, True, "0.1.0", time.time() + 3600, max_boots=1))
    evsed = str(tmp_path / "opt" / "current" / "bin" / "evsed")
    config = tmp_path / "evsed.toml"
    config.write_text(CONFIG.format(state_dir=tmp_path / "state", port=9, slot_root=tmp_path / "opt",
                                    roots=tmp_path / "roots.pem", firmware_extra=""))  # fmt: skip
    marker_file = tmp_path / "opt" / launcher.MARKER

    def marker_state() -> tuple[int, int, bytes]:
        st = marker_file.stat()
        return st.st_ino, st.st_mtime_ns, marker_file.read_bytes()

    before = marker_state()
    ctl = ["ctl", "--api", "http://127.0.0.1:9", "status"]
    for args, code in [(["--version"], 0), (["check", "--config", str(config)], 0), (ctl, 1), (ctl, 1), (ctl, 1)]:
        result = subprocess.run([evsed, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == code and "launcher" not in result.stderr, result.stderr
    assert marker_state() == before and root.active() == second and root.marker().boots == 0

    missing = str(tmp_path / "missing.toml")  # a start that fails at once still is a boot
    assert subprocess.run([evsed, "run", "--config", missing], capture_output=True, timeout=60).returncode == 1
    assert (root.marker().state, root.marker().boots, root.active()) == ("trial", 1, second)
    result = subprocess.run([evsed, "run", "--config", missing], capture_output=True, text=True, timeout=60)
    assert f"evsed launcher: rolled back to {first}: boot 2 of at most 1" in result.stderr
    assert (root.marker().state, root.active()) == ("rolled_back", first)
