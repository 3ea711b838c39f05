"""What the outside sees of the station: frozen views, built on demand.

Rules kept here:
- Nothing outside the core reads or changes the station's mutable state; front ends, the API,
  smart charging and the simulator read ``EvseView``s (``station.view(evse)``,
  ``station.views()``) and act through commands.
- A view is a value: it never changes after it was built, and holds only frozen values.
- ``charging_state`` and ``indication`` are what the station published: while a transaction
  is being ended they keep their last value (a fault excepted), so whoever sees the end of
  charging finds the transaction's row closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from controller.core.ledger import Transaction
from controller.core.reservations import Reservation
from controller.core.vocabulary import (
    AuthorizedBy,
    AvailabilityReason,
    ChargingState,
    DriverMessage,
    Occupancy,
    Token,
    TokenSource,
)
from controller.faults import Fault
from controller.realtime import ConnectorSnapshot
from hal.types import Indication, MeterReading


@dataclass(frozen=True)
class Authorization:
    """Who may charge on an EVSE (or, not yet bound, at the station) and since when."""

    token: Token
    source: TokenSource
    by: AuthorizedBy
    at: datetime
    remote_start_id: int | None = None
    reservation: Reservation | None = None  # the reservation a transaction of this token uses
    evses: frozenset[int] = frozenset()  # where the authorization allows it to charge; empty: anywhere
    priority: int | None = None  # the charging priority the authorization gave
    message: DriverMessage | None = None  # for the driver, from the authorization (a display shows it)


@dataclass(frozen=True)
class LimitView:
    amps: float
    phases: int
    source: str  # "configuration", or the name of the limit source that set it (e.g. "charging profiles")


@dataclass(frozen=True)
class EvseView:
    id: int
    phases: int
    max_current_a: float
    snapshot: ConnectorSnapshot | None
    meter: MeterReading | None
    ev_connected: bool
    authorization: Authorization | None
    transaction: Transaction | None
    charging_state: ChargingState | None  # None until the loop sampled the EVSE
    indication: Indication | None
    occupancy: Occupancy | None
    operative: bool
    inoperative_reasons: frozenset[AvailabilityReason]
    scheduled_inoperative: bool  # wanted inoperative, applied when the transaction ends
    finishing: bool
    stopping: bool
    plug_timed_out: bool
    token_waiting: bool
    reserved: bool  # shown as reserved
    faults: frozenset[Fault]
    fault: Fault | None  # the one reported when several are active
    paused: bool
    energy_cap_wh: float | None
    limit: LimitView | None
    has_lock: bool  # a cable lock the station drives
    connectors: tuple[int, ...] = field(default=(1,))

    @property
    def energy_wh(self) -> float:
        """Energy of the running transaction up to the latest reading."""
        tx = self.transaction
        if tx is None:
            return 0.0
        now = self.meter.energy_import_wh if self.meter is not None else tx.last_meter_wh
        return max(0.0, now - tx.meter_start_wh)


@dataclass(frozen=True)
class StationView:
    evses: tuple[EvseView, ...]
    pending: Authorization | None  # a token waiting for an EV on any EVSE
    operative: bool  # the station as a whole (its own availability reasons)
    reservations: tuple[Reservation, ...]
