"""Modbus energy-meter emulators: real pymodbus servers serving the driver's own maps.

Rules kept here:
- An ``EmulatedMeter`` serves exactly the registers of ``drivers.meter_maps.MAPS[model]``,
  encoded from values a test sets (``set``), so a test reads back what it wrote.
  Addresses outside the map's request blocks answer "illegal address", like a meter.
- Faults are a ``mode`` per meter, applied to the reply on the wire: ``silent``
  (no reply), ``exception`` (Modbus exception 4), ``short`` (a well-formed reply
  two registers short), ``bad_crc`` (RTU: corrupt checksum; TCP: random bytes).
  ``unavailable`` quantities are served as the vendor's "not available" marker
  (or a float NaN).
- A unit id nobody emulates gets no reply, as on a real RS-485 line.
- ``ModbusEmulator`` runs the server on its own event-loop thread, so synchronous
  tests and benchmarks drive it; it serves over TCP or RTU (any serial path).
- ``NullModem`` is an RS-485 cable between two pseudo-terminals: both ends have a
  path pyserial opens. Bytes cross only while both ends use the same line settings
  (a meter at another baud rate hears noise and stays silent) and while
  ``connected`` is true (pull the cable). Linux ptys cannot carry parity: the kernel
  clears PARENB on a pty and then rejects pyserial's next reconfiguration that asks
  for it (EINVAL), so RTU over a ``NullModem`` runs with parity ``N``; baud rate and
  stop bits are honoured and compared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import select
import termios
import threading
import tty
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.framer.rtu import FramerRTU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.meter_maps import MAPS, MeterMap, Register, encode, plan_reads

log = logging.getLogger(__name__)

MODES = ("ok", "silent", "exception", "short", "bad_crc")


@dataclass(frozen=True)
class MeterValues:
    """What the emulated meter measures; per-phase tuples are (L1, L2, L3)."""

    voltage_v: tuple[float, ...] = (230.0, 231.0, 229.0)
    current_a: tuple[float, ...] = (0.0, 0.0, 0.0)
    power_w: float = 0.0
    power_phase_w: tuple[float, ...] = (0.0, 0.0, 0.0)  # signed, served where the map has them
    energy_import_wh: float = 0.0
    energy_export_wh: float = 0.0
    frequency_hz: float = 50.0
    serial_number: str = "12345678"
    unavailable: frozenset[str] = frozenset()  # quantities served as "not available"

    def quantity(self, name: str) -> Any:
        if name.startswith("voltage_l"):
            return self.voltage_v[int(name[-1]) - 1]
        if name.startswith("current_l"):
            return self.current_a[int(name[-1]) - 1]
        if name.startswith("power_l"):
            return self.power_phase_w[int(name[-1]) - 1]
        return {
            "power": self.power_w,
            "energy_import": self.energy_import_wh,
            "energy_export": self.energy_export_wh,
            "frequency": self.frequency_hz,
            "serial": self.serial_number,
        }[name]


@dataclass
class EmulatedMeter:
    model: str
    unit: int = 1
    values: MeterValues = field(default_factory=MeterValues)
    mode: str = "ok"
    requests: list[tuple[int, int, int]] = field(default_factory=list)  # (fc, address, count) answered

    def __post_init__(self) -> None:
        self.map: MeterMap = MAPS[self.model]

    def set(self, **changes: Any) -> None:
        """Change measured values, e.g. ``set(power_w=7200.0, energy_import_wh=1500.0)``."""
        self.values = replace(self.values, **changes)

    def served_registers(self) -> list[Register]:
        """The map's registers plus every identity register of its family (sibling maps)."""
        regs = [*self.map.registers, *self.map.phase_power]
        for other in MAPS.values():
            known = other.identity is not None and any(r.address == other.identity.register.address for r in regs)
            if other.registers == self.map.registers and other.identity is not None and not known:
                regs.append(other.identity.register)
        return regs

    def words(self, register: Register) -> list[int]:
        if register.quantity not in ("type", "product_code"):
            if register.quantity in self.values.unavailable:
                if register.dtype == "float32":
                    return encode(register, float("nan"))
                return encode(register, None, nan_markers=True)
            value = self.values.quantity(register.quantity)
            if register.quantity == "serial" and register.dtype != "ascii":
                value = int(value)
            return encode(register, value)
        identity = self.map.identity
        own = identity is not None and identity.register.address == register.address
        # A sibling's identity register holds a neutral value that matches no sibling.
        value = identity.accepts[0] if own and identity is not None else ("" if register.dtype == "ascii" else 0)
        if isinstance(value, str) and own:
            value = f"{value} 112-100"  # a full type designation, e.g. "B23 112-100"
        return encode(register, value)

    def image(self) -> dict[tuple[int, int], int]:
        out: dict[tuple[int, int], int] = {}
        for reg in self.served_registers():
            for i, word in enumerate(self.words(reg)):
                out[(reg.function_code, reg.address + i)] = word
        return out

    def sim_device(self) -> SimDevice:
        blocks: dict[int, list[SimData]] = {3: [], 4: []}
        for block in plan_reads(self.served_registers(), self.map.max_registers):
            blocks[block.function_code].append(
                SimData(block.address, count=block.count, values=0, datatype=DataType.REGISTERS)
            )
        bits = [SimData(0, values=False, datatype=DataType.BITS)]
        holding = blocks[3] or [SimData(0, datatype=DataType.INVALID)]
        inputs = blocks[4] or [SimData(0, datatype=DataType.INVALID)]
        return SimDevice(self.unit, simdata=(bits, list(bits), holding, inputs), action=self._action)

    async def _action(
        self, function_code: int, start: int, address: int, count: int, registers: list[int], values: Any
    ) -> ExcCodes | None:
        if self.mode == "exception":
            return ExcCodes.DEVICE_FAILURE
        image = self.image()
        for i in range(count):
            registers[address - start + i] = image.get((function_code, address + i), 0)
        self.requests.append((function_code, address, count))
        return None


class ModbusEmulator:
    """A pymodbus server for one or more emulated meters (unit ids) on one bus."""

    def __init__(self, meters: Sequence[EmulatedMeter]):
        self.meters = {m.unit: m for m in meters}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="meter-emulator", daemon=True)
        self._thread.start()
        self._server: ModbusTcpServer | ModbusSerialServer | None = None
        self._rtu = False

    # -- lifecycle ---------------------------------------------------------------
    def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve Modbus TCP; returns the bound port (``port=0``: an ephemeral one)."""

        async def start() -> int:
            server = ModbusTcpServer(self._devices(), address=(host, port), trace_packet=self._trace)
            await server.serve_forever(background=True)
            self._server = server
            listener = server.transport  # pymodbus types its listener as any transport
            if not isinstance(listener, asyncio.Server):
                raise RuntimeError(f"Modbus TCP server listening through {listener!r}")
            return int(listener.sockets[0].getsockname()[1])

        self._rtu = False
        return self._call(start())

    def start_rtu(self, path: str, baudrate: int = 9600, parity: str = "N", stopbits: int = 1) -> None:
        async def start() -> None:
            server = ModbusSerialServer(
                self._devices(),
                framer=FramerType.RTU,
                port=path,
                baudrate=baudrate,
                parity=parity,
                stopbits=stopbits,
                trace_packet=self._trace,
            )
            await server.serve_forever(background=True)
            self._server = server

        self._rtu = True
        self._call(start())

    def stop(self) -> None:
        """Stop serving (the link goes away); ``start_*`` may be called again."""
        server, self._server = self._server, None
        if server is not None:
            self._call(server.shutdown())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> ModbusEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------
    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=5)

    def _devices(self) -> list[SimDevice]:
        return [m.sim_device() for m in self.meters.values()]

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending or not data:
            return data
        unit = data[0] if self._rtu else data[6]
        meter = self.meters.get(unit)
        if meter is None or meter.mode == "silent":
            return b""
        if meter.mode == "bad_crc":
            if self._rtu:
                return data[:-1] + bytes([data[-1] ^ 0xFF])
            return random.randbytes(len(data))
        if meter.mode == "short":
            return _shorten(data, self._rtu)
        return data


def _shorten(frame: bytes, rtu: bool) -> bytes:
    """A register-read reply with its last register cut off, framing kept valid."""
    head = 1 if rtu else 7
    pdu = frame[head:-2] if rtu else frame[head:]
    if pdu[0] not in (3, 4) or pdu[1] < 4:
        return frame
    pdu = bytes([pdu[0], pdu[1] - 2]) + pdu[2:-2]
    if rtu:
        body = frame[:1] + pdu
        return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")
    return frame[:4] + (len(pdu) + 1).to_bytes(2, "big") + frame[6:7] + pdu


def _line(fd: int) -> tuple[int, int]:
    """The settings two UARTs must agree on: speed, and parity / stop bits / size."""
    attrs = termios.tcgetattr(fd)
    return attrs[4], attrs[2] & (termios.PARENB | termios.PARODD | termios.CSTOPB | termios.CSIZE)


class NullModem:
    """Two pseudo-terminals joined by a relay thread: an RS-485 cable with two paths."""

    def __init__(self) -> None:
        self._masters: list[int] = []
        self._slaves: list[int] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo or line editing before a real user opens it
            self._masters.append(master)
            self._slaves.append(slave)
        self.device_path = os.ttyname(self._slaves[0])  # the driver's end
        self.emulator_path = os.ttyname(self._slaves[1])  # the meter's end
        self.connected = True
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, name="null-modem", daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        peer = {self._masters[0]: 1, self._masters[1]: 0}
        while True:
            readable, _, _ = select.select([*self._masters, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                matched = _line(self._slaves[0]) == _line(self._slaves[1])
                if data and self.connected and matched:
                    os.write(self._masters[peer[fd]], data)

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (*self._masters, *self._slaves, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> NullModem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EmulatedBus:
    """Emulated meters on one bus over ``"tcp"`` (loopback) or ``"rtu"`` (a ``NullModem``).

    ``keys`` are the ``[connector.meter]`` transport keys that reach the bus; ``cut``
    takes the link away (TCP: the server stops; RTU: the cable is pulled) and
    ``restore`` brings it back at the same address.
    """

    def __init__(
        self,
        meters: Sequence[EmulatedMeter],
        transport: str = "tcp",
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
    ):
        self.transport = transport
        self.meters = list(meters)
        self.emulator = ModbusEmulator(meters)
        self.modem: NullModem | None = None
        self.keys: dict[str, Any]
        try:
            if transport == "tcp":
                self.port = self.emulator.start_tcp()
                self.keys = {"host": "127.0.0.1", "port": self.port}
            elif transport == "rtu":
                self.modem = NullModem()
                self.emulator.start_rtu(self.modem.emulator_path, baudrate, parity, stopbits)
                self.keys = {"serial": self.modem.device_path, "baudrate": baudrate, "parity": parity}
                self.keys["stopbits"] = stopbits
            else:
                raise ValueError(f"transport {transport!r}: expected 'tcp' or 'rtu'")
        except BaseException:
            self.close()
            raise

    def cut(self) -> None:
        if self.modem is not None:
            self.modem.connected = False
        else:
            self.emulator.stop()

    def restore(self) -> None:
        if self.modem is not None:
            self.modem.connected = True
        else:
            self.emulator.start_tcp(port=self.port)

    def close(self) -> None:
        self.emulator.close()
        if self.modem is not None:
            self.modem.close()

    def __enter__(self) -> EmulatedBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
