"""MQTT topics, commands and Home Assistant discovery payloads (controller/mqtt/topics.py), pure."""

from __future__ import annotations

import json
import re

import pytest

from controller.energy.load import Allocation
from controller.mqtt.topics import (
    Command,
    CommandKind,
    Device,
    Topics,
    allocation_payload,
    discovery,
    parse_allocation,
    parse_command,
)

TOPICS = Topics("evsed/wb-1")
CONNECTORS = {1: 32.0, 2: 16.0}
DEVICE = Device("wb-1", "evsed", "evsed-ac", "0.1.0")

# Home Assistant's MQTT discovery schema as its documentation states it (integrations mqtt,
# sensor.mqtt, select.mqtt, number.mqtt, button.mqtt; sensor device classes and their units).
DISCOVERY_TOPIC = re.compile(r"^homeassistant/(sensor|select|number|button)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")
COMMON = {"name", "unique_id", "availability_topic", "payload_available", "payload_not_available", "device", "icon"}
COMMON |= {"entity_category", "enabled_by_default", "qos"}
SENSOR_KEYS = {"value_template", "device_class", "unit_of_measurement", "state_class", "expire_after", "force_update"}
NUMBER_KEYS = {"state_topic", "value_template", "command_template", "min", "max", "step", "mode", "retain"}
COMPONENTS = {
    "sensor": ({"state_topic"}, SENSOR_KEYS | {"suggested_display_precision"}),
    "select": ({"command_topic", "options"}, {"state_topic", "value_template", "command_template", "retain"}),
    "number": ({"command_topic"}, NUMBER_KEYS | {"unit_of_measurement", "device_class"}),
    "button": ({"command_topic"}, {"payload_press", "device_class", "retain"}),
}
DEVICE_KEYS = {"identifiers", "connections", "name", "manufacturer", "model", "sw_version", "hw_version",
               "configuration_url", "suggested_area", "via_device", "serial_number"}  # fmt: skip
SENSOR_UNITS = {
    "current": {"A", "mA"},
    "power": {"W", "kW", "MW", "mW", "GW", "TW"},
    "energy": {"Wh", "kWh", "MWh", "GWh", "TWh", "mWh", "MJ", "GJ", "cal", "kcal", "Mcal", "Gcal"},
    "voltage": {"V", "mV", "kV", "MV", "µV"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing", "measurement_angle"}
NUMBER_MODES = {"auto", "box", "slider"}


def ha_errors(topic: str, payload: dict) -> list[str]:
    """What Home Assistant would refuse or warn about in one discovery message."""
    errors = []
    match = DISCOVERY_TOPIC.match(topic)
    if not match:
        return [f"{topic}: not a discovery topic"]
    required, optional = COMPONENTS[match.group(1)]
    for key in required - set(payload):
        errors.append(f"{topic}: {key} is required")
    for key in set(payload) - required - optional - COMMON:
        errors.append(f"{topic}: unknown key {key}")
    device = payload.get("device", {})
    if not device.get("identifiers") and not device.get("connections"):
        errors.append(f"{topic}: device needs identifiers or connections")
    errors += [f"{topic}: unknown device key {k}" for k in set(device) - DEVICE_KEYS]
    if "device" in payload and "unique_id" not in payload:
        errors.append(f"{topic}: a device works only with unique_id")
    dc, unit, sc = payload.get("device_class"), payload.get("unit_of_measurement"), payload.get("state_class")
    if dc in SENSOR_UNITS and unit not in SENSOR_UNITS[dc]:
        errors.append(f"{topic}: unit {unit!r} is not valid for device_class {dc}")
    if sc is not None and sc not in STATE_CLASSES:
        errors.append(f"{topic}: state_class {sc!r}")
    if dc == "energy" and sc == "measurement":
        errors.append(f"{topic}: energy must be total or total_increasing")
    if match.group(1) == "number" and payload.get("mode", "auto") not in NUMBER_MODES:
        errors.append(f"{topic}: number mode {payload['mode']!r}")
    if match.group(1) == "select" and not (isinstance(payload["options"], list) and payload["options"]):
        errors.append(f"{topic}: options must be a non-empty list")
    return errors


def messages(has_grid: bool = True) -> list:
    return discovery("homeassistant", DEVICE, TOPICS, CONNECTORS, has_grid)


def test_every_discovery_payload_fits_home_assistants_schema():
    out = messages()
    assert out
    for m in out:
        assert m.retain and m.qos == 1
        assert ha_errors(m.topic, json.loads(m.payload)) == []
    ids = [json.loads(m.payload)["unique_id"] for m in out]
    assert len(ids) == len(set(ids))


def test_the_schema_check_catches_what_home_assistant_would_refuse():
    good = next(json.loads(m.payload) for m in messages() if "energy" in m.topic)
    topic = next(m.topic for m in messages() if "energy" in m.topic)
    assert ha_errors(topic, {**good, "unit_of_measurement": "A"})
    assert ha_errors(topic, {**good, "state_class": "measurement"})
    assert ha_errors(topic, {k: v for k, v in good.items() if k != "state_topic"})
    assert ha_errors(topic.replace("wb-1", "wb 1"), good) or ha_errors("homeassistant/sensor/x y/z/config", good)


def test_discovery_names_every_entity_a_wallbox_needs():
    by_topic = {m.topic: json.loads(m.payload) for m in messages()}
    node = DEVICE.node_id
    sensor = by_topic[f"homeassistant/sensor/{node}/connector1_energy/config"]
    assert sensor["state_topic"] == "evsed/wb-1/connector/1/state"
    assert sensor["availability_topic"] == "evsed/wb-1/status"
    assert sensor["device"]["identifiers"] == [node]
    mode = by_topic[f"homeassistant/select/{node}/connector2_mode/config"]
    assert mode["command_topic"] == "evsed/wb-1/connector/2/mode/set"
    assert mode["options"] == ["off", "minpv", "pv"]
    number = by_topic[f"homeassistant/number/{node}/connector2_max_current/config"]
    assert (number["min"], number["max"], number["step"]) == (0, 16.0, 1)
    stop = by_topic[f"homeassistant/button/{node}/connector1_stop/config"]
    assert (stop["command_topic"], stop["payload_press"]) == ("evsed/wb-1/connector/1/charging/set", "stop")
    assert f"homeassistant/sensor/{node}/grid_power/config" in by_topic
    assert not any("grid" in m.topic for m in messages(has_grid=False))


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("evsed/wb-1/connector/1/mode/set", b"pv", Command(1, CommandKind.MODE, "pv")),
        ("evsed/wb-1/connector/2/mode/set", b" minpv\n", Command(2, CommandKind.MODE, "minpv")),
        ("evsed/wb-1/connector/1/max_current/set", b"10", Command(1, CommandKind.MAX_CURRENT, 10.0)),
        ("evsed/wb-1/connector/2/max_current/set", b"16.0", Command(2, CommandKind.MAX_CURRENT, 16.0)),
        ("evsed/wb-1/connector/1/charging/set", b"stop", Command(1, CommandKind.CHARGING, "stop")),
        ("evsed/wb-1/connector/1/allocation", b"{}", None),
        ("evsed/other/connector/1/mode/set", b"pv", None),
    ],
)
def test_commands(topic, payload, expected):
    assert parse_command(TOPICS, topic, payload, CONNECTORS) == expected


@pytest.mark.parametrize(
    ("topic", "payload", "message"),
    [
        ("evsed/wb-1/connector/3/mode/set", b"pv", "no connector 3"),
        ("evsed/wb-1/connector/1/mode/set", b"solar", "expected one of off, minpv, pv"),
        ("evsed/wb-1/connector/2/max_current/set", b"20", "expected 0 to 16 A"),
        ("evsed/wb-1/connector/1/max_current/set", b"-1", "expected 0 to 32 A"),
        ("evsed/wb-1/connector/1/max_current/set", b"nan", "expected 0 to 32 A"),
        ("evsed/wb-1/connector/1/max_current/set", b"lots", "expected a number"),
        ("evsed/wb-1/connector/1/charging/set", b"pause", "expected start or stop"),
        ("evsed/wb-1/connector/1/charging/set", b"\xff", "not UTF-8"),
        ("evsed/wb-1/connector/1/charging/set", b"x" * 5000, "at most 4096"),
    ],
)
def test_bad_commands_say_what_is_allowed(topic, payload, message):
    with pytest.raises(ValueError, match=message):
        parse_command(TOPICS, topic, payload, CONNECTORS)


def test_allocation_round_trip_and_errors():
    a = Allocation(10.5, 3, 5.0)
    assert parse_allocation("t", allocation_payload(a).encode()) == a
    for bad, why in [(b"nope", "not JSON"), (b'{"amps": 10}', "expected"), (b'{"amps": -1, "phases": 3, "valid_s": 5}',
                     "amps"), (b'{"amps": 10, "phases": 2, "valid_s": 5}', "phases")]:  # fmt: skip
        with pytest.raises(ValueError, match=why):
            parse_allocation("t", bad)
