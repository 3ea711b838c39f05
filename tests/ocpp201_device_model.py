"""Shared pieces of the OCPP 2.0.1 device-model tests: stations, a model with live values the
test controls, and validation of payloads against the ``ocpp`` package's 2.0.1 schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import ocpp

from controller.ocpp.v201.description import (
    ConnectorDescription,
    DisplaySize,
    EvseDescription,
    StationDescription,
)
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.values import Value
from controller.ocpp.v201.variables import Feature, Variable

NOW = datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
ALL_FEATURES = tuple(Feature)
SCHEMAS = Path(ocpp.__file__).parent / "v201" / "schemas"


def two_connector_station(**overrides: Any) -> StationDescription:
    """Two EVSEs with one Type 2 socket each (with lock), 3 phases 32 A, a 4x20 display."""
    fields: dict[str, Any] = {
        "evses": (EvseDescription(phases=3, max_current_a=32.0), EvseDescription(phases=3, max_current_a=32.0)),
        "display": DisplaySize(4, 20),
        "serial_number": "EVSED-0001",
        "ntp_servers": ("pool.ntp.org",),
    }
    fields.update(overrides)
    return StationDescription(**fields)


def minimal_station(**overrides: Any) -> StationDescription:
    """One EVSE with a fixed cable, no lock, no display, no sensors."""
    fields: dict[str, Any] = {
        "evses": (
            EvseDescription(phases=1, connectors=(ConnectorDescription("cType2", fixed_cable=True, lock=False),)),
        )
    }
    fields.update(overrides)
    return StationDescription(**fields)


class Live:
    """Live values the test sets: ``live[("availability_state", "EVSE@1")] = "Occupied"``;
    per source a default for every component."""

    DEFAULTS: dict[str, Value] = {
        "availability_state": "Available",
        "problem": False,
        "power": 0.0,
        "current": 0.0,
        "voltage": 230.0,
        "link_connected": True,
        "temperature": 25.5,
        "lock_active": False,
        "lock_problem": False,
        "bay_occupied": False,
        "display_text": "Welcome",
        "active_network_profile": 1,
        "certificate_entries": 2,
        "security_profile": 2,
        "auth_cache_storage": 0,
        "local_auth_list_entries": 0,
        "local_auth_list_storage": 0,
        "charging_profile_entries": 0,
        "external_control_signals": False,
        "display_message_entries": 0,
        "monitoring_base": "All",
        "monitoring_level": 9,
    }

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Value | None] = {}
        self.reads = 0

    def __setitem__(self, key: tuple[str, str], value: Value | None) -> None:
        self.values[key] = value

    def readers(self) -> dict[str, Any]:
        def reader(source: str) -> Any:
            def read(row: Variable, _now: datetime) -> Value | None:
                self.reads += 1
                return self.values.get((source, str(row.component)), self.DEFAULTS[source])

            return read

        return {source: reader(source) for source in self.DEFAULTS}


def build_model(
    description: StationDescription | None = None,
    features: tuple[Feature, ...] = ALL_FEATURES,
    live: Live | None = None,
    **kwargs: Any,
) -> DeviceModel:
    inventory = Inventory.build(description or two_connector_station(), features)
    return DeviceModel(inventory, (live or Live()).readers(), **kwargs)


@cache
def _validator(name: str) -> Any:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8-sig"))
    return jsonschema.validators.validator_for(schema)(schema)


def assert_valid(action: str, payload: Any, *, response: bool = False) -> None:
    """``payload`` conforms to the 2.0.1 schema of ``action``'s request (or response)."""
    name = f"{action}{'Response' if response else 'Request'}"
    errors = sorted(_validator(name).iter_errors(payload), key=str)
    assert not errors, f"{name} violates its schema: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )
