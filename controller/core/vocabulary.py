"""The charging core's words: plain enums and frozen dataclasses, no behaviour beyond comparison.

Rules kept here:
- No OCPP version owns these words. Where a version has the same concept its spelling is kept
  as the value (2.0.1 IdTokenEnumType, ReasonEnumType, ChargingStateEnumType, TxStartPoint
  values), so a front end projects them with a table, never with string surgery.
- A ``Token`` is an identifier (up to ``MAX_TOKEN_ID_LENGTH`` characters) of a type; two tokens
  are the same card when their ids match case-insensitively (OCPP identifiers are CiStrings)
  and their types are equal. ``group`` (1.6 parentIdTag, 2.0.1 groupIdToken) is what the
  authorization said about it and takes no part in that comparison.
- Free vend has a token of its own: ``FREE_VEND`` (type NoAuthorization, empty id).
- ``StopCause`` is the union of both versions' stop reasons; each front end maps it to its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_TOKEN_ID_LENGTH = 36


class TokenType(StrEnum):
    """The kind of identifier (2.0.1 IdTokenEnumType); a 1.6 idTag is ISO14443."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


@dataclass(frozen=True)
class Token:
    id: str
    type: TokenType
    group: str | None = None  # the group the authorization named (compared by id, case-insensitively)

    def same(self, other: Token) -> bool:
        """The same identifier: ids equal ignoring case, types equal (the group is not compared)."""
        return self.type is other.type and self.id.casefold() == other.id.casefold()

    def in_group(self, group: str | None) -> bool:
        """This token is of ``group``: its group is that one, or it is the group's own token."""
        if not group:
            return False
        return any(g.casefold() == group.casefold() for g in (self.id, self.group) if g)


FREE_VEND = Token("", TokenType.NO_AUTHORIZATION)


@dataclass(frozen=True)
class DriverMessage:
    """Text the backend has for the driver (2.0.1 personalMessage): shown by whatever shows text."""

    content: str
    format: str = "UTF8"  # the 2.0.1 MessageFormatEnumType words: ASCII, HTML, URI, UTF8
    language: str | None = None  # an RFC 5646 tag


class TokenSource(StrEnum):
    """Where a token came from."""

    READER = "reader"  # the board's token reader (HAL)
    API = "api"  # the local API or the simulator's swipe
    REMOTE = "remote"  # a backend's remote start
    FREE_VEND = "free_vend"  # the station itself: nobody has to identify


class AuthorizedBy(StrEnum):
    """Who accepted a token."""

    CONFIGURED = "configured"  # [charging] tokens or authorize = "any"
    LOCAL_LIST = "local_list"
    CACHE = "cache"
    BACKEND = "backend"  # the CSMS answered
    OFFLINE = "offline"  # unknown, accepted by the offline rule
    NOBODY = "nobody"  # not asked (a remote start the backend itself vouches for)


class AuthStatus(StrEnum):
    """The answer about a token: both versions' AuthorizationStatus values."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    CONCURRENT_TX = "ConcurrentTx"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


class StopCause(StrEnum):
    """Why a transaction ended: the union of 1.6 Reason and 2.0.1 ReasonEnumType."""

    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    POWER_LOSS = "PowerLoss"
    REBOOT = "Reboot"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"
    IMMEDIATE_RESET = "ImmediateReset"
    DEAUTHORIZED = "DeAuthorized"
    EMERGENCY_STOP = "EmergencyStop"
    UNLOCK_COMMAND = "UnlockCommand"
    ENERGY_LIMIT_REACHED = "EnergyLimitReached"
    GROUND_FAULT = "GroundFault"
    OVERCURRENT_FAULT = "OvercurrentFault"
    POWER_QUALITY = "PowerQuality"
    STOPPED_BY_EV = "StoppedByEV"
    TIMEOUT = "Timeout"
    TIME_LIMIT_REACHED = "TimeLimitReached"
    SOC_LIMIT_REACHED = "SOCLimitReached"
    MASTER_PASS = "MasterPass"
    LOCAL_OUT_OF_CREDIT = "LocalOutOfCredit"
    OTHER = "Other"


class ChargingState(StrEnum):
    """What the EVSE is doing for the EV (2.0.1 ChargingStateEnumType words)."""

    CHARGING = "Charging"  # energy flows (contactor closed)
    EV_CONNECTED = "EVConnected"  # an EV is there, nothing is offered to it yet
    SUSPENDED_EV = "SuspendedEV"  # energy is offered, the EV does not take it
    SUSPENDED_EVSE = "SuspendedEVSE"  # a transaction runs, the EVSE offers nothing (limit, pause, fault)
    IDLE = "Idle"  # no EV


class TxPoint(StrEnum):
    """Where a transaction starts or stops (2.0.1 TxStartPoint / TxStopPoint values)."""

    PARKING_BAY_OCCUPANCY = "ParkingBayOccupancy"
    EV_CONNECTED = "EVConnected"
    AUTHORIZED = "Authorized"
    POWER_PATH_CLOSED = "PowerPathClosed"
    ENERGY_TRANSFER = "EnergyTransfer"


class AvailabilityReason(StrEnum):
    """Who made an EVSE (or the station) inoperative; any one of them keeps it so."""

    OPERATOR = "operator"  # the backend's ChangeAvailability, the local API
    FIRMWARE = "firmware"  # an install waits for the station to be idle
    RESET = "reset"
    FAULT = "fault"


class ReservationEnd(StrEnum):
    USED = "used"  # a transaction of its token started
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REMOVED = "removed"  # its EVSE(s) became faulted or unavailable


class RestartKind(StrEnum):
    """How the daemon restarts after a reset (the CLI exits for systemd or re-executes)."""

    SOFT = "Soft"
    HARD = "Hard"


class Occupancy(StrEnum):
    """Whether an EVSE can take a new driver now (the 2.0.1 connector status without Reserved)."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"  # an EV, a token, a transaction or its end keeps it
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"
