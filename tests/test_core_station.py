"""The charging core through the real daemon on the sim board: the events it tells, transactions
under the 2.0.1 start / stop points (set with ``set_policy``), and the commands 1.6 never needed
(availability reasons, reset on idle and per EVSE, unlock without a stop, pause, energy cap).

Waits are on the station's own state (``eventually`` / ``station.until``), never sleeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace

from conftest import EV, FREE_VEND, LOCAL_TOKENS, TWO_CONNECTORS, eventually

from controller.core.commands import (
    AvailabilityOutcome,
    ChargingPolicy,
    ResetOutcome,
    ResetWhen,
    StopOutcome,
    UnlockOutcome,
)
from controller.core.events import Event, EventKind
from controller.core.txpolicy import TxPolicy
from controller.core.vocabulary import (
    AvailabilityReason,
    ChargingState,
    StopCause,
    Token,
    TokenSource,
    TokenType,
    TxPoint,
)
from hal.types import Indication

K = EventKind
TAG_A = Token("TAG-A", TokenType.ISO14443)
LOCAL_TWO = TWO_CONNECTORS + '\n[charging]\nauthorize = "local"\ntokens = ["TAG-A", "TAG-B"]\n'


def policy(start: set[TxPoint], stop: set[TxPoint], **more: object) -> ChargingPolicy:
    return ChargingPolicy(tx=TxPolicy(frozenset(start), frozenset(stop)), **more)  # type: ignore[arg-type]


def kinds(run, evse: int | None = 1) -> list[EventKind]:  # type: ignore[no-untyped-def]
    return [e.kind for e in run.events if e.evse == evse]


def after(seq: list[EventKind], *wanted: EventKind) -> bool:
    """``wanted`` appear in ``seq`` in this order (others may come between)."""
    it = iter(seq)
    return all(any(k is w for k in it) for w in wanted)


def ended(run, evse: int = 1):  # type: ignore[no-untyped-def]
    return [e for e in run.events if e.kind is K.TRANSACTION_ENDED and e.evse == evse]


async def test_a_free_vend_charge_tells_every_fact_in_order(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    await eventually(lambda: K.ENERGY_TRANSFER_STARTED in kinds(run), what="energy transfer")
    run.sim.unplug(1)
    await eventually(lambda: ended(run), what="the transaction's end")
    seq = kinds(run)
    assert after(seq, K.EV_PLUGGED, K.AUTHORIZED, K.POWER_PATH_CLOSED, K.TRANSACTION_STARTED,
                 K.ENERGY_TRANSFER_STARTED, K.EV_UNPLUGGED, K.POWER_PATH_OPENED, K.TRANSACTION_ENDED), seq  # fmt: skip
    states = [e.charging_state for e in run.events if e.kind is K.CHARGING_STATE_CHANGED]
    assert after(states, ChargingState.SUSPENDED_EV, ChargingState.CHARGING, ChargingState.IDLE), states  # type: ignore[arg-type]
    started = next(e for e in run.events if e.kind is K.TRANSACTION_STARTED)
    assert started.point is TxPoint.POWER_PATH_CLOSED and started.transaction.token.type is TokenType.NO_AUTHORIZATION
    authorized = next(e for e in run.events if e.kind is K.AUTHORIZED)
    assert authorized.source is TokenSource.FREE_VEND
    [end] = ended(run)
    assert end.cause is StopCause.EV_DISCONNECTED and end.transaction.id == started.transaction.id
    assert end.meter is not None and end.view is not None and end.view.transaction is None
    assert all(e.at.tzinfo is not None for e in run.events)
    monos = [e.mono for e in run.events]
    assert monos == sorted(monos)  # told in the order they happened


async def test_authorized_start_before_the_ev_and_a_remote_stop_that_waits_for_the_unplug(start_daemon) -> None:
    """2.0.1 TxStartPoint Authorized, TxStopPoint EVConnected: the transaction starts at the token
    (no EV yet); RemoteStop ends the energy but not the transaction (F03.FR.02), whose end at the
    unplug keeps Remote as its cause."""
    run = await start_daemon(LOCAL_TOKENS)
    run.station.set_policy(policy({TxPoint.AUTHORIZED}, {TxPoint.EV_CONNECTED}))
    answer = await run.station.present_token(TAG_A, TokenSource.API)
    assert answer.outcome == "waiting"
    tx = run.transaction()
    assert (tx.start_point, tx.evse, tx.token.id) == (TxPoint.AUTHORIZED, 1, "TAG-A")  # one EVSE: bound at once
    assert run.transactions_in_db()[0]["start_point"] == "Authorized"
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    assert run.transaction().id == tx.id
    assert await run.station.remote_stop(tx.id) == StopOutcome.STOPPED
    await eventually(lambda: not run.sim.snapshot(1)["contactor"]["closed"], what="energy stopped")
    # The station hears of it in a snapshot from the real-time process, after the simulated world.
    await eventually(lambda: not run.station.view(1).snapshot.contactor, what="the station saw it")  # type: ignore[union-attr]
    assert run.transaction().id == tx.id  # still open
    assert run.station.view(1).charging_state is ChargingState.EV_CONNECTED  # nobody authorized now
    updated = [e for e in run.events if e.kind is K.TRANSACTION_UPDATED and e.trigger is K.DEAUTHORIZED]
    assert [e.cause for e in updated] == [StopCause.REMOTE]
    run.sim.unplug(1)
    await eventually(lambda: ended(run), what="the end at the unplug")
    assert ended(run)[0].cause is StopCause.REMOTE  # the earlier cause, not EVDisconnected
    assert run.transactions_in_db()[0]["stop_cause"] == "Remote"


async def test_an_unbound_token_starts_a_transaction_the_ev_binds_to_an_evse(start_daemon) -> None:
    """On a two-EVSE station a token with no EVSE named starts (at Authorized) a transaction with
    no EVSE; the EV plugged into connector 2 binds it there (in memory and in the ledger)."""
    run = await start_daemon(LOCAL_TWO)
    run.station.set_policy(policy({TxPoint.AUTHORIZED}, {TxPoint.EV_CONNECTED, TxPoint.AUTHORIZED}))
    assert (await run.station.present_token(TAG_A, TokenSource.API)).outcome == "waiting"
    [row] = run.transactions_in_db()
    assert row["evse"] is None and row["token_id"] == "TAG-A"
    assert run.station.station_view().pending.token.id == "TAG-A"
    assert run.status(1) == run.status(2) == "Preparing"  # a token waits for either
    run.sim.plug_in(2, **EV)
    await run.wait_status("Charging", 2)
    assert run.transaction(2).id == row["id"] and run.status(1) == "Available"
    bound = next(e for e in run.events if e.kind is K.TRANSACTION_UPDATED and e.trigger is K.EV_PLUGGED)
    assert bound.evse == 2 and bound.transaction.evse == 2
    await eventually(lambda: run.transactions_in_db()[0]["evse"] == 2, what="the row bound")
    assert run.transactions_in_db()[0]["meter_start_wh"] == 2000.0  # connector 2's register at the binding


async def test_ev_connected_start_times_out_without_a_token(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    run.station.set_policy(policy({TxPoint.EV_CONNECTED}, {TxPoint.EV_CONNECTED}, connection_timeout_s=1.0))
    run.sim.plug_in(1, **EV)
    await eventually(lambda: run.transaction() is not None, what="a transaction at the plug-in")
    assert run.transaction().token is None and run.transaction().start_point is TxPoint.EV_CONNECTED
    await eventually(lambda: ended(run), within=5, what="the time-out")
    assert ended(run)[0].cause is StopCause.TIMEOUT
    assert K.PLUG_IN_TIMED_OUT in kinds(run)
    assert run.status() == "Finishing" and run.transaction() is None  # no new one until the EV leaves


async def test_a_token_that_waits_in_vain_ends_its_transaction_with_timeout(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    run.station.set_policy(policy({TxPoint.AUTHORIZED}, {TxPoint.AUTHORIZED}, connection_timeout_s=1.0))
    await run.station.present_token(TAG_A, TokenSource.API)
    await eventually(lambda: ended(run), within=5, what="the token's time-out")
    assert ended(run)[0].cause is StopCause.TIMEOUT and K.TOKEN_TIMED_OUT in kinds(run)
    assert run.station.view(1).authorization is None


async def test_energy_transfer_as_start_and_stop_point(start_daemon) -> None:
    """Charging may begin before the transaction when energy transfer is its start; the EV pausing
    (energy stops) ends it as StoppedByEV."""
    run = await start_daemon(FREE_VEND)
    run.station.set_policy(policy({TxPoint.ENERGY_TRANSFER}, {TxPoint.ENERGY_TRANSFER}))
    run.sim.plug_in(1, **EV)
    await eventually(lambda: run.transaction() is not None, what="a transaction once energy flows")
    assert run.transaction().start_point is TxPoint.ENERGY_TRANSFER
    run.sim.ev_action(1, "pause")
    await eventually(lambda: ended(run), what="the end when energy stops")
    assert ended(run)[0].cause is StopCause.STOPPED_BY_EV


async def test_availability_reasons_the_strictest_wins_and_the_operators_survives_a_restart(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    station = run.station
    assert await station.set_availability(1, False, AvailabilityReason.OPERATOR) == AvailabilityOutcome.ACCEPTED
    assert await station.set_availability(None, False, AvailabilityReason.FIRMWARE) == AvailabilityOutcome.ACCEPTED
    await run.wait_status("Unavailable")
    assert station.view(1).inoperative_reasons == {AvailabilityReason.OPERATOR, AvailabilityReason.FIRMWARE}
    await station.set_availability(1, True, AvailabilityReason.OPERATOR)  # the firmware's reason still holds
    assert not station.view(1).operative and not station.station_view().operative
    await station.set_availability(1, False, AvailabilityReason.OPERATOR)
    await station.set_availability(None, True, AvailabilityReason.FIRMWARE)
    assert not station.view(1).operative  # the operator's reason still holds
    changes = [e for e in run.events if e.kind is K.AVAILABILITY_CHANGED]
    assert [(e.operative, e.reason) for e in changes] == [(False, AvailabilityReason.OPERATOR)]
    database = run.daemon.config.storage.database
    await run.stop()
    conn = sqlite3.connect(database)
    assert conn.execute("SELECT evse, reason FROM availability").fetchall() == [(1, "operator")]
    conn.execute("INSERT INTO availability VALUES (1, 'firmware')")  # as a power cut mid-install leaves it
    conn.commit()
    conn.close()
    restarted = await start_again(run)
    assert restarted.station.view(1).inoperative_reasons == {AvailabilityReason.OPERATOR}  # firmware's lifted
    assert restarted.status() == "Unavailable"


async def start_again(run):  # type: ignore[no-untyped-def]
    """A daemon on the stopped daemon's state directory."""
    from conftest import Running, with_runtime_sections

    from controller.config import parse
    from controller.daemon import Daemon
    from controller.safety.process import open_board

    state = run.daemon.config.storage.state_dir
    config = parse(with_runtime_sections(LOCAL_TOKENS, state), "again.toml")
    daemon = Daemon(config, open_board(config))
    again = Running(daemon, run.http)
    await daemon.start()
    await eventually(lambda: all(v.indication is not None for v in daemon.station.views()), 5, "snapshots")
    daemon.station.subscribe(again.record)
    run.stopped = False
    run.daemon = daemon  # stopped at teardown with the others
    return again


async def test_availability_during_a_transaction_is_scheduled(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    checked = run.station.set_availability_check(None, False, AvailabilityReason.OPERATOR)
    assert checked == AvailabilityOutcome.SCHEDULED and not run.station.view(1).scheduled_inoperative  # no change
    assert run.station.set_availability_check(7, False, AvailabilityReason.OPERATOR) == AvailabilityOutcome.REJECTED
    outcome = await run.station.set_availability(None, False, AvailabilityReason.OPERATOR)
    assert outcome == AvailabilityOutcome.SCHEDULED
    assert run.station.view(1).scheduled_inoperative and run.status() == "Charging"
    run.sim.unplug(1)
    await run.wait_status("Unavailable")
    assert not run.station.view(1).scheduled_inoperative


async def test_unlock_never_ends_a_transaction(start_daemon) -> None:
    run = await start_daemon(TWO_CONNECTORS)  # connector 2 is a socket with a lock
    run.sim.plug_in(2, **EV)
    await run.wait_status("Charging", 2)
    tx = run.transaction(2)
    assert await run.station.unlock(2) == UnlockOutcome.ONGOING_TRANSACTION
    assert run.transaction(2).id == tx.id and run.sim.snapshot(2)["locked"] is True
    assert await run.station.unlock(1) == UnlockOutcome.NOT_SUPPORTED  # a tethered cable
    assert await run.station.unlock(7) == UnlockOutcome.UNKNOWN_EVSE
    assert await run.station.stop(2, StopCause.UNLOCK_COMMAND) == StopOutcome.STOPPED
    assert await run.station.unlock(2) == UnlockOutcome.UNLOCKED
    assert run.sim.snapshot(2)["locked"] is False
    assert ended(run, 2)[0].cause is StopCause.UNLOCK_COMMAND


async def test_a_lock_that_stays_closed_fails_to_unlock_and_is_driven_again(start_daemon) -> None:
    run = await start_daemon(TWO_CONNECTORS)
    run.sim.plug_in(2, **EV)
    await run.wait_status("Charging", 2)
    run.sim.set_fault(2, "lock_stuck", True)  # tension on the cable
    await run.station.stop(2, StopCause.LOCAL)
    assert await run.station.unlock(2) == UnlockOutcome.FAILED
    assert run.sim.snapshot(2)["locked"] is True
    run.sim.set_fault(2, "lock_stuck", False)  # the lock is free, but nothing drives it by itself
    assert run.sim.snapshot(2)["locked"] is True
    assert await run.station.unlock(2) == UnlockOutcome.UNLOCKED  # a second unlock drives it again
    assert run.sim.snapshot(2)["locked"] is False


async def test_reset_on_idle_waits_for_the_transaction_and_an_evse_reset_restarts_nothing(start_daemon) -> None:
    run = await start_daemon(LOCAL_TWO)
    station = run.station
    run.sim.plug_in(1, **EV)
    run.sim.plug_in(2, **EV)
    await station.present_token(TAG_A, TokenSource.API, 1)
    await station.present_token(replace(TAG_A, id="TAG-B"), TokenSource.API, 2)
    await run.wait_status("Charging", 1)
    await run.wait_status("Charging", 2)
    # One EVSE, immediately: its transaction ends with the reset's cause, the daemon runs on.
    outcome = await station.reset(2, ResetWhen.IMMEDIATE, StopCause.IMMEDIATE_RESET)
    assert outcome == ResetOutcome.ACCEPTED
    assert ended(run, 2)[0].cause is StopCause.IMMEDIATE_RESET and run.transaction(2) is None
    assert station.view(2).authorization is None and not run.daemon.stopping.is_set()
    # The station, on idle: scheduled while connector 1 charges, done when it stops.
    assert station.reset_check(None, ResetWhen.ON_IDLE) == ResetOutcome.SCHEDULED
    assert await station.reset(None, ResetWhen.ON_IDLE, StopCause.REBOOT) == ResetOutcome.SCHEDULED
    assert not run.daemon.stopping.is_set() and run.status(1) == "Charging"
    await station.present_token(TAG_A, TokenSource.API)  # the owner stops it
    await eventually(lambda: run.daemon.stopping.is_set(), what="the restart once idle")
    assert run.daemon.restart_requested == "Hard"
    assert ended(run, 1)[0].cause is StopCause.LOCAL  # it ended by itself, not by the reset
    assert station.reset_check(9, ResetWhen.IMMEDIATE) == ResetOutcome.REJECTED


async def test_pause_and_energy_cap_offer_nothing_and_end_nothing(start_daemon) -> None:
    run = await start_daemon(FREE_VEND)
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    run.station.pause(1, True)
    await run.wait_status("SuspendedEVSE")
    assert run.station.view(1).limit.amps == 0.0 and run.transaction() is not None
    run.station.pause(1, False)
    await run.wait_status("Charging")
    run.station.cap_energy(1, 0.0)  # at most what it already had
    await run.wait_status("SuspendedEVSE")
    assert run.station.view(1).energy_cap_wh == 0.0 and run.transaction() is not None


async def test_an_ev_plugged_in_while_the_end_is_written_starts_anew(start_daemon) -> None:
    """Unplugged and plugged in again before the ended transaction's row was written: the new
    EV is no leftover of the old transaction (not Finishing): free vend starts it charging."""
    run = await start_daemon(FREE_VEND)
    station, read_meter = run.station, run.station.read_meter
    replugged = asyncio.Event()

    async def read_meter_until_replugged(connector: int) -> None:
        await read_meter(connector)
        if station.view(connector).stopping:
            await replugged.wait()

    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    first = run.transaction()
    station.read_meter = read_meter_until_replugged
    run.sim.unplug(1)
    await station.until(lambda: station.view(1).stopping and not station.view(1).ev_connected)
    run.sim.plug_in(1, **EV)
    await station.until(lambda: station.view(1).ev_connected)
    replugged.set()
    await eventually(lambda: ended(run) and run.transaction() is not None, what="a new transaction")
    assert run.transaction().id != first.id and ended(run)[0].cause is StopCause.EV_DISCONNECTED
    assert not station.view(1).finishing
    await eventually(lambda: run.sim.snapshot(1)["contactor"]["closed"], what="charging again")


async def test_a_transaction_is_told_before_the_loop_may_charge_for_it(start_daemon) -> None:
    """Listeners hear TRANSACTION_STARTED while the loop is still told not to charge: a limit they
    set then (a remote start's TxProfile) applies from the first PWM (this raced under load). The
    views they read then already show the transaction (a 1.6 station reported Preparing ->
    Charging without the SuspendedEV in between)."""
    run = await start_daemon(FREE_VEND)
    station, controls = run.station, []
    set_control = station.rt.set_control
    station.rt.set_control = lambda cid, control: (controls.append(control), set_control(cid, control))
    told: list[tuple[bool, Indication | None]] = []

    def started(e: Event) -> None:
        if e.kind is K.TRANSACTION_STARTED:
            told.append((any(c.charge_allowed for c in controls), station.view(1).indication))

    station.subscribe(started)
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    assert told == [(False, Indication.SUSPENDED)] and any(c.charge_allowed for c in controls)


async def test_the_ev_leaving_ends_the_authorization_where_the_policy_says_so(start_daemon) -> None:
    """deauthorize_on_ev_disconnect (2.0.1 StopTxOnEVSideDisconnect): with Authorized as the only
    stop point the EV leaving ends the transaction with EVDisconnected; without the flag the
    transaction goes on, authorized, and charges again when the EV comes back."""
    run = await start_daemon(LOCAL_TOKENS)
    run.station.set_policy(policy({TxPoint.POWER_PATH_CLOSED}, {TxPoint.AUTHORIZED}, deauthorize_on_ev_disconnect=True))
    run.sim.plug_in(1, **EV)
    await run.station.present_token(TAG_A, TokenSource.API)
    await run.wait_status("Charging")
    run.sim.unplug(1)
    await eventually(lambda: ended(run), what="the end at the unplug")
    [end] = ended(run)
    assert end.cause is StopCause.EV_DISCONNECTED
    deauthorized = next(e for e in run.events if e.kind is K.DEAUTHORIZED)
    assert deauthorized.cause is StopCause.EV_DISCONNECTED
    run.station.set_policy(policy({TxPoint.POWER_PATH_CLOSED}, {TxPoint.AUTHORIZED}))
    run.sim.plug_in(1, **EV)
    await run.station.present_token(TAG_A, TokenSource.API)
    await run.wait_status("Charging")
    tx = run.transaction()
    run.sim.unplug(1)
    await eventually(lambda: run.station.view(1).charging_state is ChargingState.IDLE, what="the EV gone")
    assert run.transaction().id == tx.id and run.station.view(1).authorization is not None  # suspended, not ended
    run.sim.plug_in(1, **EV)
    await run.wait_status("Charging")
    assert run.transaction().id == tx.id and len(ended(run)) == 1


async def test_a_transaction_the_ev_left_on_a_tethered_cable_times_out(start_daemon) -> None:
    """timeout_after_ev_disconnect (2.0.1 E10.FR.02): the EV does not come back within the
    connection time-out: the transaction ends with Timeout."""
    run = await start_daemon(LOCAL_TOKENS)
    run.station.set_policy(policy({TxPoint.POWER_PATH_CLOSED}, {TxPoint.AUTHORIZED}, connection_timeout_s=1.0,
                                  timeout_after_ev_disconnect=True))  # fmt: skip
    run.sim.plug_in(1, **EV)
    await run.station.present_token(TAG_A, TokenSource.API)
    await run.wait_status("Charging")
    run.sim.unplug(1)
    await eventually(lambda: ended(run), within=5, what="the time-out")
    assert ended(run)[0].cause is StopCause.TIMEOUT


async def test_nothing_starts_while_starts_are_not_allowed(start_daemon) -> None:
    """start_allowed False (2.0.1: not accepted yet, TxBeforeAcceptedEnabled false): the plugged-in,
    authorized EV waits without a transaction and without energy; allowed, it starts at once."""
    run = await start_daemon(LOCAL_TOKENS)
    run.station.set_policy(policy({TxPoint.POWER_PATH_CLOSED}, {TxPoint.AUTHORIZED}, start_allowed=False))
    run.sim.plug_in(1, **EV)
    await run.station.present_token(TAG_A, TokenSource.API)
    await eventually(lambda: run.station.view(1).charging_state is not None, what="sampled")
    assert run.transaction() is None and not run.sim.snapshot(1)["contactor"]["closed"]
    run.station.set_policy(policy({TxPoint.POWER_PATH_CLOSED}, {TxPoint.AUTHORIZED}))
    await run.wait_status("Charging")
    assert run.transaction() is not None
