"""``[grid]`` and ``[solar]``: the house connection, its fuse, and solar surplus charging.

Rules kept here:
- Read with bounds like every section; an absent ``[grid]`` means no load management and no
  solar (``GridConfig.source`` is None). Unknown keys are errors (``check_unused``).
- ``[grid] source``: ``"meter"`` (a Modbus meter in ``[grid.meter]``, built by the board like a
  connector's meter and allowed on the same bus), ``"mqtt"`` (a topic the home publishes),
  ``"api"`` (``POST /api/grid``), or ``"manager"`` (this box is a member: another evsed sends its
  connectors' limits, and ``main_fuse_a`` belongs to that box's configuration).
- ``rotation`` says how each connector's L1, L2, L3 are wired to the house's phases, one entry
  per connector (default ``"L1L2L3"``); a single-phase connector draws on its first letter pair.
- ``members`` (the manager's) names other boxes on the same fuse by their charge point id;
  they need ``[mqtt]`` on both sides.
- ``[solar] mode`` is every connector's mode at the first start; changes at run time persist.
  The margins must leave a hysteresis band (their sum > 0) or the contactor would chatter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.energy.fuse import TripCurve
from controller.energy.load import FuseRules
from controller.energy.solar import SolarMode, SolarRules
from hal.config import ConfigError, ConfigSection

SOURCES = ("meter", "mqtt", "api", "manager")
PHASE_NAMES = ("L1", "L2", "L3")
MAX_MEMBERS = 16


def parse_rotation(text: object) -> tuple[int, int, int]:
    """``"L2L3L1"`` -> (1, 2, 0): the house phase of the connector's L1, L2, L3."""
    if not isinstance(text, str) or len(text) != 6:
        raise ValueError('expected three phase names in order, e.g. "L1L2L3" or "L2L3L1"')
    names = [text[i : i + 2] for i in range(0, 6, 2)]
    if sorted(names) != list(PHASE_NAMES):
        raise ValueError('expected each of L1, L2, L3 once, e.g. "L2L3L1"')
    phases = tuple(PHASE_NAMES.index(n) for n in names)
    return (phases[0], phases[1], phases[2])


@dataclass(frozen=True)
class GridConfig:
    source: str | None = None  # None: no [grid], no load management
    main_fuse_a: float = 0.0
    margin_a: float = 2.0
    max_age_s: float = 10.0
    fallback_current_a: float = 6.0
    raise_delay_s: float = 10.0
    trip_curve: TripCurve = TripCurve.B
    interval_s: float = 1.0
    topic: str | None = None
    rotation: tuple[tuple[int, int, int], ...] = ()
    members: tuple[str, ...] = ()

    @property
    def manages_fuse(self) -> bool:
        return self.source in ("meter", "mqtt", "api")

    def fuse_rules(self) -> FuseRules:
        return FuseRules(
            main_fuse_a=self.main_fuse_a,
            margin_a=self.margin_a,
            max_age_s=self.max_age_s,
            fallback_a=self.fallback_current_a,
            raise_delay_s=self.raise_delay_s,
            curve=self.trip_curve,
            detection_s=self.interval_s,
        )

    def connector_phases(self, connector: int) -> tuple[int, int, int]:
        return self.rotation[connector - 1] if connector <= len(self.rotation) else (0, 1, 2)

    @staticmethod
    def from_section(s: ConfigSection, connectors: int) -> GridConfig:
        if not s.names():
            return GridConfig()
        source = s.get_str("source", choices=SOURCES)
        manages = source != "manager"
        main_fuse_a = s.get_float("main_fuse_a", minval=6.0, maxval=1000.0) if manages else 0.0
        margin_a = s.get_float("margin_a", 2.0, minval=0.0, maxval=100.0) if manages else 0.0
        if manages and margin_a >= main_fuse_a:
            raise s.error("margin_a", margin_a, f"must be below main_fuse_a ({main_fuse_a:g})")
        topic = s.get_str("topic", None, min_length=1, max_length=256) if source == "mqtt" else None
        if source == "mqtt" and topic is None:
            raise ConfigError(f'{s.source}: [grid] source = "mqtt" needs topic (where the home publishes the reading)')
        if topic is not None and any(c in topic for c in "+#"):
            raise s.error("topic", topic, "a topic to subscribe to exactly, without wildcards")
        rotation = []
        for i, text in enumerate(s.get_list("rotation", [])):
            try:
                rotation.append(parse_rotation(text))
            except ValueError as exc:
                raise s.error("rotation", text, f"connector {i + 1}: {exc}") from None
        if len(rotation) > connectors:
            raise s.error("rotation", [*s.get_list("rotation")], f"one entry per connector ({connectors} here)")
        members = tuple(s.get_list("members", []))
        if members and not manages:
            raise s.error("members", list(members), "only the box that manages the fuse has members")
        distinct = len(set(members)) == len(members)
        if len(members) > MAX_MEMBERS or not distinct or not all(_topic_level(m) for m in members):
            raise s.error("members", list(members), f"up to {MAX_MEMBERS} distinct charge point ids")
        return GridConfig(
            source=source,
            main_fuse_a=main_fuse_a,
            margin_a=margin_a,
            max_age_s=s.get_float("max_age_s", 10.0, minval=1.0, maxval=300.0),
            fallback_current_a=s.get_float("fallback_current_a", 6.0, minval=0.0, maxval=1000.0),
            raise_delay_s=s.get_float("raise_delay_s", 10.0, minval=0.0, maxval=600.0) if manages else 0.0,
            trip_curve=TripCurve(s.get_str("trip_curve", "B", choices=[c.value for c in TripCurve])),
            interval_s=s.get_float("interval_s", 1.0, minval=0.1, maxval=60.0) if source == "meter" else 1.0,
            topic=topic,
            rotation=tuple(rotation),
            members=members,
        )


def _topic_level(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 48 and not any(c in name for c in "/+#")


@dataclass(frozen=True)
class SolarConfig:
    mode: SolarMode = SolarMode.OFF
    rules: SolarRules = field(default_factory=SolarRules)
    phase_switch_pause_s: float = 60.0

    @staticmethod
    def from_section(s: ConfigSection, grid: GridConfig, voltage_v: float) -> SolarConfig:
        mode = SolarMode(s.get_str("mode", "off", choices=[m.value for m in SolarMode]))
        if mode is not SolarMode.OFF and grid.source is None:
            raise s.error("mode", mode.value, "solar charging needs the grid reading: add a [grid] section")
        start_margin = s.get_float("start_margin_w", 0.0, minval=0.0, maxval=50_000.0)
        stop_margin = s.get_float("stop_margin_w", 300.0, minval=0.0, maxval=50_000.0)
        if start_margin + stop_margin <= 0.0:
            raise s.error("stop_margin_w", stop_margin, "start_margin_w + stop_margin_w must be above 0 (hysteresis)")
        rules = SolarRules(
            start_margin_w=start_margin,
            stop_margin_w=stop_margin,
            start_delay_s=s.get_float("start_delay_s", 60.0, minval=0.0, maxval=3600.0),
            stop_delay_s=s.get_float("stop_delay_s", 180.0, minval=0.0, maxval=3600.0),
            voltage_v=voltage_v,
        )
        pause = s.get_float("phase_switch_pause_s", 60.0, minval=0.0, maxval=600.0)
        return SolarConfig(mode=mode, rules=rules, phase_switch_pause_s=pause)
