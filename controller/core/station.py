"""The charging station: sessions and transactions per EVSE, authorization, availability, limits.

Rules kept here:
- This is the asyncio half of the charging core. It never touches the contactor or the pilot:
  it tells the real-time loop whether an EVSE may charge and up to which current
  (``ConnectorControl``), and learns what happened from its snapshots.
- Protocol-blind: front ends call commands (``present_token``, ``remote_start``, ``stop``,
  ``set_availability``, ``reset``...), read frozen views and subscribe to events
  (controller/core/events.py); they set the rules with one ``ChargingPolicy``.
- Session: from an EV plugged in or a token authorized for an EVSE until the EV is gone, no
  token waits and no transaction is open. Transaction: at most one per EVSE, started and
  stopped by the policy's points (controller/core/txpolicy.py), written to the ledger before
  charging may begin (except when energy transfer is itself the start point).
- Why a transaction ends: an explicit end (a fault that ends sessions, a time-out, a reset,
  a stop command, the daemon stopping) gives its own cause at once; a policy end takes the
  cause of the fact that fell: the EV leaving -> EVDisconnected, the authorization ending ->
  that deauthorization's cause. An authorization that ended earlier inside the transaction
  keeps its cause for the transaction's later end.
- The EV leaving ends the authorization where the policy says so (cause EVDisconnected); an
  authorized transaction whose EV left a tethered cable ends after the connection time-out
  where the policy says so (Timeout). No transaction starts while the policy forbids starts.
- A token stops the transaction it started without asking anyone (Local); another token stops
  it only when its authorization names the transaction's group. A token releases a cable kept
  locked for it. Other tokens are authorized: on a plugged-in EVSE free for a new driver, else
  they wait for a plug-in until the connection time-out (on a multi-EVSE station, without an
  EVSE named, at the station until an EV chooses one); only on the EVSEs the authorization
  allows. A master pass ends every transaction (MasterPass) and starts none. An id longer
  than ``MAX_TOKEN_ID_LENGTH`` (or empty) is refused unasked.
- A stop is durable before it is visible: while a transaction's end is being written, charging
  has stopped but the published charging state and indication keep their value (a fault
  excepted), so whoever sees the end finds the row closed.
- Changes on one EVSE are serialised by its lock; events are told after the state they
  describe is complete (``_flush``), in order; every task is kept and its failure logged.
- A session survives the meter, the backend and the network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, Protocol

from controller.clock import WallClock
from controller.core import availability
from controller.core import reservations as rules
from controller.core.authorizer import Authorizer, AuthResult, ConfiguredAuthorizer
from controller.core.charging_state import charging_state, indication, occupancy
from controller.core.commands import (
    AvailabilityOutcome,
    ChargingPolicy,
    RemoteStartOutcome,
    ReserveOutcome,
    ResetOutcome,
    ResetWhen,
    StopOutcome,
    TokenAnswer,
    TokenOutcome,
    UnlockOutcome,
)
from controller.core.config import CoreConfig
from controller.core.events import Event, EventKind, Listener, RemoteStart
from controller.core.evse import Evse, Slot, pending_facts
from controller.core.ledger import Ledger, Transaction
from controller.core.outbox import Outbox, Told
from controller.core.reservations import Reservation, ReservationBook
from controller.core.txpolicy import TxFacts, energy_before_start, holds, start_point, stop_point
from controller.core.view import Authorization, EvseView, LimitView, StationView
from controller.core.vocabulary import (
    FREE_VEND,
    MAX_TOKEN_ID_LENGTH,
    AuthorizedBy,
    AuthStatus,
    AvailabilityReason,
    Occupancy,
    ReservationEnd,
    RestartKind,
    StopCause,
    Token,
    TokenSource,
    TokenType,
    TxPoint,
)
from controller.faults import FAULT_POLICY, Fault
from controller.realtime import ConnectorControl, ConnectorSnapshot, Limit
from controller.tasks import Tasks
from hal.board import Board
from hal.types import CpState, Indication, MeterReading

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 30.0  # how often a running transaction's meter value is made durable
UNLOCK_WAIT_S = 3.0  # lock motor plus the loop's feedback check
CONFIGURATION = "configuration"

# A limit source answers for an EVSE at a monotonic instant: None = no opinion.
LimitSource = Callable[[int, float], Limit | None]
Settle = Callable[[], Awaitable[None]]


class LoopControl(Protocol):
    """What the station needs of the real-time loop."""

    def set_control(self, connector: int, control: ConnectorControl) -> None: ...


class Station:
    def __init__(
        self,
        config: CoreConfig,
        board: Board,
        ledger: Ledger,
        rt: LoopControl,
        clock: WallClock | None = None,
        *,
        restart: Callable[[RestartKind], None] | None = None,
    ):
        self.config = config
        self.board = board
        self.ledger = ledger
        self.rt = rt
        self.clock = clock or WallClock()
        self.restart = restart
        self.authorizer: Authorizer = ConfiguredAuthorizer(config.charging.authorize, config.charging.tokens)
        self._policy = ChargingPolicy(connection_timeout_s=config.charging.connection_timeout_s)
        # Set by the daemon to the meter poller: a fresh register value for start and stop.
        self.read_meter: Callable[[int], Awaitable[MeterReading | None]] | None = None
        self.sampled = asyncio.Event()  # set once the loop has sampled every EVSE
        self.tasks = Tasks("station")
        self._evses = {c.id: Evse(config=c) for c in config.connectors}
        self._pending = Slot()  # a token waiting for an EV to choose an EVSE
        self._limit_sources: list[tuple[str, LimitSource]] = []
        self._faults_seen: list[dict[str, Any]] = []
        self._book = ReservationBook(ledger.db)
        ledger.hooks.append(self._book.hook)
        self._reservations: dict[int, Reservation] = {}
        self._availability = availability.AvailabilityBook(ledger.db)
        self._held: availability.Held = frozenset()
        self._outbox = Outbox(self.clock.now, self._event)
        self._reading_listeners: list[Callable[[int], None]] = []
        self._changed_evt = asyncio.Event()  # replaced at every change: wakes until_* waiters

    # ---- lifecycle ------------------------------------------------------------------------

    def restore(self) -> None:
        """Take over what was persisted (after crash recovery, front-end migrations)."""
        self._reservations = {r.id: r for r in self._book.load()}
        self._held = self._availability.load()
        for evse in self._evses.values():
            evse.operative = not availability.reasons(self._held, evse.id)
            self.refresh_limit(evse.id)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, name)

    async def run(self) -> None:
        """Background duties: limits and time-outs every second, the token reader at 10 Hz."""
        self._settle()
        self._flush()
        await asyncio.gather(self._duties(), self._read_tokens())

    async def _duties(self) -> None:
        while True:
            now = time.monotonic()
            for evse in self._evses.values():
                self.refresh_limit(evse.id, now)
                self._check_timeouts(evse, now)
            self._check_token_timeout(self._pending, None, now)
            self._settle()  # also ends expired reservations
            self._flush()
            await asyncio.sleep(min(1.0, self.config.charging.limit_ttl_s / 3))

    async def _read_tokens(self) -> None:
        reader = self.board.token_reader
        if reader is None:
            return
        while True:
            tag = await asyncio.to_thread(reader.poll)
            if tag:
                self.spawn(self._token_read(Token(tag, TokenType.ISO14443)), f"token {tag}")
            else:
                await asyncio.sleep(0.1)

    async def _token_read(self, token: Token) -> None:
        answer = await self.present_token(token, TokenSource.READER)
        self._tell(EventKind.TOKEN_READ, None, token=token, source=TokenSource.READER, token_outcome=answer.outcome)
        self._flush()

    # ---- reads --------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns the unsubscribe call."""
        return self._outbox.subscribe(listener)

    def on_readings(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(evse id)`` after each new meter reading or loop snapshot of that EVSE,
        which may change nothing an event tells (a current, a voltage, a temperature)."""
        self._reading_listeners.append(listener)

    def _read(self, evse_id: int) -> None:
        for listener in self._reading_listeners:
            try:
                listener(evse_id)
            except Exception:
                log.exception("a readings listener failed")

    def add_limit_source(self, name: str, source: LimitSource) -> None:
        self._limit_sources.append((name, source))

    @property
    def evse_ids(self) -> tuple[int, ...]:
        return tuple(self._evses)

    def view(self, evse_id: int) -> EvseView:
        evse = self._evses[evse_id]
        has_lock = self.board.connector(evse_id).lock is not None
        return evse.view(availability.reasons(self._held, evse_id), self._token_waiting(evse), has_lock)

    def views(self) -> tuple[EvseView, ...]:
        return tuple(self.view(e) for e in self._evses)

    def station_view(self) -> StationView:
        return StationView(
            evses=self.views(),
            pending=self._pending.authorization,
            operative=not availability.reasons(self._held, availability.STATION),
            reservations=tuple(self._reservations.values()),
        )

    def faults_seen(self) -> list[dict[str, Any]]:
        return list(self._faults_seen)

    def transaction(self, transaction_id: str) -> Transaction | None:
        """The open transaction with this id, wherever it is."""
        slot = self._slot_of(transaction_id)
        return slot.transaction if slot is not None else None

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; it is checked after every change of the station."""
        while not predicate():
            await self._changed_evt.wait()

    async def until_idle(self, evse_id: int | None = None) -> None:
        """Wait until no transaction runs (on ``evse_id``, or anywhere)."""
        await self.until(lambda: not any(s.busy for s in self._scope(evse_id)))

    # ---- limits -------------------------------------------------------------------------------

    def phases_allowed(self, evse_id: int, besides: str) -> int:
        """The fewest phases any limit source but ``besides`` allows the EVSE now (its wired
        phases when none limits it): what a phase switch may offer (a CSMS profile's numberPhases)."""
        cfg = self._evses[evse_id].config
        assert cfg is not None
        now = time.monotonic()
        answers = [answer(evse_id, now) for name, answer in self._limit_sources if name != besides]
        return min((a.phases for a in answers if a is not None), default=cfg.phases)

    def refresh_limit(self, evse_id: int, now: float | None = None) -> None:
        evse = self._evses[evse_id]
        cfg = evse.config
        assert cfg is not None
        now = time.monotonic() if now is None else now
        ttl_end = now + self.config.charging.limit_ttl_s
        limit, source = Limit(cfg.max_current_a, cfg.phases, ttl_end), CONFIGURATION
        for name, answer in self._limit_sources:
            other = answer(evse_id, now)
            if other is not None and other.amps < limit.amps:
                limit, source = Limit(other.amps, other.phases, min(ttl_end, other.valid_until)), name
            elif other is not None:
                limit = Limit(limit.amps, limit.phases, min(limit.valid_until, other.valid_until))
        tx, cap = evse.transaction, evse.energy_cap_wh
        if evse.paused or (tx is not None and cap is not None and self._energy(evse) >= cap):
            limit = Limit(0.0, limit.phases, limit.valid_until)
        evse.limit = LimitView(limit.amps, limit.phases, source)
        authorized = evse.authorization is not None
        open_ = tx is not None or (energy_before_start(self.policy.tx) and self.policy.start_allowed)
        allowed = authorized and open_ and evse.operative and not evse.stopping
        hold = (tx is not None and authorized) or evse.lock_held_for is not None
        control = ConnectorControl(charge_allowed=allowed, limit=limit, hold_lock=hold, lock_attempt=evse.lock_attempts)
        self.rt.set_control(evse_id, control)

    @staticmethod
    def _energy(evse: Evse) -> float:
        tx = evse.transaction
        if tx is None:
            return 0.0
        now = evse.meter.energy_import_wh if evse.meter is not None else tx.last_meter_wh
        return max(0.0, now - tx.meter_start_wh)

    # ---- hardware (on the asyncio thread) -----------------------------------------------------

    def on_snapshot(self, snap: ConnectorSnapshot) -> None:
        evse = self._evses[snap.connector]
        previous, before = evse.snapshot, evse.tx_facts()
        evse.snapshot = snap
        if previous is None and all(e.snapshot is not None for e in self._evses.values()):
            self.sampled.set()
        was_plugged = previous is not None and previous.cp is not CpState.A
        if evse.ev_connected and not was_plugged:
            evse.plugged_at, evse.plug_timed_out = time.monotonic(), False
            evse.deadline = None  # the token waiting here found its EV
            self._tell(EventKind.EV_PLUGGED, evse)
        elif was_plugged and not evse.ev_connected:
            evse.plugged_at, evse.finishing, evse.ended_with_ev = None, False, False
            self._unplugged(evse)
            self._tell(EventKind.EV_UNPLUGGED, evse)
        if previous is not None and previous.contactor != snap.contactor:
            kind = EventKind.ENERGY_TRANSFER_STARTED if snap.contactor else EventKind.ENERGY_TRANSFER_STOPPED
            self._tell(kind, evse)
        old_faults = previous.faults if previous is not None else frozenset()
        for fault in sorted(snap.faults - old_faults):
            self._fault_raised(evse, fault)
        for fault in sorted(old_faults - snap.faults):
            self._tell(EventKind.FAULT_CLEARED, evse, fault=fault)
        if evse.ev_connected and not was_plugged:
            self._plugged(evse)
        self._changed(evse, before)
        if was_plugged and not evse.ev_connected:
            self._left_running(evse)
        self._flush()
        self._read(evse.id)

    def on_meter(self, evse_id: int, reading: MeterReading | None) -> None:
        """The running transaction is kept up to date in memory; the database mirrors it now and then."""
        evse = self._evses[evse_id]
        if reading is None:
            return
        evse.meter = reading
        self._read(evse_id)
        tx = evse.transaction
        if tx is None or evse.stopping:
            return
        current = max(reading.current_a, default=0.0)
        tx = evse.transaction = replace(
            tx, last_meter_wh=reading.energy_import_wh, max_current_a=max(tx.max_current_a, current)
        )
        now = time.monotonic()
        if now - evse.last_progress >= PROGRESS_EVERY_S:
            evse.last_progress = now
            self.spawn(self.ledger.progress(tx), f"progress {evse_id}")

    def _plugged(self, evse: Evse) -> None:
        """An EV arrived: the token waiting at the station comes here, or free vend begins."""
        if evse.authorization is not None or evse.busy or not evse.operative or evse.finishing:
            return
        pending = self._pending.authorization
        if pending is not None and (not pending.evses or evse.id in pending.evses):
            admission = self._admission(evse.id, pending.token)
            if admission.allowed:
                self._bind_pending(evse, replace(pending, reservation=admission.ends))
                return
        if self.authorizer.free_vend:
            free = self._admission(evse.id, FREE_VEND)
            if free.allowed:
                auth = Authorization(
                    FREE_VEND, TokenSource.FREE_VEND, AuthorizedBy.CONFIGURED, self.clock.now(), reservation=free.ends
                )
                self._authorize_on(evse, auth)

    def _unplugged(self, evse: Evse) -> None:
        tx = evse.transaction
        deauthorizes = self.policy.deauthorize_on_ev_disconnect and evse.authorization is not None
        ends = tx is not None and (TxPoint.EV_CONNECTED in self.policy.tx.stop or deauthorizes)
        if ends and tx is not None and tx.token is not None and not self.policy.unlock_on_ev_disconnect:
            evse.lock_held_for = tx.token  # locked until the transaction's owner comes back
        if deauthorizes and tx is not None and not evse.stopping:
            self._end_authorization(evse, StopCause.EV_DISCONNECTED, None)  # the caller's _changed decides

    def _left_running(self, evse: Evse) -> None:
        """The EV left and its authorized transaction goes on: on a tethered cable it has the
        connection time-out to come back (the policy's ``timeout_after_ev_disconnect``)."""
        tethered = self.board.connector(evse.id).cable is None
        running = evse.transaction is not None and not evse.stopping and evse.authorization is not None
        if running and tethered and self.policy.timeout_after_ev_disconnect:
            evse.deadline = time.monotonic() + self.policy.connection_timeout_s

    def _fault_raised(self, evse: Evse, fault: Fault) -> None:
        log.warning("connector %s: fault %s", evse.id, fault.value)
        self._faults_seen.append({"connector": evse.id, "kind": fault.value, "at": self.clock.now().isoformat()})
        del self._faults_seen[:-100]
        self._tell(EventKind.FAULT_RAISED, evse, fault=fault)
        policy = FAULT_POLICY[fault]
        if policy.ends_session and evse.transaction is not None:
            self._end_soon(evse, policy.stop_cause, None)

    # ---- the policy ---------------------------------------------------------------------------

    def _changed(self, evse: Evse, before: TxFacts) -> None:
        """Facts of ``evse`` changed from ``before``: the policy decides, the loop and the published
        state follow. The events told meanwhile go out at the caller's ``_flush``."""
        after = evse.tx_facts()
        path = holds(TxPoint.POWER_PATH_CLOSED, after)
        if path != evse.power_path:
            evse.power_path = path
            self._tell(EventKind.POWER_PATH_CLOSED if path else EventKind.POWER_PATH_OPENED, evse)
        if evse.transaction is not None and not evse.stopping and evse.starting is None:
            fell = stop_point(self.policy.tx, before, after)
            if fell is not None:
                cause, by = self._policy_cause(evse, fell)
                self._end_soon(evse, cause, by)
        self._maybe_start(evse, evse, after)
        self.refresh_limit(evse.id)
        self._settle()

    def _maybe_start(self, slot: Slot, evse: Evse | None, facts: TxFacts) -> None:
        if slot.busy or not self.policy.start_allowed or (evse is not None and (evse.finishing or not evse.operative)):
            return
        point = start_point(self.policy.tx, facts)
        if point is not None:
            slot.starting = self.spawn(self._start_transaction(slot, evse, point, facts), "transaction start")

    def _policy_cause(self, slot: Slot, fell: TxPoint) -> tuple[StopCause, Token | None]:
        if slot.ended_by is not None:  # the authorization ended earlier: that is why
            return slot.ended_by
        plugged = isinstance(slot, Evse) and slot.ev_connected
        if fell is TxPoint.ENERGY_TRANSFER and plugged:
            return StopCause.STOPPED_BY_EV, None  # the EV stopped taking energy
        return StopCause.EV_DISCONNECTED, None

    async def _start_transaction(self, slot: Slot, evse: Evse | None, point: TxPoint, decided: TxFacts) -> None:
        try:
            async with slot.lock:
                if evse is not None:
                    await self._fresh_meter(evse)
                auth = slot.authorization
                if evse is not None and auth is not None and not self._admission(evse.id, auth.token).allowed:
                    log.info("connector %s: reserved, %s may not start there", evse.id, auth.token.id)
                    slot.authorization = None
                    return
                reservation = auth.reservation if auth is not None else None
                if reservation is not None and reservation.id not in self._reservations:
                    reservation = None
                meter_wh = self._meter_wh(evse)
                tx = await self.ledger.start(
                    evse.id if evse is not None else None, point, meter_wh, self.clock.now(),
                    token=auth.token if auth is not None else None,
                    remote_start_id=auth.remote_start_id if auth is not None else None,
                    reservation_id=reservation.id if reservation is not None else None,
                )  # fmt: skip
                slot.transaction = tx
                if evse is not None:
                    evse.energy_cap_wh, evse.last_progress = None, time.monotonic()
                log.info("connector %s: transaction %s started (%s)", tx.evse, tx.id, point.value)
                if reservation is not None:
                    self._reservation_ended(reservation, ReservationEnd.USED)
                self._tell(EventKind.TRANSACTION_STARTED, evse, transaction=tx, point=point,
                           remote_start=slot.remote_start)  # fmt: skip
                slot.remote_start = None
                # Told before the loop may charge (the limit below): what the start brought (a
                # remote start's charging profile) limits the very first offer. What is shown is
                # published first, so the listeners see the transaction in the views too.
                self._settle()
                self._flush()
        finally:
            slot.starting = None
        if evse is not None:
            self._changed(evse, decided)  # what changed while the row was written is decided now
        self._settle()
        self._flush()

    def _meter_wh(self, evse: Evse | None) -> float:
        if evse is None or evse.meter is None:
            if evse is not None:
                log.warning("connector %s: starting without a meter reading; meter start 0 Wh", evse.id)
            return 0.0
        return evse.meter.energy_import_wh

    async def _fresh_meter(self, evse: Evse) -> None:
        if self.read_meter is not None:
            await self.read_meter(evse.id)  # lands in evse.meter through on_meter; silence keeps the last

    def _end_soon(self, slot: Slot, cause: StopCause, by: Token | None) -> asyncio.Task[Any]:
        """End the open transaction of ``slot`` now: charging stops at once, the row follows."""
        if slot.ending is not None and slot.stopping:
            return slot.ending
        slot.stopping = True
        if isinstance(slot, Evse):
            slot.ended_with_ev = slot.ev_connected  # that EV finishes; one plugged in later is new
            self.refresh_limit(slot.id)
        slot.ending = self.spawn(self._end_transaction(slot, cause, by), f"transaction end ({cause.value})")
        return slot.ending

    async def _end_transaction(self, slot: Slot, cause: StopCause, by: Token | None) -> None:
        evse = slot if isinstance(slot, Evse) else None
        try:
            async with slot.lock:
                tx = slot.transaction
                if tx is None:
                    return
                if evse is not None:
                    await self._fresh_meter(evse)
                reading = evse.meter.energy_import_wh if evse is not None and evse.meter is not None else None
                meter_wh = max(reading if reading is not None else tx.last_meter_wh, tx.meter_start_wh)
                ended = await self.ledger.end(tx, cause, meter_wh, self.clock.now(), by)
                slot.transaction, slot.authorization, slot.ended_by, slot.deadline = None, None, None, None
                log.info("connector %s: transaction %s ended (%s), %.0f Wh", tx.evse, tx.id, cause.value,
                         ended.energy_wh)  # fmt: skip
                self._tell(EventKind.TRANSACTION_ENDED, evse, transaction=ended, cause=cause, token=by)
                if evse is not None:
                    evse.finishing = evse.ev_connected and evse.ended_with_ev
                    evse.paused, evse.energy_cap_wh = False, None
        finally:
            slot.stopping, slot.ending = False, None
        if evse is not None:
            self._apply_availability(evse)  # a change that was scheduled for the transaction's end
            if evse.ev_connected and not evse.finishing:
                self._plugged(evse)  # an EV plugged in while the end was written: it is a new one
            self._changed(evse, evse.tx_facts())
        self._settle()
        self._flush()

    # ---- authorization ----------------------------------------------------------------------

    def _authorize_on(self, evse: Evse, auth: Authorization, remote: RemoteStart | None = None) -> None:
        before = evse.tx_facts()
        evse.authorization, evse.ended_by, evse.remote_start = auth, None, remote
        starts_now = evse.ev_connected and not evse.finishing
        evse.deadline = None if starts_now else time.monotonic() + self.policy.connection_timeout_s
        self._tell(EventKind.AUTHORIZED, evse, token=auth.token, source=auth.source, authorization=auth)
        tx = evse.transaction
        if tx is not None:  # authorized inside a transaction that started without a token
            reservation = auth.reservation
            if reservation is not None and reservation.id not in self._reservations:
                reservation = None  # ended meanwhile
            used = reservation.id if reservation is not None else tx.reservation_id
            updated = replace(tx, token=auth.token, reservation_id=used)
            evse.transaction = updated
            self.spawn(self.ledger.update(updated), f"transaction {tx.id} authorized")
            if reservation is not None:  # used by this transaction: its row goes with the update
                self._reservation_ended(reservation, ReservationEnd.USED)
            # What a remote start brought goes to the transaction it authorized, as at a start.
            evse.remote_start = None
            self._tell(EventKind.TRANSACTION_UPDATED, evse, transaction=updated, trigger=EventKind.AUTHORIZED,
                       remote_start=remote)  # fmt: skip
            if remote is not None and remote.profile is not None:
                # Told before the loop may charge (the limit in _changed), as at a start: its
                # charging profile limits the very first offer.
                self._settle()
                self._flush()
        self._changed(evse, before)

    def _bind_pending(self, evse: Evse, auth: Authorization) -> None:
        """The token waiting at the station takes the EVSE its EV was plugged into."""
        pending = self._pending
        tx, remote = pending.transaction, pending.remote_start
        pending.authorization, pending.transaction, pending.remote_start, pending.deadline = None, None, None, None
        if tx is not None:
            bound = replace(tx, evse=evse.id, meter_start_wh=self._meter_wh(evse), last_meter_wh=self._meter_wh(evse))
            evse.transaction = bound
            self.spawn(self.ledger.update(bound), f"transaction {tx.id} bound")
            self._tell(EventKind.TRANSACTION_UPDATED, evse, transaction=bound, trigger=EventKind.EV_PLUGGED)
        self._authorize_on(evse, auth, remote)

    def _end_authorization(self, slot: Slot, cause: StopCause, by: Token | None) -> None:
        """The authorization of ``slot`` ends (told); the caller lets the policy decide."""
        evse = slot if isinstance(slot, Evse) else None
        token = slot.authorization.token if slot.authorization is not None else None
        slot.authorization, slot.deadline = None, None
        if slot.transaction is not None:
            slot.ended_by = (cause, by)
        self._tell(EventKind.DEAUTHORIZED, evse, token=by or token, cause=cause)
        if slot.transaction is not None:
            self._tell(EventKind.TRANSACTION_UPDATED, evse, transaction=slot.transaction,
                       trigger=EventKind.DEAUTHORIZED, cause=cause, token=by)  # fmt: skip

    def _deauthorize(self, slot: Slot, cause: StopCause, by: Token | None) -> asyncio.Task[Any] | None:
        """The authorization of ``slot`` ends; its transaction ends if the policy says so."""
        evse = slot if isinstance(slot, Evse) else None
        before = evse.tx_facts() if evse is not None else pending_facts(slot)
        self._end_authorization(slot, cause, by)
        if evse is not None:
            self._changed(evse, before)
        elif slot.transaction is not None and stop_point(self.policy.tx, before, pending_facts(slot)) is not None:
            self._end_soon(slot, cause, by)
        self._settle()
        self._flush()
        return slot.ending

    async def present_token(self, token: Token, source: TokenSource, evse_id: int | None = None) -> TokenAnswer:
        """A token at the station: release a cable kept for it, stop the transaction it owns (or
        its group's), or authorize it and start (or wait for an EV)."""
        if not 0 < len(token.id) <= MAX_TOKEN_ID_LENGTH and token.type is not TokenType.NO_AUTHORIZATION:
            log.warning("token %r refused: an id has 1 to %d characters", token.id, MAX_TOKEN_ID_LENGTH)
            return TokenAnswer(TokenOutcome.REJECTED, AuthStatus.INVALID)
        for evse in self._evses.values():
            if evse.releases_lock(token):
                evse.lock_held_for = None
                self.refresh_limit(evse.id)
                return TokenAnswer(TokenOutcome.UNLOCKED)
        for slot in self._slots():
            tx = slot.transaction
            if tx is not None and tx.token is not None and tx.token.same(token) and slot.authorization is not None:
                await self._wait(self._deauthorize(slot, StopCause.LOCAL, None))
                return TokenAnswer(TokenOutcome.STOPPED)
        groups = frozenset(s.transaction.token.group for s in self._slots() if s.authorization is not None
                           and s.transaction is not None and s.transaction.token is not None
                           and s.transaction.token.group)  # fmt: skip
        result = await self.authorizer.authorize(token, stop_groups=groups)
        if not result.accepted:
            log.info("token %s rejected: %s", token.id, result.status.value)
            return TokenAnswer(TokenOutcome.REJECTED, result.status)
        token = replace(token, group=result.group)
        if result.master_pass:  # ends every transaction, starts none (2.0.1 C16, a station without a UI)
            return TokenAnswer(await self._master_pass(token))
        for slot in self._slots():  # a group member stops the group's transaction (1.6 3.10, 2.0.1 C09)
            tx = slot.transaction
            group = tx.token.group if tx is not None and tx.token is not None else None
            if group and result.group and group.casefold() == result.group.casefold() and slot.authorization:
                await self._wait(self._deauthorize(slot, StopCause.LOCAL, token))
                return TokenAnswer(TokenOutcome.STOPPED)
        return TokenAnswer(await self._authorize(self._authorization(token, source, result), evse_id, None))

    def _authorization(self, token: Token, source: TokenSource, result: AuthResult,
                       remote_start_id: int | None = None) -> Authorization:  # fmt: skip
        return Authorization(token, source, result.by, self.clock.now(), remote_start_id=remote_start_id,
                             evses=result.evses, priority=result.priority, message=result.message)  # fmt: skip

    async def _master_pass(self, token: Token) -> TokenOutcome:
        running = [s for s in self._slots() if s.transaction is not None and not s.stopping]
        log.info("master pass %s: ending %d transaction(s)", token.id, len(running))
        for slot in running:
            ending = self._deauthorize(slot, StopCause.MASTER_PASS, token) if slot.authorization is not None else None
            if ending is None and slot.transaction is not None:  # the stop points keep it open: ended all the same
                self._end_soon(slot, StopCause.MASTER_PASS, token)
        await asyncio.gather(*(self._wait(s.ending) for s in running))
        return TokenOutcome.STOPPED if running else TokenOutcome.REJECTED

    async def _authorize(self, auth: Authorization, evse_id: int | None, remote: RemoteStart | None) -> TokenOutcome:
        """Charge on a plugged-in EVSE free for a new driver, else wait for an EV (connection time-out);
        only where the authorization allows the token to charge."""
        candidates = [e for e in self._candidates(evse_id) if not auth.evses or e.id in auth.evses]
        if not candidates:
            return TokenOutcome.REJECTED
        for evse in candidates:
            free = evse.ev_connected and evse.authorization is None and not evse.finishing and not evse.stopping
            admission = self._admission(evse.id, auth.token)
            if free and evse.operative and admission.allowed:
                self._authorize_on(evse, replace(auth, reservation=admission.ends), remote)
                self._flush()
                await self._wait(evse.starting)
                return TokenOutcome.STARTED
        usable = [e for e in candidates if not e.busy and e.operative]
        if not any(self._admission(e.id, auth.token).allowed for e in usable):
            return TokenOutcome.REJECTED
        if len(candidates) == 1:  # the EVSE is known: the session begins there, waiting for its EV
            evse = candidates[0]
            self._authorize_on(evse, replace(auth, reservation=self._admission(evse.id, auth.token).ends), remote)
            self._flush()
            await self._wait(evse.starting)
            return TokenOutcome.WAITING
        self._wait_at_station(auth, remote)
        await self._wait(self._pending.starting)
        return TokenOutcome.WAITING

    def _wait_at_station(self, auth: Authorization, remote: RemoteStart | None) -> None:
        pending = self._pending
        if pending.busy and pending.authorization is not None:
            self._deauthorize(pending, StopCause.OTHER, None)  # a new token takes its place
        pending.authorization, pending.remote_start, pending.ended_by = auth, remote, None
        pending.deadline = time.monotonic() + self.policy.connection_timeout_s
        self._tell(EventKind.AUTHORIZED, None, token=auth.token, source=auth.source, authorization=auth)
        self._maybe_start(pending, None, pending_facts(pending))
        self._settle()
        self._flush()

    @staticmethod
    def _takes_a_driver(evse: Evse) -> bool:
        """Idle, or plugged in with a transaction no token authorized yet (a start point before
        Authorized): a token authorizes that one (2.0.1 F01.FR.13)."""
        unauthorized = evse.ev_connected and evse.authorization is None and not evse.stopping
        return not evse.busy or unauthorized

    def _candidates(self, evse_id: int | None) -> list[Evse]:
        return [self._evses[evse_id]] if evse_id is not None else list(self._evses.values())

    @staticmethod
    async def _wait(task: asyncio.Task[Any] | None) -> None:
        if task is not None:
            await asyncio.shield(task)

    def _token_waiting(self, evse: Evse) -> bool:
        own = evse.authorization is not None and not evse.ev_connected and evse.transaction is None
        pending = self._pending.authorization is not None and not evse.busy
        return own or pending

    # ---- time-outs ----------------------------------------------------------------------------

    def _check_timeouts(self, evse: Evse, now: float) -> None:
        plugged = evse.plugged_at
        if (
            plugged is not None
            and evse.authorization is None
            and not evse.finishing
            and not evse.plug_timed_out
            and now - plugged > self.policy.connection_timeout_s
        ):
            evse.plug_timed_out = True
            log.info("connector %s: plugged in but not authorized within the connection timeout", evse.id)
            self._tell(EventKind.PLUG_IN_TIMED_OUT, evse)
            if evse.transaction is not None and not evse.stopping:
                self._end_soon(evse, StopCause.TIMEOUT, None)
        self._check_token_timeout(evse, evse, now)

    def _check_token_timeout(self, slot: Slot, evse: Evse | None, now: float) -> None:
        auth = slot.authorization
        if auth is None or slot.deadline is None or now <= slot.deadline:
            return
        log.info("token %s: no EV plugged in within the connection timeout", auth.token.id)
        before = evse.tx_facts() if evse is not None else pending_facts(slot)
        slot.authorization, slot.deadline, slot.remote_start = None, None, None
        self._tell(EventKind.TOKEN_TIMED_OUT, evse, token=auth.token, authorization=auth)
        if slot.transaction is not None and not slot.stopping:
            self._end_soon(slot, StopCause.TIMEOUT, None)
        if evse is not None:
            self._changed(evse, before)  # the caller (duties) flushes

    # ---- commands -------------------------------------------------------------------------------

    @property
    def policy(self) -> ChargingPolicy:
        return self._policy

    def set_policy(self, policy: ChargingPolicy) -> None:
        """The front end's rules (its configuration keys), as one value; applied at once."""
        allowed_now = policy.start_allowed and not self._policy.start_allowed
        self._policy = policy
        for evse in self._evses.values():
            self.refresh_limit(evse.id)
        if allowed_now:  # what waited for the start to be allowed starts now
            for evse in self._evses.values():
                self._changed(evse, evse.tx_facts())
            self._maybe_start(self._pending, None, pending_facts(self._pending))
            self._settle()
            self._flush()

    def remote_start_check(self, token: Token, evse_id: int | None) -> RemoteStartOutcome:
        """What a remote start of ``token`` (group included) on ``evse_id`` (None: any) gets now."""
        if evse_id is not None and evse_id not in self._evses:
            return RemoteStartOutcome.REJECTED
        open_ = [e for e in self._candidates(evse_id) if e.operative and not e.finishing and self._takes_a_driver(e)]
        admitted = any(self._admission(e.id, token).allowed for e in open_)
        return RemoteStartOutcome.ACCEPTED if admitted else RemoteStartOutcome.REJECTED

    async def remote_start(
        self,
        token: Token,
        evse_id: int | None,
        *,
        remote_start_id: int | None = None,
        profile: object | None = None,
        authorize: bool = False,
    ) -> RemoteStartOutcome:
        """A backend's remote start: (optionally) authorize, then charge or wait for an EV."""
        if self.remote_start_check(token, evse_id) is RemoteStartOutcome.REJECTED:
            return RemoteStartOutcome.REJECTED
        result = AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.NOBODY, token.group)
        if authorize:
            result = await self.authorizer.authorize(token)
            if not result.accepted or result.master_pass:
                log.info("remote start for %s not authorized: %s%s", token.id, result.status.value,
                         " (master pass)" if result.master_pass else "")  # fmt: skip
                return RemoteStartOutcome.REJECTED
            token = replace(token, group=result.group)
        auth = self._authorization(token, TokenSource.REMOTE, result, remote_start_id)
        outcome = await self._authorize(auth, evse_id, RemoteStart(remote_start_id, profile))
        log.info("remote start %s on %s: %s", token.id, evse_id or "any connector", outcome.value)
        if outcome is TokenOutcome.REJECTED:
            return RemoteStartOutcome.REJECTED
        return RemoteStartOutcome.ACCEPTED

    async def remote_stop(self, transaction_id: str) -> StopOutcome:
        """The backend ends the authorization of a transaction (Remote); the policy ends it."""
        slot = self._slot_of(transaction_id)
        if slot is None or slot.stopping:
            return StopOutcome.NO_TRANSACTION
        await self._wait(self._deauthorize(slot, StopCause.REMOTE, None))
        return StopOutcome.STOPPED

    def invalidate_token(self, transaction_id: str) -> None:
        """The backend says the token of a running transaction is not valid (after its start)."""
        slot = self._slot_of(transaction_id)
        if slot is None or slot.stopping:
            return
        if self.policy.stop_on_invalid_id:
            log.info("transaction %s: token invalidated, deauthorized", transaction_id)
            self._deauthorize(slot, StopCause.DEAUTHORIZED, None)
        elif isinstance(slot, Evse):
            log.info("transaction %s: token invalidated, at most %.0f Wh", transaction_id,
                     self.policy.max_energy_on_invalid_id_wh)  # fmt: skip
            self.cap_energy(slot.id, self.policy.max_energy_on_invalid_id_wh)

    async def set_group(self, transaction_id: str, group: str) -> None:
        """The group of a running transaction's token, learned after its start."""
        slot = self._slot_of(transaction_id)
        tx = slot.transaction if slot is not None else None
        if slot is None or tx is None or tx.token is None or tx.token.group == group:
            return
        token = replace(tx.token, group=group)
        slot.transaction = replace(tx, token=token)
        if slot.authorization is not None:
            slot.authorization = replace(slot.authorization, token=token)
        log.info("transaction %s belongs to group %s", transaction_id, group)
        await self.ledger.update(slot.transaction)

    async def stop(self, evse_id: int, cause: StopCause) -> StopOutcome:
        """End the transaction on ``evse_id`` now, with ``cause``."""
        evse = self._evses[evse_id]
        if evse.starting is not None:
            await self._wait(evse.starting)
        if evse.transaction is None:
            return StopOutcome.NO_TRANSACTION
        await self._wait(self._end_soon(evse, cause, None))
        return StopOutcome.STOPPED

    async def stop_all(self, cause: StopCause) -> None:
        await asyncio.gather(*(self.stop(e, cause) for e in self._evses))
        if self._pending.transaction is not None:
            await self._wait(self._end_soon(self._pending, cause, None))

    def pause(self, evse_id: int, paused: bool) -> None:
        """Offer 0 A (the EV is told to pause) without ending anything."""
        evse = self._evses[evse_id]
        evse.paused = paused
        self.refresh_limit(evse_id)

    def cap_energy(self, evse_id: int, energy_wh: float) -> None:
        """The running transaction on ``evse_id`` delivers at most ``energy_wh`` in all; then 0 A."""
        evse = self._evses[evse_id]
        if evse.transaction is not None:
            evse.energy_cap_wh = energy_wh
            self.refresh_limit(evse_id)

    async def unlock(self, evse_id: int) -> UnlockOutcome:
        """Release the cable, driving the lock again even if it should be open already (a lock that
        failed to open is tried again); never ends a transaction: the caller ends it first if it
        must. UNLOCKED once the lock reports it is open (or, without feedback, was told so)."""
        evse = self._evses.get(evse_id)
        if evse is None:
            return UnlockOutcome.UNKNOWN_EVSE
        if self.board.connector(evse_id).lock is None:
            return UnlockOutcome.NOT_SUPPORTED
        if evse.transaction is not None and evse.authorization is not None:
            return UnlockOutcome.ONGOING_TRANSACTION
        evse.lock_held_for = None
        evse.lock_attempts += 1
        self.refresh_limit(evse_id)
        try:  # the loop drives the lock: wait for its verdict (feedback checked there)
            async with asyncio.timeout(UNLOCK_WAIT_S):
                await self.until(lambda: _unlocked(evse.snapshot))
        except TimeoutError:
            log.warning("connector %s: unlock failed", evse_id)
            return UnlockOutcome.FAILED
        return UnlockOutcome.UNLOCKED

    async def set_availability(
        self, evse_id: int | None, operative: bool, reason: AvailabilityReason
    ) -> AvailabilityOutcome:
        """Make ``evse_id`` (None: the station and every EVSE) operative or not for ``reason``;
        persisted; while a transaction runs the change waits for its end (SCHEDULED)."""
        outcome = self.set_availability_check(evse_id, operative, reason)
        if outcome is AvailabilityOutcome.REJECTED:
            return outcome
        self._held = availability.changed(self._held, self._evses, evse_id, operative, reason)
        await self._availability.save(self._held)
        for evse in self._candidates(evse_id):
            self._apply_availability(evse, reason)
        self._settle()
        self._flush()
        return outcome

    def set_availability_check(
        self, evse_id: int | None, operative: bool, reason: AvailabilityReason
    ) -> AvailabilityOutcome:
        """What ``set_availability`` would answer now; changes nothing. SCHEDULED: an EVSE in scope
        would become inoperative but a transaction runs there."""
        if evse_id is not None and evse_id not in self._evses:
            return AvailabilityOutcome.REJECTED
        held = availability.changed(self._held, self._evses, evse_id, operative, reason)
        waits = any(e.busy and e.operative and availability.reasons(held, e.id) for e in self._candidates(evse_id))
        return AvailabilityOutcome.SCHEDULED if waits else AvailabilityOutcome.ACCEPTED

    def _apply_availability(self, evse: Evse, reason: AvailabilityReason | None = None) -> None:
        wanted = not availability.reasons(self._held, evse.id)
        if wanted == evse.operative or (not wanted and evse.busy):
            return  # nothing to do, or scheduled: applied when the transaction ends
        evse.operative = wanted
        log.info("connector %s: %s", evse.id, "operative" if wanted else "inoperative")
        self._tell(EventKind.AVAILABILITY_CHANGED, evse, operative=wanted, reason=reason)
        self.refresh_limit(evse.id)

    def reset_check(self, evse_id: int | None, when: ResetWhen) -> ResetOutcome:
        if evse_id is not None and evse_id not in self._evses:
            return ResetOutcome.REJECTED
        busy = any(s.busy for s in self._scope(evse_id))
        return ResetOutcome.SCHEDULED if when is ResetWhen.ON_IDLE and busy else ResetOutcome.ACCEPTED

    async def reset(
        self,
        evse_id: int | None,
        when: ResetWhen,
        cause: StopCause,
        *,
        kind: RestartKind = RestartKind.HARD,
        settle: Settle | None = None,
    ) -> ResetOutcome:
        """Reset the station (restart, after ending its transactions with ``cause`` and awaiting
        ``settle``) or one EVSE (its transaction ended, its session forgotten); ON_IDLE waits for
        the transactions in scope to end by themselves (SCHEDULED)."""
        outcome = self.reset_check(evse_id, when)
        if outcome is ResetOutcome.SCHEDULED:
            self.spawn(self._reset_when_idle(evse_id, cause, kind, settle), "reset on idle")
        elif outcome is ResetOutcome.ACCEPTED:
            await self._reset_now(evse_id, cause, kind, settle)
        return outcome

    async def _reset_when_idle(self, evse_id: int | None, cause: StopCause, kind: RestartKind,
                               settle: Settle | None) -> None:  # fmt: skip
        await self.until_idle(evse_id)
        await self._reset_now(evse_id, cause, kind, settle)

    async def _reset_now(self, evse_id: int | None, cause: StopCause, kind: RestartKind,
                         settle: Settle | None) -> None:  # fmt: skip
        if evse_id is not None:
            await self.stop(evse_id, cause)
            evse = self._evses[evse_id]
            before = evse.tx_facts()
            evse.authorization, evse.deadline, evse.lock_held_for = None, None, None
            evse.paused, evse.plug_timed_out = False, False
            log.warning("connector %s: reset", evse_id)
            self._changed(evse, before)
            self._flush()
            return
        await self.stop_all(cause)
        if settle is not None:
            await settle()
        if self.restart is None:
            log.error("reset: this process cannot restart itself; restart evsed")
            return
        log.warning("reset (%s): restarting", kind.value)
        self.restart(kind)

    # ---- reservations -------------------------------------------------------------------------

    def reservations(self) -> tuple[Reservation, ...]:
        return tuple(self._reservations.values())

    def _occupancy(self) -> dict[int, Occupancy]:
        """What each sampled EVSE's occupancy is (reservations take no part in it)."""
        out = {}
        for evse in self._evses.values():
            state = occupancy(evse.facts(self._token_waiting(evse)))
            if state is not None:
                out[evse.id] = state
        return out

    def _admission(self, evse_id: int, token: Token) -> rules.Admission:
        return rules.admission(self._reservations.values(), evse_id, token, self._occupancy())

    async def reserve(self, reservation: Reservation, *, any_evse_allowed: bool) -> ReserveOutcome:
        """Make (or replace, same id) a reservation; answers as controller/core/reservations.py says."""
        if reservation.evse != rules.ANY_EVSE and reservation.evse not in self._evses:
            return ReserveOutcome.REJECTED
        others = [r for r in self._reservations.values() if r.id != reservation.id]
        outcome = rules.answer(
            reservation, others, self._occupancy(), self.clock.now(), any_evse_allowed=any_evse_allowed
        )
        if outcome is ReserveOutcome.ACCEPTED:
            self._reservations[reservation.id] = reservation
            self._tell(EventKind.RESERVATION_MADE, reservation.evse or None, reservation=reservation)
            self._settle()
            self._flush()
            await self._book.save(reservation)
            log.info("reservation %s: connector %s for %s", reservation.id, reservation.evse, reservation.token.id)
        return outcome

    async def cancel_reservation(self, reservation_id: int) -> bool:
        reservation = self._reservations.get(reservation_id)
        if reservation is None:
            return False
        self._reservation_ended(reservation, ReservationEnd.CANCELLED)
        self._settle()
        self._flush()
        await self._book.delete(reservation_id)
        log.info("reservation %s cancelled", reservation_id)
        return True

    def _reservation_ended(self, reservation: Reservation, end: ReservationEnd) -> None:
        self._reservations.pop(reservation.id, None)
        self._tell(EventKind.RESERVATION_ENDED, reservation.evse or None, reservation=reservation,
                   reservation_end=end)  # fmt: skip

    # ---- what is shown --------------------------------------------------------------------------

    def _settle(self) -> None:
        """End the reservations that expired or whose EVSEs went down, then publish every EVSE's
        charging state and indication (a reservation or a busy EVSE changes the others')."""
        occupied = self._occupancy()
        for gone, end in rules.ended(self._reservations.values(), occupied, self.clock.now()):
            log.info("reservation %s ended (%s)", gone.id, end.value)
            self._reservation_ended(gone, end)
            self.spawn(self._book.delete(gone.id), f"reservation {gone.id} ended")
        shown = rules.reserved_evses(self._reservations.values(), occupied)
        for evse in self._evses.values():
            # The reserving token presented (waiting for its EV) turns Reserved into waiting.
            mine = any(
                a is not None and self._admission(evse.id, a.token).ends is not None
                for a in (self._pending.authorization, evse.authorization)
            )
            evse.reserved = evse.id in shown and not mine
            self._publish(evse)
        self._changed_evt.set()
        self._changed_evt = asyncio.Event()

    def _publish(self, evse: Evse) -> None:
        if evse.snapshot is None:
            return  # nothing sampled yet: announcing a state for 5 ms would mislead
        facts = evse.facts(self._token_waiting(evse))
        shown, state = indication(facts), charging_state(facts)
        if evse.stopping and shown is not Indication.FAULTED:
            return  # published once the end is durable
        if state != evse.charging_state:
            evse.charging_state = state
            self._tell(EventKind.CHARGING_STATE_CHANGED, evse, charging_state=state)
            if evse.transaction is not None:
                self._tell(EventKind.TRANSACTION_UPDATED, evse, transaction=evse.transaction,
                           trigger=EventKind.CHARGING_STATE_CHANGED, charging_state=state)  # fmt: skip
        if shown != evse.indication:
            evse.indication = shown
            indicator = self.board.connector(evse.id).indicator
            if indicator is not None and shown is not None:
                indicator.show(shown)

    # ---- events ---------------------------------------------------------------------------------

    def _tell(self, kind: EventKind, where: Evse | int | None, **fields: Any) -> None:
        self._outbox.tell(kind, where.id if isinstance(where, Evse) else where, **fields)

    def _flush(self) -> None:
        """Tell every listener what happened, in order, now that the state is complete."""
        self._outbox.flush()

    def _event(self, told: Told) -> Event:
        evse = self._evses.get(told.evse) if told.evse is not None else None
        meter, view = (evse.meter, self.view(evse.id)) if evse is not None else (None, None)
        return Event(told.kind, told.evse, told.at, told.mono, meter=meter, view=view, **told.fields)

    # ---- slots ------------------------------------------------------------------------------

    def _slots(self) -> Iterable[Slot]:
        return [*self._evses.values(), self._pending]

    def _scope(self, evse_id: int | None) -> list[Slot]:
        return [self._evses[evse_id]] if evse_id is not None else list(self._slots())

    def _slot_of(self, transaction_id: str) -> Slot | None:
        return next((s for s in self._slots() if s.transaction is not None and s.transaction.id == transaction_id),
                    None)  # fmt: skip


def _unlocked(snap: ConnectorSnapshot | None) -> bool:
    """The loop released the lock and, where the lock reports its position, it is open."""
    return snap is not None and not snap.locked and snap.lock_feedback is not True and Fault.LOCK not in snap.faults
