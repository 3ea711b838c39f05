"""One generic Modbus energy meter, driven by a register map (``drivers.meter_maps``).

Rules kept here:
- ``read`` reads the map's quantities in as few requests as the model allows, then
  judges the snapshot with the pure ``assess``. A reading that fails it is never
  returned: ``MeterError`` is raised instead and the controller treats the meter as
  failed until a sound reading comes back.
- Implausible means: not a finite number, outside what the model can measure
  (voltage, current, power limits of the map), a required quantity the meter says is
  "not available", or an energy register lower than one this driver already accepted.
- Link failures (no answer, garbage, exception replies) after the bus's retries are
  ``MeterError`` too. The bus reconnects by itself; the next ``read`` simply tries again.
- Complaints are logged at most once per ``COMPLAINT_INTERVAL_S`` per kind, with the
  number held back; the first sound reading after a failure is logged once.
- The serial number is read once (it does not change) and kept; a meter that answers
  "illegal address" for it just has none.
- With ``phase_power`` (a grid meter) the map's signed per-phase powers are read too and
  checked like the total.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers.meter_maps import CURRENTS, PHASE_POWERS, VOLTAGES, MeterMap, decode, plan_reads
from drivers.modbus_bus import ExceptionReply, ModbusBusError, ModbusDevice
from hal.errors import MeterError
from hal.types import MeterReading

log = logging.getLogger(__name__)

COMPLAINT_INTERVAL_S = 60.0
MAX_ENERGY_WH = 1e12  # a terawatt-hour on one charge point's meter is a decoding error
FREQUENCY_HZ = (40.0, 70.0)

Values = Mapping[str, float | int | str | None]


def assess(meter_map: MeterMap, values: Values, floor_import_wh: float, floor_export_wh: float) -> str | None:
    """Why this snapshot cannot be believed, or ``None`` if it can. Pure."""
    limits: list[tuple[str, float, float, bool]] = [
        *((q, 0.0, meter_map.max_voltage_v, True) for q in VOLTAGES[: meter_map.phases]),
        *((q, -meter_map.max_current_a, meter_map.max_current_a, True) for q in CURRENTS[: meter_map.phases]),
        ("power", -meter_map.max_power_w, meter_map.max_power_w, True),
        *((q, -meter_map.max_power_w, meter_map.max_power_w, True) for q in PHASE_POWERS),
        ("energy_import", floor_import_wh, MAX_ENERGY_WH, True),
        ("energy_export", floor_export_wh, MAX_ENERGY_WH, False),
        ("frequency", *FREQUENCY_HZ, False),
    ]
    for quantity, low, high, required in limits:
        if quantity not in values:
            continue  # the map does not have it
        value = values[quantity]
        if value is None:
            if required:
                return f"{quantity} reported as not available"
            continue
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{quantity} = {value!r} is not a number"
        if not low <= value <= high:
            if quantity.startswith("energy") and value < low:
                return f"{quantity} went backwards: {value:.1f} Wh after {low:.1f} Wh"
            return f"{quantity} = {value:g} outside {low:g}..{high:g}"
    return None


def to_reading(meter_map: MeterMap, values: Values, at: float, serial_number: str | None) -> MeterReading:
    """``values`` passed ``assess``: the quantities a reading needs are numbers."""

    def number(quantity: str) -> float | None:
        value = values.get(quantity)
        if value is None:
            return None
        if isinstance(value, str):
            raise ValueError(f"{quantity} = {value!r} is not a number")
        return float(value)

    def required(quantity: str) -> float:
        value = number(quantity)
        if value is None:
            raise ValueError(f"{quantity} missing")
        return value

    phases = [q for q in PHASE_POWERS if values.get(q) is not None]
    return MeterReading(
        voltage_v=tuple(required(q) for q in VOLTAGES[: meter_map.phases]),
        current_a=tuple(required(q) for q in CURRENTS[: meter_map.phases]),
        power_w=required("power"),
        energy_import_wh=required("energy_import"),
        energy_export_wh=number("energy_export"),
        frequency_hz=number("frequency"),
        at=at,
        serial_number=serial_number,
        power_phase_w=tuple(required(q) for q in phases) or None,
    )


@dataclass
class _Complaint:
    last_logged: float = -math.inf
    held_back: int = 0


class ComplaintLog:
    """Warnings about one meter, at most one per kind per interval."""

    def __init__(
        self, name: str, interval_s: float = COMPLAINT_INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ):
        self.name = name
        self.interval_s = interval_s
        self.clock = clock
        self.failures = 0  # consecutive failed reads
        self._kinds: dict[str, _Complaint] = {}

    def failed(self, kind: str, detail: str) -> None:
        self.failures += 1
        entry = self._kinds.setdefault(kind, _Complaint())
        now = self.clock()
        if now - entry.last_logged < self.interval_s:
            entry.held_back += 1
            return
        more = f" ({entry.held_back} more since last report)" if entry.held_back else ""
        log.warning("meter %s: %s%s", self.name, detail, more)
        entry.last_logged, entry.held_back = now, 0

    def succeeded(self) -> None:
        if self.failures:
            log.info("meter %s: sound reading again after %d failed reads", self.name, self.failures)
        self.failures = 0


class ModbusMeter:
    """``hal.interfaces.Meter`` for any model in ``drivers.meter_maps.MAPS``."""

    def __init__(
        self,
        device: ModbusDevice,
        meter_map: MeterMap,
        clock: Callable[[], float] = time.monotonic,
        *,
        phase_power: bool = False,
    ):
        self.device = device
        self.map = meter_map
        self.clock = clock
        self.name = f"{meter_map.model} at {device.describe()}"
        self.complaints = ComplaintLog(self.name, clock=clock)
        wanted = [r for r in meter_map.registers if r.quantity != "serial"]
        self._plan = plan_reads([*wanted, *(meter_map.phase_power if phase_power else ())], meter_map.max_registers)
        self._serial_register = meter_map.register("serial")
        self._serial_number: str | None = None
        self._serial_known = self._serial_register is None
        self._floor_import_wh = 0.0
        self._floor_export_wh = 0.0

    def read(self) -> MeterReading:
        try:
            values = self._read_values()
            if not self._serial_known:
                self._serial_number = self._read_serial()
                self._serial_known = True
        except ModbusBusError as exc:
            self.complaints.failed("link", str(exc))
            raise MeterError(f"meter {self.name}: {exc}") from exc
        problem = assess(self.map, values, self._floor_import_wh, self._floor_export_wh)
        if problem is not None:
            self.complaints.failed("implausible", f"rejected reading: {problem}")
            raise MeterError(f"meter {self.name}: implausible reading: {problem}")
        reading = to_reading(self.map, values, self.clock(), self._serial_number)
        self._floor_import_wh = reading.energy_import_wh
        self._floor_export_wh = reading.energy_export_wh or self._floor_export_wh
        self.complaints.succeeded()
        return reading

    @property
    def serial_number(self) -> str | None:
        return self._serial_number

    def close(self) -> None:
        """The bus belongs to the pool, which closes it; a meter has no output to make safe."""

    def _read_values(self) -> dict[str, float | int | str | None]:
        values: dict[str, float | int | str | None] = {}
        for block in self._plan:
            words = self.device.read_registers(block.function_code, block.address, block.count)
            for reg in block.registers:
                offset = reg.address - block.address
                values[reg.quantity] = decode(reg, words[offset : offset + reg.words], self.map.nan_markers)
        return values

    def _read_serial(self) -> str | None:
        reg = self._serial_register
        assert reg is not None
        try:
            words = self.device.read_registers(reg.function_code, reg.address, reg.words)
        except ExceptionReply as exc:
            log.warning("meter %s: no serial number (%s)", self.name, exc)
            return None
        value = decode(reg, words, self.map.nan_markers)
        return str(value) if value not in (None, "") else None
