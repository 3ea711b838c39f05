"""One daemon per state directory, as real processes: a second ``evsed run`` on the same state
directory exits 1 having touched nothing, ``evsed check --hardware`` refuses while a daemon runs;
the lock dies with its holder (kill -9 included)."""

from __future__ import annotations

import os
import signal

import pytest
from conftest import FREE_VEND, read_transactions, run_cli, wait_until

from controller.state_lock import LOCK_FILE, StateDirBusy, hold_state_dir


def test_a_second_daemon_on_the_same_state_dir_touches_nothing(evsed_process) -> None:
    first = evsed_process(FREE_VEND)
    first.api("POST", "/api/sim/plug-in", {"connector": 1})
    session = wait_until(lambda: first.connector()["transaction"], what="a session")
    wait_until(lambda: first.connector()["transaction"]["energy_wh"] > 1.0, what="energy")
    database = first.state_dir / "evsed.db"

    # The same configuration file, as a second `systemctl start` or a hand-started copy would use.
    config = first.log_path.with_name("evsed-0.toml")
    second = run_cli("run", "--config", str(config), timeout=30)
    assert second.returncode == 1, second.stderr
    busy = f"state directory {first.state_dir} is in use by another evsed (pid {first.proc.pid})"
    assert second.stderr.splitlines() == [f"evsed: cannot start: {busy}: one daemon per state directory; stop it first"]
    # `check --hardware` refuses too (the lock tells that a daemon runs); plain `check` opens nothing and may run.
    hardware = run_cli("check", "--hardware", "--config", str(config), timeout=30)
    assert (hardware.returncode, hardware.stdout) == (1, "")
    assert hardware.stderr == f"evsed check --hardware: {busy}: one daemon per state directory; stop it first\n"
    assert run_cli("check", "--config", str(config), timeout=30).returncode == 0

    # Not closed as PowerLoss by a second crash recovery: the session is open and charges on.
    rows = read_transactions(database)
    assert [(r["id"], r["stopped_at"], r["stop_cause"]) for r in rows] == [(session["id"], None, None)]
    before = first.connector()["transaction"]["energy_wh"]
    wait_until(lambda: first.connector()["transaction"]["energy_wh"] > before + 1.0, what="more energy")
    assert first.connector()["transaction"]["id"] == session["id"] and first.connector()["status"] == "Charging"

    # kill -9: the kernel drops the lock (no stale lock file to clean up); the next daemon starts.
    assert first.terminate(signal.SIGKILL) == -signal.SIGKILL
    evsed_process(FREE_VEND, state_dir=first.state_dir)
    (row,) = read_transactions(database)
    assert row["stop_cause"] == "PowerLoss"


def test_the_lock_is_exclusive_within_one_process_too_and_names_its_holder(tmp_path) -> None:
    state = tmp_path / "state"
    with hold_state_dir(state):
        assert (state / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        assert state.stat().st_mode & 0o777 == 0o700 and (state / LOCK_FILE).stat().st_mode & 0o777 == 0o644
        busy = rf"state directory {state} is in use by another evsed \(pid {os.getpid()}\)"
        with pytest.raises(StateDirBusy, match=busy), hold_state_dir(state):
            pass
    with hold_state_dir(state):  # released at the end of the block
        pass
