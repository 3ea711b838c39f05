"""What the daemon and the local API know of an OCPP front end, whichever version it speaks.

Rules kept here:
- A front end is built from one ``FrontEndContext`` (everything it may use, handed to its
  constructors: no setters after the fact). Building it registers its ledger hooks and its
  station listener, so crash recovery, which runs after, queues its messages.
- The daemon starts it after the station runs and stops it before the station's last
  transactions end; the API and the web page show ``status_json`` (``ocpp``, and ``security``
  where it has one) and ``queued_messages``, and drive ``connect`` / ``disconnect`` /
  ``reconnect``; the page uploads releases through the front end's ``firmware_updater`` (the
  station's one updater, whose statuses the front end reports to the backend).
- ``LinkControls`` is that part of the contract for a front end on one link and one journal
  (both versions): connect, disconnect, reconnect (also after a disconnect), queued messages.
- A reset is the core's command (controller/core/station.py) and ends in the daemon's restart,
  which reads ``reset_retries`` from the front end (how often a failed reboot is retried).
- Local energy management reaches a front end only as ``LocalLimits`` (what it constrains, a
  call after each step): the station applies its limits itself, a front end reports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from controller.clock import WallClock
from controller.config import Config
from controller.core.ledger import Ledger
from controller.core.station import Station
from controller.firmware.updater import Updater
from controller.ocpp.journal import Journal
from controller.ocpp.link import Link
from controller.storage import Database

if TYPE_CHECKING:
    from controller.display.screen import Screen  # loaded only by a box with a display


class TimeSource(Protocol):
    """What the TLS checks need from NTP (controller/time_sync.py)."""

    synced: asyncio.Event

    def dates_by_offset(self) -> bool:
        """True when certificate dates must be checked against offset-corrected time."""
        ...


class LocalLimits(Protocol):
    """What a front end reads of local energy management (controller/energy/site.py)."""

    on_step: list[Callable[[], None]]  # told after each of its steps

    def constraint(self, evse_id: int) -> tuple[float, int] | None:
        """Its limit on the EVSE (A per phase, phases) while it allows less than the EVSE's
        session wants, else None."""
        ...


class FrontEnd(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...

    def status_json(self) -> dict[str, Any]: ...

    async def connect(self) -> None: ...

    async def disconnect(self) -> None: ...

    async def reconnect(self) -> None:
        """Drop the connection and open a new one at once (also after ``disconnect``)."""
        ...

    async def queued_messages(self) -> int:
        """Messages waiting in the journal for the backend."""
        ...

    async def report_security_event(self, kind: str, detail: str) -> None: ...

    @property
    def reset_retries(self) -> int: ...

    @property
    def firmware_updater(self) -> Updater | None: ...


class LinkControls:
    """The contract's connection controls, for a front end with a ``link`` and a ``journal``."""

    link: Link
    journal: Journal

    async def connect(self) -> None:
        self.link.connect()

    async def disconnect(self) -> None:
        await self.link.disconnect()

    async def reconnect(self) -> None:
        self.link.connect()
        await self.link.reconnect()

    async def queued_messages(self) -> int:
        return len(await self.journal.pending())


@dataclass(frozen=True)
class FrontEndContext:
    config: Config
    db: Database
    ledger: Ledger
    station: Station
    clock: WallClock
    time_source: TimeSource | None = None
    screen: Screen | None = None  # the box's display (controller/display/), when it has one
    energy: LocalLimits | None = None  # local energy management, where it limits the EVSEs ([grid])


Build = Callable[[FrontEndContext], FrontEnd]
Check = Callable[[Config], None]
