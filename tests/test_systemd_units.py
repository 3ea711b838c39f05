"""The unit file: systemd-analyze verify against a real A/B slot layout (the ExecStart target
must exist and be executable for verify to pass), and the daemon run with the environment the
unit gives it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench.footprint import unit_process_environment
from conftest import EV, wait_until

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


def test_the_daemon_and_its_real_time_process_run_as_the_unit_starts_them(evsed_process, tmp_path):
    """-OO, with the code compiled once into the cache directory (the unit's Environment=): a
    session charges, and the cache holds both processes' code at that level."""
    runtime = os.environ.get("RUNTIME_DIRECTORY", str(tmp_path))
    env = unit_process_environment(runtime, str(tmp_path / "cache"))
    assert env["PYTHONOPTIMIZE"] == "2" and "PYTHONDONTWRITEBYTECODE" not in env
    box = evsed_process('[board]\ntype = "sim"\n[[connector]]\nid = 1\nmax_current_a = 32\n', env=env)
    assert box.api("POST", "/api/sim/plug-in", {"connector": 1, **EV}) == (200, {"ok": True})
    wait_until(lambda: box.connector(1)["status"] == "Charging", what="Charging")
    cache, tag = tmp_path / "cache" / "pycache", sys.implementation.cache_tag
    compiled = list(cache.rglob("*.pyc"))
    code = cache / REPO.relative_to(REPO.anchor) / "controller"
    assert (code / "safety" / f"child.{tag}.opt-2.pyc") in compiled  # the real-time process's own module
    assert (code / f"daemon.{tag}.opt-2.pyc") in compiled
    assert all(".opt-2." in p.name for p in compiled), sorted(compiled)[:5]
