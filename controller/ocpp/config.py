"""The ``[ocpp]`` section, read the same way whichever OCPP version it chooses.

Rules kept here:
- ``[ocpp]`` without ``url`` means no backend: nothing is built and nothing connects.
- ``version`` chooses the front end (controller/ocpp/versions.py builds it).
- ``charge_point_id`` overrides ``[station] charge_point_id``; BootNotification's vendor, model
  and serial number come from ``[station]``, the firmware version from ``[ocpp]`` (default the
  evsed version).
- ``[ocpp.keys]`` presets the chosen version's configuration keys (1.6), ``[ocpp.variables]`` its
  device-model variables (2.0.1); here their values are taken as written (every one counts as
  read), and the version's own table checks them when its front end is built and in ``evsed
  check`` (controller/ocpp/versions.py), naming the key; each version refuses the other's table.
- Security (the same for both versions): ``tls_url`` (wss:// for profiles 2-3), ``ca_file``
  (CSMS roots; default the system store), ``insecure`` (bench only, loudly logged),
  ``basic_auth`` (password as written or hex-decoded). The Basic-auth password is a secret:
  never in the configuration file, it lives in ``<state_dir>/secrets/authorization_key``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from controller import __version__
from hal.config import ConfigError, ConfigSection

VERSIONS = ("1.6", "2.0.1")  # the front ends controller/ocpp/versions.py can build
AUTHORIZATION_KEY_FILE = Path("secrets") / "authorization_key"  # under the state directory
PRESETS = {"1.6": "keys", "2.0.1": "variables"}  # the [ocpp.*] table each version's presets are in


@dataclass(frozen=True)
class OcppConfig:
    url: str | None = None
    version: str = "1.6"
    charge_point_id: str | None = None
    firmware_version: str = __version__
    call_timeout_s: float = 30.0
    reconnect_cap_s: float = 300.0
    keys: dict[str, Any] = field(default_factory=dict)  # [ocpp.keys] as written
    keys_where: str = "[ocpp.keys]"  # "file: [ocpp.keys]", for errors about them
    variables: dict[str, Any] = field(default_factory=dict)  # [ocpp.variables] as written (2.0.1)
    tls_url: str | None = None
    ca_file: Path | None = None
    insecure: bool = False
    basic_auth: str = "as-written"

    @staticmethod
    def from_section(s: ConfigSection) -> OcppConfig:
        version = s.get_str("version", "1.6", choices=VERSIONS)
        for other in set(PRESETS.values()) - {PRESETS[version]}:
            if s.has_section(other):
                raise ConfigError(f"{s.source}: [ocpp.{other}] does not apply to OCPP {version}; "
                                  f"it uses [ocpp.{PRESETS[version]}]")  # fmt: skip
        keys_section, variables_section = s.section("keys"), s.section("variables")
        keys = {name: keys_section.get_value(name) for name in keys_section.names()}
        variables = {name: variables_section.get_value(name) for name in variables_section.names()}
        ca_file = s.get_str("ca_file", None, min_length=1)
        if ca_file is not None and not Path(ca_file).is_file():
            raise s.error("ca_file", ca_file, "expected a readable PEM file of CSMS root certificates")
        return OcppConfig(
            url=websocket_url(s, "url", ("ws", "wss")),
            tls_url=websocket_url(s, "tls_url", ("wss",)),
            ca_file=Path(ca_file) if ca_file is not None else None,
            insecure=s.get_bool("insecure", False),
            basic_auth=s.get_str("basic_auth", "as-written", choices=("as-written", "hex-decoded")),
            version=version,
            charge_point_id=s.get_str("charge_point_id", None, min_length=1, max_length=48),
            firmware_version=s.get_str("firmware_version", __version__, min_length=1, max_length=50),
            call_timeout_s=s.get_float("call_timeout_s", 30.0, minval=1.0, maxval=600.0),
            reconnect_cap_s=s.get_float("reconnect_cap_s", 300.0, minval=0.1, maxval=3600.0),
            keys=keys,
            keys_where=f"{keys_section.source}: [{keys_section.name}]",
            variables=variables,
        )


def websocket_url(s: ConfigSection, key: str, schemes: tuple[str, ...]) -> str | None:
    """``key`` as a websocket URL of one of ``schemes`` with a host (and a valid port, if any)."""
    url = s.get_str(key, None, min_length=1)
    if url is None:
        return None
    kind = "a TLS websocket URL" if schemes == ("wss",) else "a websocket URL"
    expected = f"expected {kind} " + " or ".join(f'"{scheme}://host[:port]/path"' for scheme in schemes)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0..65535
    except ValueError as exc:
        raise s.error(key, url, f"{expected}: {exc}") from None
    if parts.scheme not in schemes:
        raise s.error(key, url, expected)
    if not parts.hostname:
        raise s.error(key, url, f"{expected}: the host is missing")
    return url
