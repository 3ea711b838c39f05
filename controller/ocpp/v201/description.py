"""What the device model needs to know about the station: its EVSEs and connectors, what
hardware they have, and the capacities the front ends enforce.

Rules kept here:
- The description is built from the configuration (and the board) by the front end; the
  device model only reports what is described, so a station without a lock, a display or a
  bay sensor has no variables for them.
- Connector types are ConnectorEnumType values (part 2 2.13.4; cGBT, cChaoJi and OppCharge
  are in the enumeration already); measurands are MeasurandEnumType values; anything else is
  a ``ValueError`` naming the field and what is allowed.
- EVSEs and their connectors are numbered 1, 2, ... without gaps (part 1 7.1, 7.2).
- Capacities are limits the station keeps (list sizes, message sizes); the device model
  reports them as values or maxLimit and never enforces them itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.ocpp.v201.enums import ConnectorEnumType, MeasurandEnumType

CONNECTOR_TYPES = tuple(c.value for c in ConnectorEnumType)
MEASURANDS = tuple(m.value for m in MeasurandEnumType)
# What the meter drivers and the core deliver (controller/ocpp/v16/metering.py, 2.0.1 names).
# What controller/transfer.py speaks (its SCHEMES, upper case as OCPP writes them).
FILE_TRANSFER_PROTOCOLS = ("FTP", "FTPS", "HTTP", "HTTPS")
# One NotifyReport entry is at most about 16.5 kB: a 2500-character value (ReportingValueSize)
# of control characters escaped to 6 bytes each, a 1000-character valuesList and four
# 50-character names; every part must be able to hold one.
MIN_REPORT_BYTES = 20480
DEFAULT_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Energy.Active.Export.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "Frequency",
    "Current.Offered",
)


@dataclass(frozen=True)
class ConnectorDescription:
    type: str = "sType2"
    fixed_cable: bool = False  # a tethered cable: nothing to unlock (UnlockOnEVSideDisconnect)
    lock: bool = True  # a plug retention lock (sockets)


@dataclass(frozen=True)
class EvseDescription:
    phases: int = 3
    max_current_a: float = 16.0
    connectors: tuple[ConnectorDescription, ...] = (ConnectorDescription(),)
    temperature_sensor: bool = False
    bay_sensor: bool = False
    phase_switch: bool = False  # 3 -> 1 phase (energy management's phase switch)


@dataclass(frozen=True)
class Capacities:
    items_per_message: int = 100  # GetVariables, SetVariables, SendLocalList, monitoring requests
    bytes_per_message: int = 65536  # the same requests; the link's largest frame
    report_items: int = 100  # GetReport requests, and each NotifyReport part the station sends
    report_bytes: int = 65536  # the same, in bytes
    local_list_entries: int = 10_000
    local_list_bytes: int = 2_000_000
    auth_cache_bytes: int = 1_000_000
    certificate_entries: int = 10
    charging_profiles: int = 20
    profile_stack_level: int = 10
    periods_per_schedule: int = 24
    display_messages: int = 10
    max_certificate_chain_size: int = 10000

    def __post_init__(self) -> None:
        for name, least in (("items_per_message", 1), ("report_items", 1), ("bytes_per_message", 1024),
                            ("report_bytes", MIN_REPORT_BYTES)):  # fmt: skip
            if getattr(self, name) < least:
                raise ValueError(f"{name}: {getattr(self, name)}, at least {least}")


@dataclass(frozen=True)
class DisplaySize:
    rows: int
    columns: int


@dataclass(frozen=True)
class StationDescription:
    evses: tuple[EvseDescription, ...]
    identity: str = "evsed"  # the charge point id (SecurityCtrlr.Identity, basic auth user name)
    vendor: str = "evsed"
    model: str = "evsed-ac"
    serial_number: str | None = None
    nominal_voltage_v: float = 230.0
    display: DisplaySize | None = None
    phase_switching: bool = False  # 3 -> 1 phase during a transaction (SmartChargingCtrlr.Phases3to1)
    measurands: tuple[str, ...] = DEFAULT_MEASURANDS
    message_timeout_s: int = 30
    network_slots: int = 2  # configuration slots for network profiles (B09.FR.06: at least two)
    ntp_servers: tuple[str, ...] = ()
    max_temperature_c: float = 80.0
    file_transfer_protocols: tuple[str, ...] = FILE_TRANSFER_PROTOCOLS
    capacities: Capacities = field(default_factory=Capacities)

    def __post_init__(self) -> None:
        if not self.evses:
            raise ValueError("evses: a station has at least one EVSE")
        for n, evse in enumerate(self.evses, start=1):
            if evse.phases not in (1, 3):
                raise ValueError(f"EVSE {n} phases: {evse.phases}, expected 1 or 3")
            if not evse.connectors:
                raise ValueError(f"EVSE {n} connectors: an EVSE has at least one connector")
            for c, connector in enumerate(evse.connectors, start=1):
                if connector.type not in CONNECTOR_TYPES:
                    raise ValueError(
                        f"EVSE {n} connector {c} type: {connector.type!r}, expected one of {CONNECTOR_TYPES}"
                    )
        unknown = [m for m in self.measurands if m not in MEASURANDS]
        if unknown or not self.measurands:
            raise ValueError(f"measurands: {unknown or 'none'}; expected some of {MEASURANDS}")
        if self.network_slots < 2:
            raise ValueError(f"network_slots: {self.network_slots}, at least 2 (B09.FR.06)")

    @property
    def supply_phases(self) -> int:
        return max(e.phases for e in self.evses)

    @property
    def has_lock(self) -> bool:
        """A socket whose cable can be unlocked: UnlockOnEVSideDisconnect is then a choice."""
        return any(c.lock and not c.fixed_cable for e in self.evses for c in e.connectors)

    @property
    def connector_types(self) -> dict[int, frozenset[str]]:
        """EVSE id -> the types of its connectors (a reservation of a connector type, H01)."""
        return {n: frozenset(c.type for c in e.connectors) for n, e in enumerate(self.evses, start=1)}

    @property
    def has_bay_sensor(self) -> bool:
        return any(e.bay_sensor for e in self.evses)
