"""``[mqtt]``: the broker evsed talks to, and how.

Rules kept here:
- Absent ``[mqtt]`` (no ``host``): no MQTT at all. Unknown keys are errors.
- ``tls = true`` verifies the broker's certificate against ``ca_file`` (or the system store)
  and its host name; ``certfile`` + ``keyfile`` add a client certificate. ``port`` defaults
  to 8883 with TLS, 1883 without.
- The password is a secret: ``password_file`` (a file readable by evsed only, first line) or
  ``password``; either is shown as ``***`` by ``evsed check`` and never logged.
- ``topic_prefix``/``<charge point id>`` is the box's base topic; ``discovery_prefix`` is Home
  Assistant's (``homeassistant``), ``discovery = false`` turns it off.
- ``publish_interval_s`` is how often every state is published even when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hal.config import REDACTED, ConfigError, ConfigSection

TOPIC_FORBIDDEN = "+#"


def _topic_prefix(s: ConfigSection, key: str, default: str) -> str:
    prefix = s.get_str(key, default, min_length=1, max_length=128)
    if any(c in prefix for c in TOPIC_FORBIDDEN) or prefix.startswith("/") or prefix.endswith("/"):
        raise s.error(key, prefix, "a topic prefix without wildcards (+ #) and without a leading or trailing /")
    return prefix


@dataclass(frozen=True)
class MqttConfig:
    host: str | None = None  # None: no MQTT
    port: int = 1883
    tls: bool = False
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None  # default: evsed-<charge point id>
    topic_prefix: str = "evsed"
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    publish_interval_s: float = 10.0
    keepalive_s: int = 30
    reconnect_cap_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return self.host is not None

    @staticmethod
    def from_section(s: ConfigSection) -> MqttConfig:
        if not s.names():
            return MqttConfig()
        host = s.get_str("host", min_length=1, max_length=253)
        tls = s.get_bool("tls", False)
        certfile = s.get_str("certfile", None, min_length=1)
        keyfile = s.get_str("keyfile", None, min_length=1)
        if (certfile is None) != (keyfile is None):
            raise ConfigError(f"{s.source}: [mqtt] certfile and keyfile go together (a client certificate and its key)")
        if certfile is not None and not tls:
            raise s.error("certfile", certfile, "a client certificate needs tls = true")
        ca_file = s.get_str("ca_file", None, min_length=1)
        if ca_file is not None and not tls:
            raise s.error("ca_file", ca_file, "only meaningful with tls = true")
        password = s.get_str("password", None, secret=True, max_length=256)
        password_file = s.get_str("password_file", None, min_length=1)
        if password is not None and password_file is not None:
            raise s.error("password_file", password_file, "give password or password_file, not both")
        if password_file is not None:
            try:
                password = Path(password_file).read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError, UnicodeDecodeError) as exc:
                raise s.error("password_file", password_file, f"cannot read its first line ({exc})") from None
        username = s.get_str("username", None, min_length=1, max_length=256)
        if password is not None and username is None:
            raise s.error("password", REDACTED, "a password needs a username")
        return MqttConfig(
            host=host,
            port=s.get_int("port", 8883 if tls else 1883, minval=1, maxval=65535),
            tls=tls,
            ca_file=Path(ca_file) if ca_file else None,
            certfile=Path(certfile) if certfile else None,
            keyfile=Path(keyfile) if keyfile else None,
            username=username,
            password=password,
            client_id=s.get_str("client_id", None, min_length=1, max_length=128),
            topic_prefix=_topic_prefix(s, "topic_prefix", "evsed"),
            discovery=s.get_bool("discovery", True),
            discovery_prefix=_topic_prefix(s, "discovery_prefix", "homeassistant"),
            publish_interval_s=s.get_float("publish_interval_s", 10.0, minval=1.0, maxval=3600.0),
            keepalive_s=s.get_int("keepalive_s", 30, minval=5, maxval=3600),
            reconnect_cap_s=s.get_float("reconnect_cap_s", 60.0, minval=1.0, maxval=3600.0),
        )
