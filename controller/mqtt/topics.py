"""MQTT topics and payloads, pure: names, commands in, Home Assistant discovery out.

Rules kept here:
- Every topic of a box lies under ``<topic_prefix>/<charge point id>``:
  ``status`` (availability: ``online`` / ``offline``, retained, the last will),
  ``connector/<n>/state`` and ``grid/state`` (JSON, retained),
  ``connector/<n>/mode/set`` (``off`` | ``minpv`` | ``pv``), ``connector/<n>/max_current/set``
  (amperes, 0 to the connector's rating: below 6 the EV pauses), ``connector/<n>/charging/set``
  (``start`` | ``stop``): commands in;
  ``connector/<n>/allocation`` (JSON ``{"amps": A, "phases": 1|3, "valid_s": S}``): the energy
  manager's limit for a member box; ``error``: what was wrong with a command (not retained).
- A command that does not parse is a ``ValueError`` whose text says what is allowed; the
  caller publishes it on ``error`` and changes nothing.
- Home Assistant discovery follows HA's MQTT discovery schema: one retained config per entity
  at ``<discovery_prefix>/<component>/<node_id>/<object_id>/config`` with ``unique_id``,
  ``device`` (identifiers, name, manufacturer, model, sw_version), ``availability_topic``
  and, per component, what HA requires (``state_topic``; ``command_topic`` and ``options``
  for a select; ``command_topic``, ``min``, ``max``, ``step`` for a number;
  ``command_topic`` and ``payload_press`` for a button). Sensors carry ``device_class``,
  ``unit_of_measurement`` and ``state_class`` from HA's table (energy is total_increasing).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.energy.load import Allocation
from controller.energy.solar import SolarMode

MAX_PAYLOAD = 4096


class CommandKind(StrEnum):
    MODE = "mode"
    MAX_CURRENT = "max_current"
    CHARGING = "charging"


CHARGING_WORDS = ("start", "stop")


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: str
    retain: bool = False
    qos: int = 0


@dataclass(frozen=True)
class Command:
    connector: int
    kind: CommandKind
    value: str | float


@dataclass(frozen=True)
class Topics:
    base: str  # <topic_prefix>/<charge point id>

    @property
    def availability(self) -> str:
        return f"{self.base}/status"

    @property
    def grid_state(self) -> str:
        return f"{self.base}/grid/state"

    @property
    def error(self) -> str:
        return f"{self.base}/error"

    def state(self, connector: int) -> str:
        return f"{self.base}/connector/{connector}/state"

    def command(self, connector: int, kind: CommandKind) -> str:
        return f"{self.base}/connector/{connector}/{kind.value}/set"

    def allocation(self, connector: int) -> str:
        return f"{self.base}/connector/{connector}/allocation"

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return (f"{self.base}/connector/+/+/set", f"{self.base}/connector/+/allocation")

    def connector_of(self, topic: str, suffix: str) -> int | None:
        """``<base>/connector/<n>/<suffix>`` -> n, or None for any other topic."""
        head, tail = f"{self.base}/connector/", f"/{suffix}"
        if not (topic.startswith(head) and topic.endswith(tail)):
            return None
        number = topic[len(head) : len(topic) - len(tail)]
        return int(number) if number.isascii() and number.isdigit() and len(number) <= 3 else None


def _text(payload: bytes) -> str:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes: at most {MAX_PAYLOAD}")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError("payload is not UTF-8 text") from None


def parse_command(topics: Topics, topic: str, payload: bytes, connectors: dict[int, float]) -> Command | None:
    """A command for one of ``connectors`` (id -> its maximum current); None: not a command topic."""
    kind = next((k for k in CommandKind if topics.connector_of(topic, f"{k.value}/set") is not None), None)
    if kind is None:
        return None
    connector = topics.connector_of(topic, f"{kind.value}/set")
    if connector not in connectors:
        raise ValueError(f"{topic}: no connector {connector} (connectors: {sorted(connectors)})")
    text = _text(payload)
    if kind is CommandKind.MODE:
        if text not in [m.value for m in SolarMode]:
            raise ValueError(f"{topic}: {text!r}: expected one of {', '.join(m.value for m in SolarMode)}")
        return Command(connector, kind, text)
    if kind is CommandKind.CHARGING:
        if text not in CHARGING_WORDS:
            raise ValueError(f"{topic}: {text!r}: expected start or stop")
        return Command(connector, kind, text)
    try:
        amps = float(text)
    except ValueError:
        raise ValueError(f"{topic}: {text[:40]!r}: expected a number of amperes") from None
    top = connectors[connector]
    if not math.isfinite(amps) or not 0.0 <= amps <= top:
        raise ValueError(f"{topic}: {text[:40]!r}: expected 0 to {top:g} A")
    return Command(connector, kind, amps)


def parse_allocation(topic: str, payload: bytes) -> Allocation:
    try:
        body = json.loads(_text(payload))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{topic}: not JSON ({exc.msg})") from None
    if not isinstance(body, dict) or set(body) != {"amps", "phases", "valid_s"}:
        raise ValueError(f'{topic}: expected {{"amps": A, "phases": 1 or 3, "valid_s": S}}')
    amps, phases, valid_s = body["amps"], body["phases"], body["valid_s"]
    for name, value, lo, hi in (("amps", amps, 0.0, 1000.0), ("valid_s", valid_s, 0.1, 3600.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ValueError(f"{topic}: {name} = {value!r}: expected {lo:g} to {hi:g}")
    if phases not in (1, 3) or isinstance(phases, bool):
        raise ValueError(f"{topic}: phases = {phases!r}: expected 1 or 3")
    return Allocation(float(amps), int(phases), float(valid_s))


def allocation_payload(allocation: Allocation) -> str:
    return json.dumps({"amps": allocation.amps, "phases": allocation.phases, "valid_s": allocation.valid_s})


# ---- Home Assistant discovery -------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    charge_point_id: str
    vendor: str
    model: str
    version: str

    @property
    def node_id(self) -> str:
        return "evsed_" + re.sub(r"[^a-zA-Z0-9_-]", "_", self.charge_point_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "identifiers": [self.node_id],
            "name": f"Wallbox {self.charge_point_id}",
            "manufacturer": self.vendor,
            "model": self.model,
            "sw_version": self.version,
        }


# (object suffix, name, template on the connector state, device_class, unit, state_class)
CONNECTOR_SENSORS: tuple[tuple[str, str, str, str | None, str | None, str | None], ...] = (
    ("status", "Status", "{{ value_json.status }}", None, None, None),
    ("current", "Current", "{{ value_json.current_a | max }}", "current", "A", "measurement"),
    ("offered", "Offered current", "{{ value_json.offered_a }}", "current", "A", "measurement"),
    ("power", "Power", "{{ value_json.power_w }}", "power", "W", "measurement"),
    ("energy", "Energy", "{{ value_json.energy_wh }}", "energy", "Wh", "total_increasing"),
    ("session_energy", "Session energy", "{{ value_json.session_energy_wh }}", "energy", "Wh", "total_increasing"),
)
CURRENT = ("current", "A", "measurement")
GRID_SENSORS: tuple[tuple[str, str, str, str | None, str | None, str | None], ...] = (
    ("grid_power", "Grid power", "{{ value_json.total_power_w }}", "power", "W", "measurement"),
    *(
        (f"grid_current_l{i + 1}", f"Grid current L{i + 1}", f"{{{{ value_json.current_a[{i}] }}}}", *CURRENT)
        for i in range(3)
    ),
)


def _entity(device: Device, topics: Topics, object_id: str, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "unique_id": f"{device.node_id}_{object_id}",
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": device.as_json(),
    }


def _config_topic(prefix: str, component: str, device: Device, object_id: str) -> str:
    return f"{prefix}/{component}/{device.node_id}/{object_id}/config"


def _sensor(device: Device, topics: Topics, prefix: str, state_topic: str, object_id: str, spec: tuple) -> Outgoing:
    _, name, template, device_class, unit, state_class = spec
    body = _entity(device, topics, object_id, name)
    body.update(state_topic=state_topic, value_template=template)
    for key, value in (("device_class", device_class), ("unit_of_measurement", unit), ("state_class", state_class)):
        if value is not None:
            body[key] = value
    return Outgoing(_config_topic(prefix, "sensor", device, object_id), json.dumps(body), retain=True, qos=1)


def discovery(
    prefix: str, device: Device, topics: Topics, connectors: dict[int, float], has_grid: bool
) -> list[Outgoing]:
    """Every entity's retained discovery config (``connectors``: id -> maximum current)."""
    out: list[Outgoing] = []
    for n, max_a in sorted(connectors.items()):
        state = topics.state(n)
        for spec in CONNECTOR_SENSORS:
            out.append(_sensor(device, topics, prefix, state, f"connector{n}_{spec[0]}", spec))
        mode = _entity(device, topics, f"connector{n}_mode", "Charging mode")
        mode.update(
            state_topic=state,
            value_template="{{ value_json.mode }}",
            command_topic=topics.command(n, CommandKind.MODE),
            options=[m.value for m in SolarMode],
        )
        out.append(Outgoing(_config_topic(prefix, "select", device, f"connector{n}_mode"), json.dumps(mode), True, 1))
        limit = _entity(device, topics, f"connector{n}_max_current", "Maximum current")
        limit.update(
            state_topic=state,
            value_template="{{ value_json.max_current_a }}",
            command_topic=topics.command(n, CommandKind.MAX_CURRENT),
            min=0,
            max=max_a,
            step=1,
            mode="box",
            unit_of_measurement="A",
            device_class="current",
        )
        out.append(
            Outgoing(_config_topic(prefix, "number", device, f"connector{n}_max_current"), json.dumps(limit), True, 1)
        )
        for word in CHARGING_WORDS:
            object_id = f"connector{n}_{word}"
            button = _entity(device, topics, object_id, f"{word.capitalize()} charging")
            button.update(command_topic=topics.command(n, CommandKind.CHARGING), payload_press=word)
            out.append(Outgoing(_config_topic(prefix, "button", device, object_id), json.dumps(button), True, 1))
    if has_grid:
        for spec in GRID_SENSORS:
            out.append(_sensor(device, topics, prefix, topics.grid_state, spec[0], spec))
    return out
