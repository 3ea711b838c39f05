"""The composite schedule: what limit applies to a connector at each instant, and until when.

Rules kept here (OCPP 1.6 sections 3.13.1-3.13.3, 5.16, errata 3.34/3.43/3.44; 2.0.1 K01, K08, 3.5):
- Pure: profiles, ``now`` and the transaction facts go in; nothing is read from a clock.
- A profile covers an instant when the instant is in [validFrom, validTo) and inside one
  occurrence of its schedule: Absolute starts at startSchedule; Recurring repeats from
  startSchedule every day or week, each occurrence cut at the recurrence length (remainder
  periods are not executed); Relative starts at the transaction start, or at ``now`` when no
  transaction is running (as if charging started now, K08.FR.06). A schedule with a duration
  stops covering at its end; without one the last period continues. Periods starting at or after
  the duration never run (K01.FR.11).
- Within a purpose the covering profile with the highest stackLevel wins at each instant; where it
  does not cover, lower ones show through (errata 3.43).
- A covering TxProfile of the running transaction overrides TxDefaultProfile. A TxProfile naming
  another transaction, or any TxProfile when no transaction runs, never applies.
- A connector's own TxDefaultProfile replaces the connector-0 one with the same stackLevel for that
  connector (1.6 section 3.13.1, 2.0.1 K01.FR.14/15) while it is valid (validFrom/validTo): past its
  duration the connector-0 one does not show through, outside its validity it does.
- A connector's limit is the minimum over: ChargePointMax/ChargingStationMax (connector 0), the
  transaction limit (Tx or TxDefault), and ExternalConstraints on connector 0 and on the connector.
  Connector 0 reports the station-wide schedule: StationMax, TxDefault on 0, ExternalConstraints on 0.
- Everything is compared in amperes per phase: A limits are per phase; a W limit is total power
  and becomes W / (voltage * numberPhases) with that period's numberPhases (3 when absent). The
  composite's numberPhases is the smallest of the winning periods'. Reported W are
  A * voltage * numberPhases. Per errata 3.34 the amperes are not recalculated for fewer phases.
  What the pilot enforces (``limit_at`` / ``station_limit_at`` with ``w_phases``) divides a W
  limit by the phases the car actually draws on instead, so that the power stays within it.
- Reported schedule limits are rounded down to 0.1 (OCPP allows one decimal) so rounding never
  raises a limit; periods are ascending whole seconds and adjacent equal periods are merged.
- ``limit=None`` means no profile limits that time: hardware and configuration decide.
- Installed data that validation would have refused (unsorted periods, an Absolute schedule
  without startSchedule) is read leniently rather than crashing the real-time reader.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from controller.clock import iso
from controller.smart_charging.profiles import (
    RECURRENCE_SECONDS,
    ChargingProfile,
    InstalledProfile,
    Kind,
    Purpose,
    RateUnit,
)

DEFAULT_PHASES = 3
# IEC 61851-1: the pilot cannot offer less than 6 A; a lower limit means pause.
MIN_CHARGING_AMPS = 6.0
# _groups selector for the station-wide cap alone.
STATION_WIDE = -1
# limit_at looks this far ahead for the next change; past it the caller simply asks again.
LOOKAHEAD = timedelta(days=8)

# Ranks inside the transaction group: a TxProfile beats any TxDefaultProfile.
TIER = {Purpose.TX: 1, Purpose.TX_DEFAULT: 0, Purpose.STATION_MAX: 0, Purpose.EXTERNAL_CONSTRAINTS: 0}


@dataclass(frozen=True, slots=True)
class CompositePeriod:
    start_period: int  # seconds from the schedule start
    limit: float | None  # in the schedule's unit; None: no profile limits this period
    number_phases: int


@dataclass(frozen=True, slots=True)
class CompositeSchedule:
    connector_id: int
    schedule_start: datetime
    duration_s: int
    unit: RateUnit
    periods: tuple[CompositePeriod, ...]
    min_charging_rate: float | None = None

    def to_dict(self, max_amps: float, voltage_v: float = 230.0) -> dict[str, Any]:
        """The fields of a 1.6 GetCompositeSchedule.conf besides status. The hardware maximum
        ``max_amps`` (A per phase) bounds every period, so the report is what will be enforced; OCPP
        cannot say "unlimited", so periods without a profile limit report that maximum."""
        periods: list[dict[str, Any]] = []
        for period in self.periods:
            cap = _reported(max_amps, period.number_phases, self.unit, voltage_v)
            assert cap is not None
            written = {
                "startPeriod": period.start_period,
                "limit": cap if period.limit is None else min(period.limit, cap),
                "numberPhases": period.number_phases,
            }
            if not periods or (periods[-1]["limit"], periods[-1]["numberPhases"]) != (
                written["limit"],
                written["numberPhases"],
            ):
                periods.append(written)
        schedule: dict[str, Any] = {
            "duration": self.duration_s,
            "chargingRateUnit": self.unit.value,
            "chargingSchedulePeriod": periods,
        }
        if self.min_charging_rate is not None:
            schedule["minChargingRate"] = self.min_charging_rate
        return {
            "connectorId": self.connector_id,
            "scheduleStart": iso(self.schedule_start),
            "chargingSchedule": schedule,
        }


@dataclass(frozen=True, slots=True)
class Limit:
    """What the pilot enforces now: amperes per phase (None: no profile limit) until ``valid_until``."""

    amps: float | None
    phases: int
    valid_until: datetime | None  # next instant the composite changes; None: never


@dataclass(frozen=True, slots=True)
class _Timeline:
    """One applicable profile laid on the time axis (epoch seconds), limits in A per phase."""

    rank: tuple[int, int, int]  # (tier, stackLevel, 1 for a connector's own TxDefault)
    replaceable: bool  # a connector-0 TxDefault seen from a connector
    valid_from: float
    valid_to: float
    anchor: float
    recurrence: float  # 0: not recurring
    span: float  # covered length of each occurrence
    starts: tuple[float, ...]
    amps: tuple[float, ...]
    phases: tuple[int, ...]
    min_rate_amps: float | None

    def value_at(self, t: float) -> tuple[float, int] | None:
        if not self.valid_from <= t < self.valid_to or t < self.anchor:
            return None
        offset = t - self.anchor
        if self.recurrence:
            offset %= self.recurrence
        if offset >= self.span:
            return None
        index = bisect_right(self.starts, offset) - 1
        if index < 0:  # before a first period that does not start at 0 (never validated)
            return None
        return self.amps[index], self.phases[index]

    def next_edge(self, t: float) -> float:
        """The first instant after ``t`` at which this timeline may change value."""
        edges = [self.valid_from, self.valid_to, self.anchor]
        if t >= self.anchor:
            base = self.anchor
            if self.recurrence:
                base += (t - self.anchor) // self.recurrence * self.recurrence
                edges.append(base + self.recurrence)
            index = bisect_right(self.starts, t - base)
            if index < len(self.starts):
                edges.append(base + self.starts[index])
            edges.append(base + self.span)
        return min((edge for edge in edges if edge > t), default=math.inf)


def _amps(limit: float, unit: RateUnit, phases: int, voltage_v: float) -> float:
    return max(limit, 0.0) if unit is RateUnit.A else max(limit, 0.0) / (voltage_v * phases)


@dataclass(frozen=True, slots=True)
class _Placed:
    """A profile as one connector sees it."""

    profile: ChargingProfile
    replaces: bool = False  # the connector's own TxDefault
    replaceable: bool = False  # connector 0's TxDefault, replaced by an own one of the same stackLevel


def _timeline(
    placed: _Placed, relative_anchor: float, voltage_v: float, default_phases: int, w_phases: int | None
) -> _Timeline:
    profile = placed.profile
    schedule = profile.schedule
    recurrence = (
        float(RECURRENCE_SECONDS[profile.recurrency])
        if profile.kind is Kind.RECURRING and profile.recurrency is not None
        else 0.0
    )
    span = min(
        math.inf if schedule.duration is None else float(schedule.duration),
        recurrence or math.inf,
    )
    periods = sorted((p for p in schedule.periods if p.start_period < span), key=lambda p: p.start_period)
    phases = tuple(min(max(p.number_phases or default_phases, 1), 3) for p in periods)
    start = None if profile.kind is Kind.RELATIVE else schedule.start_schedule
    return _Timeline(
        rank=(TIER[profile.purpose], profile.stack_level, int(placed.replaces)),
        replaceable=placed.replaceable,
        valid_from=profile.valid_from.timestamp() if profile.valid_from else -math.inf,
        valid_to=profile.valid_to.timestamp() if profile.valid_to else math.inf,
        anchor=relative_anchor if start is None else start.timestamp(),
        recurrence=recurrence,
        span=span,
        starts=tuple(float(p.start_period) for p in periods),
        amps=tuple(
            _amps(p.limit, schedule.unit, w_phases or n, voltage_v) for p, n in zip(periods, phases, strict=True)
        ),
        phases=phases,
        min_rate_amps=None
        if schedule.min_charging_rate is None or not phases
        else _amps(schedule.min_charging_rate, schedule.unit, w_phases or phases[0], voltage_v),
    )


def _groups(
    profiles: Iterable[InstalledProfile], connector_id: int, tx_id: int | str | None, tx_running: bool
) -> list[list[_Placed]]:
    """The profiles that can limit ``connector_id``, one list per minimum-taking group.

    ``STATION_WIDE`` selects the station-wide cap only (StationMax and ExternalConstraints on 0).
    """
    entries = list(profiles)

    def on(connector: int, purpose: Purpose, **role: bool) -> list[_Placed]:
        return [
            _Placed(e.profile, **role) for e in entries if e.connector_id == connector and e.profile.purpose is purpose
        ]

    station = [on(0, Purpose.STATION_MAX), on(0, Purpose.EXTERNAL_CONSTRAINTS)]
    if connector_id == STATION_WIDE:
        return station
    if connector_id == 0:
        return [*station, on(0, Purpose.TX_DEFAULT)]
    tx_profiles = [
        placed
        for placed in on(connector_id, Purpose.TX)
        if tx_running and placed.profile.transaction_id in (None, tx_id)
    ]
    return [
        *station,
        on(connector_id, Purpose.EXTERNAL_CONSTRAINTS),
        tx_profiles + on(connector_id, Purpose.TX_DEFAULT, replaces=True) + on(0, Purpose.TX_DEFAULT, replaceable=True),
    ]


@dataclass(frozen=True, slots=True)
class _Stack:
    """The timelines of every group, each group sorted from the highest rank down."""

    groups: tuple[tuple[_Timeline, ...], ...]
    default_phases: int

    @classmethod
    def build(
        cls,
        profiles: Iterable[InstalledProfile],
        connector_id: int,
        *,
        now: datetime,
        tx_start: datetime | None,
        tx_id: int | str | None,
        voltage_v: float,
        default_phases: int,
        w_phases: int | None = None,
    ) -> _Stack:
        tx_running = tx_start is not None or tx_id is not None
        relative_anchor = (tx_start or now).timestamp()
        groups = []
        for group in _groups(profiles, connector_id, tx_id, tx_running):
            timelines = [
                _timeline(placed, relative_anchor, voltage_v, default_phases, w_phases)
                for placed in group
                if placed.profile.schedule.periods
            ]
            if timelines:
                groups.append(tuple(sorted(timelines, key=lambda timeline: timeline.rank, reverse=True)))
        return cls(tuple(groups), default_phases)

    def winners(self, t: float) -> list[tuple[_Timeline, float, int]]:
        found = []
        for group in self.groups:
            # Stack levels on which the connector's own valid TxDefault replaces connector 0's; the
            # own ones sort first within a level, so the set is filled before it is consulted.
            replaced: set[int] = set()
            for timeline in group:
                stack_level = timeline.rank[1]
                if timeline.replaceable and stack_level in replaced:
                    continue
                value = timeline.value_at(t)
                if value is not None:
                    found.append((timeline, *value))
                    break
                if timeline.rank[2] and timeline.valid_from <= t < timeline.valid_to:
                    replaced.add(stack_level)
        return found

    def value_at(self, t: float) -> tuple[float | None, int]:
        found = self.winners(t)
        if not found:
            return None, self.default_phases
        return min(amps for _, amps, _ in found), min(phases for _, _, phases in found)

    def edges_after(self, t: float) -> Iterator[float]:
        """The instants after ``t`` at which the composite may change, ascending. Each timeline's
        next edge is cached and recomputed only once passed: that is most of the sweep's cost."""
        timelines = [timeline for group in self.groups for timeline in group]
        pending = [timeline.next_edge(t) for timeline in timelines]
        while (t := min(pending, default=math.inf)) < math.inf:
            yield t
            pending = [
                timeline.next_edge(t) if edge <= t else edge for timeline, edge in zip(timelines, pending, strict=True)
            ]


def _reported(amps: float | None, phases: int, unit: RateUnit, voltage_v: float) -> float | None:
    if amps is None:
        return None
    value = amps if unit is RateUnit.A else amps * voltage_v * phases
    # Round down to OCPP's one decimal; the epsilon absorbs float noise such as 10999.999999998.
    return math.floor(value * 10 + 1e-6) / 10


def _lower(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def composite_schedule(
    profiles: Iterable[InstalledProfile],
    connector_id: int,
    start: datetime,
    duration_s: int,
    unit: RateUnit,
    *,
    now: datetime,
    tx_start: datetime | None = None,
    tx_id: int | str | None = None,
    voltage_v: float = 230.0,
    default_phases: int = DEFAULT_PHASES,
) -> CompositeSchedule:
    """GetCompositeSchedule: the limits for ``connector_id`` from ``start`` for ``duration_s`` seconds."""
    stack = _Stack.build(
        profiles,
        connector_id,
        now=now,
        tx_start=tx_start,
        tx_id=tx_id,
        voltage_v=voltage_v,
        default_phases=default_phases,
    )
    origin = start.timestamp()
    end = origin + duration_s
    periods: list[CompositePeriod] = []
    edges = stack.edges_after(origin)
    t = origin
    while t < end:
        amps, phases = stack.value_at(t)
        period = CompositePeriod(math.floor(t - origin), _reported(amps, phases, unit, voltage_v), phases)
        if periods and periods[-1].start_period == period.start_period:
            # Several changes within one whole second: the lower limit holds from that second on.
            previous = periods.pop()
            period = CompositePeriod(
                period.start_period, _lower(previous.limit, period.limit), min(previous.number_phases, phases)
            )
        if not periods or (periods[-1].limit, periods[-1].number_phases) != (period.limit, period.number_phases):
            periods.append(period)
        t = next(edges, math.inf)
    min_rate = next(
        (timeline.min_rate_amps for timeline, _, _ in stack.winners(origin) if timeline.min_rate_amps is not None),
        None,
    )
    return CompositeSchedule(
        connector_id=connector_id,
        schedule_start=start.astimezone(UTC),
        duration_s=duration_s,
        unit=unit,
        periods=tuple(periods),
        min_charging_rate=_reported(min_rate, periods[0].number_phases, unit, voltage_v) if periods else None,
    )


def _at(schedule: CompositeSchedule, start_period: int) -> CompositePeriod:
    return [p for p in schedule.periods if p.start_period <= start_period][-1]


def station_total(
    cap: CompositeSchedule, evses: Sequence[tuple[CompositeSchedule, float]], voltage_v: float = 230.0
) -> CompositeSchedule:
    """What the whole station expects to draw (2.0.1 K08.FR.03, evseId 0): at each instant the
    sum over the EVSEs' composites (an EVSE without a profile limit at its hardware maximum,
    ``(schedule, max A per phase)``), capped by the station-wide schedule ``cap``
    (``composite_schedule`` of ``STATION_WIDE``). All schedules share start, duration and unit."""
    starts = sorted({p.start_period for s in (cap, *(e for e, _ in evses)) for p in s.periods})
    periods: list[CompositePeriod] = []
    for start in starts:
        parts = [(_at(schedule, start), max_amps) for schedule, max_amps in evses]
        total = sum(_reported(max_amps, p.number_phases, cap.unit, voltage_v) or 0.0 if p.limit is None else p.limit
                    for p, max_amps in parts)  # fmt: skip
        capped = _at(cap, start)
        phases = min([capped.number_phases, *(p.number_phases for p, _ in parts)])
        period = CompositePeriod(start, _lower(capped.limit, round(total, 1)), phases)
        if not periods or (periods[-1].limit, periods[-1].number_phases) != (period.limit, period.number_phases):
            periods.append(period)
    return replace(cap, connector_id=0, periods=tuple(periods))


def _limit(stack: _Stack, now: datetime, phases: int) -> Limit:
    t = now.timestamp()
    horizon = t + LOOKAHEAD.total_seconds()
    current = stack.value_at(t)
    # Edges where nothing changes (a daily repeat of the same limit) are skipped; past the
    # lookahead the caller is told to ask again then, which is always safe.
    edge = next((edge for edge in stack.edges_after(t) if edge >= horizon or stack.value_at(edge) != current), math.inf)
    amps, composite_phases = current
    return Limit(
        amps=amps,
        phases=min(composite_phases, phases),
        valid_until=None if edge == math.inf else datetime.fromtimestamp(min(edge, horizon), UTC),
    )


def limit_at(
    profiles: Iterable[InstalledProfile],
    connector_id: int,
    now: datetime,
    *,
    tx_start: datetime | None = None,
    tx_id: int | str | None = None,
    voltage_v: float = 230.0,
    phases: int = DEFAULT_PHASES,
    w_phases: int | None = None,
) -> Limit:
    """The limit the pilot of ``connector_id`` should enforce at ``now``, and until when it holds.

    ``phases`` is what the connector can use (station, cable, EV); it caps the reported phases.
    ``w_phases``: the phases a W limit is divided by (those the car draws on); None: each
    period's numberPhases. Amperes below 6 mean pause; they are reported as computed.
    """
    stack = _Stack.build(
        profiles,
        connector_id,
        now=now,
        tx_start=tx_start,
        tx_id=tx_id,
        voltage_v=voltage_v,
        default_phases=DEFAULT_PHASES,
        w_phases=w_phases,
    )
    return _limit(stack, now, phases)


def station_limit_at(
    profiles: Iterable[InstalledProfile],
    now: datetime,
    *,
    voltage_v: float = 230.0,
    phases: int = DEFAULT_PHASES,
    w_phases: int | None = None,
) -> Limit:
    """The cap on the sum over all connectors (ChargePointMax / ChargingStationMax and
    ExternalConstraints on connector 0), to hand to ``share_station_limit``."""
    stack = _Stack.build(
        profiles,
        STATION_WIDE,
        now=now,
        tx_start=None,
        tx_id=None,
        voltage_v=voltage_v,
        default_phases=DEFAULT_PHASES,
        w_phases=w_phases,
    )
    return _limit(stack, now, phases)


def _water_fill(cap: float, demands: dict[int, float]) -> dict[int, float]:
    """Max-min fair shares: small demands are met in full, the rest split what is left equally."""
    shares: dict[int, float] = {}
    left = cap
    order = sorted(demands, key=lambda connector: (demands[connector], connector))
    for position, connector in enumerate(order):
        shares[connector] = float(min(demands[connector], left / (len(order) - position)))
        left -= shares[connector]
    return shares


def share_station_limit(station_amps: float | None, demands: dict[int, float]) -> dict[int, float]:
    """Split the station cap (A per phase, summed over connectors) among charging connectors.

    ``demands`` maps each charging connector to what it could take now (its own limit_at,
    hardware and EV). The rule:
    - no cap: every connector gets its demand;
    - a demand below 6 A cannot be offered on the pilot: that connector pauses (0) and takes
      nothing from the others;
    - the rest share max-min fairly (water filling) so the sum never exceeds the cap;
    - a share below 6 A is never handed out, because the pilot cannot offer it and rounding it up
      to 6 A would push the sum over the cap. Instead the highest-numbered connector among those
      short of 6 A pauses and the cap is shared again among the others. Rotating who pauses over
      time is left to the caller.
    Per-phase amperes are summed as if every connector drew on every phase, which over-counts
    single-phase connectors and so stays on the safe side.
    """
    if station_amps is None:
        return dict(demands)
    shares = dict.fromkeys(demands, 0.0)
    active = {c: d for c, d in demands.items() if d >= MIN_CHARGING_AMPS}
    while active:
        fair = _water_fill(max(station_amps, 0.0), active)
        short = [connector for connector, share in fair.items() if share < MIN_CHARGING_AMPS]
        if not short:
            shares.update(fair)
            break
        del active[max(short)]
    return shares
