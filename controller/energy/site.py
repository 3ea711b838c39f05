"""The house's energy at run time: grid reading, charging modes, the engines, one limit source.

Rules kept here:
- The decisions are the pure engines' (load.py, solar.py, phase_switch.py). This module gathers
  their inputs from the station's frozen views (never its state), keeps time, persists the
  charging modes (modes.py) and does the I/O: polling a grid meter, moving a phase switch.
- It is one limit source among the others (``energy management``): the station takes the
  minimum, so a CSMS profile still caps it; and what the other sources allow caps what a
  connector asks of the fuse, so no room is kept for current another source forbids.
- A connector wants power while it has a transaction, is authorized, has its EV connected, is
  operative, not paused and not faulted; at most the least of its hardware, its cable, the
  owner's limit (controller/owner_limits.py), the other limit sources and, in a solar mode, the
  solar target.
- A step runs at every grid reading, at every station event, at every command and at least
  every second; it refreshes the connectors whose limit changed. A limit is valid for
  ``max_age_s`` after the step that made it: if steps stop, the real-time loop falls back to
  its safe current by itself.
- Without load management (no ``[grid]``) this source has no opinion, and solar modes are
  refused. With it, an idle connector's limit is 0 (it gets its share as soon as it wants).
- A connector is constrained while its limit is below what its session wants (``constraint``:
  what the OCPP 2.0.1 front end reports as ChargingStationExternalConstraints); an idle
  connector's 0 constrains nothing.
- Solar surplus is the grid's export plus what the solar connectors draw; without a fresh grid
  reading ``pv`` offers nothing and ``minpv`` the minimum.
- A phase switch runs its sequence (phase_switch.py) when the solar target asks for other
  phases, or another limit source allows fewer (a CSMS profile's numberPhases 1: the connector's
  phases are then 1 in every mode); a relay that refuses (a contactor it sees closed) is logged
  and tried again. A board with a phase switch gets a site even without ``[grid]``, to move it.
- Member boxes (``[grid] members``) take part like local connectors, from the state they
  publish (``member_state``); a member's state older than ``max_age_s`` is left out (its
  current then counts among the house's other loads, where the grid meter sees it). Their
  limits go out as allocations after every step that changed them, and at least every
  third of ``max_age_s``.
- As a member (``source = "manager"``) the received allocation is the limit until it expires; a
  connector the manager has not allocated yet gets nothing until it does (the manager allocates
  every connector it knows of, idle ones 0). When no allocation is fresh for ``max_age_s`` (the
  manager is silent, or never spoke since the start) the connectors share ``fallback_current_a``
  as with a stale grid reading.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.config import Config
from controller.core.station import Station
from controller.core.view import EvseView
from controller.energy import LIMIT_SOURCE, load, phase_switch, solar
from controller.energy.grid import GridReading, from_json, from_meter
from controller.energy.load import Allocation, ConnectorDemand, FuseRules, LoadDecision, LoadState
from controller.energy.modes import ModeStore
from controller.energy.phase_switch import SwitchState
from controller.energy.solar import SolarMode, SolarState, SolarTarget
from controller.iec61851 import MIN_CURRENT_A
from controller.metering import MeterPoller
from controller.owner_limits import OwnerLimits
from controller.realtime import Limit
from controller.storage import Database
from hal.board import Board
from hal.errors import HardwareError
from hal.types import MeterReading

log = logging.getLogger(__name__)

NAME = LIMIT_SOURCE
TICK_S = 1.0
IDLE_A = 0.5  # below this on every phase no current flows (meter noise)
CONSTRAINED_BY_A = 0.1  # a limit this far below what a session wants constrains it (the duty's resolution)


class Refused(ValueError):
    """A command the site cannot carry out; the text says why."""


@dataclass(frozen=True)
class Participant:
    """One connector as the engines see it: local (``evse``) or on a member box."""

    key: str
    evse: int | None
    grid_phases: tuple[int, ...]  # the house phases it draws on now
    drawn_a: tuple[float, ...]  # per grid phase, same order
    drawn_at: float  # when its meter was read (-inf: not known)
    wants_a: float  # before the solar target
    offered_a: float
    power_w: float
    mode: SolarMode
    ladder: tuple[int, ...]  # phase counts it can charge on
    max_current_a: float


def wants_power(view: EvseView) -> bool:
    return (
        view.transaction is not None
        and view.authorization is not None
        and view.ev_connected
        and view.operative
        and not view.paused
        and not view.faults
        and not view.stopping
    )


def local_participant(
    view: EvseView,
    mode: SolarMode,
    owner_a: float | None,
    rotation: tuple[int, int, int],
    phases: int,
    ladder: tuple[int, ...],
) -> Participant:
    """``owner_a``: the owner's limit (None: none); ``phases``: what the connector is switched to
    now (its wired phases without a switch)."""
    max_a = view.max_current_a if owner_a is None else min(view.max_current_a, owner_a)
    wants = 0.0
    if wants_power(view):
        wants = max_a
        snap = view.snapshot
        if snap is not None and snap.cable_a is not None:
            wants = min(wants, snap.cable_a)
        if view.limit is not None and view.limit.source not in (NAME, "configuration"):
            wants = min(wants, view.limit.amps)  # another source's cap: no room kept beyond it
    meter = view.meter
    currents = (*(meter.current_a if meter is not None else ()), 0.0, 0.0, 0.0)
    return Participant(
        key=str(view.id),
        evse=view.id,
        grid_phases=rotation[:phases],
        drawn_a=tuple(max(0.0, a) for a in currents[:phases]),
        drawn_at=meter.at if meter is not None else -math.inf,
        wants_a=wants,
        offered_a=view.snapshot.offered_a if view.snapshot is not None else 0.0,
        power_w=meter.power_w if meter is not None else 0.0,
        mode=mode,
        ladder=ladder,
        max_current_a=max_a,
    )


def _number(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} = {value!r}: expected a number")
    return float(value)


def remote_participant(member: str, connector: int, body: object) -> Participant:
    """A member box's connector from the state it publishes (``connector_state``)."""
    if not isinstance(body, dict):
        raise ValueError("a connector state is a JSON object")
    grid_phases = body.get("grid_phases")
    current = body.get("current_a")
    if not isinstance(grid_phases, list) or not grid_phases or not all(p in (0, 1, 2) for p in grid_phases):
        raise ValueError(f"grid_phases = {grid_phases!r}: expected a list of 0, 1, 2")
    if not isinstance(current, list) or len(current) != 3 or not all(isinstance(a, (int, float)) for a in current):
        raise ValueError(f"current_a = {current!r}: expected 3 numbers")
    mode = body.get("mode")
    if mode not in [m.value for m in SolarMode]:
        raise ValueError(f"mode = {mode!r}")
    n = len(grid_phases)
    return Participant(
        key=f"{member}/{connector}",
        evse=None,
        grid_phases=tuple(grid_phases),
        drawn_a=tuple(max(0.0, float(a)) for a in current[:n]),
        drawn_at=-math.inf,  # read on another box's clock
        wants_a=_number(body, "wants_a"),
        offered_a=_number(body, "offered_a"),
        power_w=_number(body, "power_w"),
        mode=SolarMode(mode),
        ladder=(n,),
        max_current_a=_number(body, "max_current_a"),
    )


@dataclass
class _Remote:
    participant: Participant
    at: float  # monotonic, when it arrived


class Site:
    def __init__(
        self,
        config: Config,
        station: Station,
        board: Board,
        db: Database,
        owner: OwnerLimits,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.grid_config = config.grid
        self.station = station
        self.board = board
        self.clock = clock
        self.voltage_v = config.station.nominal_voltage_v
        self.owner = owner
        self.store = ModeStore(db)
        self.modes = self.store.load({c.id: config.solar.mode for c in config.connectors})
        grid = config.grid
        self.rules = (
            grid.fuse_rules()
            if grid.manages_fuse
            else FuseRules(main_fuse_a=1.0, margin_a=0.0, fallback_a=grid.fallback_current_a)
        )
        self.grid: GridReading | None = None
        self.load_state = LoadState()
        self.decision: LoadDecision | None = None
        self.solar_states: dict[str, SolarState] = {}
        self.solar_targets: dict[str, SolarTarget] = {}
        self.switches = {
            hw.id: SwitchState(hw.phase_switch.selected()) for hw in board.connectors if hw.phase_switch is not None
        }
        self.limits: dict[int, float] = {}
        self.constraints: dict[int, tuple[float, int]] = {}  # below what the session wants (A, phases)
        self.decided_at = -math.inf
        self.remotes: dict[str, _Remote] = {}
        self.allocations: dict[str, Allocation] = {}  # to members
        self._sent: dict[str, tuple[Allocation, float]] = {}
        self.received: dict[int, tuple[Allocation, float]] = {}  # from the manager
        self.on_allocation: Callable[[str, int, Allocation], None] | None = None  # set by the MQTT bridge
        self.on_step: list[Callable[[], None]] = []  # told after every step (the MQTT bridge)
        self._since: dict[str, float] = {}  # when each connector began to want power
        self.started_at = clock()
        self._wake = asyncio.Event()
        self._poller: MeterPoller | None = None

    # ---- wiring ----------------------------------------------------------------------------

    def attach(self) -> None:
        self.station.add_limit_source(NAME, self.limit)
        self.station.subscribe(lambda event: self.poke())
        self.step()

    def poke(self) -> None:
        """Step soon (on the asyncio loop, not inside the caller)."""
        self._wake.set()

    async def run(self) -> None:
        meter = self.board.grid_meter
        if self.grid_config.source == "meter" and meter is not None:
            interval = self.grid_config.interval_s
            self._poller = MeterPoller({0: meter}, [self._on_grid_meter], interval, max(2.0, interval), "grid")
            try:
                await asyncio.gather(self._poller.run(), self._steps())
            finally:
                self._poller.close()
        else:
            await self._steps()

    async def _steps(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            except TimeoutError:
                pass
            self._wake.clear()
            self.step()

    def _on_grid_meter(self, _key: int, reading: MeterReading | None) -> None:
        if reading is not None:
            self.grid = from_meter(reading, self.voltage_v)
            self.poke()

    # ---- inputs ----------------------------------------------------------------------------

    def grid_json(self, body: object) -> GridReading:
        """A grid reading from an outside energy manager (``POST /api/grid``, the MQTT topic)."""
        if self.grid_config.source not in ("mqtt", "api"):
            raise Refused(
                f'grid readings are taken from outside only with [grid] source = "mqtt" or "api" '
                f"(here: {self.grid_config.source})"
            )
        reading = from_json(body, self.clock(), self.voltage_v)
        self.grid = reading
        self.poke()
        return reading

    def member_state(self, member: str, connector: int, body: object) -> None:
        if member not in self.grid_config.members:
            return
        self.remotes[f"{member}/{connector}"] = _Remote(remote_participant(member, connector, body), self.clock())
        self.poke()

    def allocation(self, connector: int, allocation: Allocation) -> None:
        """The manager's limit for one of our connectors (we are a member)."""
        if self.grid_config.source != "manager":
            raise Refused('allocations are taken only with [grid] source = "manager"')
        if connector not in self.modes:
            raise Refused(f"no connector {connector} (connectors: {sorted(self.modes)})")
        self.received[connector] = (allocation, self.clock())
        self.poke()

    # ---- commands --------------------------------------------------------------------------

    async def set_mode(self, connector: int, mode: SolarMode) -> None:
        if connector not in self.modes:
            raise Refused(f"no connector {connector} (connectors: {sorted(self.modes)})")
        if mode is not SolarMode.OFF and self.grid_config.source is None:
            raise Refused("solar modes need the grid reading: configure [grid]")
        await self.store.save(connector, mode)
        self.modes[connector] = mode
        log.info("connector %s: charging mode %s", connector, mode.value)
        self.poke()

    # ---- the step ----------------------------------------------------------------------------

    def participants(self, now: float) -> list[Participant]:
        out = []
        for view in self.station.views():
            phases = self.switches[view.id].phases if view.id in self.switches else view.phases
            ladder: tuple[int, ...] = (view.phases,)
            if view.id in self.switches:  # fewer phases where another source (a CSMS profile) says so
                allowed = self.station.phases_allowed(view.id, besides=NAME)
                ladder = (1, 3) if allowed >= 3 else (1,)
            rotation = self.grid_config.connector_phases(view.id)
            owner_a = self.owner.amps.get(view.id)
            out.append(local_participant(view, self.modes[view.id], owner_a, rotation, phases, ladder))
        for remote in self.remotes.values():
            if now - remote.at <= self.grid_config.max_age_s:
                out.append(remote.participant)
        return out

    def _solar(self, participants: list[Participant], now: float) -> dict[str, SolarTarget]:
        grid = self.grid
        fresh = grid is not None and grid.fresh(now, self.grid_config.max_age_s)
        surplus = 0.0
        if grid is not None and fresh:
            surplus = -grid.total_power_w + sum(p.power_w for p in participants if p.mode is not SolarMode.OFF)
        targets: dict[str, SolarTarget] = {}
        for p in participants:
            if p.mode is SolarMode.OFF or p.wants_a <= 0.0:
                self.solar_states.pop(p.key, None)
                targets[p.key] = SolarTarget(None, p.ladder[-1])
                continue
            if not fresh:
                targets[p.key] = SolarTarget(MIN_CURRENT_A if p.mode is SolarMode.MINPV else 0.0, p.ladder[0])
                continue
            rules = self.config.solar.rules
            state, target = solar.step(
                rules, self.solar_states.get(p.key, SolarState()), p.mode, surplus, p.ladder, p.wants_a, now
            )
            self.solar_states[p.key] = state
            targets[p.key] = target
            surplus = solar.surplus_after(surplus, target, self.voltage_v)
        return targets

    def _switch(self, p: Participant, wanted: int, now: float) -> bool:
        """Run the phase switch of a local connector; True while its offer must be held at 0."""
        assert p.evse is not None
        view = self.station.view(p.evse)
        snap = view.snapshot
        # The contactor commanded open and no current on the meter; the relay's driver checks the
        # contactor itself as well (HAL contract), so a welded one still stops the switch.
        idle = snap is not None and not snap.contactor and all(a < IDLE_A for a in p.drawn_a)
        before = self.switches[p.evse]
        state, out = phase_switch.step(before, wanted, idle, self.config.solar.phase_switch_pause_s, now)
        if out.command is not None:
            switch = self.board.connector(p.evse).phase_switch
            assert switch is not None
            try:
                switch.select(out.command)
                log.info("connector %s: switched to %d phase(s)", p.evse, out.command)
            except HardwareError as exc:
                log.warning("connector %s: phase switch refused: %s", p.evse, exc)
                state = before
        self.switches[p.evse] = state
        return out.hold_off

    def step(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        participants = self.participants(now)
        targets = self._solar(participants, now)
        self.solar_targets = targets
        held_off: set[str] = set()
        demands: list[ConnectorDemand] = []
        for p in participants:
            wants = p.wants_a
            target = targets[p.key]
            if target.amps is not None:
                wants = min(wants, target.amps) if target.amps >= MIN_CURRENT_A else 0.0
            # With a session the switch follows the solar target (kept while solar pauses); without, all phases.
            if p.evse in self.switches and self._switch(p, target.phases if p.wants_a > 0 else p.ladder[-1], now):
                held_off.add(p.key)
                wants = 0.0
            since = self._since.setdefault(p.key, now) if wants > 0 else self._since.pop(p.key, now)
            demands.append(ConnectorDemand(p.key, p.grid_phases, p.drawn_a, wants, p.offered_a, since, p.drawn_at))
        limits = self._limits(demands, now)
        for key in held_off:
            limits[key] = 0.0
        self.decided_at = now
        self._apply(participants, limits, now)
        for listener in self.on_step:
            listener()

    def _limits(self, demands: list[ConnectorDemand], now: float) -> dict[str, float]:
        source = self.grid_config.source
        if source is None:
            return {}
        if source == "manager":
            fresh = {str(c): a.amps for c, (a, at) in self.received.items() if now - at <= a.valid_s}
            # A live manager allocates every connector it knows of (0 for an idle one); one it has
            # not allocated yet gets nothing until it does. Silent for max_age_s: the fallback.
            if fresh or now - self.started_at <= self.grid_config.max_age_s:
                return {d.key: min(fresh.get(d.key, 0.0), d.wants_a) if d.wants_a >= MIN_CURRENT_A else 0.0
                        for d in demands}  # fmt: skip
            grid = None
        else:
            grid = self.grid
        self.load_state, self.decision = load.step(self.rules, self.load_state, grid, demands, now)
        return dict(self.decision.limits)

    def _apply(self, participants: list[Participant], limits: dict[str, float], now: float) -> None:
        for p in participants:
            amps = limits.get(p.key)  # None: no opinion (no load management)
            if p.evse is not None:
                changed = self.limits.get(p.evse) != amps
                if amps is None:
                    self.limits.pop(p.evse, None)
                else:
                    self.limits[p.evse] = amps
                if amps is not None and p.wants_a > 0 and amps < p.wants_a - CONSTRAINED_BY_A:
                    self.constraints[p.evse] = (amps, self._phases(p.evse))
                else:
                    self.constraints.pop(p.evse, None)
                if changed:
                    self.station.refresh_limit(p.evse)
                continue
            if amps is None:
                continue
            allocation = Allocation(amps, len(p.grid_phases), self.grid_config.max_age_s)
            self.allocations[p.key] = allocation
            sent = self._sent.get(p.key)
            if sent is None or sent[0] != allocation or now - sent[1] >= self.grid_config.max_age_s / 3:
                self._sent[p.key] = (allocation, now)
                if self.on_allocation is not None:
                    member, _, connector = p.key.rpartition("/")
                    self.on_allocation(member, int(connector), allocation)

    # ---- the limit source --------------------------------------------------------------------

    def limit(self, evse_id: int, now: float) -> Limit | None:
        amps = self.limits.get(evse_id)
        if amps is None:
            return None
        return Limit(amps, self._phases(evse_id), self.decided_at + self.grid_config.max_age_s)

    def _phases(self, evse_id: int) -> int:
        return self.switches[evse_id].phases if evse_id in self.switches else self.config.connector(evse_id).phases

    def constraint(self, evse_id: int) -> tuple[float, int] | None:
        """The limit (A per phase, phases) while it is below what the connector's session wants:
        what the OCPP 2.0.1 front end reports as ChargingStationExternalConstraints."""
        return self.constraints.get(evse_id)

    # ---- what the outside sees -------------------------------------------------------------

    def connector_json(self, view: EvseView) -> dict[str, Any]:
        """One connector's state (the API's ``energy.connectors[]`` and the MQTT state topic)."""
        mode = self.modes[view.id]
        meter, tx, snap = view.meter, view.transaction, view.snapshot
        status = "Faulted" if view.faults else "Unavailable" if not view.operative else None
        status = status or (view.charging_state.value if view.charging_state is not None else "Unknown")
        phases = self.switches[view.id].phases if view.id in self.switches else view.phases
        rotation = self.grid_config.connector_phases(view.id)
        currents = [round(a, 2) for a in (*(meter.current_a if meter else ()), 0.0, 0.0, 0.0)[:3]]
        p = local_participant(view, mode, self.owner.amps.get(view.id), rotation, phases, (phases,))
        target = self.solar_targets.get(str(view.id))
        switch = self.switches.get(view.id)
        return {
            "connector": view.id,
            "status": status,
            "ev_connected": view.ev_connected,
            "mode": mode.value,
            "max_current_a": p.max_current_a,
            "limit_a": round(view.limit.amps, 2) if view.limit is not None else None,
            "limit_source": view.limit.source if view.limit is not None else None,
            "energy_limit_a": self.limits.get(view.id),
            "offered_a": round(snap.offered_a, 2) if snap is not None else 0.0,
            "current_a": currents,
            "power_w": round(meter.power_w, 1) if meter is not None else 0.0,
            "energy_wh": round(meter.energy_import_wh, 1) if meter is not None else None,
            "session_energy_wh": round(view.energy_wh, 1) if tx is not None else 0.0,
            "session": None
            if tx is None
            else {
                "id": tx.id,
                "started_at": tx.started_at.isoformat(),
                "energy_wh": round(view.energy_wh, 1),
            },
            "paused": view.paused,
            "phases": phases,
            "grid_phases": list(rotation[:phases]),
            "wants_a": p.wants_a,
            "solar": None
            if target is None or target.amps is None
            else {"target_a": target.amps, "phases": target.phases},
            "phase_switch": None
            if switch is None
            else {"phases": switch.phases, "switching": switch.target is not None},
        }

    def status_json(self) -> dict[str, Any]:
        now = self.clock()
        grid, decision = self.grid, self.decision
        fuse = None
        if self.grid_config.manages_fuse:
            fuse = {
                "main_fuse_a": self.rules.main_fuse_a,
                "margin_a": self.rules.margin_a,
                "trip_curve": self.rules.curve.value,
                "stale": decision.stale if decision else True,
                "factor": round(decision.fuse_factor, 3) if decision and decision.fuse_factor is not None else None,
                "room_a": [round(a, 2) for a in decision.room_a] if decision else None,
                "urgent": decision.urgent if decision else False,
            }
        return {
            "source": self.grid_config.source,
            "grid": grid.as_json(now) if grid is not None else None,
            "fuse": fuse,
            "connectors": [self.connector_json(v) for v in self.station.views()],
            "members": {
                key: {
                    "age_s": round(now - r.at, 2),
                    "allocated_a": self.allocations[key].amps if key in self.allocations else None,
                }
                for key, r in sorted(self.remotes.items())
            },
            "manager": {
                str(c): {"amps": a.amps, "age_s": round(now - at, 2), "fresh": now - at <= a.valid_s}
                for c, (a, at) in sorted(self.received.items())
            }
            if self.grid_config.source == "manager"
            else None,
        }
