"""systemd-analyze verify of the unit file, against a real A/B slot layout (the ExecStart target
must exist and be executable for verify to pass)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from controller import __version__
from controller.firmware.slots import SlotRoot
from sim.release import build_wheel

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_unit_verifies_with_execstart_through_the_current_slot(tmp_path):
    root = tmp_path / "opt" / "evsed"
    SlotRoot(root).provision(build_wheel(tmp_path / "release", __version__))
    unit = (REPO / "systemd" / "evsed.service").read_text()
    assert "ExecStart=/opt/evsed/current/bin/evsed run" in unit and "/opt/evsed" in unit.split("ReadWritePaths=")[1]
    (tmp_path / "evsed.service").write_text(unit.replace("/opt/evsed", str(root)))
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "evsed.service")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "evsed.service" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
    version = subprocess.run([str(root / "current" / "bin" / "evsed"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"evsed {__version__}"
