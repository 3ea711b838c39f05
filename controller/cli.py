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
import logging
import os
import sys
from collections.abc import Iterator

from controller import __version__
from controller.config import DEFAULT_PATH, Config, effective_toml, load, load_board
from controller.ctl import CSMS_API_PORT, PASSWORD_ENV
from controller.ocpp import versions
from controller.ocpp.config import VERSIONS
from hal.board import Board
from hal.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"evsed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (``evsed check | head``): nothing more to say to it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again
        return 141  # 128 + SIGPIPE, as a shell reports it


class Scenarios:
    """The bench demo's scenario names for argparse, looked up only when asked (a metavar keeps
    argparse from listing them while it builds the parser): sim.demo brings the bench CSMS and
    its HTTP server (19 MB), which ``evsed run`` must not load."""

    def __contains__(self, name: object) -> bool:
        from sim.demo import SCENARIO_NAMES

        return name in SCENARIO_NAMES

    def __iter__(self) -> Iterator[str]:
        from sim.demo import SCENARIO_NAMES

        return iter(sorted(SCENARIO_NAMES))


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and option, each with its help text."""
    parser = argparse.ArgumentParser(prog="evsed", description="AC wallbox controller")
    parser.add_argument("--version", action="version", version=f"evsed {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the daemon", description="Run the daemon (what the systemd unit runs).")
    p.add_argument("--config", default=DEFAULT_PATH, help=f"the configuration file (default {DEFAULT_PATH})")

    p = sub.add_parser("check", help="validate a configuration and print the effective one (opens no device)")
    p.add_argument("--config", default=DEFAULT_PATH, help=f"the configuration file (default {DEFAULT_PATH})")
    p.add_argument("--hardware", action="store_true", help="also run the guided hardware self-test")

    p = sub.add_parser("sim", help="the bench demo: the daemon on a simulated board with a scripted EV")
    p.add_argument("--scenario", default="basic", choices=Scenarios(), metavar="SCENARIO",
                   help="what happens: %(choices)s (default basic)")  # fmt: skip
    p.add_argument("--headless", action="store_true", help="no live view")
    p.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    p.add_argument("--frames", action="store_true",
                   help="also log every OCPP frame (the bench CSMS's, or with --csms the daemon's)")  # fmt: skip
    p.add_argument("--config", help="bench configuration (default: the bundled one for the scenario)")
    p.add_argument("--api-port", type=int, default=0, help="local API port (0 = any free port)")
    p.add_argument("--csms", metavar="URL",
                   help="an external CSMS websocket URL, e.g. ws://127.0.0.1:9000 from python -m sim.csms "
                        "(default: the bench CSMS on a free port)")  # fmt: skip
    p.add_argument("--tls", action="store_true",
                   help="the bench over wss: a CA made for the run, security profile 2 (bench CSMS only)")  # fmt: skip
    p.add_argument("--ocpp", choices=VERSIONS, help="the OCPP version it speaks (default: the configuration's)")

    p = sub.add_parser("ctl", help="talk to a running daemon's local API")
    p.add_argument("--api", default="http://127.0.0.1:8080", metavar="URL", help="the daemon's local API")
    p.add_argument("--password", help=f"the API's password ([api] password_hash); default: ${PASSWORD_ENV}")
    p.add_argument("--json", action="store_true", help="print the API's JSON answer")
    ctl = p.add_subparsers(dest="ctl", required=True, metavar="COMMAND")
    ctl.add_parser("status", help="the station, its connectors and the OCPP link")
    c = ctl.add_parser("sessions", help="the charging history as the web page shows it (newest first)")
    c.add_argument("--limit", type=int, default=50, help="how many sessions (default 50)")
    c.add_argument("--csv", action="store_true", help="print the CSV export (GET /api/sessions.csv)")
    c = ctl.add_parser("plug-in", help="sim: an EV plugs in")
    c.add_argument("--connector", type=int, default=1, help="connector id (default 1)")
    c.add_argument("--max-current", type=float, default=32.0, metavar="A", help="the EV's charger limit per phase")
    c.add_argument("--phases", type=int, default=3, help="phases the EV charges on (1-3)")
    c.add_argument("--battery-kwh", type=float, default=60.0, metavar="KWH", help="battery capacity")
    c.add_argument("--soc", type=float, default=0.2, help="state of charge at plug-in, 0..1")
    c = ctl.add_parser("unplug", help="sim: the EV leaves")
    c.add_argument("--connector", type=int, default=1, help="connector id (default 1)")
    c = ctl.add_parser("swipe", help="sim: a card at the reader; prints what the station did (exit 1: rejected)")
    c.add_argument("id_tag", help="the card's id tag")
    c = ctl.add_parser("ev", help="sim: the EV pauses, resumes or misbehaves")
    c.add_argument("action", choices=["pause", "resume", "stay_in_c", "overdraw", "behave"], help="what the EV does")
    c.add_argument("--connector", type=int, default=1, help="connector id (default 1)")
    c = ctl.add_parser("fault", help="sim: inject or clear a fault")
    c.add_argument(
        "kind",
        help="rcd, diode, contactor_weld, contactor_stuck_open, meter_offline, overtemp, overcurrent or lock_stuck",
    )
    c.add_argument("state", choices=["on", "off"], help="inject or clear")
    c.add_argument("--connector", type=int, default=1, help="connector id (default 1)")
    c = ctl.add_parser("ocpp", help="drop or restore the OCPP connection")
    c.add_argument("action", choices=["connect", "disconnect"], help="restore or drop")
    c = ctl.add_parser("csms", help="the bench CSMS of evsed sim: send a CSMS->CP message, read what it saw")
    c.add_argument("what", choices=["call", "messages", "summary"], help="send a CALL, list frames, or count them")
    c.add_argument("action", nargs="?", help="for call: the OCPP action, e.g. TriggerMessage")
    c.add_argument("payload", nargs="?", default="{}", help="for call: the payload as JSON")
    c.add_argument("--csms-api", default=f"http://127.0.0.1:{CSMS_API_PORT}", metavar="URL",
                   help="the bench CSMS's control API")  # fmt: skip
    c.add_argument("--cp", help="charge point id (default: the only one connected)")

    p = sub.add_parser("probe", help="find devices on a bus (evsed probe meter --help)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="what to probe and how: evsed probe meter --help")

    sub.add_parser(
        "hash-password",
        help="read a password (terminal or stdin) and print its hash for [api] password_hash",
        description="Prints a salted scrypt hash of the password for [api] password_hash. The password is "
        "read from the terminal (asked twice), or as the first line of stdin when stdin is not a terminal.",
    )
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from controller.daemon import Daemon
    from controller.safety.process import open_board
    from controller.state_lock import StateDirBusy, hold_state_dir
    from controller.systemd import log_handler

    config = load(args.config)
    logging.basicConfig(level=config.log.level.upper(), handlers=[log_handler()], force=True)
    try:
        # Before the board is opened or the database read: a second daemon touches nothing.
        with hold_state_dir(config.storage.state_dir):
            daemon = Daemon(config, open_board(config))
            asyncio.run(daemon.run_until_stopped())
    except (StateDirBusy, OSError) as exc:  # the state directory, the API port: the environment, not a bug
        print(f"evsed: cannot start: {exc}", file=sys.stderr)
        return 1
    if daemon.restart_requested is not None:
        if daemon.restart_requested == "Hard" and config.station.reboot_command:
            reboot(config.station.reboot_command, daemon.reset_retries)
        return restart(daemon.restart_requested)
    return 0


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
    versions.check(config)  # the chosen OCPP version's keys
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
        frames=args.frames,
        version=args.ocpp,
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
    from controller.ctl import ctl_main

    return ctl_main(args)


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
