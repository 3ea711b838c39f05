"""Every OCPP 1.6 configuration key evsed knows, as one table, and the pure rules to read and
write their values.

Rules kept here (OCPP 1.6 edition 2 chapter 9, OCPP-J 1.6 errata 3.12, security whitepaper
edition 3 chapter 7):
- One row per key: name, type, accessibility, default, reboot-required, feature profile and
  the constraints of its value. No per-key code; special cases are columns.
- A key is a CiString50Type (7.17): any letter case names its row (``named``); the row's
  name is the spelling reported back.
- Values travel as strings: booleans "true"/"false" (case-insensitive in, lower-case out),
  integers in decimal, CSL comma-separated without spaces.
- CSL members are checked against their choice set (measurands, optionally with a phase:
  "Voltage.L1"; phase rotations "1.RST"; profiles; rate units) and against the item limit held
  in the key named by ``max_items_key``.
- AuthorizationKey takes the whitepaper's 32-40 hex digits and the 16-40 character passwords
  deployed backends set: 16-40 visible ASCII characters (no space, so nothing is lost when its
  secret file is read back), which the hex form is one case of.
- Write-only keys (AuthorizationKey) are never read back; ``only_raise`` keys
  (SecurityProfile) reject a value not higher than the current one.
"""

# The key table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["bool", "int", "csl", "string"]
Access = Literal["R", "RW", "W"]
Value = bool | int | str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    kind: Kind
    access: Access
    default: str
    profile: str  # feature profile (or "Security" for the whitepaper keys)
    description: str
    required: bool = True  # optional keys may be left out when the feature is not wired
    reboot: bool = False
    minimum: int | None = None
    maximum: int | None = None
    choices: str | None = None  # name in CHOICES, for CSL members
    max_items_key: str | None = None
    max_length: int = 500  # ChangeConfiguration / GetConfiguration value maxLength
    pattern: str | None = None
    only_raise: bool = False


# 7.31 Measurand and 7.34 Phase (written here: importing the ocpp package's enums loads its
# ChargePoint, message classes and jsonschema into the daemon).
MEASURANDS = ("Current.Export", "Current.Import", "Current.Offered", "Energy.Active.Export.Register",
              "Energy.Active.Import.Register", "Energy.Reactive.Export.Register", "Energy.Reactive.Import.Register",
              "Energy.Active.Export.Interval", "Energy.Active.Import.Interval", "Energy.Reactive.Export.Interval",
              "Energy.Reactive.Import.Interval", "Frequency", "Power.Active.Export", "Power.Active.Import",
              "Power.Factor", "Power.Offered", "Power.Reactive.Export", "Power.Reactive.Import", "RPM", "SoC",
              "Temperature", "Voltage")  # fmt: skip
PHASES = frozenset({"L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"})
PHASE_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")
FEATURE_PROFILES = ("Core", "FirmwareManagement", "LocalAuthListManagement", "Reservation", "SmartCharging",
                    "RemoteTrigger")  # fmt: skip

CHOICES: dict[str, tuple[str, ...]] = {
    "measurands": MEASURANDS,
    "profiles": FEATURE_PROFILES,
    "rate_units": ("Current", "Power"),
    "phase_rotations": PHASE_ROTATIONS,
}

# fmt: off
KEYS: tuple[Key, ...] = (
    # 9.1 Core profile
    Key("AllowOfflineTxForUnknownId", "bool", "RW", "false", "Core", "Start transactions offline for unknown ids", required=False),
    Key("AuthorizationCacheEnabled", "bool", "RW", "true", "Core", "Authorization cache enabled", required=False),
    Key("AuthorizeRemoteTxRequests", "bool", "RW", "true", "Core", "Authorize RemoteStartTransaction ids like local ones"),
    Key("BlinkRepeat", "int", "RW", "3", "Core", "Times to blink the lighting when signalling", required=False, minimum=0, maximum=100),
    Key("ClockAlignedDataInterval", "int", "RW", "0", "Core", "Clock-aligned interval in s, 0 = none", minimum=0, maximum=86400),
    Key("ConnectionTimeOut", "int", "RW", "60", "Core", "s from Preparing until an unplugged start is cancelled", minimum=1, maximum=3600),
    Key("ConnectorPhaseRotation", "csl", "RW", "0.Unknown,1.Unknown", "Core", "Phase rotation per connector, e.g. 1.RST", choices="phase_rotations", max_items_key="ConnectorPhaseRotationMaxLength"),
    Key("ConnectorPhaseRotationMaxLength", "int", "R", "2", "Core", "Items allowed in ConnectorPhaseRotation", required=False),
    Key("GetConfigurationMaxKeys", "int", "R", "100", "Core", "Keys allowed in one GetConfiguration.req"),
    Key("HeartbeatInterval", "int", "RW", "300", "Core", "s of inactivity before a Heartbeat", minimum=0, maximum=86400),
    Key("LightIntensity", "int", "RW", "100", "Core", "Lighting intensity in %", required=False, minimum=0, maximum=100),
    Key("LocalAuthorizeOffline", "bool", "RW", "true", "Core", "Start offline for locally authorized ids"),
    Key("LocalPreauthorize", "bool", "RW", "false", "Core", "Start online for locally authorized ids without Authorize"),
    Key("MaxEnergyOnInvalidId", "int", "RW", "0", "Core", "Wh still delivered after an id is invalidated", required=False, minimum=0),
    Key("MeterValuesAlignedData", "csl", "RW", "Energy.Active.Import.Register", "Core", "Clock-aligned measurands", choices="measurands", max_items_key="MeterValuesAlignedDataMaxLength"),
    Key("MeterValuesAlignedDataMaxLength", "int", "R", "8", "Core", "Items allowed in MeterValuesAlignedData", required=False),
    Key("MeterValuesSampledData", "csl", "RW", "Energy.Active.Import.Register,Power.Active.Import", "Core", "Sampled measurands", choices="measurands", max_items_key="MeterValuesSampledDataMaxLength"),
    Key("MeterValuesSampledDataMaxLength", "int", "R", "8", "Core", "Items allowed in MeterValuesSampledData", required=False),
    Key("MeterValueSampleInterval", "int", "RW", "60", "Core", "s between samples during a transaction, 0 = none", minimum=0, maximum=86400),
    Key("MinimumStatusDuration", "int", "RW", "0", "Core", "s a status must be stable before it is reported", required=False, minimum=0, maximum=3600),
    Key("NumberOfConnectors", "int", "R", "1", "Core", "Physical connectors"),
    Key("ResetRetries", "int", "RW", "1", "Core", "Retries of an unsuccessful reset", minimum=0, maximum=10),
    Key("StopTransactionOnEVSideDisconnect", "bool", "RW", "true", "Core", "Stop the transaction when the EV side is unplugged"),
    Key("StopTransactionOnInvalidId", "bool", "RW", "true", "Core", "Stop when StartTransaction.conf is not Accepted"),
    Key("StopTxnAlignedData", "csl", "RW", "", "Core", "Clock-aligned measurands in StopTransaction", choices="measurands", max_items_key="StopTxnAlignedDataMaxLength"),
    Key("StopTxnAlignedDataMaxLength", "int", "R", "8", "Core", "Items allowed in StopTxnAlignedData", required=False),
    Key("StopTxnSampledData", "csl", "RW", "", "Core", "Sampled measurands in StopTransaction", choices="measurands", max_items_key="StopTxnSampledDataMaxLength"),
    Key("StopTxnSampledDataMaxLength", "int", "R", "8", "Core", "Items allowed in StopTxnSampledData", required=False),
    Key("SupportedFeatureProfiles", "csl", "R", "Core", "Core", "Feature profiles this station supports", choices="profiles", max_items_key="SupportedFeatureProfilesMaxLength"),
    Key("SupportedFeatureProfilesMaxLength", "int", "R", "6", "Core", "Items allowed in SupportedFeatureProfiles", required=False),
    Key("TransactionMessageAttempts", "int", "RW", "3", "Core", "Transmissions of a transaction message the CSMS fails to process", minimum=1, maximum=100),
    Key("TransactionMessageRetryInterval", "int", "RW", "60", "Core", "s before a retry, times the transmissions so far", minimum=0, maximum=86400),
    Key("UnlockConnectorOnEVSideDisconnect", "bool", "RW", "true", "Core", "Unlock the station-side cable when the EV side is unplugged"),
    Key("WebSocketPingInterval", "int", "RW", "60", "Core", "s between websocket pings, 0 = off", required=False, minimum=0, maximum=86400),
    # 9.2 Local Auth List Management profile
    Key("LocalAuthListEnabled", "bool", "RW", "true", "LocalAuthListManagement", "Local authorization list enabled"),
    Key("LocalAuthListMaxLength", "int", "R", "1000", "LocalAuthListManagement", "Ids the local list can hold"),
    Key("SendLocalListMaxLength", "int", "R", "100", "LocalAuthListManagement", "Ids allowed in one SendLocalList.req"),
    # 9.3 Reservation profile
    Key("ReserveConnectorZeroSupported", "bool", "R", "true", "Reservation", "Reservations of connector 0", required=False),
    # 9.4 Smart Charging profile
    Key("ChargeProfileMaxStackLevel", "int", "R", "10", "SmartCharging", "Highest stackLevel of a charging profile"),
    Key("ChargingScheduleAllowedChargingRateUnit", "csl", "R", "Current,Power", "SmartCharging", "Rate units allowed in schedules", choices="rate_units"),
    Key("ChargingScheduleMaxPeriods", "int", "R", "24", "SmartCharging", "Periods allowed per schedule"),
    Key("ConnectorSwitch3to1PhaseSupported", "bool", "R", "false", "SmartCharging", "Switching 3 to 1 phase during a transaction", required=False),
    Key("MaxChargingProfilesInstalled", "int", "R", "20", "SmartCharging", "Charging profiles installed at a time"),
    # Security whitepaper edition 3, chapter 7 (AuthorizationKey also OCPP-J errata 3.12)
    Key("AdditionalRootCertificateCheck", "bool", "R", "false", "Security", "One CSMS root (plus fallback), replaced only by one it signed", required=False),
    Key("AuthorizationKey", "string", "W", "", "Security", "Basic auth password: 32-40 hex digits or 16-40 visible ASCII characters", required=False, pattern=r"[!-~]{16,40}"),
    Key("CertificateSignedMaxChainSize", "int", "R", "10000", "Security", "Max characters of CertificateSigned.req certificateChain", required=False, maximum=10000),
    Key("CertificateStoreMaxLength", "int", "R", "10", "Security", "Root/CA certificates that can be installed", required=False),
    Key("CpoName", "string", "RW", "", "Security", "CPO name used in the CSR of SignCertificate.req", required=False),
    Key("SecurityProfile", "int", "RW", "0", "Security", "Security profile 0-3; can only be raised", required=False, minimum=0, maximum=3, only_raise=True),
)
# fmt: on

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}
_BY_FOLDED: dict[str, Key] = {k.name.casefold(): k for k in KEYS}


def named(name: str) -> Key | None:
    """The row a key name written in any letter case stands for (None: no such key)."""
    return _BY_FOLDED.get(name.casefold())


class BadValue(ValueError):
    """A value a key cannot take; the message names key, value and what is allowed."""


def _csl_member_ok(member: str, allowed: Collection[str], choices: str) -> bool:
    if choices == "measurands":
        if member in allowed:
            return True
        base, _, phase = member.rpartition(".")
        return base in allowed and phase in PHASES
    if choices == "phase_rotations":
        connector, _, rotation = member.partition(".")
        return connector.isdigit() and rotation in allowed
    return member in allowed


def parse(key: Key, text: str, *, current: Value | None = None, max_items: int | None = None,
          allowed: Mapping[str, Collection[str]] = CHOICES) -> Value:  # fmt: skip
    """Parse ``text`` as a value of ``key``; raise BadValue naming what is allowed.
    ``allowed`` may narrow a choice set (e.g. to the measurands the meter provides)."""
    if len(text) > key.max_length:
        raise BadValue(f"{key.name}: value longer than {key.max_length} characters")
    if key.kind == "bool":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise BadValue(f"{key.name}={text!r}: expected true or false")
        return lowered == "true"
    if key.kind == "int":
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise BadValue(f"{key.name}={text!r}: expected an integer")
        number = int(text)
        if (key.minimum is not None and number < key.minimum) or (key.maximum is not None and number > key.maximum):
            raise BadValue(f"{key.name}={number}: allowed {key.minimum}..{key.maximum}")
        if key.only_raise and isinstance(current, int) and number <= current:
            raise BadValue(f"{key.name}={number}: can only be raised above {current}")
        return number
    if key.kind == "csl":
        members = tuple(m.strip() for m in text.split(",")) if text.strip() else ()
        if key.choices is not None:
            bad = [m for m in members if not _csl_member_ok(m, allowed[key.choices], key.choices)]
            if bad:
                raise BadValue(f"{key.name}: {', '.join(bad)} not in {', '.join(allowed[key.choices])}")
        if len(set(members)) != len(members):
            raise BadValue(f"{key.name}: repeated items")
        if max_items is not None and len(members) > max_items:
            raise BadValue(f"{key.name}: {len(members)} items, at most {max_items}")
        return members
    if key.pattern is not None and not re.fullmatch(key.pattern, text):
        raise BadValue(f"{key.name}: value does not match {key.pattern}")
    return text


def render(key: Key, value: Value) -> str:
    """The wire form of a value (GetConfiguration)."""
    if key.kind == "bool":
        return "true" if value else "false"
    if key.kind == "csl":
        assert isinstance(value, tuple)
        return ",".join(value)
    return str(value)
