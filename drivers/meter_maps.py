"""Register maps of Modbus energy meters, as data: one table per model.

Rules kept here:
- A new meter is a new ``MeterMap`` in ``MAPS``, never a new class. Each map says
  which public vendor document it follows; addresses are 0-based protocol
  addresses (register 30001 is input register 0).
- A ``Register`` carries everything needed to turn words into a value in SI-ish
  units the HAL uses (V, A, W, Wh, Hz): function code, data type, word order and
  scale (``value = raw * scale``). Byte order inside a word is always big-endian,
  as Modbus defines it; only the order of the words differs between vendors.
- ``decode`` and ``encode`` are exact inverses and pure; the meter driver decodes,
  the emulator encodes, both from the same table.
- Vendor "not available" markers (ABB: all ones for unsigned, the largest positive
  value for signed types) decode to ``None`` on maps with ``nan_markers``.
- Plausibility limits (``max_voltage_v``, ``max_current_a``) are what the model can
  physically measure, with headroom: beyond them a reading is a fault, not a fact.
- ``phase_power`` (signed active power per phase, import positive) is read only where a
  meter sits at the house connection (load management needs the sign per phase); a
  connector's meter never pays for it. Single-phase maps have none: their total is their phase.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

VOLTAGES = ("voltage_l1", "voltage_l2", "voltage_l3")
CURRENTS = ("current_l1", "current_l2", "current_l3")
PHASE_POWERS = ("power_l1", "power_l2", "power_l3")
QUANTITIES = (*VOLTAGES, *CURRENTS, *PHASE_POWERS, "power", "energy_import", "energy_export", "frequency", "serial")
Decoded = float | int | str | None  # a register's value; None: the vendor's "not available"

# data type -> (words, struct format of the big-endian value, signed)
DATA_TYPES: dict[str, tuple[int, str, bool]] = {
    "int16": (1, ">h", True),
    "uint16": (1, ">H", False),
    "int32": (2, ">i", True),
    "uint32": (2, ">I", False),
    "float32": (2, ">f", True),
    "int64": (4, ">q", True),
    "uint64": (4, ">Q", False),
    "ascii": (0, "", False),  # length in words comes from Register.length
}
WORD_ORDERS = ("big", "little")  # big: most significant word first


@dataclass(frozen=True)
class Register:
    quantity: str
    function_code: int  # 3 holding, 4 input
    address: int
    dtype: str
    scale: float = 1.0
    word_order: str = "big"
    length: int = 0  # words, for "ascii" only

    @property
    def words(self) -> int:
        return self.length if self.dtype == "ascii" else DATA_TYPES[self.dtype][0]

    @property
    def end(self) -> int:
        return self.address + self.words


@dataclass(frozen=True)
class Identity:
    """A register that tells models of one family apart (e.g. a product code)."""

    register: Register
    accepts: tuple[int | str, ...]  # integers: exact codes; strings: prefixes

    def matches(self, value: Decoded) -> bool:
        if isinstance(value, str):
            return any(isinstance(a, str) and value.startswith(a) for a in self.accepts)
        return value in self.accepts


@dataclass(frozen=True)
class MeterMap:
    model: str
    title: str
    source: str
    phases: int
    max_registers: int  # per request, from the vendor's protocol document
    registers: tuple[Register, ...]
    max_voltage_v: float
    max_current_a: float
    nan_markers: bool = False
    identity: Identity | None = None
    phase_power: tuple[Register, ...] = ()  # signed W per phase, read for grid meters only

    def register(self, quantity: str) -> Register | None:
        return next((r for r in self.registers if r.quantity == quantity), None)

    @property
    def max_power_w(self) -> float:
        return self.phases * self.max_voltage_v * self.max_current_a


def _table(function_code: int, word_order: str, rows: Sequence[tuple[str, int, str, float]]) -> tuple[Register, ...]:
    return tuple(Register(q, function_code, a, t, s, word_order) for q, a, t, s in rows)


def _phases(names: Sequence[str], first: int, step: int, dtype: str, scale: float) -> list[tuple[str, int, str, float]]:
    return [(name, first + i * step, dtype, scale) for i, name in enumerate(names)]


# -- Eastron -----------------------------------------------------------------
# Eastron "SDM630 Modbus Protocol" / "SDM630-Modbus V2 user manual", "SDM72D-M-2
# Modbus protocol", "SDM120 / SDM230 Modbus protocol": measurements are input
# registers (FC 4) holding IEEE 754 float32, high word first; energies in kWh.
# The serial number is holding register 0xFC00 (uint32). The protocol documents
# allow at most 40 parameters (80 registers) per request.
_EASTRON_SERIAL = Register("serial", 3, 0xFC00, "uint32")
_EASTRON_COMMON = [
    ("power", 0x0034, "float32", 1.0),
    ("frequency", 0x0046, "float32", 1.0),
    ("energy_import", 0x0048, "float32", 1000.0),
    ("energy_export", 0x004A, "float32", 1000.0),
]
_EASTRON_3P = (
    *_table(
        4,
        "big",
        [
            *_phases(VOLTAGES, 0x0000, 2, "float32", 1.0),
            *_phases(CURRENTS, 0x0006, 2, "float32", 1.0),
            *_EASTRON_COMMON,
        ],
    ),
    _EASTRON_SERIAL,
)
_EASTRON_PHASE_POWER = _table(4, "big", _phases(PHASE_POWERS, 0x000C, 2, "float32", 1.0))
# Single-phase Eastron meters have no system total at 0x0034: their one active power is 0x000C.
_EASTRON_1P = (
    *_table(
        4,
        "big",
        [
            ("voltage_l1", 0x0000, "float32", 1.0),
            ("current_l1", 0x0006, "float32", 1.0),
            ("power", 0x000C, "float32", 1.0),
            *_EASTRON_COMMON[1:],
        ],
    ),
    _EASTRON_SERIAL,
)

# -- ABB ---------------------------------------------------------------------
# ABB "A/B-series Modbus communication protocol" (2CMC485003M0201): holding registers
# (FC 3), integers high word first with fixed resolutions: energy uint64 0.01 kWh at
# 0x5000 (import) / 0x5004 (export), voltage uint32 0.1 V at 0x5B00.., current uint32
# 0.01 A at 0x5B0C.., total active power int32 0.01 W at 0x5B14 and per phase at
# 0x5B16.., frequency uint16 0.01 Hz at 0x5B2C, serial number uint32 at 0x8900, type
# designation (ASCII, 6 words) at 0x8960. "Not available" is 0xFFFF.. (unsigned) / 0x7FFF.. (signed).
_ABB = (
    *_table(
        3,
        "big",
        [
            ("energy_import", 0x5000, "uint64", 10.0),
            ("energy_export", 0x5004, "uint64", 10.0),
            *_phases(VOLTAGES, 0x5B00, 2, "uint32", 0.1),
            *_phases(CURRENTS, 0x5B0C, 2, "uint32", 0.01),
            ("power", 0x5B14, "int32", 0.01),
            ("frequency", 0x5B2C, "uint16", 0.01),
            ("serial", 0x8900, "uint32", 1.0),
        ],
    ),
)
_ABB_PHASE_POWER = _table(3, "big", _phases(PHASE_POWERS, 0x5B16, 2, "int32", 0.01))
_ABB_TYPE = Register("type", 3, 0x8960, "ascii", length=6)
_ABB_B23 = Identity(_ABB_TYPE, ("B23",))
_ABB_B24 = Identity(_ABB_TYPE, ("B24",))

# -- Carlo Gavazzi -------------------------------------------------------------
# Carlo Gavazzi "EM24-DIN communication protocol" and "EM340 / ET340 communication
# protocol": FC 3 and FC 4 read the same registers; INT32 values least significant
# word first. V L-N x10 at 0x0000.., A x1000 at 0x000C.., W L1.. x10 at 0x0012.., W sys x10 at 0x0028, Hz x10
# (INT16) at 0x0033, kWh(+) TOT x10 at 0x0034, kWh(-) TOT x10 at 0x004E, serial number
# 7 words of ASCII at 0x5000, product code at 0x000B (EM24: 1648..1653).
_GAVAZZI = (
    *_table(
        3,
        "little",
        [
            *_phases(VOLTAGES, 0x0000, 2, "int32", 0.1),
            *_phases(CURRENTS, 0x000C, 2, "int32", 0.001),
            ("power", 0x0028, "int32", 0.1),
            ("frequency", 0x0033, "int16", 0.1),
            ("energy_import", 0x0034, "int32", 100.0),
            ("energy_export", 0x004E, "int32", 100.0),
        ],
    ),
    Register("serial", 3, 0x5000, "ascii", length=7),
)
_GAVAZZI_PHASE_POWER = _table(3, "little", _phases(PHASE_POWERS, 0x0012, 2, "int32", 0.1))
_EM24 = Identity(Register("product_code", 3, 0x000B, "uint16"), tuple(range(1648, 1654)))

# -- ORNO ----------------------------------------------------------------------
# ORNO "OR-WE-516 / OR-WE-517 Modbus register list": holding registers (FC 3), float32
# high word first. Voltages 0x000E.., frequency 0x0014, currents 0x0016.., total active
# power in kW at 0x001C and per phase at 0x001E.., forward (import) / reverse (export) active energy in kWh at
# 0x0108 / 0x0110, serial number uint32 at 0x0000. Common drivers read 60 registers
# per request; we stay at that.
_ORNO = (
    *_table(
        3,
        "big",
        [
            ("serial", 0x0000, "uint32", 1.0),
            *_phases(VOLTAGES, 0x000E, 2, "float32", 1.0),
            ("frequency", 0x0014, "float32", 1.0),
            *_phases(CURRENTS, 0x0016, 2, "float32", 1.0),
            ("power", 0x001C, "float32", 1000.0),
            ("energy_import", 0x0108, "float32", 1000.0),
            ("energy_export", 0x0110, "float32", 1000.0),
        ],
    ),
)

_ORNO_PHASE_POWER = _table(3, "big", _phases(PHASE_POWERS, 0x001E, 2, "float32", 1000.0))

_ALL = (
    MeterMap(
        "sdm630",
        "Eastron SDM630-Modbus V2",
        "Eastron SDM630 Modbus protocol",
        3,
        80,
        _EASTRON_3P,
        300,
        120,
        phase_power=_EASTRON_PHASE_POWER,
    ),
    MeterMap(
        "sdm72d",
        "Eastron SDM72D-M V2",
        "Eastron SDM72D-M-2 Modbus protocol",
        3,
        80,
        _EASTRON_3P,
        300,
        120,
        phase_power=_EASTRON_PHASE_POWER,
    ),
    MeterMap("sdm120", "Eastron SDM120-Modbus", "Eastron SDM120 Modbus protocol", 1, 80, _EASTRON_1P, 300, 54),
    MeterMap("sdm230", "Eastron SDM230-Modbus", "Eastron SDM230 Modbus protocol", 1, 80, _EASTRON_1P, 300, 120),
    MeterMap(
        "abb_b23",
        "ABB B23 (direct, 65 A)",
        "ABB 2CMC485003M0201",
        3,
        125,
        _ABB,
        300,
        80,
        True,
        _ABB_B23,
        _ABB_PHASE_POWER,
    ),
    # CT-connected: the reading is primary current, so the ceiling is the largest CT a wallbox feeder uses.
    MeterMap(
        "abb_b24",
        "ABB B24 (CT connected)",
        "ABB 2CMC485003M0201",
        3,
        125,
        _ABB,
        300,
        2000,
        True,
        _ABB_B24,
        _ABB_PHASE_POWER,
    ),
    MeterMap(
        "em340",
        "Carlo Gavazzi EM340 (65 A)",
        "Carlo Gavazzi EM340 protocol",
        3,
        50,
        _GAVAZZI,
        300,
        80,
        phase_power=_GAVAZZI_PHASE_POWER,
    ),
    # EM24 exists direct (AV2, 65 A) and CT-connected (AV5): the CT ceiling applies.
    MeterMap(
        "em24",
        "Carlo Gavazzi EM24-DIN",
        "Carlo Gavazzi EM24 protocol",
        3,
        50,
        _GAVAZZI,
        300,
        2000,
        False,
        _EM24,
        _GAVAZZI_PHASE_POWER,
    ),
    MeterMap(
        "orno_we516",
        "ORNO OR-WE-516 (80 A)",
        "ORNO OR-WE-516 register list",
        3,
        60,
        _ORNO,
        300,
        100,
        phase_power=_ORNO_PHASE_POWER,
    ),
    MeterMap(
        "orno_we517",
        "ORNO OR-WE-517 (80 A)",
        "ORNO OR-WE-517 register list",
        3,
        60,
        _ORNO,
        300,
        100,
        phase_power=_ORNO_PHASE_POWER,
    ),
)
MAPS: dict[str, MeterMap] = {m.model: m for m in _ALL}


# -- codec ---------------------------------------------------------------------
def _ordered(words: Sequence[int], word_order: str) -> list[int]:
    return list(words) if word_order == "big" else list(reversed(words))


def _nan_marker(dtype: str) -> int:
    words, _, signed = DATA_TYPES[dtype]
    bits = 16 * words
    return (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1


def decode(register: Register, words: Sequence[int], nan_markers: bool = False) -> Decoded:
    """Words as read from the device -> scaled value; ``None`` for a vendor "not available"."""
    if len(words) != register.words:
        raise ValueError(f"{register.quantity}: expected {register.words} words, got {len(words)}")
    raw = struct.pack(f">{len(words)}H", *_ordered(words, register.word_order))
    if register.dtype == "ascii":
        return raw.decode("ascii", errors="replace").strip("\x00 ")
    _, fmt, _ = DATA_TYPES[register.dtype]
    if nan_markers and register.dtype != "float32" and int.from_bytes(raw, "big") == _nan_marker(register.dtype):
        return None
    value = struct.unpack(fmt, raw)[0]
    if register.quantity in ("serial", "product_code"):
        return value
    return value * register.scale


def encode(register: Register, value: Decoded, nan_markers: bool = False) -> list[int]:
    """Inverse of ``decode``: the words a device holds for ``value`` (``None``: the marker)."""
    if register.dtype == "ascii":
        raw = str(value).encode("ascii").ljust(2 * register.length, b"\x00")[: 2 * register.length]
    elif value is None:
        if not nan_markers:
            raise ValueError(f"{register.quantity}: this map has no 'not available' marker")
        raw = _nan_marker(register.dtype).to_bytes(2 * register.words, "big")
    else:
        _, fmt, _ = DATA_TYPES[register.dtype]
        number = value if isinstance(value, int | float) else float(value)
        scaled = number if register.quantity in ("serial", "product_code") else number / register.scale
        if register.dtype == "float32":
            raw = struct.pack(fmt, scaled)
        else:
            raw = struct.pack(fmt, round(scaled) if math.isfinite(scaled) else 0)
    words = list(struct.unpack(f">{len(raw) // 2}H", raw))
    return _ordered(words, register.word_order)


@dataclass(frozen=True)
class ReadBlock:
    """One request: ``count`` registers from ``address`` with one function code."""

    function_code: int
    address: int
    count: int
    registers: tuple[Register, ...]


def plan_reads(registers: Sequence[Register], max_registers: int) -> list[ReadBlock]:
    """Group registers into as few requests as ``max_registers`` per request allows.

    Registers are sorted per function code and packed greedily: a block grows while
    the span from its first to its last word fits, gaps included (each map keeps its
    quantities close enough that a gap costs less than another round trip).
    """
    blocks: list[ReadBlock] = []
    for fc in sorted({r.function_code for r in registers}):
        current: list[Register] = []
        for reg in sorted((r for r in registers if r.function_code == fc), key=lambda r: r.address):
            if current and reg.end - current[0].address > max_registers:
                blocks.append(_block(fc, current))
                current = []
            current.append(reg)
        if current:
            blocks.append(_block(fc, current))
    return blocks


def _block(fc: int, regs: list[Register]) -> ReadBlock:
    start = regs[0].address
    return ReadBlock(fc, start, max(r.end for r in regs) - start, tuple(regs))
