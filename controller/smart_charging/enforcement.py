"""Enforcing the installed charging profiles: the limit each connector's pilot may offer, kept current.

Rules kept here (OCPP 1.6 sections 3.13, 3.13.6, 5.16, errata 3.37; 2.0.1 K01, K08, K15):
- Version-neutral: a front end validates a profile, then calls ``install`` / ``clear`` /
  ``expect_profile``; this module holds the installed set, persists it (``ProfileStore``) and
  hands the station a limit source. The decisions are the pure functions ``connector_limits``
  and ``handed_over``; ``ChargingLimits`` only gathers facts, keeps time and does the I/O.
- A change applies at once: ``install`` and ``clear`` refresh every connector's limit before
  the set is written, so the pilot can follow within a real-time tick; the front end answers
  after the write, so an accepted profile survives a power cut.
- At start, expired profiles and TxProfiles are dropped: no transaction survives a restart (the
  ledger closes them), so neither do their profiles. At a transaction's end its connector's
  TxProfiles go; profiles whose validTo passed go at the next wake-up.
- Period boundaries: a timer wakes the engine at the next boundary of any connector (re-armed
  from every computation, so a wall-clock step is corrected by the station's periodic refresh).
  So that the real-time loop never holds a stale limit at a boundary (it would fall back to the
  safe current and, by the 5 s duty rule, stay there for 5 s), during the last ``HANDOVER_S``
  before a boundary the limit handed over is the lower of the two periods', valid until the
  boundary after: a decrease applies up to ``HANDOVER_S`` early, an increase at the boundary.
- The station-wide cap (ChargePointMax) is shared among connectors with a running transaction
  (``share_station_limit``); a connector without one is capped by the whole station limit.
- W limits are divided by the phases the car draws on when the meter shows current flowing
  (phases carrying at least ``PHASE_IN_USE_A``), otherwise by the connector's configured phases.
- Relative schedules start at the transaction start.
- A TxProfile given with a remote start travels with it through the core and is installed on
  the EVSE where its transaction starts, when the core announces the start and before it first
  computes that transaction's limit, so the pilot is never switched on at a higher current first.
  A remote start that authorizes a transaction already running there (started at EV plug-in)
  hands it over the same way, with the update that announces the authorization.
- The backend plays no part here: installed profiles keep applying offline (3.13.6). No profile
  at all means no opinion: hardware and configuration decide.
- Wall-clock ``now`` is injected (profiles are in UTC); the limit source converts boundaries to
  the monotonic clock of the real-time loop at each call.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from controller import realtime
from controller.core.events import Event, EventKind
from controller.smart_charging.composite import (
    DEFAULT_PHASES,
    CompositeSchedule,
    Limit,
    composite_schedule,
    limit_at,
    share_station_limit,
    station_limit_at,
)
from controller.smart_charging.installed import InstalledProfiles
from controller.smart_charging.profiles import ChargingProfile, InstalledProfile, Purpose, RateUnit
from controller.smart_charging.store import ProfileStore
from hal.types import MeterReading

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

LIMIT_SOURCE = "charging profiles"
HANDOVER_S = 1.0
MAX_WAKE_S = 60.0  # wake at least this often: expiry, and a wall clock that was stepped
PHASE_IN_USE_A = 1.0  # below this a phase counts as idle (meter noise, standby draw)


@dataclass(frozen=True, slots=True)
class RunningTransaction:
    station_id: str  # the core's transaction id
    start: datetime
    id: int | str | None = None  # the protocol's transaction id, once a front end knows it


@dataclass(frozen=True, slots=True)
class ConnectorFacts:
    """What the limits of one connector depend on besides the profiles."""

    max_current_a: float
    phases: int  # configured
    phases_in_use: int | None = None  # from the meter while current flows
    transaction: RunningTransaction | None = None


def phases_in_use(reading: MeterReading | None) -> int | None:
    """How many phases carry current, or None when none does (or the meter is silent)."""
    if reading is None:
        return None
    return sum(1 for amps in reading.current_a if amps >= PHASE_IN_USE_A) or None


def _lower(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def connector_limits(
    installed: InstalledProfiles, facts: Mapping[int, ConnectorFacts], now: datetime, voltage_v: float
) -> dict[int, Limit]:
    """Each connector's limit at ``now`` (A per phase, None: no profile limit) and until when."""
    own: dict[int, Limit] = {}
    for connector, fact in facts.items():
        tx = fact.transaction
        own[connector] = limit_at(
            installed,
            connector,
            now,
            tx_start=tx.start if tx else None,
            tx_id=tx.id if tx else None,
            voltage_v=voltage_v,
            phases=fact.phases,
            w_phases=fact.phases_in_use or fact.phases,
        )
    # A W cap divided by the most phases in use gives the fewest amperes: the safe side.
    station_phases = max((f.phases_in_use or f.phases for f in facts.values()), default=DEFAULT_PHASES)
    station = station_limit_at(installed, now, voltage_v=voltage_v, w_phases=station_phases)
    shares: dict[int, float] = {}
    if station.amps is not None:
        demands = {
            connector: fact.max_current_a if (amps := own[connector].amps) is None else min(fact.max_current_a, amps)
            for connector, fact in facts.items()
            if fact.transaction is not None
        }
        shares = share_station_limit(station.amps, demands)
    return {
        connector: Limit(
            amps=shares[connector] if connector in shares else _lower(limit.amps, station.amps),
            phases=limit.phases,
            valid_until=_earliest(limit.valid_until, station.valid_until),
        )
        for connector, limit in own.items()
    }


def handed_over(
    installed: InstalledProfiles,
    facts: Mapping[int, ConnectorFacts],
    now: datetime,
    voltage_v: float,
    current: Mapping[int, Limit],
) -> dict[int, Limit]:
    """What the real-time loop gets at ``now``: ``current`` (``connector_limits`` at ``now``),
    except that within ``HANDOVER_S`` of a connector's boundary it gets the lower of both sides,
    valid until the boundary after (see the rules above)."""
    later: dict[datetime, dict[int, Limit]] = {}
    out: dict[int, Limit] = {}
    for connector, limit in current.items():
        boundary = limit.valid_until
        if boundary is None or (boundary - now).total_seconds() > HANDOVER_S:
            out[connector] = limit
            continue
        if boundary not in later:
            later[boundary] = connector_limits(installed, facts, boundary, voltage_v)
        following = later[boundary][connector]
        out[connector] = Limit(
            amps=_lower(limit.amps, following.amps),
            phases=min(limit.phases, following.phases),
            valid_until=following.valid_until,
        )
    return out


class ChargingLimits:
    """The installed profiles of a station, applied to its connectors."""

    def __init__(self, store: ProfileStore, *, now: Callable[[], datetime], voltage_v: float = 230.0):
        self.store = store
        self.now = now
        self.voltage_v = voltage_v
        loaded = store.load()
        self.installed = loaded.expire(now())
        for connector in {entry.connector_id for entry in loaded if entry.profile.purpose is Purpose.TX}:
            self.installed = self.installed.end_transaction(connector)
        if len(self.installed) != len(loaded):
            store.save_sync(self.installed)
        self.station: Station | None = None
        self._transactions: dict[int, RunningTransaction] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    def attach(self, station: Station) -> None:
        self.station = station
        station.add_limit_source(LIMIT_SOURCE, self.limit)
        station.subscribe(self._on_event)

    # ---- changes from a front end -------------------------------------------------------------

    async def install(self, connector: int, profile: ChargingProfile) -> None:
        """Install a validated profile: applied at once, persisted before returning."""
        self.installed = self.installed.add(connector, profile)
        self._refresh_all()
        await self.store.save(self.installed)

    async def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> bool:
        """Remove the profiles matching every given criterion; False if none matched."""
        self.installed, removed = self.installed.clear(
            profile_id=profile_id, connector_id=connector_id, purpose=purpose, stack_level=stack_level
        )
        if removed:
            self._refresh_all()
            await self.store.save(self.installed)
        return removed

    def identify_transaction(self, connector: int, transaction_id: int | str) -> None:
        """The front end learned the protocol's id of the transaction running on ``connector``."""
        self.transactions()  # adopt a session started since the last look
        tx = self._transactions.get(connector)
        if tx is not None and tx.id != transaction_id:
            self._transactions[connector] = replace(tx, id=transaction_id)
            self._refresh_all()

    # ---- what is known ----------------------------------------------------------------------

    def transactions(self) -> dict[int, RunningTransaction]:
        """The running transaction of each EVSE that has one, from the station's views."""
        if self.station is None:
            return {}
        for view in self.station.views():
            tx, known = view.transaction, self._transactions.get(view.id)
            if tx is None:
                self._transactions.pop(view.id, None)
            elif known is None or known.station_id != tx.id:
                self._transactions[view.id] = RunningTransaction(tx.id, tx.started_at)
        return dict(self._transactions)

    def facts(self) -> dict[int, ConnectorFacts]:
        if self.station is None:
            return {}
        transactions = self.transactions()
        return {
            view.id: ConnectorFacts(
                max_current_a=view.max_current_a,
                phases=view.phases,
                phases_in_use=phases_in_use(view.meter),
                transaction=transactions.get(view.id),
            )
            for view in self.station.views()
        }

    def composite(
        self,
        connector: int,
        duration_s: int,
        unit: RateUnit,
        now: datetime | None = None,
        also: Iterable[InstalledProfile] = (),
    ) -> CompositeSchedule:
        """The composite schedule of ``connector`` (0: the station) from ``now`` (default: now) on,
        ``also`` counting the profiles of limits applied elsewhere (local energy management's)."""
        now = self.now() if now is None else now
        profiles = InstalledProfiles((*self.installed.entries, *also))
        facts = self.facts()
        tx = facts[connector].transaction if connector in facts else None
        phases = facts[connector].phases if connector in facts else max((f.phases for f in facts.values()), default=3)
        return composite_schedule(
            profiles,
            connector,
            now,
            duration_s,
            unit,
            now=now,
            tx_start=tx.start if tx else None,
            tx_id=tx.id if tx else None,
            voltage_v=self.voltage_v,
            default_phases=phases,
        )

    def max_amps(self, connector: int) -> float:
        """What the hardware allows on ``connector`` (0: all connectors together), A per phase."""
        facts = self.facts()
        if connector in facts:
            return facts[connector].max_current_a
        return sum(f.max_current_a for f in facts.values())

    # ---- the limit source and its timer ---------------------------------------------------------

    def limit(self, connector: int, monotonic_now: float) -> realtime.Limit | None:
        """Station limit source: this connector's profile limit, or None when no profile limits it."""
        if not self.installed:  # asked every second for every connector: no profile, no work, no wake-up
            return None
        now = self.now()
        facts = self.facts()
        current = connector_limits(self.installed, facts, now, self.voltage_v)
        self._arm(now, current)  # the true boundaries: a handed-over limit may outlast one
        mine = handed_over(self.installed, facts, now, self.voltage_v, current).get(connector)
        if mine is None or mine.amps is None:
            return None
        until = math.inf if mine.valid_until is None else monotonic_now + (mine.valid_until - now).total_seconds()
        return realtime.Limit(mine.amps, mine.phases, until)

    def close(self) -> None:
        """No more wake-ups (the daemon is stopping); the limit source still answers."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, now: datetime, limits: Mapping[int, Limit]) -> None:
        if self._closed:
            return
        boundary = min((lim.valid_until for lim in limits.values() if lim.valid_until is not None), default=None)
        delay = MAX_WAKE_S
        if boundary is not None:
            handover = boundary - timedelta(seconds=HANDOVER_S)
            wake = handover if handover > now else boundary
            # A millisecond late, so that the wake-up computes on the far side of the instant.
            delay = min(delay, max((wake - now).total_seconds(), 0.0) + 0.001)
        loop = asyncio.get_running_loop()
        if self._timer is not None and self._timer.when() <= loop.time() + delay:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(delay, self._wake)

    def _wake(self) -> None:
        self._timer = None
        kept = self.installed.expire(self.now())
        if len(kept) != len(self.installed):
            self.installed = kept
            self._save_later()
        self._refresh_all()

    def _refresh_all(self) -> None:
        if self.station is not None:
            for evse in self.station.evse_ids:
                self.station.refresh_limit(evse)

    # ---- transactions -----------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.TRANSACTION_ENDED and event.evse is not None:
            self._transactions.pop(event.evse, None)
            kept = self.installed.end_transaction(event.evse)
            if len(kept) != len(self.installed):
                self.installed = kept
                self._save_later()
            self._refresh_all()  # the others' shares of the station cap grow
        elif event.kind in (EventKind.TRANSACTION_STARTED, EventKind.TRANSACTION_UPDATED) and event.evse is not None:
            remote = event.remote_start
            if remote is not None and isinstance(remote.profile, ChargingProfile):
                self.installed = self.installed.add(event.evse, remote.profile)
                self._save_later()
                log.info("connector %s: TxProfile %s of the remote start installed", event.evse, remote.profile.id)
            if event.kind is EventKind.TRANSACTION_STARTED or remote is not None:
                self._refresh_all()  # the others' shares of the station cap shrink

    def _save_later(self) -> None:
        if self.station is not None:
            self.station.spawn(self._save_latest(), "save charging profiles")

    async def _save_latest(self) -> None:
        # Read when the task runs, not when it was spawned: writes reach the database thread in
        # order, so the last one always carries the newest set.
        await self.store.save(self.installed)
