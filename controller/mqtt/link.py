"""The connection to the MQTT broker: reconnects by itself, never loses the latest state.

Rules kept here:
- One ``aiomqtt`` client at a time. It connects with a last will (the availability topic,
  ``offline``, retained), then publishes ``online`` (retained) and whatever ``on_connect``
  returns (discovery, the current state), then subscribes. A stop publishes ``offline`` itself
  before disconnecting: a clean disconnect does not fire the will.
- A lost connection (or one never made) is retried with exponential backoff and jitter up to
  ``reconnect_cap_s``; why it is down is kept in ``last_error``. Nothing waits for it: callers
  hand messages over and return.
- Outgoing messages wait keyed by topic: while the broker is away only the newest payload of
  each topic is kept (state is a value, not a log), so memory stays bounded and a reconnect
  sends the present, not the past.
- Incoming messages go to ``on_message(topic, payload)`` on the asyncio thread; a handler that
  raises is logged and the link goes on.
- The password is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Iterable

import aiomqtt

from controller.mqtt.config import MqttConfig
from controller.mqtt.topics import Outgoing

log = logging.getLogger(__name__)

ONLINE = "online"
OFFLINE = "offline"
FIRST_RETRY_S = 1.0


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    context = ssl.create_default_context(cafile=str(config.ca_file) if config.ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.certfile is not None and config.keyfile is not None:
        context.load_cert_chain(str(config.certfile), str(config.keyfile))
    return context


def payload_bytes(payload: bytes | bytearray | str | int | float | None) -> bytes:
    """A received message's payload as bytes (paho delivers bytes; aiomqtt types it as any payload)."""
    if payload is None:
        return b""
    return bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload).encode()


class MqttLink:
    def __init__(
        self,
        config: MqttConfig,
        client_id: str,
        availability_topic: str,
        subscriptions: Iterable[str],
        on_message: Callable[[str, bytes], None],
        on_connect: Callable[[], Iterable[Outgoing]] = tuple,
    ):
        self.config = config
        self.client_id = client_id
        self.availability_topic = availability_topic
        self.subscriptions = tuple(subscriptions)
        self.on_message = on_message
        self.on_connect = on_connect
        self.connected = False
        self.last_error: str | None = None
        self.sent = 0  # messages handed to the broker since start
        self.received = 0
        self._pending: dict[str, Outgoing] = {}
        self._wake = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._stopping = False

    def publish(self, topic: str, payload: str, *, retain: bool = False, qos: int = 0) -> None:
        """Queue a message; a newer one on the same topic replaces it while it waits."""
        self._pending[topic] = Outgoing(topic, payload, retain, qos)
        self._wake.set()

    def status_json(self) -> dict[str, object]:
        return {
            "broker": f"{self.config.host}:{self.config.port}",
            "connected": self.connected,
            "last_error": self.last_error,
            "sent": self.sent,
            "received": self.received,
        }

    async def run(self) -> None:
        delay = FIRST_RETRY_S
        while not self._stopping:
            try:
                await self._session()
                delay = FIRST_RETRY_S
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc) or type(exc).__name__
            except (OSError, ssl.SSLError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            if self.connected:
                log.warning("MQTT: connection to %s:%s lost: %s", self.config.host, self.config.port, self.last_error)
            elif delay == FIRST_RETRY_S:
                log.warning("MQTT: cannot connect to %s:%s: %s", self.config.host, self.config.port, self.last_error)
            self.connected = False
            self._client = None
            if self._stopping:
                return
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self.config.reconnect_cap_s)

    async def _session(self) -> None:
        cfg = self.config
        async with aiomqtt.Client(
            cfg.host or "",
            cfg.port,
            username=cfg.username,
            password=cfg.password,
            identifier=self.client_id,
            will=aiomqtt.Will(self.availability_topic, OFFLINE, qos=1, retain=True),
            keepalive=cfg.keepalive_s,
            tls_context=tls_context(cfg),
            timeout=10.0,
        ) as client:
            self._client = client
            self.connected, self.last_error = True, None
            log.info("MQTT: connected to %s:%s as %s", cfg.host, cfg.port, self.client_id)
            await client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
            for message in self.on_connect():
                self._pending.setdefault(message.topic, message)  # a newer one queued meanwhile wins
            for topic in self.subscriptions:
                await client.subscribe(topic, qos=1)
            sender = asyncio.create_task(self._send(client))
            try:
                async for received in client.messages:
                    self.received += 1
                    try:
                        self.on_message(str(received.topic), payload_bytes(received.payload))
                    except Exception:
                        log.exception("MQTT: handling a message on %s failed", received.topic)
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await sender

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            topic = next(iter(self._pending))
            message = self._pending.pop(topic)
            try:
                await client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
            except aiomqtt.MqttError:
                self._pending.setdefault(topic, message)  # sent after the reconnect, unless replaced
                raise
            self.sent += 1

    async def stop(self) -> None:
        """Say ``offline`` (retained) and disconnect; the reconnect loop ends."""
        self._stopping = True
        client = self._client
        if client is not None and self.connected:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await asyncio.wait_for(client.publish(self.availability_topic, OFFLINE, qos=1, retain=True), 2.0)
