"""An EVSE-DIN / EVSE-WB board on a Modbus line, for tests and the bench.

Rules kept here:
- It serves holding registers 1000..1007 exactly as drivers.evse_din documents them,
  computed from a small model: the current written to 1000, the off bit in 1004, and
  the vehicle the test plugs in. The board's own logic is modelled as far as a driver
  can observe it: PWM only with a current >= 6 A and not switched off; the relay
  closes when the EV asks for power (C/D) under PWM.
- Writes the real board refuses are refused: read-only registers (1001-1003,
  1005-1007) and currents outside 0 / 6..80 A answer "illegal address" / "illegal
  value", and change nothing.
- It plugs into ``sim.meter_emulator.ModbusEmulator`` (same ``unit`` / ``mode`` /
  ``sim_device`` shape), so a board and meters share one emulated RS-485 line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData, SimDevice

FIRST, COUNT = 1000, 8
WRITABLE = (1000, 1004)


@dataclass
class EmulatedEvseDin:
    unit: int = 1
    vehicle: int = 1  # 1 A, 2 B, 3 C, 4 D, 5 failure
    diode_fail: bool = False
    cable_limit_a: int = 32
    firmware: int = 18
    amps: int = 16  # 1000 after power-up (register 2000's default)
    control: int = 0  # 1004
    mode: str = "ok"  # see sim.meter_emulator.MODES
    writes: list[tuple[int, list[int]]] = field(default_factory=list)

    @property
    def pwm_on(self) -> bool:
        return self.amps >= 6 and not self.control & 1

    @property
    def relay(self) -> bool:
        return self.pwm_on and self.vehicle in (3, 4)

    def registers(self) -> list[int]:
        evse_state = 2 if self.pwm_on else (3 if self.control & 1 else 1)
        status = int(self.relay) | (2 if self.diode_fail else 0)
        return [
            self.amps,
            self.amps if self.pwm_on else 0,
            self.vehicle,
            self.cable_limit_a,
            self.control,
            self.firmware,
            evse_state,
            status,
        ]

    def sim_device(self) -> SimDevice:
        bits = [SimData(0, values=False, datatype=DataType.BITS)]
        holding = [SimData(FIRST, count=COUNT, values=0, datatype=DataType.REGISTERS)]
        inputs = [SimData(0, datatype=DataType.INVALID)]
        return SimDevice(self.unit, simdata=(bits, list(bits), holding, inputs), action=self._action)

    async def _action(
        self, function_code: int, start: int, address: int, count: int, registers: list[int], values: Any
    ) -> ExcCodes | None:
        if self.mode == "exception":
            return ExcCodes.DEVICE_FAILURE
        if values is not None:
            return self._write(address, list(values))
        current = self.registers()
        for i in range(count):
            registers[address - start + i] = current[address - FIRST + i]
        return None

    def _write(self, address: int, values: list[int]) -> ExcCodes | None:
        targets = range(address, address + len(values))
        if any(a not in WRITABLE for a in targets):
            return ExcCodes.ILLEGAL_ADDRESS
        new = dict(zip(targets, values, strict=True))
        if 1000 in new and not (new[1000] == 0 or 6 <= new[1000] <= 80):
            return ExcCodes.ILLEGAL_VALUE
        self.writes.append((address, values))
        self.amps = new.get(1000, self.amps)
        self.control = new.get(1004, self.control)
        return None
