"""The page's JSON over real HTTP against the daemon on the sim board: the owner's controls (start,
stop, pause, max current, availability, reconnect, diagnostics), the station page, the session
curve and the CSV export; plus the owner's limit kept in SQLite and the CSV's formula guard."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

from conftest import EV, LOCAL_TOKENS, eventually

from controller.core.ledger import Transaction
from controller.core.vocabulary import StopCause, Token, TokenType, TxPoint
from controller.owner_limits import OWNER, OwnerLimits
from controller.realtime import Limit
from controller.storage import Database
from controller.web.sessions import CSV_COLUMNS, history_csv

FAST_CURVES = "curve_interval_s = 1"


async def test_start_stop_pause_and_what_each_answers(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS, storage=FAST_CURVES)
    assert (await run.post("/api/connectors/1/start", {}))[0] == 400
    assert (await run.post("/api/connectors/7/start", {"token": "TAG-A"}))[0] == 404
    assert (await run.post("/api/connectors/x/stop", {}))[0] == 404
    code, body = await run.post("/api/connectors/1/start", {"token": "NOT-A-CARD"})
    assert (code, body["outcome"]) == (403, "rejected") and "Invalid" in body["error"]
    code, body = await run.post("/api/connectors/1/stop", {})
    assert code == 409 and body["error"] == "no session runs on this connector"

    code, body = await run.post("/api/connectors/1/start", {"token": "tag-a"})  # before the car: it waits
    assert (code, body["outcome"]) == (200, "waiting")
    await run.post("/api/sim/plug-in", {"connector": 1, **EV})
    await run.wait_status("Charging")
    tx = run.transaction()
    assert tx.token == Token("tag-a", TokenType.ISO14443)
    code, body = await run.post("/api/connectors/1/start", {"token": "TAG-A"})
    assert code == 409 and "already charges on connector 1" in body["error"], "start never stops anything"

    assert (await run.post("/api/connectors/1/pause", {"paused": "yes"}))[0] == 400
    assert (await run.post("/api/connectors/1/pause", {"paused": True}))[0] == 200
    await run.wait_status("SuspendedEVSE")
    assert run.station.view(1).transaction.id == tx.id, "a pause ends nothing"
    assert (await run.post("/api/connectors/1/pause", {"paused": False}))[0] == 200
    await run.wait_status("Charging")

    await eventually(lambda: run.daemon.curves.points(tx.id)[0] >= 2, 10, "curve samples")
    code, curve = await run.get(f"/api/sessions/{tx.id}/curve")
    assert code == 200 and len(curve["t"]) >= 2 and len(curve["current_a"][0]) == 3 and curve["power_w"][-1] > 0

    code, body = await run.post("/api/connectors/1/stop", {})
    assert (code, body["words"]) == (200, "Stopped.")
    ended = run.transactions_in_db()[-1]
    assert ended["stop_cause"] == StopCause.LOCAL.value and ended["stopped_at"] is not None
    code, curve = await run.get(f"/api/sessions/{tx.id}/curve")
    assert code == 200 and len(curve["t"]) >= 2, "the curve outlives its transaction (written at the end)"
    assert (await run.get("/api/sessions/" + "x" * 65 + "/curve"))[0] == 400

    async with run.http.get(run.url + "/api/sessions.csv") as resp:
        assert resp.status == 200 and resp.content_type == "text/csv"
        assert 'filename="evsed-evsed-sessions.csv"' in resp.headers["Content-Disposition"]
        table = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["token"] for r in table] == ["tag-a"]
    assert table[0]["id"] == tx.id and table[0]["stop_reason"] == "stopped at the wallbox (card or this page)"
    assert float(table[0]["energy_kwh"]) > 0


async def test_the_owners_limit_binds_shows_its_source_and_is_bounded_by_the_rating(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    code, body = await run.post("/api/connectors/1/max-current", {"amps": 40})
    assert code == 400 and "from 0 to 32" in body["error"]
    assert (await run.post("/api/connectors/1/max-current", {"amps": "10"}))[0] == 400
    assert (await run.post("/api/connectors/1/max-current", {}))[0] == 400
    assert (await run.post("/api/connectors/1/max-current", {"amps": 10}))[0] == 200
    await run.post("/api/sim/plug-in", {"connector": 1, **EV})
    await run.post("/api/connectors/1/start", {"token": "TAG-B"})
    await run.wait_status("Charging")
    connector = await run.connector_json()
    assert connector["limit"] == {"amps": 10.0, "source": OWNER} and connector["offered_a"] <= 10.0
    await eventually(lambda: max(run.sim.snapshot(1)["current_a"]) <= 10.5, 15, "the car follows 10 A")
    assert (await run.post("/api/connectors/1/max-current", {"amps": None}))[0] == 200
    await eventually(lambda: run.station.view(1).limit.source == "configuration", 5, "the rating again")


def test_the_owners_limit_is_kept_in_sqlite(tmp_path: Path) -> None:
    import asyncio

    db = Database(tmp_path / "evsed.db")
    limits = OwnerLimits(db, {1: (32.0, 3), 2: (16.0, 1)})
    asyncio.run(limits.set(2, 6.5))
    assert limits.limit(2, 0.0) == Limit(6.5, 1, float("inf")) and limits.limit(1, 0.0) is None
    db.close()
    db = Database(tmp_path / "evsed.db")
    again = OwnerLimits(db, {1: (32.0, 3), 2: (16.0, 1)})
    assert again.amps == {2: 6.5}, "a restart keeps it"
    asyncio.run(again.set(2, None))
    assert OwnerLimits(db, {1: (32.0, 3), 2: (16.0, 1)}).amps == {}
    db.close()


async def test_availability_is_the_operators_and_waits_for_a_running_session(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    code, body = await run.post("/api/connectors/1/availability", {"operative": False})
    assert (code, body["outcome"]) == (200, "accepted")
    await run.wait_status("Unavailable")
    assert (await run.post("/api/connectors/1/availability", {"operative": True}))[0] == 200
    await run.wait_status("Available")
    await run.post("/api/sim/plug-in", {"connector": 1, **EV})
    await run.post("/api/connectors/1/start", {"token": "TAG-A"})
    await run.wait_status("Charging")
    code, body = await run.post("/api/connectors/1/availability", {"operative": False})
    assert (code, body["outcome"]) == (200, "scheduled") and "when the running session ends" in body["words"]
    assert (await run.post("/api/connectors/1/stop", {}))[0] == 200
    await run.post("/api/sim/unplug", {"connector": 1})
    await run.wait_status("Unavailable")


async def test_station_page_diagnostics_and_reconnect_without_a_backend(start_daemon) -> None:
    from test_web_access import API_KEYS, PASSWORD

    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)
    auth = {"Authorization": f"Bearer {PASSWORD}"}
    async with run.http.get(run.url + "/api/station", headers=auth) as resp:
        station = await resp.json()
    assert station["ocpp"] is None and station["firmware"]["slot"] is None
    assert station["time"]["source"] == "system"
    assert station["time"]["offset_words"] == "none (the system clock is right)"
    assert station["meters"][0]["serial_number"] == "SIM-1" and "kWh on the register" in station["meters"][0]["words"]
    assert 'password_hash = "***"' in station["config"] and "$scrypt$" not in station["config"]
    async with run.http.post(run.url + "/api/ocpp/reconnect", headers=auth) as resp:
        assert resp.status == 404 and "no backend" in (await resp.json())["error"]

    async with run.http.post(run.url + "/api/diagnostics", headers=auth) as resp:
        assert resp.status == 200 and resp.content_type == "application/gzip"
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="diagnostics-evsed-')
        data = await resp.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        config = tar.extractfile("config.toml").read().decode()  # type: ignore[union-attr]
        status = tar.extractfile("status.json").read().decode()  # type: ignore[union-attr]
    assert {"status.json", "config.toml", "logs/evsed.log", "logs/ocpp.log"} <= set(names)
    assert "$scrypt$" not in config and '"connectors"' in status


def test_csv_cells_a_spreadsheet_would_run_are_defused() -> None:
    at = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    rows = [
        Transaction("a", 1, TxPoint.POWER_PATH_CLOSED, at, 1000.0, Token('=HYPERLINK("x")', TokenType.ISO14443),
                    stopped_at=at, meter_stop_wh=3500.0, stop_cause=StopCause.EV_DISCONNECTED),
        Transaction("b", None, TxPoint.AUTHORIZED, at, 0.0, Token("+1", TokenType.ISO14443)),
    ]  # fmt: skip
    table = list(csv.reader(io.StringIO(history_csv(rows))))
    assert tuple(table[0]) == CSV_COLUMNS
    assert table[1][2] == '\'=HYPERLINK("x")' and table[2][2] == "'+1"
    assert table[1][5] == "2.500" and table[1][7] == "car unplugged" and table[2][1] == "" and table[2][4] == ""


async def test_the_station_page_and_live_feed_with_a_2_0_1_backend(start_daemon, csms) -> None:
    toml = LOCAL_TOKENS + f'\n[ocpp]\nversion = "2.0.1"\nurl = "ws://127.0.0.1:{csms.port}"\nreconnect_cap_s = 0.2\n'
    run = await start_daemon(toml)

    async def station() -> dict:
        return (await run.get("/api/station"))[1]

    async def connected() -> bool:
        return (await station())["ocpp"]["state"] == "connected"

    await eventually(connected, 15, "the 2.0.1 link")
    info = await station()
    assert info["ocpp"]["version"] == "2.0.1" and isinstance(info["ocpp"]["queued"], int)
    assert info["ocpp"]["security_profile_words"] == "1: password over an unencrypted connection"
    assert info["firmware"]["words"] == "no update under way" and info["firmware"]["progress"] is None
    async with run.http.get(run.url + "/api/live") as resp:
        frames = []
        async for raw in resp.content:
            frames.append(raw.decode().strip())
            if frames[-1].startswith("event: station"):
                break
        station_frame = json.loads((await resp.content.readline()).decode()[len("data: ") :])
    assert station_frame["link"]["state"] == "connected" and station_frame["firmware"]["status"] == "Idle"
    assert any(f.startswith("event: evse") for f in frames), "the connector came first"
    assert (await run.post("/api/ocpp/reconnect", {}))[0] == 200
