"""``evsed ctl``: the client of a running daemon's local API, and of the bench CSMS's.

Rules kept here:
- People get words, ``--json`` gets the API's JSON; never a Python repr.
- Exit 0 when the daemon did what was asked; 1 when it refused (an HTTP error, a rejected
  swipe) or could not be reached, with one line on stderr naming the request.
- The API password (``--password``, else ``$EVSED_API_PASSWORD``) goes to the daemon's API only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

PASSWORD_ENV = "EVSED_API_PASSWORD"  # the password when --password is not given
CSMS_API_PORT = 8081  # evsed sim serves its bench CSMS's control API here when it is free
STATUS_KEYS = {"version", "board", "realtime_healthy", "time", "connectors", "faults_seen"}  # the rest: front ends'

# ctl command -> (API path, request body from the arguments)
SIM_REQUESTS: dict[str, tuple[str, Callable[[argparse.Namespace], dict[str, Any]]]] = {
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
}


def ctl_main(args: argparse.Namespace) -> int:
    if args.ctl == "csms":
        return ctl_csms(args)
    base = args.api.rstrip("/")
    password = args.password or os.environ.get(PASSWORD_ENV)
    if args.ctl == "status":
        result = http("GET", base + "/api/status", password=password)
        if result is None:
            return 1
        print(json.dumps(result, indent=2) if args.json else format_status(result))
        return 0
    if args.ctl == "sessions":
        return ctl_sessions(args, base, password)
    path, body = SIM_REQUESTS[args.ctl]
    result = http("POST", base + path.format(action=getattr(args, "action", "")), body(args), password)
    if result is None:
        return 1
    outcome = result.get("outcome") if isinstance(result, dict) else None  # a swipe says what it did
    print(json.dumps(result) if args.json else outcome or "ok")
    return 1 if outcome == "rejected" else 0


def ctl_sessions(args: argparse.Namespace, base: str, password: str | None) -> int:
    """The history as the web page shows it (newest first), or its CSV export as is."""
    if args.csv:
        text = http("GET", f"{base}/api/sessions.csv?limit={args.limit}", password=password, text=True)
        if text is None:
            return 1
        sys.stdout.write(text)
        return 0
    rows = http("GET", f"{base}/api/sessions?limit={min(args.limit, 1000)}", password=password)
    if rows is None:
        return 1
    print(json.dumps(rows, indent=2) if args.json else format_sessions(rows))
    return 0


def format_sessions(rows: list[dict[str, Any]]) -> str:
    from controller.web.words import stop_words

    if not rows:
        return "no sessions yet"
    lines = [f"{'started':<20} {'stopped':<20} {'conn':>4} {'token':<20} {'kWh':>9}  why it stopped"]
    for r in rows:
        why = stop_words(r["stop_cause"]) if r["stopped_at"] else "running"
        lines.append(
            f"{_when(r['started_at']):<20} {_when(r['stopped_at']):<20} {r['evse'] or '-':>4} "
            f"{_token(r['token']):<20} {r['energy_wh'] / 1000:9.3f}  {why}"
        )
    return "\n".join(lines)


def _when(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ")[:19]


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
        result = http("POST", base + "/csms/call", {"cp": args.cp, "action": args.action, "payload": payload})
    else:
        result = http("GET", f"{base}/csms/{args.what}")
    if result is None:
        return 1
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def http(
    method: str, url: str, body: dict[str, Any] | None = None, password: str | None = None, text: bool = False
) -> Any:
    """The JSON answer (``text``: the body as text), or None after printing one line saying why there is none."""
    import urllib.error  # with urllib.request: http.client and email, which ``evsed run`` (the CLI) never needs
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if password:
        headers["Authorization"] = f"Bearer {password}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return raw.decode() if text else json.loads(raw or b"null")
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
    lines += [f"{name}: {words(value)}" for name, value in status.items() if name not in STATUS_KEYS]
    for c in status["connectors"]:
        meter = c.get("meter") or {}
        tx = c.get("transaction")
        lines.append(
            f"connector {c['connector']}: {c['status']:<13} {c.get('iec_state', '?'):<3} "
            f"offered {c.get('offered_a', 0):5.1f} A  drawn {max(meter.get('current_a') or [0]):5.1f} A  "
            f"{meter.get('power_w', 0) / 1000:6.2f} kW  {meter.get('energy_wh', 0) / 1000:9.3f} kWh"
            + (f"  contactor {'closed' if c.get('contactor') else 'open'}")
            + (f"  faults: {', '.join(c['faults'])}" if c.get("faults") else "")
            + (f"  transaction {tx['id'][:8]} {_token(tx['token'])} {tx['energy_wh']:.0f} Wh" if tx else "")
        )
    return "\n".join(lines)


def _token(token: dict[str, Any] | None) -> str:
    return "-" if token is None else token["id"] or token["type"]


def words(value: Any) -> str:
    """A JSON value for people: "key value" pairs, lists with commas, yes / no; empty values left out."""
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {words(v)}" for key, v in value.items() if v not in (None, ""))
    if isinstance(value, list):
        return ", ".join(words(v) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
