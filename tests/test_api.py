"""The local HTTP API over real loopback HTTP: /api/status, /api/sessions, /api/sim/*, bad requests.

Every request goes through aiohttp's client to the daemon's own aiohttp server on a free
port; the simulated world is driven only through the /api/sim endpoints here.
"""

from __future__ import annotations

import pytest
from conftest import EV, LOCAL_TOKENS, TWO_CONNECTORS, eventually

CONNECTOR_KEYS = {"connector", "status", "iec_state", "offered_a", "duty_percent", "contactor", "faults", "meter"}


async def test_status_through_plug_in_swipe_charge_and_stop(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    code, body = await run.get("/api/status")
    assert code == 200
    assert body["board"] == "sim" and body["realtime_healthy"] is True
    assert isinstance(body["version"], str) and body["faults_seen"] == []
    [c] = body["connectors"]
    assert CONNECTOR_KEYS | {"transaction", "ev"} <= c.keys()
    assert c["connector"] == 1
    assert (c["status"], c["iec_state"], c["offered_a"], c["duty_percent"]) == ("Available", "A1", 0.0, None)
    assert (c["contactor"], c["faults"], c["transaction"], c["error"]) == (False, [], None, None)
    c = await eventually(lambda: _with_meter(run), what="a first meter reading")
    assert c["meter"]["energy_wh"] == 1000.0 and c["meter"]["power_w"] == 0.0
    assert c["meter"]["serial_number"] == "SIM-1" and c["meter"]["voltage_v"] == [230.0, 230.0, 230.0]

    assert await run.post("/api/sim/plug-in", {"connector": 1, **EV}) == (200, {"ok": True})
    c = await eventually(lambda: _connector_in(run, "Preparing"), what="Preparing")
    assert (c["iec_state"], c["offered_a"], c["duty_percent"], c["contactor"]) == ("B1", 0.0, None, False)
    assert c["transaction"] is None and c["ev"]["plugged"] is True

    assert await run.post("/api/sim/swipe", {"id_tag": "TAG-A"}) == (200, {"ok": True, "outcome": "started"})
    c = await eventually(lambda: _connector_in(run, "Charging"), what="Charging")
    assert (c["iec_state"], c["offered_a"], c["duty_percent"], c["contactor"]) == ("C2", 32.0, 53.33, True)
    assert c["limit_a"] == 32.0 and c["limit_stale"] is False
    session = c["transaction"]
    assert session["token"] == {"id": "TAG-A", "type": "ISO14443", "group": None}
    assert session["meter_start_wh"] == 1000.0
    assert len(session["id"]) == 36 and session["started_at"].endswith("Z")  # a UUID
    c = await eventually(
        lambda: _connector_where(run, lambda c: c["meter"]["current_a"] == [32.0, 32.0, 32.0]), what="32 A"
    )
    assert c["meter"]["power_w"] == pytest.approx(3 * 230.0 * 32.0)
    c = await eventually(lambda: _connector_where(run, lambda c: c["transaction"]["energy_wh"] > 0.5), what="energy")
    assert c["transaction"]["energy_wh"] == pytest.approx(c["meter"]["energy_wh"] - 1000.0, abs=0.11)

    assert await run.post("/api/sim/ev", {"connector": 1, "action": "pause"}) == (200, {"ok": True})
    c = await eventually(lambda: _connector_in(run, "SuspendedEV"), what="SuspendedEV")
    assert (c["iec_state"], c["duty_percent"], c["contactor"]) == ("B2", 53.33, False)
    assert c["transaction"]["id"] == session["id"]

    assert await run.post("/api/sim/swipe", {"id_tag": "TAG-A"}) == (200, {"ok": True, "outcome": "stopped"})
    # Finishing is announced when the session ends; the loop switches the PWM off on its next tick.
    c = await eventually(
        lambda: _connector_where(run, lambda c: c["status"] == "Finishing" and c["iec_state"] == "B1"),
        what="Finishing with the PWM off",
    )
    assert (c["iec_state"], c["offered_a"], c["duty_percent"], c["transaction"]) == ("B1", 0.0, None, None)

    code, rows = await run.get("/api/sessions")
    assert code == 200
    [row] = rows
    assert (row["id"], row["token"]["id"], row["stop_cause"], row["evse"]) == (session["id"], "TAG-A", "Local", 1)
    assert row["energy_wh"] > 0.5 and row["stopped_at"] is not None
    assert row["energy_wh"] == pytest.approx(row["meter_stop_wh"] - row["meter_start_wh"], abs=0.06)

    assert await run.post("/api/sim/unplug", {"connector": 1}) == (200, {"ok": True})
    c = await eventually(lambda: _connector_in(run, "Available"), what="Available")
    assert c["iec_state"] == "A1" and c["ev"]["plugged"] is False


async def test_a_swipe_answers_what_the_station_made_of_it(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    assert await run.post("/api/sim/swipe", {"id_tag": "STRANGER"}) == (200, {"ok": False, "outcome": "rejected"})
    assert run.station.view(1).authorization is None
    assert await run.post("/api/sim/swipe", {"id_tag": "TAG-A"}) == (200, {"ok": True, "outcome": "waiting"})
    assert run.station.view(1).authorization.token.id == "TAG-A"  # for an EV to plug in
    assert run.station.view(1).token_waiting


async def test_contactor_feedback_in_status_is_live(start_daemon) -> None:
    """While charging, the contacts are closed: the status must say so (not the value of the tick
    before the close command)."""
    run = await start_daemon(LOCAL_TOKENS.replace('"local"', '"any"'))
    await run.post("/api/sim/plug-in", {"connector": 1, **EV})
    await eventually(lambda: _connector_where(run, lambda c: c["meter"]["current_a"][0] > 0), what="current")
    c = await run.connector_json(1)
    assert c["ev"]["contactor"]["closed"] is True
    assert c["contactor"] is True
    assert c["contactor_feedback"] is True, "contactor_feedback is stale: the contacts are closed and current flows"


async def test_fault_endpoint_and_faults_in_status(start_daemon) -> None:
    run = await start_daemon(TWO_CONNECTORS)
    assert await run.post("/api/sim/fault", {"connector": 2, "kind": "overtemp", "active": True}) == (200, {"ok": True})
    c = await eventually(lambda: _connector_in(run, "Faulted", 2), what="Faulted")
    assert (c["faults"], c["error"], c["iec_state"], c["temperature_c"]) == (["overtemp"], "overtemp", "F", 95.0)
    assert c["ev"]["faults"] == ["overtemp"]
    assert (await run.connector_json(1))["status"] == "Available"  # the other connector is not affected
    _, body = await run.get("/api/status")
    assert [(f["connector"], f["kind"]) for f in body["faults_seen"]] == [(2, "overtemp")]
    # "active" defaults to true; false clears.
    assert await run.post("/api/sim/fault", {"connector": 2, "kind": "overtemp", "active": False}) == (
        200,
        {"ok": True},
    )
    c = await eventually(lambda: _connector_in(run, "Available", 2), what="Available")
    assert c["faults"] == [] and c["error"] is None


async def test_sessions_limit(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS.replace('"local"', '"any"'))
    for _ in range(3):
        await run.post("/api/sim/plug-in", {"connector": 1, **EV})
        await eventually(lambda: _connector_in(run, "Charging"), what="Charging")
        await run.post("/api/sim/unplug", {"connector": 1})
        await eventually(lambda: _connector_in(run, "Available"), what="Available")
    code, rows = await run.get("/api/sessions?limit=2")
    assert code == 200 and len(rows) == 2
    assert rows[0]["started_at"] > rows[1]["started_at"]  # newest first
    assert len((await run.get("/api/sessions"))[1]) == 3
    # Non-ASCII digits pass str.isdigit(); thousands of digits make int() raise: all are 400.
    for bad in ("0", "abc", "-1", "1001", "²", "%C2%B2", "%D9%A3", "+5", "%205", "9" * 5000, "1e3", ""):
        code, body = await run.get(f"/api/sessions?limit={bad}")
        assert code == 400 and "limit must be an integer from 1 to 1000" in body["error"], (bad[:20], code, body)


BAD_REQUESTS = [
    # (endpoint, raw body or JSON value, words the error message must contain)
    ("plug-in", b"{not json", ["not JSON"]),
    ("plug-in", b"", ["not JSON"]),
    ("swipe", b"\xff\xfe{}", ["not JSON"]),
    ("plug-in", b"[" * 20_000, ["nested too deeply"]),
    ("swipe", b'{"id_tag": ' * 3_000 + b'"x"' + b"}" * 3_000, ["nested too deeply"]),
    ("plug-in", [1, 2], ["JSON object"]),
    ("unplug", "connector", ["JSON object"]),
    ("fault", b"null", ["JSON object"]),
    ("plug-in", {"connector": 7}, ["connector", "7"]),
    ("unplug", {"connector": "1"}, ["connector", "'1'"]),
    ("ev", {"connector": 0, "action": "pause"}, ["connector"]),
    ("fault", {"connector": 1.0, "kind": "rcd"}, ["connector"]),
    ("plug-in", {"connector": True}, ["connector"]),
    ("plug-in", {"max_current_a": "32"}, ["max_current_a", "'32'"]),
    ("plug-in", {"max_current_a": 0.5}, ["max_current_a", "1 to 80"]),
    ("plug-in", {"max_current_a": 81}, ["max_current_a"]),
    ("plug-in", {"soc": 1.5}, ["soc", "0 to 1"]),
    ("plug-in", {"battery_kwh": True}, ["battery_kwh"]),
    ("plug-in", {"phases": 2}, ["phases"]),
    ("plug-in", {"phases": 4}, ["phases"]),
    ("plug-in", b'{"soc": NaN}', ["soc"]),
    ("plug-in", b'{"max_current_a": Infinity}', ["max_current_a"]),
    ("swipe", {}, ["id_tag"]),
    ("swipe", {"id_tag": ""}, ["id_tag"]),
    ("swipe", {"id_tag": 12345}, ["id_tag"]),
    ("swipe", {"id_tag": "X" * 37}, ["id_tag", "1..36"]),
    ("fault", {"connector": 1, "kind": "gremlins"}, ["gremlins", "rcd", "meter_offline"]),
    ("fault", {"connector": 1}, ["kind"]),
    ("fault", {"connector": 1, "kind": "rcd", "active": "yes"}, ["active"]),
    ("ev", {"connector": 1}, ["action"]),
    ("ev", {"connector": 1, "action": "fly"}, ["fly", "pause", "resume"]),
    ("ev", {"connector": 1, "action": "pause"}, ["no EV"]),  # nothing plugged
    ("unplug", {"connector": 1}, ["no EV"]),
]


async def test_bad_requests_get_400_with_a_message(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    failures = []
    for endpoint, body, words in BAD_REQUESTS:
        if isinstance(body, bytes):
            code, answer = await run.post(f"/api/sim/{endpoint}", data=body)
        else:
            code, answer = await run.post(f"/api/sim/{endpoint}", body)
        message = answer.get("error", "") if isinstance(answer, dict) else ""
        if code != 400 or not all(w in message for w in words):
            failures.append(f"POST /api/sim/{endpoint} {body!r}: {code} {answer!r} (expected 400 naming {words})")
    assert not failures, "\n".join(failures)
    # None of them changed the world or the daemon.
    c = await run.connector_json(1)
    assert (c["status"], c["ev"]["plugged"], c["faults"]) == ("Available", False, [])
    assert (await run.get("/api/sessions"))[1] == []


async def test_plug_in_rejects_a_fractional_phase_count(start_daemon) -> None:
    """An EV has 1 or 3 phases: 1.5 is a bad number like 2 or 4, not a 1-phase EV."""
    run = await start_daemon(LOCAL_TOKENS)
    code, body = await run.post("/api/sim/plug-in", {"connector": 1, **EV, "phases": 1.5})
    assert code == 400 and "phases" in body["error"], body
    assert (await run.connector_json(1))["ev"]["plugged"] is False


async def test_plug_in_twice_is_400_and_keeps_the_first_ev(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    assert (await run.post("/api/sim/plug-in", {"connector": 1, **EV, "soc": 0.5}))[0] == 200
    code, body = await run.post("/api/sim/plug-in", {"connector": 1, **EV, "soc": 0.9})
    assert code == 400 and "already plugged" in body["error"]
    c = await run.connector_json(1)
    assert c["ev"]["ev"]["soc"] == pytest.approx(0.5)


async def test_every_ev_action(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS.replace('"local"', '"any"'))
    await run.post("/api/sim/plug-in", {"connector": 1, **EV})
    await eventually(lambda: _connector_in(run, "Charging"), what="Charging")
    for action, flags in [
        ("stay_in_c", {"stays_in_c": True, "overdraw": False}),
        ("overdraw", {"stays_in_c": True, "overdraw": True}),
        ("behave", {"stays_in_c": False, "overdraw": False}),
        ("pause", {"paused": True}),
        ("resume", {"paused": False}),
    ]:
        assert await run.post("/api/sim/ev", {"connector": 1, "action": action}) == (200, {"ok": True}), action
        ev = (await run.connector_json(1))["ev"]["ev"]
        assert {k: ev[k] for k in flags} == flags, action


@pytest.mark.parametrize("endpoint", ["plug-in", "unplug", "swipe", "ev", "fault"])
async def test_sim_endpoints_are_404_on_a_real_board(start_daemon, endpoint: str) -> None:
    run = await start_daemon(LOCAL_TOKENS, simulated=False)
    code, body = await run.post(f"/api/sim/{endpoint}", {"connector": 1, "id_tag": "TAG-A", "kind": "rcd"})
    assert code == 404 and body["error"].startswith("not a simulated board: the /api/sim endpoints exist only")
    code, body = await run.get(f"/api/sim/{endpoint}")
    assert code == 404, "not routed at all (a routed POST-only path answers GET with 405)"
    code, body = await run.get("/api/status")
    assert code == 200 and "ev" not in body["connectors"][0]
    assert body["connectors"][0]["status"] == "Available"


async def test_unknown_path_method_and_size_get_json_errors(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    assert await run.get("/api/nothing") == (404, {"error": "no such endpoint: GET /api/nothing"})
    async with run.http.get(run.url + "/api/sim/plug-in") as resp:
        assert (resp.status, resp.headers["Allow"]) == (405, "POST")
        assert await resp.json() == {"error": "Method Not Allowed"}
    assert (await run.post("/api/status"))[0] == 405
    code, body = await run.post("/api/sim/swipe", data=b'{"id_tag": "' + b"x" * 70_000 + b'"}')
    assert code == 413 and "Too Large" in body["error"]


async def _connector_where(run, pred, connector: int = 1):  # type: ignore[no-untyped-def]
    c = await run.connector_json(connector)
    return c if pred(c) else None


async def _connector_in(run, status: str, connector: int = 1):  # type: ignore[no-untyped-def]
    return await _connector_where(run, lambda c: c["status"] == status, connector)


async def _with_meter(run):  # type: ignore[no-untyped-def]
    return await _connector_where(run, lambda c: c["meter"] is not None)
