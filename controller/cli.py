"""``evsed``: run the daemon, check a configuration, run the bench, talk to a running daemon.

Rules kept here:
- Exit codes: 0 success, 1 the thing checked is wrong (bad config, failed self-test,
  API error), 2 usage errors (argparse's own), 75 ``run`` ends for an OCPP Reset under
  systemd (Restart=on-failure starts it again; outside systemd it re-executes itself).
- Config errors print one line naming the file, section, key, value and what is allowed.
- ``run`` holds the state directory's lock (controller/state_lock.py) from before the board
  is opened until it exits: a second daemon on the same state directory exits 1 having
  touched nothing. ``check --hardware`` takes the same lock, so it refuses while a daemon runs.
- Plain ``check`` opens no device (a dry board build): it is read-only and works off the box.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from typing import Any

from controller import __version__
from controller.config import DEFAULT_PATH, Config, effective_toml, load, load_board
from hal.board import Board
from hal.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="evsed", description="AC wallbox controller")
    parser.add_argument("--version", action="version", version=f"evsed {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the daemon")
    p.add_argument("--config", default=DEFAULT_PATH)

    p = sub.add_parser("check", help="validate a configuration and print the effective one")
    p.add_argument("--config", default=DEFAULT_PATH)
    p.add_argument("--hardware", action="store_true", help="also run the guided hardware self-test")

    p = sub.add_parser("sim", help="the bench demo: the daemon on a simulated board with a scripted EV")
    from sim.demo import SCENARIO_NAMES

    p.add_argument("--scenario", default="basic", choices=sorted(SCENARIO_NAMES))
    p.add_argument("--headless", action="store_true", help="no live view")
    p.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    p.add_argument("--config", help="bench configuration (default: the bundled one for the scenario)")
    p.add_argument("--api-port", type=int, default=0, help="local API port (0 = any free port)")
    p.add_argument("--csms", help="an external CSMS websocket URL (default: the bench CSMS on a free port)")
    p.add_argument("--tls", action="store_true",
                   help="the bench over wss: a CA made for the run, security profile 2 (bench CSMS only)")  # fmt: skip

    p = sub.add_parser("ctl", help="talk to a running daemon's local API")
    p.add_argument("--api", default="http://127.0.0.1:8080")
    p.add_argument("--password", help=f"the API's password ([api] password_hash); default: ${PASSWORD_ENV}")
    p.add_argument("--json", action="store_true")
    ctl = p.add_subparsers(dest="ctl", required=True)
    ctl.add_parser("status")
    c = ctl.add_parser("plug-in")
    c.add_argument("--connector", type=int, default=1)
    c.add_argument("--max-current", type=float, default=32.0)
    c.add_argument("--phases", type=int, default=3)
    c.add_argument("--battery-kwh", type=float, default=60.0)
    c.add_argument("--soc", type=float, default=0.2)
    c = ctl.add_parser("unplug")
    c.add_argument("--connector", type=int, default=1)
    c = ctl.add_parser("swipe")
    c.add_argument("id_tag")
    c = ctl.add_parser("ev")
    c.add_argument("action", choices=["pause", "resume", "stay_in_c", "overdraw", "behave"])
    c.add_argument("--connector", type=int, default=1)
    c = ctl.add_parser("fault")
    c.add_argument("kind")
    c.add_argument("state", choices=["on", "off"])
    c.add_argument("--connector", type=int, default=1)
    c = ctl.add_parser("ocpp", help="drop or restore the OCPP connection")
    c.add_argument("action", choices=["connect", "disconnect"])
    c = ctl.add_parser("csms", help="the bench CSMS of evsed sim: send a CSMS->CP message, read what it saw")
    c.add_argument("what", choices=["call", "messages", "summary"])
    c.add_argument("action", nargs="?", help="for call: the OCPP action, e.g. TriggerMessage")
    c.add_argument("payload", nargs="?", default="{}", help="for call: the payload as JSON")
    c.add_argument("--csms-api", default=f"http://127.0.0.1:{CSMS_API_PORT}")
    c.add_argument("--cp", help="charge point id (default: the only one connected)")

    p = sub.add_parser("probe", help="find devices on a bus (evsed probe meter --help)")
    p.add_argument("args", nargs=argparse.REMAINDER)

    sub.add_parser(
        "hash-password",
        help="read a password (terminal or stdin) and print its hash for [api] password_hash",
        description="Prints a salted scrypt hash of the password for [api] password_hash. The password is "
        "read from the terminal (asked twice), or as the first line of stdin when stdin is not a terminal.",
    )

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"evsed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_run(args: argparse.Namespace) -> int:
    from controller.daemon import Daemon
    from controller.state_lock import StateDirBusy, hold_state_dir
    from controller.systemd import log_handler

    config = load(args.config)
    logging.basicConfig(level=config.log.level.upper(), handlers=[log_handler()], force=True)
    try:
        # Before the board is opened or the database read: a second daemon touches nothing.
        with hold_state_dir(config.storage.state_dir):
            daemon = Daemon(config, load_board(config))
            asyncio.run(daemon.run_until_stopped())
    except (StateDirBusy, OSError) as exc:  # the state directory, the API port: the environment, not a bug
        print(f"evsed: cannot start: {exc}", file=sys.stderr)
        return 1
    if daemon.restart_requested is not None:
        if daemon.restart_requested == "Hard" and config.station.reboot_command:
            reboot(config.station.reboot_command, daemon.reset_retries)
        return restart(daemon.restart_requested)
    return 0


PASSWORD_ENV = "EVSED_API_PASSWORD"  # evsed ctl's password when --password is not given
CSMS_API_PORT = 8081  # evsed sim serves its bench CSMS's control API here when it is free
RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: non-zero, so systemd's Restart=on-failure starts us again


def reboot(command: tuple[str, ...], retries: int) -> bool:
    """A hard reset: run the board's reboot command, ``retries`` more times if it fails (OCPP
    ResetRetries). False when it never succeeded: the caller falls back to restarting evsed."""
    import subprocess

    log = logging.getLogger("evsed")
    for attempt in range(1 + retries):
        try:
            result = subprocess.run(command, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("Reset Hard: %s failed (attempt %d): %s", command[0], attempt + 1, exc)
            continue
        if result.returncode == 0:
            log.warning("Reset Hard: %s accepted; the board reboots", " ".join(command))
            return True
        log.error("Reset Hard: %s exited %d (attempt %d)", command[0], result.returncode, attempt + 1)
    log.error("Reset Hard: reboot failed %d times; restarting evsed instead", 1 + retries)
    return False


def restart(kind: str) -> int:
    """After an OCPP Reset: under systemd exit for a restart; elsewhere re-exec ourselves."""
    import os

    if os.environ.get("INVOCATION_ID"):  # set by systemd for the service's processes
        logging.getLogger("evsed").warning("Reset %s: exiting with %d for systemd to restart", kind, RESTART_EXIT_CODE)
        return RESTART_EXIT_CODE
    logging.getLogger("evsed").warning("Reset %s: re-executing %s", kind, " ".join(sys.orig_argv))
    os.execv(sys.executable, sys.orig_argv)
    return RESTART_EXIT_CODE  # not reached


def cmd_check(args: argparse.Namespace) -> int:
    """Plain: validate every key without opening a device (works off the box). ``--hardware``:
    the guided self-test on the real board, only while no daemon holds the state directory."""
    config = load(args.config)
    if not args.hardware:
        board = load_board(config, dry_run=True)
        board.close()
        print_checked(args.config, config, board, "; hardware not opened")
        return 0
    from controller.state_lock import StateDirBusy, hold_state_dir
    from drivers.hardware_check import hardware_check_main

    try:
        with hold_state_dir(config.storage.state_dir):  # no daemon runs, none starts meanwhile
            board = load_board(config)
            try:
                print_checked(args.config, config, board)
                return hardware_check_main(board, sys.stdout)
            finally:
                board.close()
    except (StateDirBusy, OSError) as exc:
        print(f"evsed check --hardware: {exc}", file=sys.stderr)
        return 1


def print_checked(path: str, config: Config, board: Board, note: str = "") -> None:
    print(f"# {path}: OK ({board.kind} board, {len(board.connectors)} connector(s){note})")
    print(effective_toml(config), end="")


def cmd_sim(args: argparse.Namespace) -> int:
    from sim.demo import run_demo

    return run_demo(
        args.scenario,
        headless=args.headless,
        as_json=args.json,
        config_path=args.config,
        api_port=args.api_port,
        csms_url=args.csms,
        tls=args.tls,
    )


def cmd_probe(args: argparse.Namespace) -> int:
    from drivers.probe import probe_main

    return probe_main(args.args)


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from controller.api_access import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("API password: ")
        if getpass.getpass("again: ") != password:
            print("evsed hash-password: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(hash_password(password))
    except ValueError as exc:
        print(f"evsed hash-password: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_ctl(args: argparse.Namespace) -> int:
    base = args.api.rstrip("/")
    password = args.password or os.environ.get(PASSWORD_ENV)
    if args.ctl == "csms":
        return ctl_csms(args)
    if args.ctl == "status":
        result = _http("GET", base + "/api/status", password=password)
        if result is None:
            return 1
        print(json.dumps(result, indent=2) if args.json else format_status(result))
        return 0
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "plug-in": (
            "/api/sim/plug-in",
            lambda a: {
                "connector": a.connector,
                "max_current_a": a.max_current,
                "phases": a.phases,
                "battery_kwh": a.battery_kwh,
                "soc": a.soc,
            },
        ),
        "unplug": ("/api/sim/unplug", lambda a: {"connector": a.connector}),
        "swipe": ("/api/sim/swipe", lambda a: {"id_tag": a.id_tag}),
        "ev": ("/api/sim/ev", lambda a: {"connector": a.connector, "action": a.action}),
        "fault": ("/api/sim/fault", lambda a: {"connector": a.connector, "kind": a.kind, "active": a.state == "on"}),
        "ocpp": ("/api/ocpp/{action}", lambda _a: {}),
    }  # type: ignore[dict-item]
    path, body = requests[args.ctl]
    url = base + path.format(action=getattr(args, "action", ""))
    result = _http("POST", url, body(args), password)  # type: ignore[operator]
    if result is None:
        return 1
    print(json.dumps(result) if args.json else "ok")
    return 0


def ctl_csms(args: argparse.Namespace) -> int:
    base = args.csms_api.rstrip("/")
    if args.what == "call":
        if not args.action:
            print("evsed ctl csms call: name the action, e.g. TriggerMessage", file=sys.stderr)
            return 2
        try:
            payload = json.loads(args.payload)
        except ValueError as exc:
            print(f"evsed ctl csms call: payload is not JSON: {exc}", file=sys.stderr)
            return 2
        result = _http("POST", base + "/csms/call", {"cp": args.cp, "action": args.action, "payload": payload})
    else:
        result = _http("GET", f"{base}/csms/{args.what}")
    if result is None:
        return 1
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _http(method: str, url: str, body: dict[str, Any] | None = None, password: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if password:
        headers["Authorization"] = f"Bearer {password}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = exc.reason
        print(f"evsed ctl: {method} {url}: {exc.code} {message}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as exc:
        print(f"evsed ctl: cannot reach {url}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
    return None


def format_status(status: dict[str, Any]) -> str:
    lines = [
        f"evsed {status['version']} on a {status['board']} board, real-time loop "
        f"{'healthy' if status['realtime_healthy'] else 'NOT HEALTHY'}"
    ]
    for extra in ("ocpp",):
        if extra in status:
            lines.append(f"ocpp: {status[extra]}")
    for c in status["connectors"]:
        meter = c.get("meter") or {}
        session = c.get("session")
        lines.append(
            f"connector {c['connector']}: {c['status']:<13} {c.get('iec_state', '?'):<3} "
            f"offered {c.get('offered_a', 0):5.1f} A  drawn {max(meter.get('current_a') or [0]):5.1f} A  "
            f"{meter.get('power_w', 0) / 1000:6.2f} kW  {meter.get('energy_wh', 0) / 1000:9.3f} kWh"
            + (f"  contactor {'closed' if c.get('contactor') else 'open'}")
            + (f"  faults: {', '.join(c['faults'])}" if c.get("faults") else "")
            + (f"  session {session['id']} {session['id_tag']} {session['energy_wh']:.0f} Wh" if session else "")
        )
    return "\n".join(lines)


COMMANDS = {
    "run": cmd_run,
    "check": cmd_check,
    "sim": cmd_sim,
    "ctl": cmd_ctl,
    "probe": cmd_probe,
    "hash-password": cmd_hash_password,
}

if __name__ == "__main__":
    sys.exit(main())
