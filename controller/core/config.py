"""The charging core's sections of the configuration: ``[[connector]]`` and ``[charging]``.

Rules kept here:
- The core reads its configuration through ``CoreConfig``, never the daemon's whole ``Config``
  (which composes every package's sections, the OCPP front ends' included): the core stays
  below them.
- Each section is read by one ``from_section`` with bounds; errors name the key, the value and
  what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hal.config import ConfigSection


class CoreConfig(Protocol):
    """What the station needs of the configuration (``controller.config.Config`` has it)."""

    @property
    def connectors(self) -> tuple[ConnectorConfig, ...]: ...

    @property
    def charging(self) -> ChargingConfig: ...


@dataclass(frozen=True)
class ConnectorConfig:
    id: int
    phases: int = 3
    max_current_a: float = 16.0
    ventilation: bool = False

    @staticmethod
    def from_section(s: ConfigSection, expected_id: int) -> ConnectorConfig:
        cid = s.get_int("id", expected_id, minval=1, maxval=32)
        if cid != expected_id:
            raise s.error("id", cid, f"connectors must be numbered 1, 2, ... in order; expected {expected_id}")
        return ConnectorConfig(
            id=cid,
            phases=s.get_int("phases", 3, minval=1, maxval=3),
            max_current_a=s.get_float("max_current_a", 16.0, minval=6.0, maxval=80.0),
            ventilation=s.get_bool("ventilation", False),
        )


@dataclass(frozen=True)
class ChargingConfig:
    authorize: str = "any"  # "any" = free vend, "local" = tokens below, "ocpp" = the backend decides
    tokens: tuple[str, ...] = ()
    safe_current_a: float = 6.0
    limit_ttl_s: float = 5.0
    connection_timeout_s: float = 120.0

    @staticmethod
    def from_section(s: ConfigSection) -> ChargingConfig:
        authorize = s.get_str("authorize", "any", choices=("any", "local", "ocpp"))
        tokens = tuple(s.get_list("tokens", []))
        for tag in tokens:
            if not 1 <= len(tag) <= 20:
                raise s.error("tokens", tag, "id tags are 1..20 characters (OCPP IdToken)")
        if authorize == "local" and not tokens:
            raise s.error("tokens", [], 'authorize = "local" needs at least one token')
        return ChargingConfig(
            authorize=authorize,
            tokens=tokens,
            safe_current_a=s.get_float("safe_current_a", 6.0, minval=0.0, maxval=80.0),
            limit_ttl_s=s.get_float("limit_ttl_s", 5.0, minval=1.0, maxval=60.0),
            connection_timeout_s=s.get_float("connection_timeout_s", 120.0, minval=5.0, maxval=3600.0),
        )
