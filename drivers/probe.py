"""``evsed probe meter``: find Modbus meters on a line, name their model, print config.

Rules kept here:
- Identification uses only the register maps (``drivers.meter_maps``): maps with the
  same live registers form a family; a family is present when its L1 voltage register
  decodes to a plausible mains voltage; the family whose every phase is plausible
  wins, then the one with most plausible phases; an identity register (product code,
  type designation) then picks the model inside the family. Models the registers
  cannot tell apart are all printed.
- A unit that does not answer its first request at a line setting is absent; an
  exception reply means "present, but not this family".
- The scan stops at the first line setting where a meter answered: an RS-485 line has
  one setting, and every extra setting costs ``units x timeout``.
- Probing only reads registers; it never writes to a device.
- A serial device or TCP endpoint that cannot be opened at all is reported as such (no such
  device, permission denied, connection refused), never as a silent bus.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeGuard

from drivers.meter_maps import MAPS, VOLTAGES, Decoded, MeterMap, Register, decode
from drivers.modbus_bus import (
    BAUD_RATES,
    PARITIES,
    ExceptionReply,
    Link,
    ModbusBus,
    ModbusBusError,
    NoAnswer,
    SerialLine,
    TcpEndpoint,
)

PLAUSIBLE_MAINS_V = (80.0, 300.0)
DEFAULT_BAUDS = (9600, 19200, 2400, 4800, 38400, 1200, 57600, 115200)


@dataclass(frozen=True)
class Found:
    link: Link
    unit: int
    candidates: tuple[MeterMap, ...]  # the first is the pick
    voltages_v: tuple[float, ...]


def families() -> list[list[MeterMap]]:
    """Maps grouped by identical live registers, in ``MAPS`` order."""
    groups: dict[tuple[Register, ...], list[MeterMap]] = {}
    for meter_map in MAPS.values():
        groups.setdefault(meter_map.registers, []).append(meter_map)
    return list(groups.values())


def plausible_voltage(value: object) -> TypeGuard[float]:
    low, high = PLAUSIBLE_MAINS_V
    return isinstance(value, (int, float)) and low <= value <= high


def within_family(family: Sequence[MeterMap], identity_values: dict[int, Decoded]) -> tuple[MeterMap, ...]:
    """Order a family's models by what their identity registers said (address -> decoded value)."""
    matched = [
        m
        for m in family
        if m.identity is not None and m.identity.matches(identity_values.get(m.identity.register.address))
    ]
    unclaimed = [m for m in family if m.identity is None]
    return tuple(matched or unclaimed or family)


class Prober:
    def __init__(self, bus: ModbusBus, timeout_s: float):
        self.bus = bus
        self.timeout_s = timeout_s

    def read(self, unit: int, reg: Register, nan_markers: bool) -> Decoded:
        words = self.bus.read_registers(
            reg.function_code, unit, reg.address, reg.words, timeout_s=self.timeout_s, retries=0
        )
        return decode(reg, words, nan_markers)

    def identify(self, unit: int) -> Found | None:
        # Score: every phase of the family plausible first, then the number of plausible phases.
        best: tuple[tuple[bool, int], list[MeterMap], tuple[float, ...]] | None = None
        asked = False
        for family in families():
            first = family[0]
            voltages: list[float] = []
            for quantity in VOLTAGES[: first.phases]:
                reg = first.register(quantity)
                assert reg is not None
                try:
                    value = self.read(unit, reg, first.nan_markers)
                except NoAnswer:
                    if not asked:
                        return None  # nobody at this unit id with these line settings
                    break
                except ModbusBusError:
                    break
                finally:
                    asked = True
                if not plausible_voltage(value):
                    break
                voltages.append(float(value))
            score = (len(voltages) == first.phases, len(voltages))
            if voltages and (best is None or score > best[0]):
                best = (score, family, tuple(voltages))
        if best is None:
            return None
        _, family, voltages_v = best
        identity_values: dict[int, Decoded] = {}
        for meter_map in family:
            if meter_map.identity is not None and meter_map.identity.register.address not in identity_values:
                reg = meter_map.identity.register
                try:
                    identity_values[reg.address] = self.read(unit, reg, False)
                except (ExceptionReply, NoAnswer):
                    identity_values[reg.address] = None
        return Found(self.bus.link, unit, within_family(family, identity_values), voltages_v)


def snippet(found: Found) -> str:
    pick, others = found.candidates[0], found.candidates[1:]
    volts = ", ".join(f"{v:.1f}" for v in found.voltages_v)
    lines = [f"# {pick.title} at unit {found.unit} ({found.link.describe()}), phase voltages {volts} V"]
    if others:
        lines.append("# the registers cannot tell it from: " + ", ".join(m.model for m in others))
    lines += ["[connector.meter]", f'model = "{pick.model}"']
    if isinstance(found.link, SerialLine):
        link = found.link
        lines += [f'serial = "{link.path}"', f"baudrate = {link.baudrate}", f'parity = "{link.parity}"']
        lines.append(f"stopbits = {link.stopbits}")
    else:
        lines += [f'host = "{found.link.host}"', f"port = {found.link.port}"]
    lines.append(f"unit = {found.unit}")
    return "\n".join(lines)


def scan(links: Sequence[Link], units: Sequence[int], timeout_s: float, out: TextIO = sys.stderr) -> list[Found]:
    for link in links:
        bus = ModbusBus(link)
        try:
            print(f"probing {link.describe()} units {units[0]}..{units[-1]}", file=out)
            prober = Prober(bus, timeout_s)
            found = [f for f in (prober.identify(u) for u in units) if f is not None]
        finally:
            bus.close()
        if found:
            return found
    return []


def unreachable(port: str | None, host: str | None, tcp_port: int, timeout_s: float) -> str | None:
    """Why the serial device or TCP endpoint cannot be opened at all, or None when it can."""
    try:
        if port is not None:
            os.close(os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
        elif host is not None:
            socket.create_connection((host, tcp_port), timeout=max(timeout_s, 2.0)).close()
    except FileNotFoundError:
        return f"{port}: no such device"
    except PermissionError:
        return f"{port}: permission denied (is this user in the dialout group?)"
    except OSError as exc:
        where = port if port is not None else f"{host}:{tcp_port}"
        return f"{where}: cannot open: {exc.strerror or exc}"
    return None


def parse_units(text: str) -> list[int]:
    units: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if not 1 <= first <= last <= 247:
            raise argparse.ArgumentTypeError(f"unit range {part!r}: expected ids within 1-247")
        units.extend(range(first, last + 1))
    return units


def parse_list(allowed: Sequence[object], cast: Callable[[str], object]) -> Callable[[str], list[object]]:
    def parse(text: str) -> list[object]:
        values = [cast(v) for v in text.split(",")]
        bad = [v for v in values if v not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad[0]!r}: expected some of {', '.join(map(str, allowed))}")
        return values

    return parse


def probe_main(argv: list[str]) -> int:
    try:
        args = probe_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    problem = unreachable(args.port, args.host, args.tcp_port, args.timeout)
    if problem is not None:  # no device, no permission, nobody listening: wiring advice would mislead
        print(f"evsed probe meter: {problem}", file=sys.stderr)
        return 1
    if args.host:
        links: list[Link] = [TcpEndpoint(args.host, args.tcp_port)]
    else:
        links = [SerialLine(args.port, b, p, s) for b in args.bauds for p in args.parities for s in args.stopbits]
    found = scan(links, args.units, args.timeout)
    if not found:
        print("no meter found; check wiring (A/B swapped?), termination, and the meter's address and baud rate")
        return 1
    print("\n\n".join(snippet(f) for f in found))
    return 0


def probe_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evsed probe", description="Find Modbus devices and print their config.")
    sub = parser.add_subparsers(dest="what", required=True)
    meter = sub.add_parser("meter", help="scan for energy meters and print a [connector.meter] table")
    where = meter.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="RS-485 serial device, e.g. /dev/ttyUSB0")
    where.add_argument("--host", help="Modbus TCP gateway or meter")
    meter.add_argument("--tcp-port", type=int, default=502, help="with --host (default 502)")
    meter.add_argument("--bauds", type=parse_list(BAUD_RATES, int), default=list(DEFAULT_BAUDS),
                       help=f"baud rates to try, in order (default {','.join(map(str, DEFAULT_BAUDS))})")  # fmt: skip
    meter.add_argument("--parities", type=parse_list(PARITIES, str), default=list(PARITIES),
                       help=f"parities to try (default {','.join(PARITIES)})")  # fmt: skip
    meter.add_argument("--stopbits", type=parse_list((1, 2), int), default=[1], help="stop bits to try (default 1)")
    meter.add_argument(
        "--units", type=parse_units, default=list(range(1, 11)), help="unit ids, e.g. 1-10 (default), 1,3,5-7"
    )
    meter.add_argument("--timeout", type=float, default=0.2, help="seconds per request")
    return parser
