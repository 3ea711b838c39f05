"""A signed release uploaded through the page's endpoint (POST /api/firmware) into an A/B slot root,
against the real daemon on the sim board without a backend: installed on trial and restarted
when it checks out; a wrong signature, an untrusted signer, a missing part, an oversize file
and an upload during an install are refused, and nothing of them is installed or kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import EV, LOCAL_TOKENS, eventually

from controller.core.vocabulary import RestartKind
from controller.firmware import launcher
from controller.firmware.update import FirmwareStatus
from controller.web.firmware import UPLOAD_DIR, updater
from sim.release import Manufacturer, build_wheel

FIRMWARE = """
[firmware]
slot_root = "{root}"
manufacturer_roots = "{roots}"
max_size_mb = 1
"""


class Box:
    """A daemon whose current release is a plain slot directory, trusting one manufacturer."""

    def __init__(self, run: Any, root: Path):
        self.run, self.root = run, root

    @property
    def updater(self) -> Any:
        return updater(self.run.daemon.api.web)

    async def upload(self, fields: dict[str, tuple[str, bytes]], headers: dict[str, str] | None = None) -> Any:
        form = aiohttp.FormData()
        for name, (filename, data) in fields.items():
            form.add_field(name, data, filename=filename) if filename else form.add_field(name, data.decode())
        async with self.run.http.post(self.run.url + "/api/firmware", data=form, headers=headers or {}) as resp:
            return resp.status, await resp.json()

    def current(self) -> str:
        return Path(self.root / "current").resolve().name


@pytest.fixture
def manufacturer() -> Manufacturer:
    return Manufacturer.create()


@pytest.fixture
async def box(start_daemon, tmp_path: Path, manufacturer: Manufacturer) -> Box:
    root = tmp_path / "opt"
    (root / "factory").mkdir(parents=True)
    launcher.switch_current(root, root / "factory")
    roots = tmp_path / "roots.pem"
    roots.write_text(manufacturer.root.cert_pem)
    run = await start_daemon(LOCAL_TOKENS + FIRMWARE.format(root=root, roots=roots))
    return Box(run, root)


def release(manufacturer: Manufacturer, tmp_path: Path, version: str = "0.2.0") -> dict[str, tuple[str, bytes]]:
    wheel = build_wheel(tmp_path / "releases", version)
    return {
        "file": (wheel.name, wheel.read_bytes()),
        "certificate": ("signer.pem", manufacturer.signer.cert_pem.encode()),
        "signature": ("", manufacturer.sign(wheel).encode()),
    }


async def test_a_signed_release_installs_after_the_session_and_restarts(box, manufacturer, tmp_path) -> None:
    run = box.run
    await run.post("/api/sim/plug-in", {"connector": 1, **EV})
    await run.post("/api/connectors/1/start", {"token": "TAG-A"})
    await run.wait_status("Charging")
    code, body = await box.upload(release(manufacturer, tmp_path))
    assert code == 202 and "installs once charging has ended" in body["words"]
    await eventually(lambda: box.updater.status is FirmwareStatus.SIGNATURE_VERIFIED, 15, "signature verified")
    _, station = await run.get("/api/station")
    assert station["firmware"]["words"] == "signature verified; installs once no car charges"
    assert station["firmware"]["progress"] == 50 and box.current() == "factory", "nothing installs while charging"

    await run.post("/api/connectors/1/stop", {})
    await eventually(lambda: box.updater.status is FirmwareStatus.INSTALL_REBOOTING, 20, "installed")
    await eventually(lambda: run.daemon.restart_requested is RestartKind.SOFT, 10, "the restart")
    assert box.current() == "a" and (box.root / "slots" / "a" / "bin" / "evsed").exists()
    marker = launcher.read_marker(box.root)
    assert marker is not None and (marker.state, marker.to_version, marker.signed) == ("trial", "0.2.0", True)
    assert not (run.daemon.config.storage.state_dir / UPLOAD_DIR / "release.bin").exists()
    code, body = await box.upload(release(manufacturer, tmp_path, "0.2.1"))
    assert code == 409 and "installing" in body["error"]


async def test_what_is_refused_leaves_nothing_installed(box, manufacturer, tmp_path) -> None:
    good = release(manufacturer, tmp_path)
    stranger = Manufacturer.create()
    code, body = await box.upload({**good, "certificate": ("x.pem", stranger.signer.cert_pem.encode())})
    assert code == 400 and body["error"].startswith("the signing certificate is not trusted")
    assert box.updater.status is FirmwareStatus.IDLE, "nothing started"
    assert not (box.run.daemon.config.storage.state_dir / UPLOAD_DIR).exists(), "the upload is not kept"

    code, body = await box.upload({"file": good["file"], "certificate": good["certificate"]})
    assert code == 400 and body["error"].endswith("missing signature")
    code, body = await box.upload({**good, "extra": ("", b"x")})
    assert code == 400 and "unexpected field" in body["error"]
    code, _ = await box.upload({**good, "file": ("big.whl", b"\0" * (1024 * 1024 + 1))})
    assert code == 413

    forged = {**good, "signature": ("", manufacturer.sign(Path(__file__)).encode())}  # another file's signature
    assert (await box.upload(forged))[0] == 202
    await eventually(lambda: box.updater.status is FirmwareStatus.INVALID_SIGNATURE, 15, "InvalidSignature")
    assert box.current() == "factory" and not (box.root / "slots").exists()
    _, station = await box.run.get("/api/station")
    assert station["firmware"]["words"] == "refused: the signature does not match the file"
