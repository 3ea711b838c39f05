"""The whole daemon on the simulated board: sessions, authorization, statuses, limits, faults, shutdown.

Each test starts a real ``controller.daemon.Daemon`` (real-time loop thread, meter poller,
SQLite file in tmp_path, local API on a free port) from a TOML string and plays the world
through ``daemon.board.simulation``. Waits are on conditions (``eventually``), never sleeps.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from conftest import BOARD, EV, FREE_VEND, LOCAL_TOKENS, LOOP, ONE_CONNECTOR, TWO_CONNECTORS, eventually

from controller.core.events import EventKind
from controller.core.vocabulary import FREE_VEND as FREE_VEND_TOKEN
from controller.core.vocabulary import StopCause, Token, TokenSource, TokenType
from controller.faults import Fault
from controller.ocpp.v16.status import error_code
from controller.realtime import ConnectorControl, Limit
from hal.types import PilotMode


def tag(id_: str) -> Token:
    return Token(id_, TokenType.ISO14443)


def transaction_rows(run) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    """The latest transaction row of each EVSE, from the SQLite file."""
    return {r["evse"]: r for r in run.transactions_in_db()}


def energy(run, connector: int = 1) -> float:  # type: ignore[no-untyped-def]
    """The simulated meter's register, straight from the world."""
    return float(run.sim.snapshot(connector)["energy_import_wh"])


async def charging(run, connector: int = 1, **ev: object) -> None:  # type: ignore[no-untyped-def]
    """Plug an EV in (free vend) and wait until power flows through the meter."""
    start = energy(run, connector)
    run.sim.plug_in(connector, **{**EV, **ev})
    await run.wait_status("Charging", connector)
    await eventually(lambda: energy(run, connector) > start + 0.5, what=f"energy on connector {connector}")


# -- authorization and sessions -------------------------------------------------


async def test_free_vend_starts_a_session_at_plug_in(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    assert run.status() == "Available"
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    tx = run.transaction()
    assert tx.token == FREE_VEND_TOKEN
    assert tx.meter_start_wh == 1000.0  # the simulated register of connector 1 before any energy
    rows = run.transactions_in_db()
    assert len(rows) == 1 and rows[0]["stopped_at"] is None and rows[0]["token_type"] == "NoAuthorization"
    started = [e for e in run.events if e.kind is EventKind.TRANSACTION_STARTED]
    assert [e.transaction.id for e in started] == [tx.id]
    await eventually(lambda: energy(run) > 1001.0, what="energy flowing")
    assert run.sim.snapshot(1)["contactor"] == {"commanded": True, "closed": True}


async def test_local_unknown_token_is_rejected(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    # Nothing plugged: an unknown token neither starts nor waits.
    assert (await run.station.present_token(tag("STRANGER"), TokenSource.API)).outcome == "rejected"
    assert run.station.view(1).authorization is None and not run.station.view(1).token_waiting
    assert run.status() == "Available"
    # Plugged: an unknown swipe is ignored, the known one that follows it (in any letter case:
    # tokens are case-insensitive) starts the session.
    run.sim.plug_in(1, **EV)
    await run.wait_status("Preparing")
    run.sim.swipe("STRANGER")
    run.sim.swipe("tag-a")
    await run.wait_status("Charging")
    assert run.transaction().token.id == "tag-a"
    assert [r["token_id"] for r in run.transactions_in_db()] == ["tag-a"]


async def test_known_token_then_plug_in(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    run.sim.swipe("TAG-A")
    await run.wait_status("Preparing")  # a token waits for an EV
    assert run.sim.snapshot(1)["plugged"] is False
    assert run.transaction() is None and run.station.view(1).authorization.token.id == "TAG-A"
    assert run.station.view(1).token_waiting
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    assert run.transaction().token.id == "TAG-A"
    assert not run.station.view(1).token_waiting


async def test_plug_in_then_token_and_only_the_owner_stops_it(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    run.sim.plug_in(1, **EV)
    await run.wait_status("Preparing")
    assert run.transaction() is None  # local authorization: no token, no session
    run.sim.swipe("TAG-B")
    await run.wait_status("Charging")
    tx = run.transaction()
    assert tx.token.id == "TAG-B"
    # Another valid token does not stop someone else's session (and finds no free connector).
    assert (await run.station.present_token(tag("TAG-A"), TokenSource.API)).outcome == "rejected"
    assert run.transaction().id == tx.id and run.status() == "Charging"
    run.sim.swipe("TAG-B")
    await run.wait_status("Finishing")
    [row] = run.transactions_in_db()
    assert row["stop_cause"] == "Local"
    assert row["meter_stop_wh"] > row["meter_start_wh"]
    ended = [e.transaction for e in run.events if e.kind is EventKind.TRANSACTION_ENDED]
    assert [(t.id, t.stop_cause) for t in ended] == [(tx.id, "Local")]
    run.sim.unplug(1)
    await run.wait_status("Available")
    assert len(run.transactions_in_db()) == 1


async def test_finishing_and_available_are_announced_only_after_the_stopped_row_is_durable(start_daemon) -> None:
    """Whoever reacts to Finishing (token stop) or Available (unplug stop) finds the session row
    closed: the stop's meter read is made to last until the loop has shown the contactor open,
    the instant at which the status used to change before the row was written."""
    run = await start_daemon(LOCAL_TOKENS)
    station = run.station
    read_meter = station.read_meter
    slow = False

    async def read_meter_slowly(connector: int) -> None:
        await read_meter(connector)
        if slow:
            await station.until(lambda: not station.view(connector).snapshot.contactor)

    station.read_meter = read_meter_slowly
    seen: list[tuple[str, list[str | None]]] = []

    def announced(_event: object) -> None:
        if not seen or seen[-1][0] != run.status():
            seen.append((run.status(), [r["stop_cause"] for r in run.transactions_in_db()]))

    station.subscribe(announced)
    for stop, status, reason in ((lambda: run.sim.swipe("TAG-A"), "Finishing", "Local"),
                                 (lambda: run.sim.unplug(1), "Available", "EVDisconnected")):  # fmt: skip
        if run.status() != "Available":
            run.sim.unplug(1)
            await run.wait_status("Available")
        run.sim.plug_in(1, **EV)
        await run.wait_status("Preparing")
        run.sim.swipe("TAG-A")
        await run.wait_status("Charging")
        slow, seen[:] = True, [("Charging", [])]
        stop()
        await run.wait_status(status)
        slow = False
        assert seen[1] == (status, [*seen[1][1][:-1], reason]), f"announced before the row was closed: {seen}"


async def test_unplug_stops_the_session_with_ev_disconnected(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    await charging(run)
    run.sim.unplug(1)
    await run.wait_status("Available")
    [row] = await eventually(lambda: [r for r in run.transactions_in_db() if r["stop_cause"]], what="stopped row")
    assert row["stop_cause"] == "EVDisconnected"
    assert row["meter_stop_wh"] > row["meter_start_wh"] + 0.5
    assert run.transaction() is None
    # The EV left while charging: Charging -> Available, nothing in between (no SuspendedEVSE:
    # the EVSE suspended nothing, and a backend would be told it did).
    statuses = run.statuses()
    last_charging = len(statuses) - 1 - statuses[::-1].index("Charging")
    assert statuses[last_charging:] == ["Charging", "Available"], f"announced {statuses}"


async def test_status_sequence_of_a_session(start_daemon) -> None:
    """Available -> Preparing -> SuspendedEV (PWM on, EV not yet drawing) -> Charging ->
    SuspendedEV (EV pauses) -> Charging -> Finishing (token stop) -> Available (unplug).
    No other status may be announced in between: each one is a StatusNotification."""
    run = await start_daemon(LOCAL_TOKENS)
    run.sim.plug_in(1, **EV)
    await run.wait_status("Preparing")
    run.sim.swipe("TAG-A")
    await run.wait_status("Charging")
    run.sim.ev_action(1, "pause")
    await run.wait_status("SuspendedEV")
    run.sim.ev_action(1, "resume")
    await run.wait_status("Charging")
    run.sim.swipe("TAG-A")
    await run.wait_status("Finishing")
    run.sim.unplug(1)
    await run.wait_status("Available")
    expected = [
        "Available",
        "Preparing",
        "SuspendedEV",
        "Charging",
        "SuspendedEV",
        "Charging",
        "Finishing",
        "Available",
    ]
    assert run.statuses() == expected, f"announced {run.statuses()}"


# -- limits -----------------------------------------------------------------------


async def test_stale_limit_falls_back_to_safe_current(start_daemon, monkeypatch) -> None:
    toml = LOCAL_TOKENS.replace('authorize = "local"', 'authorize = "local"\nsafe_current_a = 10.0')
    run = await start_daemon(toml)
    rt = run.daemon.rt
    # While the station refreshes it, the limit is fresh and is the connector's maximum.
    snap = rt.snapshot(1)
    assert (snap.limit_a, snap.limit_stale) == (32.0, False)

    run.sim.plug_in(1, **EV)
    await run.wait_status("Preparing")
    monkeypatch.setattr(run.station, "refresh_limit", lambda *a, **k: None)  # the controller "stalls"
    rt.set_control(1, ConnectorControl(charge_allowed=True, limit=Limit(32.0, 3, time.monotonic() - 1.0)))
    await eventually(lambda: rt.snapshot(1).limit_stale, what="stale limit")
    snap = rt.snapshot(1)
    assert snap.limit_a == 10.0
    await eventually(lambda: rt.snapshot(1).offered_a > 0, what="PWM on")
    assert rt.snapshot(1).offered_a == pytest.approx(10.0)
    pilot = run.sim.snapshot(1)["pilot"]
    assert pilot["mode"] == "X2" and pilot["duty_percent"] == pytest.approx(10.0 / 0.6)
    # The EV follows the safe current, not the 32 A the stale limit said.
    await eventually(lambda: run.sim.snapshot(1)["current_a"] == [10.0, 10.0, 10.0], what="EV at 10 A")

    rt.set_control(1, ConnectorControl(charge_allowed=True, limit=Limit(20.0, 3, time.monotonic() + 60.0)))
    await eventually(lambda: not rt.snapshot(1).limit_stale, what="fresh limit")
    assert rt.snapshot(1).limit_a == 20.0
    rt.set_control(1, ConnectorControl(charge_allowed=True, limit=Limit(20.0, 3, time.monotonic() + 0.3)))
    await eventually(lambda: rt.snapshot(1).limit_stale, what="limit expiring by itself")
    assert rt.snapshot(1).limit_a == 10.0


async def test_cable_and_connector_maximum_cap_the_offered_current(start_daemon) -> None:
    toml = (
        TWO_CONNECTORS
        + """
[[connector]]
id = 3
phases = 3
max_current_a = 32.0
[connector.sim]
cable_ampacity_a = 13
"""
    )
    run = await start_daemon(toml)
    assert run.daemon.rt.snapshot(3).cable_a is None  # no cable in the socket yet
    for cid in (1, 2, 3):
        run.sim.plug_in(cid, **EV)  # every EV could take 32 A
    for cid in (1, 2, 3):
        await run.wait_status("Charging", cid)
    offered = {cid: run.daemon.rt.snapshot(cid).offered_a for cid in (1, 2, 3)}
    assert offered == {1: pytest.approx(32.0), 2: pytest.approx(16.0), 3: pytest.approx(13.0)}
    assert run.daemon.rt.snapshot(2).cable_a == 20.0  # bench-2 connector 2: 20 A cable, 16 A max
    assert run.daemon.rt.snapshot(3).cable_a == 13.0
    for cid, amps in ((1, 32.0), (2, 16.0), (3, 13.0)):
        assert run.sim.snapshot(cid)["pilot"]["duty_percent"] == pytest.approx(amps / 0.6)
        await eventually(lambda c=cid, a=amps: run.sim.snapshot(c)["current_a"] == [a, a, a], what=f"{amps} A")


async def test_connection_timeout_returns_to_available(start_daemon) -> None:
    toml = LOCAL_TOKENS.replace('authorize = "local"', 'authorize = "local"\nconnection_timeout_s = 5.0')
    plugged_only = await start_daemon(toml, name="plug")
    token_only = await start_daemon(toml, name="token")

    async def plug_without_token() -> None:
        plugged_only.sim.plug_in(1, **EV)
        await plugged_only.wait_status("Preparing")
        t0 = time.monotonic()
        await plugged_only.wait_status("Available", within=10)
        assert time.monotonic() - t0 >= 4.8  # not before the 5 s timeout
        assert plugged_only.sim.snapshot(1)["plugged"] is True and plugged_only.transaction() is None

    async def token_without_plug() -> None:
        token_only.sim.swipe("TAG-A")
        await token_only.wait_status("Preparing")
        t0 = time.monotonic()
        await token_only.wait_status("Available", within=10)
        assert time.monotonic() - t0 >= 4.8
        assert token_only.station.view(1).authorization is None
        # The expired token must not start a session at the next plug-in; a fresh one does.
        token_only.sim.plug_in(1, **EV)
        await token_only.wait_status("Preparing")
        token_only.sim.swipe("TAG-B")
        await token_only.wait_status("Charging")
        assert token_only.transaction().token.id == "TAG-B"

    await asyncio.gather(plug_without_token(), token_without_plug())


# -- faults -------------------------------------------------------------------------


async def test_meter_offline_suspends_and_the_session_survives(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    await charging(run)
    tx = run.transaction()
    run.sim.set_fault(1, "meter_offline", True)
    await run.wait_status("Faulted")
    assert run.station.view(1).fault is Fault.METER_OFFLINE
    assert run.sim.snapshot(1)["contactor"]["commanded"] is False
    assert run.transaction().id == tx.id  # suspended, not ended
    [row] = run.transactions_in_db()
    assert row["stopped_at"] is None
    before = energy(run)

    run.sim.set_fault(1, "meter_offline", False)
    await run.wait_status("Charging")
    assert run.transaction().id == tx.id
    await eventually(lambda: energy(run) > before + 0.5, what="energy after the meter came back")
    run.sim.unplug(1)
    await run.wait_status("Available")
    [row] = await eventually(lambda: [r for r in run.transactions_in_db() if r["stop_cause"]], what="stopped row")
    assert (row["id"], row["stop_cause"]) == (tx.id, "EVDisconnected")
    assert row["meter_stop_wh"] > before


async def test_an_idle_meter_is_read_seldom_and_a_plug_in_has_it_read_at_the_interval(start_daemon) -> None:
    # meter_timeout_s 300: an idle connector's meter is read every 5 s (metering.idle_interval).
    run = await start_daemon(FREE_VEND.replace("meter_timeout_s = 1.0", "meter_timeout_s = 300.0"))
    reads: list[float] = []  # the simulated meter's time of each reading the station got

    def heard(evse: int) -> None:
        meter = run.station.view(evse).meter
        if meter is not None and (not reads or meter.at != reads[-1]):
            reads.append(meter.at)

    run.station.on_readings(heard)
    await eventually(lambda: reads, what="a reading")
    await asyncio.sleep(1.0)  # a window in which the idle meter is not read again (at 0.2 s: five times)
    assert len(reads) == 1, reads
    run.sim.plug_in(1, **EV)
    await eventually(lambda: len(reads) >= 8, what="readings every 0.2 s while the EV is plugged in")


async def test_rcd_trip_ends_the_session_and_stays_faulted_until_unplug(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    await charging(run)
    run.sim.set_fault(1, "rcd", True)
    await run.wait_status("Faulted")
    assert run.station.view(1).fault is Fault.RCD
    [row] = await eventually(lambda: [r for r in run.transactions_in_db() if r["stop_cause"]], what="stopped row")
    assert row["stop_cause"] == "GroundFault"  # the 1.6 Reason "Other": test_ocpp16_frontend.py
    assert run.transaction() is None
    (fault_at, kind, active), *_ = run.sim.fault_log(1)
    assert (kind, active) == ("rcd", True)
    opened = [t for t, closed in run.sim.contactor_log(1) if not closed and t >= fault_at]
    assert opened and opened[0] - fault_at < 0.5, "the contactor must open at once on an RCD trip"

    run.sim.set_fault(1, "rcd", False)
    # The condition is gone: the pilot leaves F (X1, to watch for the unplug) ...
    await eventually(lambda: run.sim.snapshot(1)["pilot"]["mode"] == "X1", what="pilot back to X1")
    # ... but the trip is latched for this plug-in.
    assert run.status() == "Faulted" and run.station.view(1).fault is Fault.RCD
    assert run.sim.snapshot(1)["contactor"]["commanded"] is False
    run.sim.unplug(1)
    await run.wait_status("Available")
    assert run.station.view(1).fault is None
    assert len(run.transactions_in_db()) == 1


async def test_welded_contactor_is_detected(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    await charging(run)
    run.sim.set_fault(1, "contactor_weld", True)
    run.sim.ev_action(1, "pause")  # the EV leaves C: the contactor is told to open, the contacts stay closed
    await run.wait_status("Faulted")
    evse = run.station.view(1)
    assert evse.fault is Fault.CONTACTOR_WELD
    assert error_code(evse.fault) == "PowerSwitchFailure"
    assert run.sim.snapshot(1)["contactor"] == {"commanded": False, "closed": True}
    [row] = await eventually(lambda: [r for r in run.transactions_in_db() if r["stop_cause"]], what="stopped row")
    assert row["stop_cause"] == "Other"
    body = await run.connector_json(1)
    assert body["status"] == "Faulted" and body["error"] == "contactor_weld"
    # While the weld is there the pilot stays at F; once it is gone and the EV has left: Available.
    assert run.sim.snapshot(1)["pilot"]["mode"] == "F"
    run.sim.unplug(1)
    run.sim.set_fault(1, "contactor_weld", False)
    await run.wait_status("Available")
    assert len(run.transactions_in_db()) == 1


async def test_welded_contactor_is_detected_while_idle(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    run.sim.set_fault(1, "contactor_weld", True)
    await run.wait_status("Faulted")
    assert run.station.view(1).fault is Fault.CONTACTOR_WELD
    assert run.sim.snapshot(1)["pilot"]["mode"] == "F"  # no EV will be offered power
    run.sim.set_fault(1, "contactor_weld", False)
    await run.wait_status("Available")
    await charging(run)  # and the connector works again


# -- two connectors -------------------------------------------------------------------


async def test_two_connectors_charge_at_once_with_independent_sessions(start_daemon) -> None:
    run = await start_daemon(TWO_CONNECTORS)
    await asyncio.gather(charging(run, 1), charging(run, 2))
    s1, s2 = run.transaction(1), run.transaction(2)
    assert s1.id != s2.id
    assert (s1.evse, s2.evse) == (1, 2)
    assert (s1.meter_start_wh, s2.meter_start_wh) == (1000.0, 2000.0)  # each connector's own meter
    assert run.status(1) == run.status(2) == "Charging"

    run.sim.unplug(1)
    await run.wait_status("Available", 1)
    assert run.status(2) == "Charging" and run.transaction(2).id == s2.id
    # Rows by EVSE: which of the two transactions was written first is not part of the contract.
    await eventually(lambda: transaction_rows(run)[1]["stop_cause"] == "EVDisconnected", what="session 1 closed")
    assert transaction_rows(run)[2]["stopped_at"] is None
    e2 = energy(run, 2)
    await eventually(lambda: energy(run, 2) > e2 + 0.2, what="connector 2 still charging")

    # Free vend has no token to present again: a stop command ends it (the 1.6 idTag "FreeVend" is
    # only its wire name, test_ocpp16_frontend.py).
    assert await run.station.stop(2, StopCause.LOCAL) == "stopped"
    await run.wait_status("Finishing", 2)
    rows = {r["evse"]: r for r in run.transactions_in_db()}
    assert (rows[1]["stop_cause"], rows[2]["stop_cause"]) == ("EVDisconnected", "Local")
    assert rows[1]["meter_stop_wh"] < 2000.0 < rows[2]["meter_stop_wh"]


# -- shutdown ---------------------------------------------------------------------------


async def test_stop_opens_every_contactor_and_closes_sessions_with_reboot(start_daemon) -> None:
    run = await start_daemon(TWO_CONNECTORS)
    await asyncio.gather(charging(run, 1), charging(run, 2))
    url = run.url
    # The world as the stopped loop left it, looked at when the daemon closes the board (which
    # ends the real-time process and the simulated world with it).
    world: dict[int, tuple[Any, Any, Any]] = {}
    close = run.daemon.board.close

    def look_then_close() -> None:
        world.update(
            {cid: (run.sim.contactor_log(cid), run.sim.pilot_log(cid), run.sim.snapshot(cid)) for cid in (1, 2)}
        )
        close()

    run.daemon.board.close = look_then_close  # type: ignore[method-assign]
    await run.stop()

    for cid, (contactor_log, pilot_log, snapshot) in world.items():
        assert True in [closed for _, closed in contactor_log]
        assert contactor_log[-1][1] is False, f"connector {cid}: contactor left closed: {contactor_log}"
        assert pilot_log[-1][1].mode is PilotMode.X1
        assert snapshot["contactor"]["closed"] is False
    # Then the board was closed on request (a closed sim board lets the cable go: test_sim_board).
    assert run.daemon.board.child.process.returncode == 0
    rows = run.transactions_in_db()
    assert [r["stop_cause"] for r in rows] == ["Reboot", "Reboot"]
    for r in rows:
        assert r["stopped_at"] is not None
        assert r["meter_stop_wh"] > r["meter_start_wh"]
    with pytest.raises(aiohttp.ClientConnectionError):
        await run.http.get(url + "/api/status")


async def test_single_phase_ev_on_a_three_phase_connector(start_daemon) -> None:
    toml = BOARD + ONE_CONNECTOR + LOOP
    run = await start_daemon(toml)
    await charging(run, phases=1, max_current_a=16.0)
    await eventually(lambda: run.station.view(1).meter.current_a == (16.0, 0.0, 0.0), what="one phase at 16 A")
    assert run.daemon.rt.snapshot(1).offered_a == pytest.approx(32.0)  # the EV takes less than offered
    assert run.status() == "Charging"
