"""The world around a simulated board: EVs, wiring, contactors, meters, faults.

Rules kept here:
- One ``threading.Lock`` guards everything; every public method takes it, reads the
  injected clock inside it (so time never runs backwards between threads) and first
  advances the connector's physics to that instant. There is no thread of its own:
  integration is lazy and piecewise exact (see ``sim.ev``).
- Device-facing methods (``drive_*``, ``sense_*``, ``read_meter``...) are cheap and never
  raise except as the HAL allows (``MeterError``). Bench-facing methods (the
  ``hal.interfaces.Simulation`` protocol) raise ``ValueError`` with the allowed values for
  any bad argument and change nothing when they do.
- The physics, not the controller, decides what flows: contacts are closed when
  commanded and not stuck open, or when welded (a weld holds them closed whatever the
  command). A stuck lock stays where it was, whatever the command. A tripped RCD only
  reports: it models the wallbox's RCM, so the controller
  must open the contactor itself - that is what the safety benchmarks time.
- Every change of the contactor command, the pilot command, the EV's CP state and
  every fault edge is logged with its clock time in bounded deques (gpiozero MockPin
  style); repeats of the same command are not changes. A change of the EV's CP state also
  calls the connector pilot's watcher (``hal.interfaces.Pilot.watch``), under the lock.
- The energy register starts at ``1000 Wh * connector id`` (a used meter) and only grows.
- The house (sim/house.py) shares the grid connection with the connectors: the grid meter
  reads the house's loads minus its solar production plus every EV's current, per phase,
  signed (import positive); a connector with one phase, or switched to one, draws on L1.
- The box's display (``[board.display]`` on the sim board) holds the lines last shown on it;
  every change is logged with its clock time like the outputs above.
- A phase switch moves only with the contacts open: asked under load it raises
  ``HardwareError`` and changes nothing, as the HAL contract says a driver that can see the
  contactor must.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hal.errors import HardwareError, MeterError
from hal.types import CpState, MeterReading, PilotCommand, PilotMode, PilotReading
from sim.ev import Ev, EvParams, Supply, offered_current_a
from sim.house import CLOUDY, House

log = logging.getLogger(__name__)

FAULT_KINDS = (
    "rcd",
    "diode",
    "contactor_weld",
    "contactor_stuck_open",
    "meter_offline",
    "overtemp",
    "overcurrent",
    "lock_stuck",
)
# What the bench can make a plugged EV do; misbehaviours add up until "behave".
EV_ACTIONS: dict[str, Callable[[Ev], None]] = {
    "pause": lambda ev: ev.pause(True),
    "resume": lambda ev: ev.pause(False),
    "stay_in_c": lambda ev: ev.misbehave(stays_in_c=True, overdraw=ev.overdraw),
    "overdraw": lambda ev: ev.misbehave(stays_in_c=ev.stays_in_c, overdraw=True),
    "behave": lambda ev: ev.misbehave(stays_in_c=False, overdraw=False),
}

# Positive CP level the EVSE senses for each EV-side state (no noise: tests compare exactly).
CP_LEVEL_V = {CpState.A: 12.0, CpState.B: 9.0, CpState.C: 6.0, CpState.D: 3.0, CpState.F: -12.0}
NEGATIVE_LEVEL_V = -12.0
NORMAL_TEMPERATURE_C = 35.0
OVERTEMP_C = 95.0
ENERGY_START_WH_PER_CONNECTOR = 1000.0
MAX_ID_TAG_LENGTH = 36  # the longest idToken OCPP 2.0.1 carries
LOG_SIZE = 4096
TOKEN_QUEUE_SIZE = 64


@dataclass
class _Connector:
    id: int
    phases: int  # wired
    energy_wh: float
    selected_phases: int = 3  # what a phase switch connects (3 without one)
    pilot: PilotCommand = field(default_factory=PilotCommand.x1)
    contactor_commanded: bool = False
    locked: bool = False
    ev: Ev | None = None
    faults: set[str] = field(default_factory=set)
    contactor_log: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    pilot_log: deque[tuple[float, PilotCommand]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    cp_log: deque[tuple[float, CpState]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    fault_log: deque[tuple[float, str, bool]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    phase_log: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    cp_watcher: Callable[[], None] | None = None

    def cp_changed(self, t: float, state: CpState) -> None:
        self.cp_log.append((t, state))
        if self.cp_watcher is not None:
            self.cp_watcher()

    @property
    def contacts_closed(self) -> bool:
        if "contactor_weld" in self.faults:
            return True
        return self.contactor_commanded and "contactor_stuck_open" not in self.faults

    @property
    def ev_cp_state(self) -> CpState:
        return CpState.A if self.ev is None else self.ev.cp_state


class World:
    """Implements ``hal.interfaces.Simulation`` and the physics behind the ``sim.board`` devices."""

    def __init__(
        self,
        wiring: Mapping[int, int],
        *,
        voltage_v: float = 230.0,
        frequency_hz: float = 50.0,
        ev_reaction_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``wiring`` maps each connector id to the number of phases wired to it."""
        self.voltage_v = voltage_v
        self.frequency_hz = frequency_hz
        self.ev_reaction_s = ev_reaction_s
        self._clock = clock
        self._lock = threading.Lock()
        self._now = clock()
        self._connectors = {
            cid: _Connector(cid, phases, ENERGY_START_WH_PER_CONNECTOR * cid) for cid, phases in wiring.items()
        }
        self._tokens: deque[str] = deque(maxlen=TOKEN_QUEUE_SIZE)
        self._swiped = threading.Condition(self._lock)
        self._house = House(voltage_v=voltage_v)
        self._grid_online = True
        self._display: tuple[str, ...] = ()
        self._display_log: deque[tuple[float, tuple[str, ...]]] = deque(maxlen=LOG_SIZE)

    # -- time ------------------------------------------------------------------
    def _at(self, cid: int) -> _Connector:
        """Under the lock: the connector, advanced to the current clock."""
        self._now = max(self._now, self._clock())
        c = self._connectors[cid]
        if c.ev is not None:
            c.energy_wh += c.ev.advance(self._now, self._supply(c))
        return c

    def _supply(self, c: _Connector) -> Supply:
        phases = min(c.phases, c.selected_phases)
        return Supply(c.contacts_closed, phases, self.voltage_v, "overcurrent" in c.faults)

    def _checked(self, cid: object) -> _Connector:
        """Under the lock, for bench calls: a known connector or a ValueError."""
        if isinstance(cid, bool) or not isinstance(cid, int) or cid not in self._connectors:
            raise ValueError(f"connector = {cid!r}: expected one of {sorted(self._connectors)}")
        return self._at(cid)

    # -- device side -------------------------------------------------------------
    def drive_pilot(self, cid: int, cmd: PilotCommand) -> None:
        with self._lock:
            c = self._at(cid)
            if cmd == c.pilot:
                return
            c.pilot = cmd
            c.pilot_log.append((self._now, cmd))
            if c.ev is not None:
                c.ev.see_pilot(cmd)

    def sense_pilot(self, cid: int) -> PilotReading:
        with self._lock:
            c = self._at(cid)
            if c.pilot.mode is PilotMode.F:
                return PilotReading(CpState.F, CP_LEVEL_V[CpState.F], None, self._now)
            state = c.ev_cp_state
            positive = CP_LEVEL_V[state]
            negative: float | None = None
            if c.pilot.mode is PilotMode.X2:
                # Without an EV nothing loads the generator; with one, a missing diode
                # lets the negative half follow the positive level.
                negative = positive if c.ev is not None and "diode" in c.faults else NEGATIVE_LEVEL_V
            return PilotReading(state, positive, negative, self._now)

    def watch_pilot(self, cid: int, changed: Callable[[], None]) -> None:
        with self._lock:
            self._connectors[cid].cp_watcher = changed

    def drive_contactor(self, cid: int, closed: bool) -> None:
        with self._lock:
            c = self._at(cid)
            if closed == c.contactor_commanded:
                return
            c.contactor_commanded = closed
            c.contactor_log.append((self._now, closed))

    def contactor_feedback(self, cid: int) -> bool:
        with self._lock:
            return self._at(cid).contacts_closed

    def read_meter(self, cid: int) -> MeterReading:
        with self._lock:
            c = self._at(cid)
            if "meter_offline" in c.faults:
                raise MeterError(f"simulated meter SIM-{cid} does not answer (fault meter_offline)")
            voltages, currents, power = self._electrics(c)
            return MeterReading(
                voltage_v=voltages,
                current_a=currents,
                power_w=power,
                energy_import_wh=c.energy_wh,
                frequency_hz=self.frequency_hz,
                at=self._now,
                serial_number=f"SIM-{cid}",
            )

    def _electrics(self, c: _Connector) -> tuple[tuple[float, ...], tuple[float, ...], float]:
        """Voltage and current per phase (L1, L2, L3) and total power, as the meter sees them."""
        voltages = tuple(self.voltage_v if i < c.phases else 0.0 for i in range(3))
        if c.ev is None:
            return voltages, (0.0, 0.0, 0.0), 0.0
        supply = self._supply(c)
        amps, used = c.ev.current_a(supply), c.ev.phases_used(supply)
        currents = tuple(amps if i < used else 0.0 for i in range(3))
        return voltages, currents, sum(v * i for v, i in zip(voltages, currents, strict=True))

    def select_phases(self, cid: int, phases: int) -> None:
        with self._lock:
            c = self._at(cid)
            if phases not in (1, 3):
                raise HardwareError(f"connector {cid}: a phase switch selects 1 or 3 phases, not {phases!r}")
            if c.contacts_closed:
                raise HardwareError(f"connector {cid}: phase switch refused under load (contactor closed)")
            if phases != c.selected_phases:
                c.selected_phases = phases
                c.phase_log.append((self._now, phases))

    def read_grid(self) -> MeterReading:
        """The meter at the house connection: house loads, solar and every EV, per phase, signed."""
        with self._lock:
            self._now = max(self._now, self._clock())
            if not self._grid_online:
                raise MeterError("simulated grid meter SIM-GRID does not answer")
            amps = list(self._house.current_a(self._now))
            for cid in self._connectors:
                _, currents, _ = self._electrics(self._at(cid))
                for phase, a in enumerate(currents):
                    amps[phase] += a
            return MeterReading(
                voltage_v=(self.voltage_v,) * 3,
                current_a=tuple(amps),
                power_w=sum(amps) * self.voltage_v,
                energy_import_wh=0.0,  # not integrated: load management reads currents only
                frequency_hz=self.frequency_hz,
                at=self._now,
                serial_number="SIM-GRID",
                power_phase_w=tuple(a * self.voltage_v for a in amps),
            )

    def rcd_tripped(self, cid: int) -> bool:
        with self._lock:
            return "rcd" in self._at(cid).faults

    def drive_lock(self, cid: int, locked: bool) -> None:
        with self._lock:
            c = self._at(cid)
            if "lock_stuck" not in c.faults:  # a stuck lock stays where it is
                c.locked = locked

    def lock_feedback(self, cid: int) -> bool:
        with self._lock:
            return self._at(cid).locked

    def cable_plugged(self, cid: int) -> bool:
        with self._lock:
            return self._at(cid).ev is not None

    def temperature_c(self, cid: int) -> float:
        with self._lock:
            return OVERTEMP_C if "overtemp" in self._at(cid).faults else NORMAL_TEMPERATURE_C

    def next_token(self, wait_s: float = 0.0) -> str | None:
        """The oldest id tag swiped and not handed out yet; waits up to ``wait_s`` for one."""
        with self._swiped:
            self._swiped.wait_for(lambda: self._tokens, wait_s)
            return self._tokens.popleft() if self._tokens else None

    # -- bench side (hal.interfaces.Simulation) ------------------------------------
    def plug_in(
        self,
        connector: int,
        max_current_a: float,
        phases: int,
        battery_kwh: float,
        soc: float,
        reaction_s: float | None = None,
        needs_ventilation: bool = False,
    ) -> None:
        with self._lock:
            c = self._checked(connector)
            if c.ev is not None:
                raise ValueError(f"connector {connector}: an EV is already plugged in (unplug it first)")
            params = EvParams(
                battery_kwh=battery_kwh,
                max_current_a=max_current_a,
                phases=phases,
                reaction_s=self.ev_reaction_s if reaction_s is None else reaction_s,
                needs_ventilation=needs_ventilation,
            )
            c.ev = Ev(params, soc, self._now, on_cp_change=c.cp_changed)
            c.cp_changed(self._now, c.ev.cp_state)
            c.ev.see_pilot(c.pilot)
            log.info("connector %d: EV plugged in (%s, %.0f %% charged)", connector, params, soc * 100)

    def unplug(self, connector: int) -> None:
        with self._lock:
            c = self._checked(connector)
            if c.ev is None:
                raise ValueError(f"connector {connector}: no EV is plugged in")
            c.ev = None
            c.cp_changed(self._now, CpState.A)
            log.info("connector %d: EV unplugged", connector)

    def swipe(self, id_tag: str) -> None:
        if not isinstance(id_tag, str) or not 0 < len(id_tag) <= MAX_ID_TAG_LENGTH:
            raise ValueError(f"id_tag = {id_tag!r}: expected a string of 1..{MAX_ID_TAG_LENGTH} characters")
        with self._lock:
            self._tokens.append(id_tag)
            self._swiped.notify_all()

    def ev_action(self, connector: int, action: str) -> None:
        with self._lock:
            c = self._checked(connector)
            if action not in EV_ACTIONS:
                raise ValueError(f"action = {action!r}: expected one of {', '.join(EV_ACTIONS)}")
            if c.ev is None:
                raise ValueError(f"connector {connector}: no EV is plugged in")
            EV_ACTIONS[action](c.ev)

    def set_fault(self, connector: int, kind: str, active: bool) -> None:
        with self._lock:
            c = self._checked(connector)
            if kind not in FAULT_KINDS:
                raise ValueError(f"fault = {kind!r}: expected one of {', '.join(FAULT_KINDS)}")
            if not isinstance(active, bool):
                raise ValueError(f"active = {active!r}: expected true or false")
            if (kind in c.faults) == active:
                return
            if active:
                c.faults.add(kind)
            else:
                c.faults.discard(kind)
            c.fault_log.append((self._now, kind, active))
            log.info("connector %d: fault %s %s", connector, kind, "set" if active else "cleared")

    def set_house(
        self, load_a: object = None, solar: dict[str, object] | None = None, grid_meter: object = None
    ) -> None:
        """Any of: the house's loads per phase, a new solar day from now (``peak_w``, ``day_s``,
        ``cloudy``), the grid meter answering or not. All or nothing: a bad value changes nothing."""
        if grid_meter is not None and not isinstance(grid_meter, bool):
            raise ValueError(f"grid_meter = {grid_meter!r}: expected true or false")
        with self._lock:
            self._now = max(self._now, self._clock())
            house = self._house if load_a is None else self._house.with_load(load_a)
            if solar is not None:
                cloudy = solar.get("cloudy", False)
                if not isinstance(cloudy, bool):
                    raise ValueError(f"cloudy = {cloudy!r}: expected true or false")
                peak_w, day_s = solar.get("peak_w", 8000.0), solar.get("day_s", 600.0)
                house = house.with_day(peak_w, day_s, self._now, CLOUDY if cloudy else ())
            self._house = house
            if grid_meter is not None:
                self._grid_online = grid_meter
        log.info("house: load %s A, solar %s, grid meter %s", load_a, solar, grid_meter)

    def house_snapshot(self) -> dict[str, object]:
        with self._lock:
            self._now = max(self._now, self._clock())
            return {**self._house.snapshot(self._now), "grid_meter_online": self._grid_online}

    def snapshot(self, connector: int) -> dict[str, object]:
        with self._lock:
            c = self._checked(connector)
            _, currents, power = self._electrics(c)
            return {
                "connector": c.id,
                "at": self._now,
                "plugged": c.ev is not None,
                "cp_state": CpState.F.value if c.pilot.mode is PilotMode.F else c.ev_cp_state.value,
                "pilot": {"mode": c.pilot.mode.value, "duty_percent": c.pilot.duty_percent},
                "offered_a": round(offered_current_a(c.pilot), 3),
                "contactor": {"commanded": c.contactor_commanded, "closed": c.contacts_closed},
                "locked": c.locked,
                "phases": min(c.phases, c.selected_phases),
                "faults": sorted(c.faults),
                "current_a": list(currents),
                "power_w": power,
                "energy_import_wh": c.energy_wh,
                "ev": None if c.ev is None else c.ev.snapshot(self._supply(c)),
            }

    def show_text(self, lines: tuple[str, ...]) -> None:
        """The display's device side: what it shows from now on."""
        with self._lock:
            self._now = max(self._now, self._clock())
            if lines != self._display:
                self._display = lines
                self._display_log.append((self._now, lines))

    def display_text(self) -> list[str]:
        """What the box's display shows now (no display, or nothing shown yet: [])."""
        with self._lock:
            return list(self._display)

    # -- logs for benchmarks and tests --------------------------------------------
    def display_log(self) -> list[tuple[float, list[str]]]:
        """(clock time, lines) at every change of what the display shows."""
        with self._lock:
            return [(at, list(lines)) for at, lines in self._display_log]

    def contactor_log(self, connector: int) -> list[tuple[float, bool]]:
        """(clock time, commanded closed) for every change of the contactor command."""
        with self._lock:
            return list(self._checked(connector).contactor_log)

    def pilot_log(self, connector: int) -> list[tuple[float, PilotCommand]]:
        with self._lock:
            return list(self._checked(connector).pilot_log)

    def cp_log(self, connector: int) -> list[tuple[float, CpState]]:
        """(clock time, EV-side state A/B/C/D) at every plug, unplug and S2 edge."""
        with self._lock:
            return list(self._checked(connector).cp_log)

    def fault_log(self, connector: int) -> list[tuple[float, str, bool]]:
        with self._lock:
            return list(self._checked(connector).fault_log)

    def phase_log(self, connector: int) -> list[tuple[float, int]]:
        """(clock time, phases) at every move of the phase switch."""
        with self._lock:
            return list(self._checked(connector).phase_log)
