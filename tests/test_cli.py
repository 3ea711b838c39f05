"""The ``evsed`` command line, as real subprocesses: ``ctl`` against ``evsed run``, SIGTERM (``sim``:
test_sim_scenarios.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

from conftest import (
    EVSED,
    REPO,
    TWO_CONNECTORS,
    free_port,
    read_transactions,
    run_cli,
    wait_until,
    with_runtime_sections,
)

CONFIG = TWO_CONNECTORS + '\n[charging]\nauthorize = "local"\ntokens = ["TAG-A", "TAG-B"]\n'


def test_ctl_drives_a_running_daemon_and_sigterm_closes_the_session(evsed_process) -> None:
    daemon = evsed_process(CONFIG)
    api = daemon.url

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        result = run_cli("ctl", "--api", api, *args, timeout=20)
        assert result.returncode == 0, f"evsed ctl {' '.join(args)}: {result.returncode} {result.stderr}"
        return result

    def wait_status(status: str, cid: int = 1) -> dict:
        return wait_until(lambda: (c := daemon.connector(cid))["status"] == status and c, what=f"{cid} {status}")

    assert ctl("plug-in").stdout == "ok\n"
    wait_status("Preparing")
    assert ctl("swipe", "TAG-A").stdout == "started\n"
    wait_status("Charging")
    stranger = run_cli("ctl", "--api", api, "swipe", "STRANGER", timeout=20)
    assert (stranger.returncode, stranger.stdout, stranger.stderr) == (1, "rejected\n", "")
    wait_until(lambda: daemon.connector(1)["transaction"]["energy_wh"] > 0.2, what="energy")

    human = ctl("status").stdout.splitlines()
    assert human[0].startswith("evsed ") and human[0].endswith("on a sim board, real-time loop healthy")
    line1 = next(line for line in human if line.startswith("connector 1:"))
    for part in ("connector 1: Charging", " C2 ", "offered  32.0 A", "drawn  32.0 A", "contactor closed", "TAG-A"):
        assert part in line1, f"{part!r} not in {line1!r}"
    line2 = next(line for line in human if line.startswith("connector 2:"))
    assert "connector 2: Available" in line2 and "contactor open" in line2 and "transaction" not in line2

    status = json.loads(ctl("--json", "status").stdout)
    c1, c2 = status["connectors"]
    assert (c1["status"], c1["transaction"]["token"]["id"], c1["offered_a"]) == ("Charging", "TAG-A", 32.0)
    assert f"transaction {c1['transaction']['id'][:8]} TAG-A" in line1
    assert (c2["status"], c2["transaction"]) == ("Available", None)

    assert ctl("ev", "pause").stdout == "ok\n"
    assert wait_status("SuspendedEV")["ev"]["ev"]["paused"] is True
    ctl("ev", "resume")
    wait_status("Charging")

    # Connector 2: a single-phase 16 A EV, then a residual-current trip ends its session.
    ctl("plug-in", "--connector", "2", "--max-current", "16", "--phases", "1", "--soc", "0.5")
    ev2 = wait_status("Preparing", 2)["ev"]["ev"]
    assert (ev2["phases"], ev2["max_current_a"], ev2["soc"]) == (1, 16.0, 0.5)
    assert ctl("swipe", "TAG-B").stdout == "started\n"
    wait_status("Charging", 2)
    assert json.loads(ctl("--json", "fault", "rcd", "on", "--connector", "2").stdout) == {"ok": True}
    c2 = wait_status("Faulted", 2)
    assert c2["faults"] == ["rcd"] and c2["error"] == "rcd"
    assert daemon.connector(1)["status"] == "Charging"  # the other connector charges on

    # The history, as the web page shows it, and its CSV export.
    history = ctl("sessions").stdout.splitlines()
    assert history[0].split() == ["started", "stopped", "conn", "token", "kWh", "why", "it", "stopped"]
    assert "TAG-B" in history[1] and history[1].endswith("earth-leakage fault")
    assert "TAG-A" in history[2] and history[2].endswith("running") and " - " in history[2]
    exported = ctl("sessions", "--csv", "--limit", "1").stdout.splitlines()
    assert exported[0].startswith("id,connector,token,") and len(exported) == 2 and ",TAG-B," in exported[1]

    # A request the daemon refuses: exit 1 and the daemon's message.
    bad = run_cli("ctl", "--api", api, "fault", "gremlins", "on", timeout=20)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith(f"evsed ctl: POST {api}/api/sim/fault: 400 fault = 'gremlins': expected one of")

    assert daemon.terminate(signal.SIGTERM) == 0, daemon.log()
    rows = {r["evse"]: r for r in read_transactions(daemon.state_dir / "evsed.db")}
    assert rows[1]["token_id"] == "TAG-A" and rows[1]["stop_cause"] == "Reboot"
    assert rows[1]["meter_stop_wh"] > rows[1]["meter_start_wh"]
    assert rows[2]["token_id"] == "TAG-B" and rows[2]["stop_cause"] == "GroundFault"
    assert all(r["stopped_at"] is not None for r in rows.values())
    assert "Traceback" not in daemon.log()


def test_ctl_against_a_dead_port_says_so_and_exits_1() -> None:
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}"
    for args, path in ((["status"], "/api/status"), (["plug-in"], "/api/sim/plug-in")):
        result = run_cli("ctl", "--api", url, *args, timeout=20)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith(f"evsed ctl: cannot reach {url}{path}: "), result.stderr
        assert "refused" in result.stderr.lower()
        assert "Traceback" not in result.stderr


def test_ctl_usage_errors_exit_2() -> None:
    result = run_cli("ctl", "ev", "fly")
    assert result.returncode == 2 and "invalid choice: 'fly'" in result.stderr
    result = run_cli("ctl", "fault", "rcd", "maybe")
    assert result.returncode == 2


def test_run_startup_failures_are_one_line_errors(tmp_path) -> None:
    """A busy API port or an unusable state directory: exit 1 with one clear line, no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = {
            "port in use": (with_runtime_sections(CONFIG, tmp_path / "state", f"127.0.0.1:{port}"), str(port)),
            "state dir": (with_runtime_sections(CONFIG, Path("/proc/no-such-dir/evsed")), "/proc/no-such-dir"),
        }
        failures = []
        for name, (text, needle) in cases.items():
            path = tmp_path / f"{name.replace(' ', '-')}.toml"
            path.write_text(text)
            result = run_cli("run", "--config", str(path), timeout=30)
            last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
            if result.returncode != 1 or "Traceback" in result.stderr or needle not in last:
                failures.append(f"{name}: exit {result.returncode}, stderr ends {result.stderr[-300:]!r}")
    assert not failures, "\n".join(failures)


def test_hard_reset_retries_the_reboot_command_then_falls_back(tmp_path):
    from controller.cli import reboot

    tries = tmp_path / "tries"
    failing = ("sh", "-c", f"echo x >> {tries}; exit 1")
    assert reboot(failing, retries=2) is False
    assert tries.read_text().count("x") == 3, "one try plus ResetRetries retries"
    assert reboot(("sh", "-c", f"echo y >> {tries}"), retries=2) is True
    assert tries.read_text().count("y") == 1
    assert reboot((str(tmp_path / "no-such-command"),), retries=0) is False


def test_sim_summary_fails_when_a_transaction_was_left_open() -> None:
    from sim.demo import unstopped

    done = {"evse": 1, "stop_cause": "Local"}
    assert unstopped([done]) is None
    assert unstopped([done, {"evse": 2, "stop_cause": None}]) == (
        "transaction on connector 2 not ended by the end of the scenario"
    )


def test_every_subcommand_and_option_has_help_text() -> None:
    import argparse

    from controller.cli import build_parser
    from drivers.probe import probe_parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {choice.dest: choice.help for choice in action._choices_actions}
                for name, child in action.choices.items():
                    if not helps.get(name):
                        missing.append(f"{path} {name}")
                    walk(child, f"{path} {name}")
            elif not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "evsed")
    walk(probe_parser(), "evsed probe")
    assert not missing, f"without help text: {missing}"


def test_command_line_errors_are_one_line_naming_the_cause(tmp_path) -> None:
    """No such serial device, a config that is not UTF-8, a websocket URL without a host, a
    state_dir that is a file: exit 1, one line on stderr that names the thing, no traceback."""
    good = TWO_CONNECTORS
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(good.encode() + b'\n[station]\ncharge_point_id = "Caf\xe9"\n')
    no_host = tmp_path / "no-host.toml"
    no_host.write_text(good + '\n[ocpp]\nurl = "ws://"\n')
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    state_is_a_file = tmp_path / "state-file.toml"
    state_is_a_file.write_text(with_runtime_sections(good, a_file))
    tty = tmp_path / "ttyUSB0"
    cases = [
        (["probe", "meter", "--port", str(tty)], f"evsed probe meter: {tty}: no such device"),
        (["check", "--config", str(latin1)], f"evsed: {latin1}: not UTF-8 text (TOML must be): byte 0xe9, line "),
        (["check", "--config", str(no_host)], f"evsed: {no_host}: [ocpp] url = 'ws://': expected a websocket URL"),
        (
            ["run", "--config", str(state_is_a_file)],
            f"evsed: cannot start: [storage] state_dir = '{a_file}': not a dir",
        ),
    ]
    failures = []
    for args, start in cases:
        result = run_cli(*args, timeout=30)
        lines = result.stderr.splitlines()
        if result.returncode != 1 or len(lines) != 1 or not lines[0].startswith(start) or result.stdout:
            failures.append(f"evsed {' '.join(args)}: exit {result.returncode}, stdout {result.stdout[-200:]!r}, "
                            f"stderr {result.stderr[-300:]!r}")  # fmt: skip
    assert not failures, "\n".join(failures)
    assert "host is missing" in run_cli("check", "--config", str(no_host)).stderr


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    """``evsed check | head``: the pipe closes before evsed has written everything; evsed ends
    quietly with the shell's SIGPIPE status instead of a BrokenPipeError traceback."""
    check = subprocess.Popen([EVSED, "check", "--config", "systemd/examples/evsed.toml"], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert check.stdout is not None and check.stderr is not None
    check.stdout.close()
    errors = check.stderr.read()
    assert check.wait(timeout=30) == 141 and errors == "", errors
