"""What the station answers to commands: one enum per command, values in neutral words.

Rules kept here:
- Front ends translate a protocol request into a command and its outcome back into the
  protocol's answer; no outcome is a bare string.
- Commands a front end must answer before the work begins come with a pure check of the same
  name (``*_check``) on the station; the command itself re-checks and returns the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from controller.core.txpolicy import STANDALONE, TxPolicy
from controller.core.vocabulary import AuthStatus


class TokenOutcome(StrEnum):
    STARTED = "started"  # charging authorized on a plugged-in EVSE
    WAITING = "waiting"  # authorized, waiting for an EV to be plugged in
    STOPPED = "stopped"  # the token (its owner or a group member) ended a transaction
    UNLOCKED = "unlocked"  # the token released a cable kept locked for it
    REJECTED = "rejected"


@dataclass(frozen=True)
class TokenAnswer:
    outcome: TokenOutcome
    status: AuthStatus = AuthStatus.ACCEPTED  # why, when the authorization rejected it


class RemoteStartOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class StopOutcome(StrEnum):
    STOPPED = "stopped"  # ended, or its energy stopped (the policy ends it later)
    NO_TRANSACTION = "no_transaction"


class UnlockOutcome(StrEnum):
    UNLOCKED = "unlocked"
    FAILED = "failed"
    NOT_SUPPORTED = "not_supported"  # no lock on this EVSE
    ONGOING_TRANSACTION = "ongoing_transaction"  # an authorized transaction holds the cable
    UNKNOWN_EVSE = "unknown_evse"


class AvailabilityOutcome(StrEnum):
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"  # applied when the running transaction ends
    REJECTED = "rejected"


class ResetWhen(Enum):
    IMMEDIATE = "immediate"
    ON_IDLE = "on_idle"  # when no transaction runs in the scope


class ResetOutcome(StrEnum):
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    REJECTED = "rejected"


class ReserveOutcome(StrEnum):
    """The answer to a reservation request (both versions' ReserveNowStatus values)."""

    ACCEPTED = "Accepted"
    OCCUPIED = "Occupied"
    FAULTED = "Faulted"
    UNAVAILABLE = "Unavailable"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class ChargingPolicy:
    """The rules a front end sets at run time (its configuration keys), as one value."""

    tx: TxPolicy = STANDALONE
    connection_timeout_s: float = 120.0  # plugged without a token, or a token without an EV
    unlock_on_ev_disconnect: bool = True  # else the cable stays locked until its token returns
    stop_on_invalid_id: bool = True  # a token the backend invalidates after the start ends it
    max_energy_on_invalid_id_wh: float = 0.0  # ... else it delivers at most this much in all
    deauthorize_on_ev_disconnect: bool = False  # the EV leaving ends the authorization (cause EVDisconnected)
    # A running transaction whose EV left a tethered cable ends after the connection time-out (Timeout).
    timeout_after_ev_disconnect: bool = False
    start_allowed: bool = True  # False: no transaction starts (e.g. the backend has not accepted the station)
