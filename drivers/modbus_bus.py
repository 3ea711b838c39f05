"""One shared Modbus client per physical bus (an RS-485 line or a TCP endpoint).

Rules kept here:
- A bus is keyed by what it physically is: the resolved serial device path, or
  ``(host, port)``. Every device on it shares one client, and ``ModbusBus.lock``
  serialises transactions across threads (a half-duplex RS-485 line carries one
  request at a time). The lock is re-entrant, so a caller may hold it around a
  sequence of transactions that must not be interleaved.
- The lock is held for one attempt, never across retries: another user of the bus
  waits at most one ``timeout_s``, not ``timeout_s * (retries + 1)``.
- Two devices naming the same serial path with different line settings is a config
  error naming both sections: one wire has one baud rate.
- Every failure is a ``hal.errors.HardwareError`` subclass: ``NoAnswer`` (timeout,
  link down), ``BadReply`` (garbage, wrong register count), ``ExceptionReply`` (the
  device answered with a Modbus exception). Never a pymodbus exception.
- After a failed attempt the client is closed, so the next attempt reconnects: a
  restarted TCP server or a re-plugged USB adapter comes back without help.
- A reply that is a Modbus exception is not retried: the device answered.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from hal.config import ConfigError, ConfigSection
from hal.errors import HardwareError

log = logging.getLogger(__name__)
# pymodbus logs every timeout at ERROR with hex dumps; our errors carry the same facts
# and the meter driver rate-limits them, so a dead meter must not flood the journal.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PARITIES = ("N", "E", "O")
READ_HOLDING = 3
READ_INPUT = 4
MAX_READ_REGISTERS = 125  # Modbus application protocol limit for FC 3 / 4
MAX_WRITE_REGISTERS = 123  # ... and for FC 16


class ModbusBusError(HardwareError):
    """A Modbus transaction failed."""


class NoAnswer(ModbusBusError):
    """No reply within the timeout, or the link is down."""


class BadReply(ModbusBusError):
    """A reply arrived but is unusable (malformed, wrong length)."""


class ExceptionReply(ModbusBusError):
    """The device answered with a Modbus exception code."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SerialLine:
    path: str
    baudrate: int
    parity: str
    stopbits: int

    def describe(self) -> str:
        return f"{self.path} {self.baudrate} 8{self.parity}{self.stopbits}"


@dataclass(frozen=True)
class TcpEndpoint:
    host: str
    port: int

    def describe(self) -> str:
        return f"{self.host}:{self.port}"


Link = SerialLine | TcpEndpoint


class ModbusBus:
    """A pymodbus sync client behind a lock; reconnects by itself after a failure."""

    def __init__(self, link: Link):
        self.link = link
        self.lock = threading.RLock()
        self._client: ModbusSerialClient | ModbusTcpClient = self._new_client(link)

    @staticmethod
    def _new_client(link: Link) -> ModbusSerialClient | ModbusTcpClient:
        # pymodbus retries only on silence; retries are ours so garbage is retried too.
        if isinstance(link, SerialLine):
            return ModbusSerialClient(
                link.path, baudrate=link.baudrate, parity=link.parity, stopbits=link.stopbits, bytesize=8, retries=0
            )
        return ModbusTcpClient(link.host, port=link.port, retries=0)

    def describe(self) -> str:
        return self.link.describe()

    # -- public transactions ---------------------------------------------------
    def read_holding_registers(
        self, unit: int, address: int, count: int, *, timeout_s: float = 1.0, retries: int = 2
    ) -> list[int]:
        return self.read_registers(READ_HOLDING, unit, address, count, timeout_s=timeout_s, retries=retries)

    def read_input_registers(
        self, unit: int, address: int, count: int, *, timeout_s: float = 1.0, retries: int = 2
    ) -> list[int]:
        return self.read_registers(READ_INPUT, unit, address, count, timeout_s=timeout_s, retries=retries)

    def read_registers(
        self, function_code: int, unit: int, address: int, count: int, *, timeout_s: float = 1.0, retries: int = 2
    ) -> list[int]:
        """Read ``count`` 16-bit registers with FC 3 (holding) or FC 4 (input)."""
        if function_code not in (READ_HOLDING, READ_INPUT):
            raise ValueError(f"function code {function_code} is not a register read")
        if not 1 <= count <= MAX_READ_REGISTERS:
            raise ValueError(f"count {count} outside 1..{MAX_READ_REGISTERS}")
        what = f"FC{function_code} unit {unit} @{address:#06x}+{count}"

        def transaction(client: Any) -> list[int]:
            call = client.read_holding_registers if function_code == READ_HOLDING else client.read_input_registers
            reply = call(address, count=count, device_id=unit)
            self._check(reply, what)
            registers = list(reply.registers)
            if len(registers) != count:
                raise BadReply(f"{self.describe()}: {what}: got {len(registers)} registers")
            return registers

        return self._run(transaction, what, timeout_s, retries)

    def write_registers(
        self, unit: int, address: int, values: list[int], *, timeout_s: float = 1.0, retries: int = 2
    ) -> None:
        """Write holding registers with FC 16."""
        if not 1 <= len(values) <= MAX_WRITE_REGISTERS or not all(0 <= v <= 0xFFFF for v in values):
            raise ValueError(f"cannot write {values!r}: 1..{MAX_WRITE_REGISTERS} values of 0..65535")
        what = f"FC16 unit {unit} @{address:#06x}+{len(values)}"

        def transaction(client: Any) -> None:
            self._check(client.write_registers(address, values, device_id=unit), what)

        self._run(transaction, what, timeout_s, retries)

    def close(self) -> None:
        with self.lock:
            self._client.close()

    # -- internals -------------------------------------------------------------
    def _check(self, reply: Any, what: str) -> None:
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0))
            raise ExceptionReply(f"{self.describe()}: {what}: Modbus exception {code}", code)

    def _run(self, transaction: Any, what: str, timeout_s: float, retries: int) -> Any:
        failure: ModbusBusError | None = None
        for attempt in range(retries + 1):
            with self.lock:
                try:
                    self._set_timeout(timeout_s)
                    return transaction(self._client)
                except ExceptionReply:
                    raise
                except BadReply as exc:
                    failure = exc
                except (ConnectionException, ModbusIOException, OSError) as exc:
                    failure = NoAnswer(f"{self.describe()}: {what}: no answer ({exc})")
                except Exception as exc:  # pymodbus decoders raise anything on garbage
                    failure = BadReply(f"{self.describe()}: {what}: unusable reply ({type(exc).__name__}: {exc})")
                # A late or partial reply must not be taken for the next request's answer.
                self._client.close()
            log.debug("%s (attempt %d of %d)", failure, attempt + 1, retries + 1)
        assert failure is not None
        raise failure

    def _set_timeout(self, timeout_s: float) -> None:
        # pymodbus reads its receive deadline from comm_params on every request.
        self._client.comm_params.timeout_connect = timeout_s
        port = getattr(self._client, "socket", None)
        if isinstance(port, socket.socket):
            port.settimeout(timeout_s)
        elif port is not None:  # a pyserial port
            port.timeout = timeout_s


@dataclass(frozen=True)
class ModbusDevice:
    """One unit id on a bus, with its own timeout and retry budget."""

    bus: ModbusBus
    unit: int
    timeout_s: float
    retries: int

    def read_registers(self, function_code: int, address: int, count: int) -> list[int]:
        return self.bus.read_registers(
            function_code, self.unit, address, count, timeout_s=self.timeout_s, retries=self.retries
        )

    def read_holding_registers(self, address: int, count: int) -> list[int]:
        return self.read_registers(READ_HOLDING, address, count)

    def read_input_registers(self, address: int, count: int) -> list[int]:
        return self.read_registers(READ_INPUT, address, count)

    def write_registers(self, address: int, values: list[int]) -> None:
        self.bus.write_registers(self.unit, address, values, timeout_s=self.timeout_s, retries=self.retries)

    def describe(self) -> str:
        return f"{self.bus.describe()} unit {self.unit}"


def read_link(section: ConfigSection) -> Link:
    """The transport keys of a device section: ``serial`` + line settings, or ``host`` + ``port``."""
    if section.has("serial") == section.has("host"):
        raise ConfigError(
            f"{section.source}: [{section.name}] needs exactly one of 'serial' (RS-485 device path) "
            f"or 'host' (Modbus TCP)"
        )
    if section.has("host"):
        for key in ("baudrate", "parity", "stopbits"):
            if section.has(key):
                raise section.error(
                    key,
                    section.get_str(key) if key == "parity" else section.get_int(key),
                    "only meaningful with 'serial', not with 'host'",
                )
        return TcpEndpoint(section.get_str("host", min_length=1), section.get_int("port", 502, minval=1, maxval=65535))
    if section.has("port"):
        raise section.error("port", section.get_int("port"), "only meaningful with 'host' (use 'serial' for a path)")
    path = section.get_str("serial", min_length=1)
    baudrate = section.get_int("baudrate", 9600)
    if baudrate not in BAUD_RATES:
        raise section.error("baudrate", baudrate, "expected one of " + ", ".join(map(str, BAUD_RATES)))
    parity = section.get_str("parity", "N", choices=PARITIES)
    stopbits = section.get_int("stopbits", 1, minval=1, maxval=2)
    return SerialLine(os.path.realpath(path), baudrate, parity, stopbits)


class BusPool:
    """The buses of one board. The board builder creates it and closes it via ``Board.on_close``."""

    def __init__(self) -> None:
        self._buses: dict[tuple[object, ...], tuple[ModbusBus, str]] = {}
        self._lock = threading.Lock()

    def bus(self, section: ConfigSection) -> ModbusBus:
        link = read_link(section)
        where = f"{section.source}: [{section.name}]"
        key: tuple[object, ...] = (
            ("serial", link.path) if isinstance(link, SerialLine) else ("tcp", link.host, link.port)
        )
        with self._lock:
            if key in self._buses:
                bus, first = self._buses[key]
                if bus.link != link:
                    serial = f"serial = {link.path!r} at " if isinstance(link, SerialLine) else ""
                    raise ConfigError(
                        f"{where} {serial}{link.describe()} conflicts with {first} on the same "
                        f"bus at {bus.link.describe()}: every device on one RS-485 line needs the same "
                        f"baudrate, parity and stopbits"
                    )
                return bus
            bus = ModbusBus(link)
            self._buses[key] = (bus, where)
            return bus

    def device(self, section: ConfigSection, default_timeout_s: float = 0.5) -> ModbusDevice:
        """``bus(section)`` plus the device keys ``unit``, ``timeout_s`` and ``retries``."""
        bus = self.bus(section)
        return ModbusDevice(
            bus,
            unit=section.get_int("unit", 1, minval=1, maxval=247),
            timeout_s=section.get_float("timeout_s", default_timeout_s, minval=0.05, maxval=10.0),
            retries=section.get_int("retries", 2, minval=0, maxval=10),
        )

    def close(self) -> None:
        with self._lock:
            buses = [bus for bus, _ in self._buses.values()]
            self._buses.clear()
        for bus in buses:
            try:
                bus.close()
            except Exception:  # close must never raise: log and close the next bus
                log.exception("closing Modbus bus %s failed", bus.describe())
