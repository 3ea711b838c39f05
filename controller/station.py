"""The charging station: sessions, authorization, availability and limits per connector.

Rules kept here:
- This is the asyncio half of the charging core. It never touches the contactor or
  the pilot: it tells the real-time loop whether a connector may charge and up to
  which current (``ConnectorControl``), and learns what happened from its snapshots.
- Protocol-neutral: OCPP front ends call ``present_token``, ``start_session``,
  ``stop_session``, ``set_operative`` and listen to ``StationEvent``s; they may replace
  the ``authorizer`` and add ``limit_sources`` (smart charging).
- Session changes on one connector are serialised by a lock; every task the station
  starts is kept and its failure logged, never lost.
- A stop is durable before it is visible: while the stopped session row is being written
  the connector's status does not change (a fault is still announced at once), so whoever
  sees Finishing or Available finds the row closed.
- A session survives the meter, the backend and the network: only the EV leaving, a
  token, a command, or a fault that ends sessions (controller/faults.py) stops it.
- A token stops the session it started without asking anyone; another token stops it only
  when its authorization names the same parent (group) tag as the session's. The group may be
  learned after the start (``set_parent``: the backend's answer to the start names it).
- Reservations (controller/reservations.py) decide who may start where and which connectors
  show Reserved; every start, status change and duties tick applies their rules. A session's
  energy can be capped (an id invalidated after the start): at the cap the offer drops to 0 A.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from controller import reservations as rules
from controller.authorization import FREE_VEND_ID_TAG, Authorizer, ConfiguredAuthorizer, same_token
from controller.clock import WallClock
from controller.config import Config, ConnectorConfig
from controller.faults import FAULT_POLICY, Fault
from controller.realtime import ConnectorControl, ConnectorSnapshot, Limit, RealtimeLoop
from controller.reservations import Admission, Reservation, ReservationBook, ReserveOutcome
from controller.sessions import Session, SessionLedger, StopReason
from controller.status import ConnectorStatus, StatusFacts, connector_status
from controller.tasks import Tasks
from hal.board import Board
from hal.types import CpState, Indication, MeterReading

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 30.0  # how often a running session's meter value is made durable
INDICATION = {
    ConnectorStatus.AVAILABLE: Indication.IDLE,
    ConnectorStatus.PREPARING: Indication.WAITING,
    ConnectorStatus.CHARGING: Indication.CHARGING,
    ConnectorStatus.SUSPENDED_EV: Indication.SUSPENDED,
    ConnectorStatus.SUSPENDED_EVSE: Indication.SUSPENDED,
    ConnectorStatus.FINISHING: Indication.DONE,
    ConnectorStatus.RESERVED: Indication.RESERVED,
    ConnectorStatus.UNAVAILABLE: Indication.UNAVAILABLE,
    ConnectorStatus.FAULTED: Indication.FAULTED,
}

# A limit source answers for a connector at a monotonic instant: None = no opinion.
LimitSource = Callable[[int, float], Limit | None]


@dataclass(frozen=True)
class StationEvent:
    kind: str  # "status" | "session_started" | "session_stopped" | "fault" | "token_read"
    connector: int  # 0 for "token_read": the reader serves the station
    status: ConnectorStatus | None = None
    fault: Fault | None = None
    session: Session | None = None
    id_tag: str | None = None  # "token_read": the tag, and what present_token made of it
    outcome: str | None = None


@dataclass(frozen=True)
class PendingToken:
    id_tag: str
    parent_id_tag: str | None
    deadline: float  # monotonic
    connector: int | None  # None: the first connector plugged in


@dataclass
class Evse:
    config: ConnectorConfig
    snapshot: ConnectorSnapshot | None = None
    meter: MeterReading | None = None
    session: Session | None = None
    finishing: bool = False
    stopping: bool = False  # a stop is being made durable: the published status waits for it
    plugged_at: float | None = None
    plug_timed_out: bool = False
    lock_held_for: tuple[str, ...] = ()  # id tags that release a cable kept locked after a stop
    operative: bool = True
    operative_after_session: bool | None = None  # a ChangeAvailability that was Scheduled
    energy_cap_wh: float | None = None  # the running session delivers at most this much
    status: ConnectorStatus | None = None
    fault: Fault | None = None
    last_progress: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def id(self) -> int:
        return self.config.id


class Station:
    def __init__(
        self,
        config: Config,
        board: Board,
        ledger: SessionLedger,
        rt: RealtimeLoop,
        clock: WallClock | None = None,
        authorizer: Authorizer | None = None,
    ):
        self.config = config
        self.board = board
        self.ledger = ledger
        self.rt = rt
        self.clock = clock or WallClock()
        self.authorizer: Authorizer = authorizer or ConfiguredAuthorizer(
            config.charging.authorize, config.charging.tokens
        )
        self.evses = {c.id: Evse(c) for c in config.connectors}
        self.listeners: list[Callable[[StationEvent], None]] = []
        self.limit_sources: list[LimitSource] = []
        self.pending: PendingToken | None = None
        # Set by the daemon to the meter poller: a fresh register value for start and stop.
        self.read_meter: Callable[[int], Awaitable[MeterReading | None]] | None = None
        self.faults_seen: list[dict[str, Any]] = []
        # Policies a front end may change at run time (OCPP 1.6 keys of the same names).
        self.connection_timeout_s = config.charging.connection_timeout_s
        self.stop_on_ev_disconnect = True
        self.unlock_on_ev_disconnect = True
        self.tasks = Tasks("station")
        self.sampled = asyncio.Event()  # set once the loop has sampled every connector
        self.book = ReservationBook(ledger.db)
        ledger.hooks.append(self.book.hook)
        self.reservations: dict[int, Reservation] = {r.id: r for r in self.book.load()}
        self._snapshot_seen = asyncio.Event()  # replaced at every snapshot: wakes until_snapshot

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        return self.tasks.spawn(coro, name)

    async def run(self) -> None:
        """Background duties: limit refresh and timeouts every second, the token reader at 10 Hz."""
        self._update_statuses()
        await asyncio.gather(self._duties(), self._read_tokens())

    async def _duties(self) -> None:
        while True:
            now = time.monotonic()
            for evse in self.evses.values():
                self.refresh_limit(evse.id, now)
                self._check_timeouts(evse, now)
            if self.pending is not None and now > self.pending.deadline:
                log.info("token %s: no EV plugged in within the connection timeout", self.pending.id_tag)
                self.pending = None
            self._update_statuses()  # also ends expired reservations
            await asyncio.sleep(min(1.0, self.config.charging.limit_ttl_s / 3))

    async def _read_tokens(self) -> None:
        reader = self.board.token_reader
        if reader is None:
            return
        while True:
            tag = await asyncio.to_thread(reader.poll)
            if tag:
                self.spawn(self._token_read(tag), f"token {tag}")
            else:
                await asyncio.sleep(0.1)

    async def _token_read(self, id_tag: str) -> None:
        outcome = await self.present_token(id_tag)
        for listener in self.listeners:
            listener(StationEvent("token_read", 0, id_tag=id_tag, outcome=outcome))

    def _check_timeouts(self, evse: Evse, now: float) -> None:
        if (
            evse.session is None
            and not evse.finishing
            and evse.plugged_at is not None
            and not evse.plug_timed_out
            and now - evse.plugged_at > self.connection_timeout_s
        ):
            evse.plug_timed_out = True
            log.info("connector %s: plugged in but not authorized within the connection timeout", evse.id)

    # -- limits -----------------------------------------------------------------
    def refresh_limit(self, connector: int, now: float | None = None) -> None:
        evse = self.evses[connector]
        now = time.monotonic() if now is None else now
        ttl_end = now + self.config.charging.limit_ttl_s
        limit = Limit(evse.config.max_current_a, evse.config.phases, ttl_end)
        for source in self.limit_sources:
            other = source(connector, now)
            if other is not None and other.amps < limit.amps:
                limit = Limit(other.amps, other.phases, min(ttl_end, other.valid_until))
            elif other is not None:
                limit = Limit(limit.amps, limit.phases, min(limit.valid_until, other.valid_until))
        cap = evse.energy_cap_wh
        if evse.session is not None and cap is not None and evse.session.energy_wh >= cap:
            limit = Limit(0.0, limit.phases, limit.valid_until)
        allowed = evse.session is not None and evse.operative
        hold = evse.session is not None or bool(evse.lock_held_for)
        self.rt.set_control(connector, ConnectorControl(charge_allowed=allowed, limit=limit, hold_lock=hold))

    # -- hardware events (on the asyncio thread) --------------------------------
    def on_snapshot(self, snap: ConnectorSnapshot) -> None:
        evse = self.evses[snap.connector]
        previous = evse.snapshot
        evse.snapshot = snap
        self._snapshot_seen.set()
        self._snapshot_seen = asyncio.Event()
        if previous is None and all(e.snapshot is not None for e in self.evses.values()):
            self.sampled.set()
        was_plugged = previous is not None and previous.cp is not CpState.A
        plugged = snap.cp is not CpState.A
        if plugged and not was_plugged:
            evse.plugged_at = time.monotonic()
            evse.plug_timed_out = False
            self.spawn(self._on_plug(evse), f"plug {evse.id}")
        elif was_plugged and not plugged:
            evse.plugged_at = None
            evse.finishing = False
            if evse.session is not None and self.stop_on_ev_disconnect:
                if not self.unlock_on_ev_disconnect:  # locked until the session's owner comes back
                    evse.lock_held_for = tuple(t for t in (evse.session.id_tag, evse.session.parent_id_tag) if t)
                self._stop_soon(evse, StopReason.EV_DISCONNECTED, f"unplug {evse.id}")
        new_faults = snap.faults - (previous.faults if previous else frozenset())
        for fault in new_faults:
            self._record_fault(evse, fault)
            if FAULT_POLICY[fault].ends_session and evse.session is not None:
                self._stop_soon(evse, StopReason.OTHER, f"fault {evse.id}")
        self._update_statuses()

    def _stop_soon(self, evse: Evse, reason: StopReason, name: str) -> None:
        evse.stopping = True  # from now on the status waits for the stopped row (stop_session)
        self.spawn(self.stop_session(evse.id, reason), name)

    async def until_snapshot(self, connector: int, predicate: Callable[[ConnectorSnapshot], bool]) -> None:
        """Wait for a snapshot of ``connector`` that satisfies ``predicate`` (the loop's verdict)."""
        while (snap := self.evses[connector].snapshot) is None or not predicate(snap):
            await self._snapshot_seen.wait()

    def on_meter(self, connector: int, reading: MeterReading | None) -> None:
        """The running session is kept up to date in memory; the database mirrors it now and then."""
        evse = self.evses[connector]
        if reading is None:
            return
        evse.meter = reading
        if evse.session is None:
            return
        current = max(reading.current_a, default=0.0)
        session = evse.session = replace(
            evse.session,
            last_meter_wh=reading.energy_import_wh,
            max_current_a=max(evse.session.max_current_a, current),
        )
        now = time.monotonic()
        if now - evse.last_progress >= PROGRESS_EVERY_S:
            evse.last_progress = now
            self.spawn(
                self.ledger.progress(session, session.last_meter_wh, session.max_current_a), f"progress {connector}"
            )

    def _record_fault(self, evse: Evse, fault: Fault) -> None:
        log.warning("connector %s: fault %s", evse.id, fault.value)
        self.faults_seen.append({"connector": evse.id, "kind": fault.value, "at": self.clock.now().isoformat()})
        del self.faults_seen[:-100]
        for listener in self.listeners:
            listener(StationEvent("fault", evse.id, fault=fault))

    async def _on_plug(self, evse: Evse) -> None:
        if evse.session is not None or not evse.operative:
            return
        pending = self.pending
        if (
            pending is not None
            and pending.connector in (None, evse.id)
            and time.monotonic() <= pending.deadline
            and self.admission(evse.id, pending.id_tag, pending.parent_id_tag).allowed
        ):
            self.pending = None
            await self._start(evse, pending.id_tag, pending.parent_id_tag)
        elif self.authorizer.free_vend:
            await self._start(evse, FREE_VEND_ID_TAG, None)

    # -- commands ---------------------------------------------------------------
    async def present_token(self, id_tag: str, connector: int | None = None) -> str:
        """A token at the station: stop the session it owns, release a cable it left locked, or
        authorize and start."""
        for evse in self.evses.values():
            if any(same_token(t, id_tag) for t in evse.lock_held_for):
                self.unlock(evse.id)
                return "unlocked"
        for evse in self.evses.values():
            s = evse.session
            if s is not None and same_token(s.id_tag, id_tag):
                await self.stop_session(evse.id, StopReason.LOCAL)
                return "stopped"
        result = await self.authorizer.authorize(id_tag)
        if not result.accepted:
            log.info("token %s rejected: %s", id_tag, result.status)
            return "rejected"
        group = result.parent_id_tag  # a group member stops the group's session (OCPP 1.6 3.10)
        for evse in self.evses.values():
            s = evse.session
            if s is not None and group and s.parent_id_tag and same_token(s.parent_id_tag, group):
                await self.stop_session(evse.id, StopReason.LOCAL, stop_id_tag=id_tag)
                return "stopped"
        return await self.start_session(connector, id_tag, group)

    async def start_session(self, connector: int | None, id_tag: str, parent_id_tag: str | None = None) -> str:
        """Start on a plugged connector at once, else wait for a plug-in (ConnectionTimeOut)."""
        candidates = [self.evses[connector]] if connector is not None else list(self.evses.values())
        for evse in candidates:
            idle = evse.session is None and not evse.finishing and evse.operative
            plugged = evse.snapshot is not None and evse.snapshot.cp is not CpState.A
            if idle and plugged and await self._start(evse, id_tag, parent_id_tag):
                return "started"
        usable = [e for e in candidates if e.session is None and e.operative]
        if not any(self.admission(e.id, id_tag, parent_id_tag).allowed for e in usable):
            return "rejected"
        deadline = time.monotonic() + self.connection_timeout_s
        self.pending = PendingToken(id_tag, parent_id_tag, deadline, connector)
        self._update_statuses()
        return "waiting"

    async def _start(self, evse: Evse, id_tag: str, parent_id_tag: str | None) -> bool:
        async with evse.lock:
            if evse.session is not None:
                return False
            await self._fresh_meter(evse)
            admission = self.admission(evse.id, id_tag, parent_id_tag)
            if not admission.allowed:
                log.info("connector %s: reserved, %s may not start there", evse.id, id_tag)
                return False
            ends = admission.ends.id if admission.ends is not None else None
            meter_wh = evse.meter.energy_import_wh if evse.meter is not None else 0.0
            if evse.meter is None:
                log.warning("connector %s: starting without a meter reading; meter start 0 Wh", evse.id)
            session = await self.ledger.start(evse.id, id_tag, meter_wh, self.clock.now(), parent_id_tag, ends)
            if ends is not None:  # its row went with the session's transaction
                self.reservations.pop(ends, None)
                log.info("connector %s: session for %s ends reservation %s", evse.id, id_tag, ends)
            evse.session = session
            evse.energy_cap_wh = None
            evse.last_progress = time.monotonic()
            log.info("connector %s: session %s started for %s", evse.id, session.id, id_tag)
            self.refresh_limit(evse.id)
            self._update_statuses()
            for listener in self.listeners:
                listener(StationEvent("session_started", evse.id, session=session))
            return True

    async def _fresh_meter(self, evse: Evse) -> None:
        if self.read_meter is not None:
            await self.read_meter(evse.id)  # lands in evse.meter through on_meter; silence keeps the last

    async def stop_session(self, connector: int, reason: StopReason, stop_id_tag: str | None = None) -> bool:
        """End the session on ``connector``; ``stop_id_tag``: the group member's token that ended it."""
        evse = self.evses[connector]
        async with evse.lock:
            session = evse.session
            if session is None:
                if evse.stopping:  # asked by _stop_soon, but another stop came first: nothing waits
                    evse.stopping = False
                    self._update_statuses()
                return False
            evse.session = None  # charging stops now: the loop sees charge_allowed = False
            evse.finishing = evse.snapshot is not None and evse.snapshot.cp is not CpState.A
            # Whoever sees Finishing / Available must find the stopped row: until it is written,
            # the connector's status stays what it was (only a fault is announced at once).
            evse.stopping = True
            try:
                self.refresh_limit(connector)
                await self._fresh_meter(evse)
                meter_wh = evse.meter.energy_import_wh if evse.meter is not None else session.last_meter_wh
                meter_wh = max(meter_wh, session.meter_start_wh)
                stopped = await self.ledger.stop(session, reason, meter_wh, self.clock.now(), stop_id_tag)
            finally:
                evse.stopping = False
            log.info("connector %s: session %s stopped (%s), %.0f Wh", connector, stopped.id, reason, stopped.energy_wh)
            if evse.operative_after_session is not None:
                evse.operative, evse.operative_after_session = evse.operative_after_session, None
            self._update_statuses()
            for listener in self.listeners:
                listener(StationEvent("session_stopped", connector, session=stopped))
            return True

    async def set_parent(self, session_id: int, parent_id_tag: str) -> None:
        """Name the group of session ``session_id`` if it still runs (kept in memory and on disk)."""
        for evse in self.evses.values():
            session = evse.session
            if session is not None and session.id == session_id and session.parent_id_tag != parent_id_tag:
                evse.session = replace(session, parent_id_tag=parent_id_tag)  # now: a token may come any time
                await self.ledger.set_parent(session_id, parent_id_tag)
                log.info("connector %s: session %s belongs to group %s", evse.id, session_id, parent_id_tag)

    def unlock(self, connector: int) -> None:
        """Release a cable kept locked after its session (the loop unlocks once no session holds it)."""
        evse = self.evses[connector]
        evse.lock_held_for = ()
        self.refresh_limit(connector)

    async def stop_all(self, reason: StopReason) -> None:
        await asyncio.gather(*(self.stop_session(cid, reason) for cid in self.evses))

    def set_operative(self, connector: int, operative: bool) -> str:
        """ChangeAvailability: "Accepted", or "Scheduled" when a session must end first."""
        targets = list(self.evses.values()) if connector == 0 else [self.evses[connector]]
        scheduled = False
        for evse in targets:
            if evse.session is not None and not operative:
                evse.operative_after_session = operative
                scheduled = True
            else:
                evse.operative, evse.operative_after_session = operative, None
                self.refresh_limit(evse.id)
        self._update_statuses()
        return "Scheduled" if scheduled else "Accepted"

    def cap_energy(self, connector: int, energy_wh: float) -> None:
        """The running session on ``connector`` delivers at most ``energy_wh`` in all; then 0 A."""
        evse = self.evses[connector]
        if evse.session is not None:
            evse.energy_cap_wh = energy_wh
            self.refresh_limit(connector)

    # -- reservations -----------------------------------------------------------
    def admission(self, connector: int, id_tag: str, parent_id_tag: str | None) -> Admission:
        """May ``id_tag`` start on ``connector`` as far as reservations go?"""
        return rules.admission(self.reservations.values(), connector, id_tag, parent_id_tag, self._unreserved())

    async def reserve(self, reservation: Reservation, *, any_connector_allowed: bool) -> ReserveOutcome:
        """Make (or replace, same id) a reservation; answers as controller/reservations.py says."""
        others = [r for r in self.reservations.values() if r.id != reservation.id]
        outcome = rules.answer(
            reservation, others, self._unreserved(), self.clock.now(), any_connector_allowed=any_connector_allowed
        )
        if outcome is ReserveOutcome.ACCEPTED:
            self.reservations[reservation.id] = reservation
            self._update_statuses()
            await self.book.save(reservation)
            log.info("reservation %s: connector %s for %s", reservation.id, reservation.connector, reservation.id_tag)
        return outcome

    async def cancel_reservation(self, reservation_id: int) -> bool:
        if self.reservations.pop(reservation_id, None) is None:
            return False
        self._update_statuses()
        await self.book.delete(reservation_id)
        log.info("reservation %s cancelled", reservation_id)
        return True

    def _unreserved(self) -> dict[int, ConnectorStatus]:
        """What each sampled connector would show without reservations."""
        return {
            e.id: connector_status(self._facts(e, reserved=False))[0]
            for e in self.evses.values()
            if e.snapshot is not None
        }

    # -- status -----------------------------------------------------------------
    def _facts(self, evse: Evse, reserved: bool) -> StatusFacts:
        pending = self.pending
        return StatusFacts(
            snapshot=evse.snapshot,
            in_session=evse.session is not None or evse.stopping,
            finishing=evse.finishing,
            waiting_token=pending is not None and pending.connector in (None, evse.id) and evse.session is None,
            plug_timed_out=evse.plug_timed_out,
            operative=evse.operative,
            session_outlives_unplug=not self.stop_on_ev_disconnect,
            reserved=reserved,
        )

    def _update_statuses(self) -> None:
        """Every connector's status (a reservation or a busy connector changes the others'),
        after ending the reservations that expired or whose connectors went down."""
        unreserved = self._unreserved()
        for gone in rules.ended(self.reservations.values(), unreserved, self.clock.now()):
            log.info("reservation %s ended (expired, or connector %s down)", gone.id, gone.connector)
            del self.reservations[gone.id]
            self.spawn(self.book.delete(gone.id), f"reservation {gone.id} ended")
        reserved = rules.reserved_connectors(self.reservations.values(), unreserved)
        pending = self.pending
        for evse in self.evses.values():
            # The reserving tag presented (waiting for its plug-in) turns Reserved into Preparing.
            mine = (
                pending is not None
                and pending.connector in (None, evse.id)
                and self.admission(evse.id, pending.id_tag, pending.parent_id_tag).ends is not None
            )
            self._update_status(evse, evse.id in reserved and not mine)

    def _update_status(self, evse: Evse, reserved: bool) -> None:
        if evse.snapshot is None:
            return  # nothing sampled yet: announcing "Unavailable" for 5 ms would mislead a backend
        status, fault = connector_status(self._facts(evse, reserved))
        if (status, fault) == (evse.status, evse.fault):
            return
        if evse.stopping and status is not ConnectorStatus.FAULTED:
            return  # stop_session announces the status once the stopped row is durable
        evse.status, evse.fault = status, fault
        indicator = self.board.connector(evse.id).indicator
        if indicator is not None:
            indicator.show(INDICATION[status])
        for listener in self.listeners:
            listener(StationEvent("status", evse.id, status=status, fault=fault))
