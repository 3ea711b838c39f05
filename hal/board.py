"""A Board bundles the devices of a wallbox; boards are built from config by name.

Rules kept here:
- ``[board] type`` picks a builder from ``BOARD_TYPES`` (gpiozero's pin factories
  chosen by name). Builders are imported lazily so a bench install never imports GPIO
  libraries, and a board-only dependency that is missing is a clear config error.
- A builder reads only its own keys: the ``[board]`` table and the hardware
  sub-tables of each ``[[connector]]`` (``meter``, ``pilot``...). The controller reads
  the common connector keys (id, phases, max_current_a) before the builder runs.
- ``Board.close()`` closes every device and never raises: it is the last thing a
  shutting-down daemon does, and it must leave every output safe.
- ``dry_run`` (plain ``evsed check``): the builder reads and validates every key as for a
  real start but opens no device, starts no thread and writes nothing (drivers.dry_run);
  such a board is only closed.
- ``grid_meter``: the ``[grid.meter]`` table when the house connection has a meter on this
  board (load management); the builder builds it like a connector's meter, on the same buses.
- ``display``: the ``[board.display]`` table when the box has a character display for the
  driver (one per board; the builder reads it). Boards without one work as before.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hal.config import ConfigError, ConfigSection

TYPE_CHECKING = False  # typing: controller/safety/child.py says why
if TYPE_CHECKING:
    from typing import Protocol

    from hal.interfaces import (
        CableSense,
        ConnectorLock,
        Contactor,
        Device,
        Display,
        Meter,
        PhaseSwitch,
        Pilot,
        ResidualCurrentMonitor,
        Simulation,
        StatusIndicator,
        TemperatureSensor,
        TokenReader,
    )

    class BoardBuilder(Protocol):
        def __call__(
            self,
            section: ConfigSection,
            slots: Sequence[ConnectorSlot],
            *,
            grid_meter: ConfigSection | None = None,
            dry_run: bool = False,
        ) -> Board: ...


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectorSlot:
    """What a board builder knows about one connector before it builds its devices."""

    id: int
    phases: int
    max_current_a: float
    section: ConfigSection


@dataclass
class ConnectorHardware:
    id: int
    pilot: Pilot
    contactor: Contactor
    meter: Meter
    rcd: ResidualCurrentMonitor | None = None
    lock: ConnectorLock | None = None
    cable: CableSense | None = None  # None: tethered cable, ampacity from config
    temperature: TemperatureSensor | None = None
    indicator: StatusIndicator | None = None
    phase_switch: PhaseSwitch | None = None  # None: the wired phases, always

    def devices(self) -> list[Device]:
        return [
            d
            for d in (
                self.pilot,
                self.contactor,
                self.meter,
                self.rcd,
                self.lock,
                self.cable,
                self.temperature,
                self.indicator,
                self.phase_switch,
            )
            if d is not None
        ]


@dataclass
class Board:
    kind: str
    connectors: list[ConnectorHardware]
    token_reader: TokenReader | None = None
    simulation: Simulation | None = None  # set only by simulated boards
    grid_meter: Meter | None = None  # the house connection's meter ([grid.meter])
    display: Display | None = None  # [board.display]: what the driver reads
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def connector(self, connector_id: int) -> ConnectorHardware:
        for c in self.connectors:
            if c.id == connector_id:
                return c
        raise KeyError(connector_id)

    def on_close(self, fn: Callable[[], None]) -> None:
        """Register shared resources (a Modbus bus, a GPIO chip) to close last."""
        self._closers.append(fn)

    def close(self) -> None:
        closers: list[Callable[[], None]] = []
        for c in self.connectors:
            # Contactor first: whatever else fails, the power is off.
            closers.append(c.contactor.close)
            closers.extend(d.close for d in c.devices() if d is not c.contactor)
        if self.token_reader is not None:
            closers.append(self.token_reader.close)
        if self.grid_meter is not None:
            closers.append(self.grid_meter.close)
        if self.display is not None:
            closers.append(self.display.close)
        closers.extend(self._closers)
        for close in closers:
            try:
                close()
            except Exception:  # close must never raise: log and go on to the next output
                log.exception("closing %r failed", close)


# name -> "module:function". Adding a board is one line here plus its module.
BOARD_TYPES: dict[str, str] = {
    "sim": "sim.board:build_board",
    "gpio": "drivers.gpio_board:build_board",
    "evse-din": "drivers.evse_din:build_board",
}


def build_board(
    section: ConfigSection,
    slots: Sequence[ConnectorSlot],
    *,
    grid_meter: ConfigSection | None = None,
    dry_run: bool = False,
) -> Board:
    kind = section.get_str("type", choices=sorted(BOARD_TYPES))
    module_name, func_name = BOARD_TYPES[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{section.source}: [board] type = {kind!r}: needs {exc.name!r}, which is not installed "
            f"(install evsed with the 'pi' extra)"
        ) from exc
    builder: BoardBuilder = getattr(module, func_name)
    return builder(section, slots, grid_meter=grid_meter, dry_run=dry_run)
