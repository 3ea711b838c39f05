"""What the controller needs from hardware: small, dumb, synchronous contracts.

Rules kept here:
- No IEC or OCPP logic below this line. A driver reports levels and executes commands;
  the controller decides (EVerest's board-support idea).
- Every method is synchronous and bounded in time. ``Pilot``, ``Contactor``,
  ``ResidualCurrentMonitor``, ``ConnectorLock``, ``CableSense`` and
  ``TemperatureSensor`` are called from the real-time thread only (``Pilot.watch``: once,
  where the real-time loop is built) and must return within a few milliseconds.
  ``Meter.read``, ``TokenReader.poll`` and ``Display.show`` are called from a worker thread
  and may block up to their configured timeout (a display: its bus transfer); they never
  touch the real-time thread's devices except through a lock the driver owns.
- Errors are ``hal.errors.HardwareError`` subclasses, never bare exceptions.
- ``close()`` must leave the output in its safe state (contactor open, PWM at X1 or
  off) and must not raise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from hal.types import DisplaySize, Indication, MeterReading, PilotCommand, PilotReading, SelfTestResult


class Device(Protocol):
    """What every contract below has: ``close()`` (see the rules above)."""

    def close(self) -> None: ...


@runtime_checkable
class Pilot(Protocol):
    """The control-pilot line: a PWM generator and the level sensing behind it."""

    def command(self, cmd: PilotCommand) -> None:
        """Drive the CP line: X1 (+12 V), X2 (1 kHz PWM at ``duty_percent``) or F (-12 V)."""

    def read(self) -> PilotReading:
        """Sample the line: state from the positive level, and the negative level."""

    def watch(self, changed: Callable[[], None]) -> bool:
        """Call ``changed()`` (from any thread; it returns at once) whenever the state ``read``
        gives may have changed, and return True; False for a pilot that can only be polled. The
        controller waits for this while nothing is energized instead of reading the line."""

    def close(self) -> None: ...


@runtime_checkable
class Contactor(Protocol):
    """The power contactor (or relay) that switches the EV's supply."""

    def set_closed(self, closed: bool) -> None:
        """Command the coil. Must take effect at once; no debouncing, no delay."""

    def feedback(self) -> bool | None:
        """Mirror contact: True = main contacts closed; None = no feedback wired."""

    def close(self) -> None: ...


@runtime_checkable
class Meter(Protocol):
    """An energy meter (Modbus, S0, or built into an EVSE board)."""

    def read(self) -> MeterReading:
        """One snapshot. Raises ``MeterError`` when the meter does not answer sensibly."""

    def close(self) -> None: ...


@runtime_checkable
class PhaseSwitch(Protocol):
    """A second contactor that connects L2 and L3: 1-phase / 3-phase switching.

    ``select`` is called only while the main contactor is open and no current flows (the
    controller sequences it, controller/energy/phase_switch.py). A driver that can see the
    main contactor closed refuses with ``HardwareError`` and leaves the relay as it was.
    Called from the asyncio thread; returns at once.
    """

    def select(self, phases: int) -> None:
        """Connect 1 or 3 phases."""

    def selected(self) -> int:
        """What the last successful ``select`` connected (3 before any)."""

    def close(self) -> None: ...


@runtime_checkable
class ResidualCurrentMonitor(Protocol):
    """RCD / RCM (6 mA DC detection) with a trip output and a self-test input."""

    def tripped(self) -> bool: ...

    def self_test(self) -> SelfTestResult:
        """Inject a test current and report whether the device tripped and reset."""

    def close(self) -> None: ...


@runtime_checkable
class ConnectorLock(Protocol):
    """Motor or solenoid lock of a socket outlet, with optional position feedback."""

    def set_locked(self, locked: bool) -> None: ...

    def locked(self) -> bool | None:
        """Position feedback; None = no feedback wired (assume the command held)."""

    def close(self) -> None: ...


@runtime_checkable
class CableSense(Protocol):
    """Proximity-pilot (PP) sensing of a socket outlet."""

    def ampacity_a(self) -> float | None:
        """Cable current rating from the PP resistor; None = no cable plugged.

        Raises ``CableError`` when the resistor is outside every valid band.
        """

    def close(self) -> None: ...


@runtime_checkable
class TemperatureSensor(Protocol):
    def celsius(self) -> float: ...

    def close(self) -> None: ...


@runtime_checkable
class TokenReader(Protocol):
    """RFID reader, PIN pad or start button."""

    def poll(self) -> str | None:
        """Return the next presented id tag, or None if nothing was presented."""

    def close(self) -> None: ...


@runtime_checkable
class StatusIndicator(Protocol):
    """LEDs or a display that tell the driver what the connector is doing."""

    def show(self, indication: Indication) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Display(Protocol):
    """A character display the driver reads (an LCD, an OLED, the simulator's screen).

    Dumb like every device here: it shows the lines it is given; what they say is the
    controller's (controller/display/). One display per board."""

    def size(self) -> DisplaySize:
        """Columns and rows; fixed for the life of the device."""

    def show(self, lines: Sequence[str]) -> None:
        """Show ``lines`` from the top: at most ``rows`` of them, each at most ``columns``
        characters (the caller lays them out); rows not given are blank. A character the
        display cannot draw is shown as the driver's nearest one or ``?``."""

    def close(self) -> None:
        """Blank it (and switch its backlight off)."""


class Simulation(Protocol):
    """What a bench can do to the world around a simulated board (``/api/sim/*``)."""

    def plug_in(self, connector: int, max_current_a: float, phases: int, battery_kwh: float, soc: float) -> None: ...

    def unplug(self, connector: int) -> None: ...

    def swipe(self, id_tag: str) -> None: ...

    def ev_action(self, connector: int, action: str) -> None: ...

    def set_fault(self, connector: int, kind: str, active: bool) -> None: ...

    def snapshot(self, connector: int) -> dict[str, object]: ...

    def set_house(
        self, load_a: object = None, solar: dict[str, object] | None = None, grid_meter: object = None
    ) -> None: ...

    def house_snapshot(self) -> dict[str, object]: ...

    def display_text(self) -> list[str]:
        """What the box's display shows now ([] without one)."""
        ...
