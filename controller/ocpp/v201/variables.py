"""One row of the device model: a component-variable, its attributes and characteristics.

Rules kept here (OCPP 2.0.1 part 1 chapter 4; part 2 2.16 ComponentType, 2.50
VariableAttributeType, 2.51 VariableCharacteristicsType, 2.53 VariableType):
- A row is data: names exactly as the spec spells them (CamelCase), the attribute types it
  supports with one mutability each, the characteristics reported for it, and what a change
  drives (``effect``, a symbolic name the front end binds) or where a live value comes from
  (``source``, a reader the front end provides). No per-variable code.
- Component and variable names and instances compare case-insensitively (identifierString);
  an empty instance is the same as none (B06.FR.15).
- An attribute's value is either stored (a default, a preset, what the CSMS wrote) or live
  (``source``): never both.
- Writable attributes are persistent (part 2 "Referenced Components and Variables": "all
  variables that are writable SHALL have persistence = true"); read-only stored values are
  configuration and constant; live values are neither.
- ``address`` names a row in one line, e.g. ``OCPPCommCtrlr.HeartbeatInterval``,
  ``DeviceDataCtrlr.ItemsPerMessage[GetReport]``, ``EVSE@1.Power``,
  ``Connector@1/1.ConnectorType``: used for storage keys, presets and logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from controller.ocpp.v201.enums import AttributeEnumType, DataEnumType, MutabilityEnumType

Actual = AttributeEnumType.actual
ReadOnly = MutabilityEnumType.read_only
ReadWrite = MutabilityEnumType.read_write
WriteOnly = MutabilityEnumType.write_only
LIST_TYPES = frozenset({DataEnumType.option_list, DataEnumType.member_list, DataEnumType.sequence_list})


class Feature(StrEnum):
    """What the station declares; decides which controller rows exist (part 5 section 5)."""

    CORE = "Core"
    AUTHORIZATION_CACHE = "AuthorizationCache"  # Core optional feature C-49
    LOCAL_AUTH_LIST = "LocalAuthListManagement"
    SMART_CHARGING = "SmartCharging"
    RESERVATION = "Reservation"
    ADVANCED_USER_INTERFACE = "AdvancedUserInterface"  # DisplayMessageCtrlr + TariffCostCtrlr
    ADVANCED_DEVICE_MANAGEMENT = "AdvancedDeviceManagement"  # MonitoringCtrlr
    ADVANCED_SECURITY = "AdvancedSecurity"


def _folded(text: str | None) -> str:
    return (text or "").casefold()


@dataclass(frozen=True, slots=True)
class ComponentId:
    name: str
    instance: str | None = None
    evse: int | None = None
    connector: int | None = None

    @property
    def key(self) -> tuple[str, str, int | None, int | None]:
        return (_folded(self.name), _folded(self.instance), self.evse, self.connector)

    @staticmethod
    def from_json(data: dict[str, Any]) -> ComponentId:
        evse = data.get("evse") or {}
        return ComponentId(data["name"], data.get("instance") or None, evse.get("id"), evse.get("connectorId"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            out["instance"] = self.instance
        if self.evse is not None:
            out["evse"] = (
                {"id": self.evse} if self.connector is None else {"id": self.evse, "connectorId": self.connector}
            )
        return out

    def __str__(self) -> str:
        text = self.name + (f"[{self.instance}]" if self.instance is not None else "")
        if self.evse is not None:
            text += f"@{self.evse}" + (f"/{self.connector}" if self.connector is not None else "")
        return text


@dataclass(frozen=True, slots=True)
class VariableId:
    name: str
    instance: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (_folded(self.name), _folded(self.instance))

    @staticmethod
    def from_json(data: dict[str, Any]) -> VariableId:
        return VariableId(data["name"], data.get("instance") or None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name} if self.instance is None else {"name": self.name, "instance": self.instance}

    def __str__(self) -> str:
        return self.name + (f"[{self.instance}]" if self.instance is not None else "")


@dataclass(frozen=True, slots=True)
class Attribute:
    type: AttributeEnumType = Actual
    mutability: MutabilityEnumType = ReadWrite
    default: str | None = None  # canonical text; None = unset (reported as "")
    source: str | None = None  # live value: the reader the front end binds under this name

    @property
    def writable(self) -> bool:
        return self.mutability != ReadOnly

    @property
    def persistent(self) -> bool:
        return self.source is None

    @property
    def constant(self) -> bool:
        return self.source is None and self.mutability == ReadOnly


@dataclass(frozen=True, slots=True)
class Characteristics:
    data_type: DataEnumType
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None  # for strings and lists: the maximum length of the text
    values_list: tuple[str, ...] = ()
    supports_monitoring: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dataType": self.data_type.value, "supportsMonitoring": self.supports_monitoring}
        if self.unit is not None:
            out["unit"] = self.unit
        if self.min_limit is not None:
            out["minLimit"] = self.min_limit
        if self.max_limit is not None:
            out["maxLimit"] = self.max_limit
        if self.values_list:
            out["valuesList"] = ",".join(self.values_list)
        return out


@dataclass(frozen=True, slots=True)
class Variable:
    """One component-variable of the station."""

    component: ComponentId
    variable: VariableId
    characteristics: Characteristics
    attributes: tuple[Attribute, ...]
    feature: Feature = Feature.CORE
    spec: str = ""  # where it is defined, e.g. "part 2 2.1.5"
    effect: str | None = None  # what a change drives; the front end subscribes by this name
    reboot: bool = False  # a change takes effect after a reboot (SetVariables: RebootRequired)
    min_length: int = 0  # strings: fewest characters (BasicAuthPassword: 16)
    pattern: str | None = None  # strings: a full-match regular expression
    allow_empty: bool = True  # lists: whether "" (no member) is a value
    installer: bool = False  # read-only for the CSMS, set in [ocpp.variables] (AdditionalRootCertificateCheck)
    address: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", f"{self.component}.{self.variable}")

    def attribute(self, kind: AttributeEnumType) -> Attribute | None:
        return next((a for a in self.attributes if a.type == kind), None)

    @property
    def writable(self) -> bool:
        return any(a.writable for a in self.attributes)


def setting(mutability: MutabilityEnumType, default: str | None) -> tuple[Attribute, ...]:
    """The usual case: one stored Actual attribute."""
    return (Attribute(Actual, mutability, default),)


def live(source: str) -> tuple[Attribute, ...]:
    """A read-only Actual attribute whose value the station measures or knows at the moment."""
    return (Attribute(Actual, ReadOnly, None, source),)


def _named(text: str) -> tuple[str, str | None]:
    name, bracket, rest = text.partition("[")
    return (name, rest.removesuffix("]")) if bracket else (name, None)


def variable(
    component: str | ComponentId,
    name: str,
    data_type: DataEnumType,
    attributes: tuple[Attribute, ...],
    *,
    unit: str | None = None,
    min_limit: float | None = None,
    max_limit: float | None = None,
    values: tuple[str, ...] = (),
    monitoring: bool = False,
    **row: Any,
) -> Variable:
    """A row from its names written as in the spec text: ``"ItemsPerMessage[GetReport]"``."""
    if isinstance(component, str):
        component = ComponentId(*_named(component))
    characteristics = Characteristics(data_type, unit, min_limit, max_limit, values, monitoring)
    return Variable(component, VariableId(*_named(name)), characteristics, attributes, **row)
