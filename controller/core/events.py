"""What happened at the station, told to whoever subscribed: one frozen event per fact that changed.

Rules kept here:
- Events are emitted on the asyncio thread, in the order things happened, synchronously to
  each listener (``station.subscribe``). A listener that needs I/O submits it without awaiting
  first, so journal writes keep the events' order on the single database thread.
- Every event carries its EVSE (None: the station, or a token not bound to an EVSE yet), the
  wall time (NTP-corrected) and the monotonic time, the EVSE's latest meter reading and its
  view right after the event; the other fields are set where the kind says so.
- TRANSACTION_UPDATED names the event inside the transaction that updated it (``trigger``):
  EV_PLUGGED (bound to an EVSE at plug-in), AUTHORIZED, DEAUTHORIZED, CHARGING_STATE_CHANGED.
- TRANSACTION_STARTED names its start point, TRANSACTION_ENDED its cause; DEAUTHORIZED names
  its cause (Local, Remote, DeAuthorized, MasterPass...) and the token that ended it.
- TRANSACTION_STARTED is told before the loop may charge for that transaction: what its
  listeners do then (a remote start's charging profile installed) limits the very first offer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from controller.core.commands import TokenOutcome
from controller.core.ledger import Transaction
from controller.core.reservations import Reservation
from controller.core.view import Authorization, EvseView
from controller.core.vocabulary import (
    AvailabilityReason,
    ChargingState,
    ReservationEnd,
    StopCause,
    Token,
    TokenSource,
    TxPoint,
)
from controller.faults import Fault
from hal.types import MeterReading


class EventKind(Enum):
    EV_PLUGGED = "ev_plugged"
    EV_UNPLUGGED = "ev_unplugged"
    AUTHORIZED = "authorized"
    DEAUTHORIZED = "deauthorized"
    POWER_PATH_CLOSED = "power_path_closed"
    POWER_PATH_OPENED = "power_path_opened"
    ENERGY_TRANSFER_STARTED = "energy_transfer_started"
    ENERGY_TRANSFER_STOPPED = "energy_transfer_stopped"
    CHARGING_STATE_CHANGED = "charging_state_changed"
    TRANSACTION_STARTED = "transaction_started"
    TRANSACTION_UPDATED = "transaction_updated"
    TRANSACTION_ENDED = "transaction_ended"
    PLUG_IN_TIMED_OUT = "plug_in_timed_out"
    TOKEN_TIMED_OUT = "token_timed_out"
    AVAILABILITY_CHANGED = "availability_changed"
    FAULT_RAISED = "fault_raised"
    FAULT_CLEARED = "fault_cleared"
    RESERVATION_MADE = "reservation_made"
    RESERVATION_ENDED = "reservation_ended"
    TOKEN_READ = "token_read"  # the board's token reader read a token; ``token_outcome``: what it did


@dataclass(frozen=True)
class RemoteStart:
    """What a backend's remote start brought along, handed to the transaction it starts."""

    id: int | None
    profile: object | None  # the front end's charging profile, installed by smart charging


@dataclass(frozen=True)
class Event:
    kind: EventKind
    evse: int | None
    at: datetime
    mono: float
    meter: MeterReading | None = None
    view: EvseView | None = None
    token: Token | None = None
    source: TokenSource | None = None
    authorization: Authorization | None = None
    transaction: Transaction | None = None
    point: TxPoint | None = None  # TRANSACTION_STARTED: its start point
    cause: StopCause | None = None  # TRANSACTION_ENDED, DEAUTHORIZED
    trigger: EventKind | None = None  # TRANSACTION_UPDATED: what updated it
    charging_state: ChargingState | None = None
    fault: Fault | None = None
    operative: bool | None = None  # AVAILABILITY_CHANGED
    reason: AvailabilityReason | None = None  # AVAILABILITY_CHANGED: the reason that changed
    reservation: Reservation | None = None
    reservation_end: ReservationEnd | None = None
    # TRANSACTION_STARTED of a remote start; TRANSACTION_UPDATED of one that authorized a running transaction
    remote_start: RemoteStart | None = None
    token_outcome: TokenOutcome | None = None  # TOKEN_READ


Listener = Callable[[Event], None]
