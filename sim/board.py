"""The simulated board: HAL devices over a ``sim.world.World``, built from config.

Rules kept here:
- A real HAL backend, not a test double (gpiozero's MockFactory): the daemon, the bench
  and the benchmarks run on it unchanged. Each device is a thin edge over one world
  method, so every call is thread-safe and costs a lock and a lazy physics step.
- Keys read (all optional, bounded): ``[board]`` ``voltage_v``, ``frequency_hz``,
  ``ev_reaction_s``; per connector ``[connector.sim]`` ``cable_ampacity_a`` (absent = a
  tethered cable, no CableSense), ``lock``, ``rcd``, ``temperature``, ``phase_switch``
  (1-phase / 3-phase switching). Unknown keys are left for ``ConfigSection.check_unused``.
- With a ``[grid.meter]`` table the board has a grid meter reading the simulated house
  (sim/house.py) plus every EV; the table takes no keys.
- With a ``[board.display]`` table (``columns`` 20, ``rows`` 4) the board has a character
  display; the world keeps what it shows (``display_text``, ``display_log``) for the bench's
  live view, the API and tests.
- ``close()`` leaves outputs safe: pilot at X1, contactor open, lock released.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from hal.board import Board, ConnectorHardware, ConnectorSlot
from hal.config import ConfigSection
from hal.types import DisplaySize, MeterReading, PilotCommand, PilotReading, SelfTestResult
from sim.world import World

# PP resistor ratings a simulated socket's cable can have (IEC 61851-1 Table B.2;
# 70 A is the 100 Ohm rating of a single-phase cable).
CABLE_RATINGS_A = (13.0, 20.0, 32.0, 63.0, 70.0)


class SimPilot:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector

    def command(self, cmd: PilotCommand) -> None:
        self._world.drive_pilot(self._id, cmd)

    def read(self) -> PilotReading:
        return self._world.sense_pilot(self._id)

    def watch(self, changed: Callable[[], None]) -> bool:
        self._world.watch_pilot(self._id, changed)
        return True

    def close(self) -> None:
        self._world.drive_pilot(self._id, PilotCommand.x1())


class SimContactor:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector

    def set_closed(self, closed: bool) -> None:
        self._world.drive_contactor(self._id, closed)

    def feedback(self) -> bool | None:
        return self._world.contactor_feedback(self._id)

    def close(self) -> None:
        self._world.drive_contactor(self._id, False)


class SimMeter:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector

    def read(self) -> MeterReading:
        return self._world.read_meter(self._id)

    def close(self) -> None:
        """Nothing to release: the meter only reports."""


class SimGridMeter:
    """The meter at the house connection (load management's ``[grid] source = "meter"``)."""

    def __init__(self, world: World) -> None:
        self._world = world

    def read(self) -> MeterReading:
        return self._world.read_grid()

    def close(self) -> None:
        """Nothing to release: the meter only reports."""


class SimPhaseSwitch:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector
        self._selected = 3

    def select(self, phases: int) -> None:
        self._world.select_phases(self._id, phases)  # refuses under load
        self._selected = phases

    def selected(self) -> int:
        return self._selected

    def close(self) -> None:
        """Left as it is: with the contactor open either position is safe."""


class SimRcd:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector

    def tripped(self) -> bool:
        return self._world.rcd_tripped(self._id)

    def self_test(self) -> SelfTestResult:
        if self._world.rcd_tripped(self._id):
            return SelfTestResult(False, "RCD is tripped and does not reset")
        return SelfTestResult(True, "tripped on the test current and reset")

    def close(self) -> None:
        """Nothing to release: the RCD only reports."""


class SimLock:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector

    def set_locked(self, locked: bool) -> None:
        self._world.drive_lock(self._id, locked)

    def locked(self) -> bool | None:
        return self._world.lock_feedback(self._id)

    def close(self) -> None:
        self._world.drive_lock(self._id, False)


class SimCable:
    """A socket's PP: the cable that comes with each plugged EV has ``rating_a``."""

    def __init__(self, world: World, connector: int, rating_a: float) -> None:
        self._world, self._id, self._rating_a = world, connector, rating_a

    def ampacity_a(self) -> float | None:
        return self._rating_a if self._world.cable_plugged(self._id) else None

    def close(self) -> None:
        """Nothing to release: PP sensing only reports."""


class SimTemperature:
    def __init__(self, world: World, connector: int) -> None:
        self._world, self._id = world, connector

    def celsius(self) -> float:
        return self._world.temperature_c(self._id)

    def close(self) -> None:
        """Nothing to release: the sensor only reports."""


class SimDisplay:
    """A character display: what it is shown lands in the world, cut to its size as a real one would."""

    def __init__(self, world: World, size: DisplaySize) -> None:
        self._world, self._size = world, size

    def size(self) -> DisplaySize:
        return self._size

    def show(self, lines: Sequence[str]) -> None:
        rows = [line[: self._size.columns] for line in lines[: self._size.rows]]
        self._world.show_text(tuple(rows + [""] * (self._size.rows - len(rows))))

    def close(self) -> None:
        self._world.show_text(())


class SimTokenReader:
    """Hands out the id tags ``World.swipe`` queued, oldest first. Like a serial RFID reader
    (which sends a card's id when one is held up), ``poll`` waits up to ``read_timeout_s`` for one."""

    def __init__(self, world: World, read_timeout_s: float = 1.0) -> None:
        self._world = world
        self.read_timeout_s = read_timeout_s

    def poll(self) -> str | None:
        return self._world.next_token(self.read_timeout_s)

    def close(self) -> None:
        """Nothing to release."""


def _connector_hardware(world: World, slot: ConnectorSlot) -> ConnectorHardware:
    sim = slot.section.section("sim")
    rating = sim.get_float("cable_ampacity_a", None)
    if rating is not None and rating not in CABLE_RATINGS_A:
        raise sim.error("cable_ampacity_a", rating, "expected one of " + ", ".join(f"{r:g}" for r in CABLE_RATINGS_A))
    hw = ConnectorHardware(
        id=slot.id,
        pilot=SimPilot(world, slot.id),
        contactor=SimContactor(world, slot.id),
        meter=SimMeter(world, slot.id),
    )
    if rating is not None:
        hw.cable = SimCable(world, slot.id, rating)
    if sim.get_bool("lock", False):
        hw.lock = SimLock(world, slot.id)
    if sim.get_bool("rcd", True):
        hw.rcd = SimRcd(world, slot.id)
    if sim.get_bool("temperature", True):
        hw.temperature = SimTemperature(world, slot.id)
    if sim.get_bool("phase_switch", False):
        if slot.phases != 3:
            raise sim.error("phase_switch", True, "a phase switch needs a connector wired with phases = 3")
        hw.phase_switch = SimPhaseSwitch(world, slot.id)
    return hw


def build_board(
    section: ConfigSection,
    slots: Sequence[ConnectorSlot],
    clock: Callable[[], float] = time.monotonic,
    *,
    grid_meter: ConfigSection | None = None,
    dry_run: bool = False,
) -> Board:
    """The ``sim`` board type: one world, its devices, and the world as ``Board.simulation``.

    ``dry_run`` changes nothing: a simulated board opens no hardware anyway."""
    del dry_run
    display = None
    if section.has_section("display"):
        table = section.section("display")
        columns = table.get_int("columns", 20, minval=8, maxval=80)
        display = DisplaySize(columns, table.get_int("rows", 4, minval=1, maxval=8))
    return board_on(
        World(
            {slot.id: slot.phases for slot in slots},
            voltage_v=section.get_float("voltage_v", 230.0, minval=100.0, maxval=300.0),
            frequency_hz=section.get_float("frequency_hz", 50.0, minval=45.0, maxval=65.0),
            ev_reaction_s=section.get_float("ev_reaction_s", 1.0, minval=0.0, maxval=10.0),
            clock=clock,
        ),
        slots,
        grid_meter=grid_meter is not None,
        display=display,
    )


def board_on(world: World, slots: Sequence[ConnectorSlot], *, grid_meter: bool = False,
             display: DisplaySize | None = None) -> Board:  # fmt: skip
    """The sim board's devices on ``world``: a new board on an existing world is the controller
    restarting while the EVs, meters and faults around it stay as they are. ``grid_meter``: the
    house connection's meter too; ``display``: a character display of that size."""
    return Board(
        kind="sim",
        connectors=[_connector_hardware(world, slot) for slot in slots],
        token_reader=SimTokenReader(world),
        simulation=world,
        grid_meter=SimGridMeter(world) if grid_meter else None,
        display=SimDisplay(world, display) if display is not None else None,
    )
