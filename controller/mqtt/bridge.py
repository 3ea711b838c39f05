"""The box on MQTT: state out, the owner's commands in, boxes sharing a fuse.

Rules kept here:
- Each connector's state (``Site.connector_json``) and the grid reading are published retained:
  a connector's at every station event about it and after a site step that changed it (anything
  but the measurements, or a phase current by ``CURRENT_STEP_A`` or more: a managing box needs a
  member's current while it ramps), everything every ``publish_interval_s``.
- At every (re)connect the link sends Home Assistant discovery (retained, when enabled), then
  every state.
- Commands (controller/mqtt/topics.py): the mode goes to the site, the maximum current is the
  owner's limit (controller/owner_limits.py, the web page's too), start / stop is the core's
  pause; a bad one is answered on ``<base>/error`` (JSON: topic and why) and changes nothing; a
  good one publishes the new state at once.
- With ``[grid] source = "mqtt"`` the reading comes from ``[grid] topic`` (JSON, grid.py).
- A managing box subscribes to its members' connector states and publishes their allocations;
  a member takes its allocations from its own allocation topics.
- Nothing here waits for the broker: the link queues (link.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from controller.config import Config
from controller.core.events import Event
from controller.core.station import Station
from controller.energy.load import Allocation
from controller.energy.site import Refused, Site
from controller.energy.solar import SolarMode
from controller.mqtt.link import MqttLink
from controller.mqtt.topics import (
    CommandKind,
    Device,
    Outgoing,
    Topics,
    allocation_payload,
    discovery,
    parse_allocation,
    parse_command,
)
from controller.owner_limits import OwnerLimits
from controller.tasks import Tasks

log = logging.getLogger(__name__)

CURRENT_STEP_A = 1.0
MEASUREMENTS = ("current_a", "power_w", "energy_wh", "session_energy_wh", "session")


def changed(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Worth a message: something but the measurements changed, or a phase current moved by a step."""
    if before is None:
        return True
    if any(before.get(k) != v for k, v in after.items() if k not in MEASUREMENTS):
        return True
    if (before.get("session") is None) != (after.get("session") is None):
        return True
    return any(abs(a - b) >= CURRENT_STEP_A for a, b in zip(before["current_a"], after["current_a"], strict=False))


class MqttBridge:
    def __init__(self, config: Config, station: Station, site: Site, owner: OwnerLimits, version: str):
        self.config = config
        self.station = station
        self.site = site
        self.owner = owner
        cfg = config.mqtt
        cp = config.ocpp.charge_point_id or config.station.charge_point_id
        self.topics = Topics(f"{cfg.topic_prefix}/{cp}")
        self.device = Device(cp, config.station.vendor, config.station.model, version)
        self.member_topics = {m: Topics(f"{cfg.topic_prefix}/{m}") for m in config.grid.members}
        subscriptions = list(self.topics.subscriptions)
        if config.grid.source == "mqtt" and config.grid.topic is not None:
            subscriptions.append(config.grid.topic)
        subscriptions += [f"{t.base}/connector/+/state" for t in self.member_topics.values()]
        self.link = MqttLink(
            cfg, cfg.client_id or f"evsed-{cp}", self.topics.availability, subscriptions, self._on_message,
            self._on_connect,
        )  # fmt: skip
        self.tasks = Tasks("mqtt")
        self._published: dict[int, dict[str, Any]] = {}
        site.on_allocation = self._send_allocation
        site.on_step.append(self._publish_changes)
        station.subscribe(self._on_event)

    @property
    def connectors(self) -> dict[int, float]:
        return {c.id: c.max_current_a for c in self.config.connectors}

    async def run(self) -> None:
        self.tasks.spawn(self.link.run(), "mqtt link")
        while True:
            await asyncio.sleep(self.config.mqtt.publish_interval_s)
            self.publish_all()

    async def stop(self) -> None:
        await self.link.stop()
        await self.tasks.cancel()

    # ---- out -------------------------------------------------------------------------------

    def _state(self, connector: int) -> Outgoing:
        body = self.site.connector_json(self.station.view(connector))
        self._published[connector] = body
        return Outgoing(self.topics.state(connector), json.dumps(body), retain=True)

    def _publish_changes(self) -> None:
        for connector in self.station.evse_ids:
            if changed(self._published.get(connector), self.site.connector_json(self.station.view(connector))):
                self._send(self._state(connector))

    def _grid(self) -> Outgoing | None:
        grid = self.site.grid
        if grid is None:
            return None
        return Outgoing(self.topics.grid_state, json.dumps(grid.as_json(self.site.clock())), retain=True)

    def _states(self) -> list[Outgoing]:
        out = [self._state(c) for c in self.station.evse_ids]
        grid = self._grid()
        return [*out, grid] if grid is not None else out

    def _on_connect(self) -> list[Outgoing]:
        messages: list[Outgoing] = []
        if self.config.mqtt.discovery:
            prefix = self.config.mqtt.discovery_prefix
            has_grid = self.config.grid.manages_fuse
            messages += discovery(prefix, self.device, self.topics, self.connectors, has_grid)
        return messages + self._states()

    def _send(self, message: Outgoing) -> None:
        self.link.publish(message.topic, message.payload, retain=message.retain, qos=message.qos)

    def publish_all(self) -> None:
        for message in self._states():
            self._send(message)

    def _on_event(self, event: Event) -> None:
        if event.evse is not None:
            self._send(self._state(event.evse))

    def _send_allocation(self, member: str, connector: int, allocation: Allocation) -> None:
        topics = self.member_topics.get(member)
        if topics is not None:
            self.link.publish(topics.allocation(connector), allocation_payload(allocation), qos=1)

    def _error(self, topic: str, why: str) -> None:
        log.warning("MQTT: %s", why)
        self.link.publish(self.topics.error, json.dumps({"topic": topic, "error": why}))

    # ---- in --------------------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            self._dispatch(topic, payload)
        except (ValueError, Refused) as exc:
            self._error(topic, str(exc))

    def _dispatch(self, topic: str, payload: bytes) -> None:
        if self.config.grid.source == "mqtt" and topic == self.config.grid.topic:
            self.site.grid_json(_json(topic, payload))
            return
        for member, topics in self.member_topics.items():
            connector = topics.connector_of(topic, "state")
            if connector is not None:
                self.site.member_state(member, connector, _json(topic, payload))
                return
        connector = self.topics.connector_of(topic, "allocation")
        if connector is not None:
            a = parse_allocation(topic, payload)
            self.site.allocation(connector, a)
            return
        command = parse_command(self.topics, topic, payload, self.connectors)
        if command is not None:
            self.tasks.spawn(self._carry_out(topic, command.connector, command.kind, command.value), topic)

    async def _carry_out(self, topic: str, connector: int, kind: CommandKind, value: Any) -> None:
        try:
            if kind is CommandKind.MODE:
                await self.site.set_mode(connector, SolarMode(value))
            elif kind is CommandKind.MAX_CURRENT:
                await self.owner.set(connector, value)  # the owner's limit, as the web page sets it
                self.station.refresh_limit(connector)
            else:
                self.station.pause(connector, value == "stop")
            self.site.poke()
        except (Refused, ValueError) as exc:
            self._error(topic, str(exc))
            return
        self._send(self._state(connector))


def _json(topic: str, payload: bytes) -> object:
    if len(payload) > 4096:
        raise ValueError(f"{topic}: payload of {len(payload)} bytes: at most 4096")
    try:
        return json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{topic}: not JSON ({exc})") from None
