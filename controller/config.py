"""The daemon's configuration: one TOML file, one frozen dataclass per section.

Rules kept here:
- Each section is read by one ``from_section`` with bounds; unknown sections and keys
  are errors (``ConfigSection.check_unused``), so a typo never silently falls back.
- Board-specific keys (``[board]``, hardware sub-tables of ``[[connector]]``) are read
  by the board's builder in hal/drivers/sim; ``load_board`` builds it and then checks
  for unused keys, so ``evsed check`` sees every mistake in one pass.
- The state directory defaults to systemd's ``$STATE_DIRECTORY`` when set.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.api_access import PasswordHash, is_loopback, parse_password_hash
from controller.core.config import ChargingConfig, ConnectorConfig
from controller.diagnostics import DiagnosticsConfig
from controller.energy.config import GridConfig, SolarConfig
from controller.firmware import FirmwareConfig
from controller.mqtt.config import MqttConfig
from controller.ocpp.config import OcppConfig
from controller.time_sync import TimeConfig
from hal.board import Board, ConnectorSlot, build_board
from hal.config import REDACTED, ConfigError, ConfigSection, format_toml

DEFAULT_PATH = "/etc/evsed/evsed.toml"
SECTIONS = ("station", "board", "connector", "charging", "loop", "storage", "api", "log", "ocpp", "firmware",
            "diagnostics", "time", "grid", "solar", "mqtt")  # fmt: skip


@dataclass(frozen=True)
class StationConfig:
    charge_point_id: str = "evsed"
    vendor: str = "evsed"
    model: str = "evsed-ac"
    serial_number: str | None = None
    nominal_voltage_v: float = 230.0
    reboot_command: tuple[str, ...] = ()  # a hard reset reboots the board with it; () = restart evsed

    @staticmethod
    def from_section(s: ConfigSection) -> StationConfig:
        return StationConfig(
            charge_point_id=s.get_str("charge_point_id", "evsed", min_length=1, max_length=48),
            vendor=s.get_str("vendor", "evsed", min_length=1, max_length=20),
            model=s.get_str("model", "evsed-ac", min_length=1, max_length=20),
            serial_number=s.get_str("serial_number", None, max_length=25),
            nominal_voltage_v=s.get_float("nominal_voltage_v", 230.0, minval=100.0, maxval=480.0),
            reboot_command=tuple(s.get_list("reboot_command", [])),
        )


@dataclass(frozen=True)
class LoopConfig:
    period_ms: float = 5.0
    meter_interval_s: float = 1.0
    meter_timeout_s: float = 10.0
    max_temperature_c: float = 80.0
    realtime_priority: int = 0
    idle_period_ms: float = 75.0  # no EV, every contactor open, a pilot that cannot tell of changes
    feed_timeout_s: float = 5.0  # the real-time process makes everything safe when the daemon is silent this long

    @staticmethod
    def from_section(s: ConfigSection) -> LoopConfig:
        period_ms = s.get_float("period_ms", 5.0, minval=1.0, maxval=50.0)
        return LoopConfig(
            period_ms=period_ms,
            idle_period_ms=s.get_float("idle_period_ms", max(75.0, period_ms), minval=period_ms, maxval=80.0),
            feed_timeout_s=s.get_float("feed_timeout_s", 5.0, minval=3.0, maxval=60.0),
            meter_interval_s=s.get_float("meter_interval_s", 1.0, minval=0.1, maxval=60.0),
            meter_timeout_s=s.get_float("meter_timeout_s", 10.0, minval=1.0, maxval=300.0),
            max_temperature_c=s.get_float("max_temperature_c", 80.0, minval=40.0, maxval=120.0),
            realtime_priority=s.get_int("realtime_priority", 0, minval=0, maxval=99),
        )


@dataclass(frozen=True)
class StorageConfig:
    state_dir: Path = Path("/var/lib/evsed")
    curve_interval_s: float = 60.0  # a running transaction's power/current sample (controller/curves.py)

    @property
    def database(self) -> Path:
        return self.state_dir / "evsed.db"

    @staticmethod
    def from_section(s: ConfigSection) -> StorageConfig:
        default = os.environ.get("STATE_DIRECTORY", "/var/lib/evsed").split(":")[0]
        return StorageConfig(
            state_dir=Path(s.get_str("state_dir", default, min_length=1)),
            curve_interval_s=s.get_float("curve_interval_s", 60.0, minval=1.0, maxval=3600.0),
        )


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    enabled: bool = True
    password_hash: PasswordHash | None = None  # None: open, allowed on loopback only

    @staticmethod
    def from_section(s: ConfigSection) -> ApiConfig:
        listen = s.get_str("listen", "127.0.0.1:8080")
        host, sep, port = listen.rpartition(":")
        if not sep or not host or not port.isascii() or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise s.error("listen", listen, 'expected "host:port", e.g. "127.0.0.1:8080" (port 0 = any free port)')
        host = host.strip("[]")
        enabled = s.get_bool("enabled", True)
        text = s.get_str("password_hash", None, secret=True)  # a hash, yet a target for guessing: never echoed
        try:
            password_hash = parse_password_hash(text) if text is not None else None
        except ValueError as exc:
            raise s.error("password_hash", REDACTED, str(exc)) from None
        if enabled and password_hash is None and not is_loopback(host):
            raise s.error(
                "listen",
                listen,
                "reachable from the network: set [api] password_hash too (evsed hash-password makes one), "
                'or listen on loopback ("127.0.0.1:8080")',
            )
        return ApiConfig(host=host, port=int(port), enabled=enabled, password_hash=password_hash)


@dataclass(frozen=True)
class LogConfig:
    level: str = "info"

    @staticmethod
    def from_section(s: ConfigSection) -> LogConfig:
        return LogConfig(level=s.get_str("level", "info", choices=("debug", "info", "warning", "error")))


@dataclass(frozen=True)
class Config:
    source: str
    station: StationConfig
    connectors: tuple[ConnectorConfig, ...]
    charging: ChargingConfig
    loop: LoopConfig
    storage: StorageConfig
    api: ApiConfig
    log: LogConfig
    sections: dict[str, ConfigSection] = field(repr=False, compare=False)
    effective: dict[str, Any] = field(repr=False, compare=False)
    connector_sections: tuple[ConfigSection, ...] = field(default=(), repr=False, compare=False)  # as connectors
    ocpp: OcppConfig = field(default_factory=OcppConfig)
    firmware: FirmwareConfig = field(default_factory=FirmwareConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    solar: SolarConfig = field(default_factory=SolarConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)

    def connector(self, connector_id: int) -> ConnectorConfig:
        return self.connectors[connector_id - 1]


def parse(text: str, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    for name in raw:
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
    effective: dict[str, Any] = {}
    root = ConfigSection(source, "", raw, effective)

    sec = root.section
    connectors_raw = root.sections("connector")
    if not connectors_raw:
        raise ConfigError(f"{source}: at least one [[connector]] is required")
    connectors = tuple(ConnectorConfig.from_section(s, i + 1) for i, s in enumerate(connectors_raw))
    ocpp_section = sec("ocpp")
    station = StationConfig.from_section(sec("station"))
    grid_section = sec("grid")
    grid = GridConfig.from_section(grid_section, len(connectors))
    mqtt = MqttConfig.from_section(sec("mqtt"))
    if (grid.source == "mqtt" or grid.members) and not mqtt.enabled:
        raise ConfigError(f'{source}: [grid] source = "mqtt" and [grid] members need an [mqtt] section with a host')
    config = Config(
        source=source,
        station=station,
        connectors=connectors,
        charging=ChargingConfig.from_section(sec("charging")),
        loop=LoopConfig.from_section(sec("loop")),
        storage=StorageConfig.from_section(sec("storage")),
        api=ApiConfig.from_section(sec("api")),
        log=LogConfig.from_section(sec("log")),
        sections={"root": root, "board": sec("board"), "ocpp": ocpp_section},
        connector_sections=tuple(connectors_raw),
        ocpp=OcppConfig.from_section(ocpp_section),
        firmware=FirmwareConfig.from_section(sec("firmware")),
        diagnostics=DiagnosticsConfig.from_section(sec("diagnostics")),
        time=TimeConfig.from_section(sec("time")),
        grid=grid,
        solar=SolarConfig.from_section(sec("solar"), grid, station.nominal_voltage_v),
        mqtt=mqtt,
        effective=effective,
    )
    if grid.source == "meter":
        config.sections["grid.meter"] = grid_section.section("meter")
    return config


def load(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the configuration: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:  # one line, not a traceback
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{p}: not UTF-8 text (TOML must be): byte {exc.object[exc.start]:#04x}, line {line}"
        ) from None
    return parse(text, str(p))


def connector_slots(config: Config) -> list[ConnectorSlot]:
    """What a board builder knows of each connector: the common keys and its own section."""
    return [
        ConnectorSlot(id=c.id, phases=c.phases, max_current_a=c.max_current_a, section=s)
        for c, s in zip(config.connectors, config.connector_sections, strict=True)
    ]


def load_board(config: Config, *, dry_run: bool = False) -> Board:
    """Build the board the ``[board]`` section names in this process, then reject every unread key.
    ``dry_run``: validate only, opening no device (hal.board)."""
    board = build_board(
        config.sections["board"], connector_slots(config), grid_meter=config.sections.get("grid.meter"), dry_run=dry_run
    )
    try:
        check_unused(config)
    except ConfigError:
        board.close()
        raise
    return board


def check_unused(config: Config) -> None:
    config.sections["root"].check_unused()


def effective_toml(config: Config) -> str:
    ordered = {name: config.effective[name] for name in SECTIONS if config.effective.get(name)}
    return format_toml(ordered)
