"""A firmware update end to end: ``evsed run`` from an A/B slot root in a subprocess, the bench
CSMS and an HTTP file server on loopback, releases built from the checkout and signed by a
manufacturer CA made here. The test plays systemd: a process that exits non-zero is started
again (Restart=on-failure); a Reset-style restart re-executes itself (no INVOCATION_ID)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from firmware_bench import FileServer, signed_update

from controller import __version__
from controller.firmware.slots import SlotRoot
from sim.csms import Csms, CsmsConfig
from sim.release import Manufacturer, build_wheel

CONFIG = """
[station]
charge_point_id = "CP-E2E"
[board]
type = "sim"
[[connector]]
id = 1
[storage]
state_dir = "{state}"
[api]
listen = "127.0.0.1:0"
[ocpp]
url = "ws://127.0.0.1:{port}"
reconnect_cap_s = 0.2
[firmware]
slot_root = "{root}"
manufacturer_roots = "{roots}"
verify_timeout_s = 30
trial_boots = 1
"""
BROKEN_CLI = "import sys\n\n\ndef main(argv=None):\n    sys.exit('this release cannot start')\n"


class Supervisor:
    """Runs ``<root>/current/bin/evsed run`` and restarts it after a failure, like systemd."""

    def __init__(self, root: Path, config: Path, log: Path):
        self.argv = [str(root / "current" / "bin" / "evsed"), "run", "--config", str(config)]
        self.log = log
        self.starts = 0
        self.proc: asyncio.subprocess.Process | None = None
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "INVOCATION_ID"}
        while True:
            with self.log.open("a") as out:
                self.starts += 1
                self.proc = await asyncio.create_subprocess_exec(*self.argv, stdout=out, stderr=out, env=env)
            if await self.proc.wait() == 0:
                return

    def start(self) -> None:
        self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await asyncio.wait_for(self.proc.wait(), 20)


@pytest.fixture
async def bench(tmp_path):
    csms = Csms(CsmsConfig())
    await csms.start()
    files = FileServer()
    await files.start()
    yield csms, files
    await files.stop()
    await csms.stop()


@pytest.mark.slow
async def test_update_installs_restarts_reports_installed_then_a_broken_release_is_rolled_back(tmp_path, bench):
    csms, files = bench
    manufacturer = Manufacturer.create()
    releases = tmp_path / "releases"
    for version, patches in (("0.2.0", None), ("0.2.1", {"controller/cli.py": BROKEN_CLI})):
        wheel = build_wheel(releases, version, patches=patches)
        files.files[wheel.name] = wheel
    root = tmp_path / "opt"
    first = SlotRoot(root, python=sys.executable).provision(build_wheel(releases, __version__))
    (tmp_path / "roots.pem").write_text(manufacturer.root.cert_pem)
    config = tmp_path / "evsed.toml"
    config.write_text(CONFIG.format(state=tmp_path / "state", port=csms.port, root=root, roots=tmp_path / "roots.pem"))
    daemon = Supervisor(root, config, tmp_path / "evsed.log")
    daemon.start()

    def boots() -> list[str]:
        return [f[3]["firmwareVersion"] for f in csms.calls_received("BootNotification")]

    def statuses(request_id: int) -> list[str]:
        return [f[3]["status"] for f in csms.calls_received("SignedFirmwareStatusNotification")
                if f[3].get("requestId") == request_id]  # fmt: skip

    async def wait(predicate, within: float = 40.0) -> None:
        try:
            async with asyncio.timeout(within):
                await csms.wait_for(lambda _c: predicate())
        except TimeoutError:
            raise AssertionError(f"timed out; daemon log:\n{(tmp_path / 'evsed.log').read_text()[-4000:]}") from None

    try:
        await wait(lambda: boots() == [__version__] and "CP-E2E" in csms.sessions)
        new = files.files["evsed-0.2.0-py3-none-any.whl"]
        payload = signed_update(manufacturer, new, files.url(f"/fw/{new.name}"), 7)
        assert await csms.call("CP-E2E", "SignedUpdateFirmware", payload) == {"status": "Accepted"}
        await wait(lambda: "Installed" in statuses(7))
        assert statuses(7) == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting",
                               "Installed"]  # fmt: skip
        assert boots() == [__version__, "0.2.0"]
        assert (root / "current").resolve() == root / "slots" / "b" and first == root / "slots" / "a"
        assert not (root / "update.json").exists()  # the trial is over
        await wait(
            lambda: any(f[3]["type"] == "FirmwareUpdated" for f in csms.calls_received("SecurityEventNotification"))
        )

        broken = files.files["evsed-0.2.1-py3-none-any.whl"]
        payload = signed_update(manufacturer, broken, files.url(f"/fw/{broken.name}"), 8)
        assert await csms.call("CP-E2E", "SignedUpdateFirmware", payload) == {"status": "Accepted"}
        await wait(lambda: "InstallationFailed" in statuses(8))
        assert statuses(8) == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting",
                               "InstallationFailed"]  # fmt: skip
        assert boots() == [__version__, "0.2.0", "0.2.0"]  # 0.2.1 never reached the backend
        assert (root / "current").resolve() == root / "slots" / "b"  # rolled back to 0.2.0
        assert "this release cannot start" in (tmp_path / "evsed.log").read_text()
        # The first start and the restart after 0.2.1 failed; the installs re-executed in place.
        assert daemon.starts == 2
        assert not (root / "update.json").exists()
    finally:
        await daemon.stop()
