"""What travels between the daemon and its real-time process, and how.

Rules kept here:
- One message is a 4-byte big-endian length and a pickle. Both ends run the same code from
  the same files (the child gets the parent's interpreter and package path), so the
  dataclasses below are the whole protocol.
- ``send`` is atomic across threads (one lock); ``recv`` belongs to one thread. A peer that is
  gone reads as ``EOFError`` (the kernel closes a killed process's socket): that is how each
  side learns the other died, at once and without polling.
- A request (``Request``) is answered by exactly one ``Reply`` with its id; everything else
  is one-way.
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
import threading
from dataclasses import dataclass, field

from controller.realtime import ConnectorControl, ConnectorLimits, ConnectorSnapshot, LoopSettings
from hal.board import ConnectorSlot
from hal.config import ConfigSection
from hal.types import MeterReading

TYPE_CHECKING = False  # typing: controller/safety/child.py says why
if TYPE_CHECKING:
    from typing import Any

_LENGTH = struct.Struct(">I")


class Channel:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._send_lock = threading.Lock()

    def send(self, message: object) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            self.sock.sendall(_LENGTH.pack(len(data)) + data)

    def recv(self) -> Any:
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size))
        return pickle.loads(self._exactly(length))

    def readable(self, timeout: float | None) -> bool:
        """Whether a message (or the end) arrived within ``timeout`` seconds (None: wait)."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    def _exactly(self, n: int) -> bytes:
        parts, left = [], n
        while left:
            part = self.sock.recv(min(left, 1 << 20))
            if not part:
                raise EOFError("the other process is gone")
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def close(self) -> None:
        self.sock.close()


# ---- requests (parent -> child, each answered by one Reply) --------------------------------


@dataclass(frozen=True, slots=True)
class OpenBoard:
    """Build the board from these sections, then reject unread keys (as ``load_board``)."""

    root: ConfigSection  # the whole configuration: its unread keys are checked after the build
    board: ConfigSection
    slots: tuple[ConnectorSlot, ...]
    grid_meter: ConfigSection | None  # [grid.meter]
    log_level: int


@dataclass(frozen=True, slots=True)
class BoardShape:
    """The answer to ``OpenBoard``: which devices exist (their calls go through ``DeviceCall``)."""

    kind: str
    connectors: tuple[tuple[int, frozenset[str]], ...]  # (id, names of the ConnectorHardware fields set)
    token_reader: bool
    simulation: bool
    grid_meter: bool
    display: bool = False


@dataclass(frozen=True, slots=True)
class DeviceCall:
    target: tuple[str | int, ...]  # ("connector", 1, "meter"), ("grid_meter",), ("display",), ("simulation",)
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StartLoop:
    connectors: tuple[tuple[int, ConnectorLimits], ...]
    settings: LoopSettings
    feed_timeout_s: float
    controls: dict[int, ConnectorControl]
    meters: dict[int, MeterReading]


@dataclass(frozen=True, slots=True)
class StopLoop:
    """Stop the loop with every contactor open and every pilot X1; the board stays open."""


@dataclass(frozen=True, slots=True)
class CloseBoard:
    """Close the board (outputs safe) and end the process."""


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    what: OpenBoard | DeviceCall | StartLoop | StopLoop | CloseBoard


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    value: Any = None
    error: BaseException | None = None


# ---- one-way, parent -> child ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Control:
    connector: int
    control: ConnectorControl


@dataclass(frozen=True, slots=True)
class MeterPost:
    connector: int
    reading: MeterReading


@dataclass(frozen=True, slots=True)
class Feed:
    """The daemon's event loop runs: the watchdog of the real-time process starts over."""


# ---- one-way, child -> parent ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot whose observable fields changed (``ConnectorSnapshot.observable``)."""

    snapshot: ConnectorSnapshot


@dataclass(frozen=True, slots=True)
class Report:
    """Every ``REPORT_INTERVAL_S``: whether the loop ticks on time, and its latest snapshots."""

    healthy: bool
    snapshots: tuple[ConnectorSnapshot, ...]


@dataclass(frozen=True, slots=True)
class Token:
    """An id tag the board's token reader read (the real-time process polls it)."""

    id_tag: str


@dataclass(frozen=True, slots=True)
class LogLine:
    logger: str
    level: int
    message: str


REPORT_INTERVAL_S = 2.0
TOKEN_POLL_S = 0.2  # a card is held up for longer than that
