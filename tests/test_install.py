"""What ``systemd/install.sh`` does with a checkout, short of the system parts (user, venv, unit):
the first A/B slot, then an upgrade on trial by the firmware rule, ended or rolled back by the
daemon of the new release through the slot's launcher, as real processes on the sim board with no
backend. And the package declares the license the repository carries."""

from __future__ import annotations

import importlib.metadata
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, free_port, http_json, wait_until

from controller.config import load
from controller.firmware import launcher
from controller.firmware.slots import InstallFailed, SlotRoot, install_checkout
from sim.release import build_wheel

CONFIG = """
[board]
type = "sim"
[[connector]]
id = 1
[storage]
state_dir = "{state}"
[api]
listen = "127.0.0.1:{port}"
[firmware]
slot_root = "{root}"
trial_boots = {boots}
verify_timeout_s = 60
"""
BROKEN_CLI = "import sys\n\n\ndef main(argv=None):\n    sys.exit('this release cannot start')\n"


def test_count_boot_starts_the_deadline_at_the_first_boot():
    installed = launcher.Marker("trial", "/s/b", "/s/a", None, False, "0.1", "0.2", deadline=1060.0, max_boots=3,
                                verify_s=60.0)  # fmt: skip
    first = launcher.count_boot(installed, now=5000.0)  # started an hour after the install
    assert (first.boots, first.deadline) == (1, 5060.0)
    second = launcher.count_boot(first, now=5030.0)
    assert (second.boots, second.deadline) == (2, 5060.0)
    assert launcher.decide(second, "/s/b", now=5059.0) == "run"
    assert launcher.decide(second, "/s/b", now=5061.0) == "rollback"
    fixed = launcher.Marker(**{**installed.__dict__, "verify_s": 0.0})  # a marker of an older release
    assert launcher.count_boot(fixed, now=5000.0).deadline == 1060.0


def test_first_install_then_an_upgrade_on_trial_and_never_over_a_pending_trial(tmp_path):
    root = SlotRoot(tmp_path / "opt")
    firmware = load_firmware(tmp_path, boots=2)
    wheels = tmp_path / "wheels"
    assert install_checkout(root, build_wheel(wheels, "0.2.0"), firmware, 1000.0).startswith("release 0.2.0 installed")
    first = root.active()
    assert first == tmp_path / "opt" / "slots" / "a" and root.marker() is None and root.version(first) == "0.2.0"

    said = install_checkout(root, build_wheel(wheels, "0.3.0"), firmware, 1000.0)
    second = root.active()
    assert second == tmp_path / "opt" / "slots" / "b" and root.version(second) == "0.3.0"
    assert f"on trial (was 0.2.0 in {first})" in said and f"the launcher returns to {first}" in said
    marker = root.marker()
    assert marker is not None
    assert (marker.state, marker.slot, marker.previous, marker.from_version, marker.to_version) == (
        "trial", str(second), str(first), "0.2.0", "0.3.0")  # fmt: skip
    assert (marker.request_id, marker.signed, marker.max_boots, marker.verify_s, marker.deadline) == (
        None, False, 2, 60.0, 1060.0)  # fmt: skip

    # Installing again before 0.3.0 proved itself would overwrite the only slot known to work.
    with pytest.raises(InstallFailed, match=r"release 0\.3\.0 is still on trial"):
        install_checkout(root, build_wheel(wheels, "0.4.0"), firmware, 1001.0)
    assert root.active() == second and root.marker() == marker and root.version(first) == "0.2.0"


def test_without_a_backend_the_new_release_ends_its_trial_once_ready_and_a_broken_one_is_rolled_back(tmp_path):
    root = SlotRoot(tmp_path / "opt")
    firmware = load_firmware(tmp_path, boots=1)
    wheels = tmp_path / "wheels"
    install_checkout(root, build_wheel(wheels, "0.2.0"), firmware, time.time())
    # Upgraded an hour ago while the service was stopped: the 60 s run from the first start.
    install_checkout(root, build_wheel(wheels, "0.3.0"), firmware, time.time() - 3600)
    good = root.active()
    with Start(tmp_path) as daemon:
        assert daemon.version() == "0.3.0"
        wait_until(lambda: root.marker() is None, what="the trial to end")
    assert root.active() == good

    install_checkout(root, build_wheel(wheels, "0.3.1", patches={"controller/cli.py": BROKEN_CLI}), firmware,
                     time.time())  # fmt: skip
    broken = run_launcher(tmp_path, "run")  # systemd starts it, it fails, systemd starts it again:
    assert broken.returncode == 1 and "this release cannot start" in broken.stderr
    assert (root.marker().state, root.marker().boots) == ("trial", 1)
    with Start(tmp_path) as daemon:
        assert daemon.version() == "0.3.0" and root.active() == good
        assert f"evsed launcher: rolled back to {good}: boot 2 of at most 1" in daemon.stderr_so_far()
        wait_until(lambda: root.marker() is None, what="the rollback to be settled")


def test_the_package_declares_the_license_the_repository_carries():
    meta = importlib.metadata.metadata("evsed")
    assert meta["License-Expression"] == "Apache-2.0" and meta.get_all("License-File") == ["LICENSE"]
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    for part in ("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"):
        assert part in text


def load_firmware(tmp_path: Path, boots: int):
    config = tmp_path / "evsed.toml"
    config.write_text(CONFIG.format(state=tmp_path / "state", port=free_port(), root=tmp_path / "opt", boots=boots))
    return load(config).firmware


def run_launcher(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(tmp_path / "opt" / "current" / "bin" / "evsed"), *args, "--config", str(tmp_path / "evsed.toml")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


class Start:
    """``<root>/current/bin/evsed run`` as systemd starts it, until SIGTERM."""

    def __init__(self, tmp_path: Path):
        self.config = load(tmp_path / "evsed.toml")
        self.stderr = tmp_path / f"evsed-{time.monotonic_ns()}.log"
        argv = [str(tmp_path / "opt" / "current" / "bin" / "evsed"), "run", "--config", str(tmp_path / "evsed.toml")]
        with self.stderr.open("w") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)

    def stderr_so_far(self) -> str:
        return self.stderr.read_text()

    def version(self) -> str:
        def status() -> dict | None:
            assert self.proc.poll() is None, self.stderr_so_far()
            try:
                return http_json("GET", f"http://127.0.0.1:{self.config.api.port}/api/status", timeout=1)[1]
            except OSError:
                return None

        return wait_until(status, 20, "the daemon's API")["version"]

    def __enter__(self) -> Start:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(20) == 0, self.stderr_so_far()
