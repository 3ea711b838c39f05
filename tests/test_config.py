"""Configuration: every error names the file, section, key, bad value and what is allowed;
defaults; $STATE_DIRECTORY; ``evsed check`` in a subprocess; the bundled files load."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from controller.config import (
    ApiConfig,
    ChargingConfig,
    LogConfig,
    LoopConfig,
    StationConfig,
    StorageConfig,
    load,
    load_board,
    parse,
)
from hal.config import ConfigError

MINIMAL = '[board]\ntype = "sim"\n\n[[connector]]\nid = 1\n'


def load_error(tmp_path: Path, text: str) -> str:
    """Load ``text`` from a real file the way ``evsed run`` does; return the ConfigError message."""
    path = tmp_path / "evsed.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        board = load_board(load(path))
        board.close()
    message = str(info.value)
    assert message.startswith(f"{path}: "), message  # the file comes first
    assert "\n" not in message  # one line
    return message


# (name, file text, fragments the message must contain: section, key = value, what is allowed)
ERRORS: list[tuple[str, str, list[str]]] = [
    ("unknown section", MINIMAL + "[chargng]\nauthorize = 'any'\n", ["unknown section [chargng]", "charging", "loop"]),
    (
        "unknown key in [charging]",
        MINIMAL + '[charging]\nautorize = "any"\n',
        ["[charging]", "autorize = 'any'", "unknown key", "authorize", "tokens"],
    ),
    (
        "misspelled key in [connector.sim]",
        MINIMAL + "[connector.sim]\ncable_ampacity = 20\n",
        ["sim]", "cable_ampacity = 20", "unknown key", "cable_ampacity_a"],
    ),
    (
        "unknown key in [[connector]]",
        MINIMAL + "max_current = 32\n",
        ["connector", "max_current = 32", "unknown key", "max_current_a"],
    ),
    (
        "string for a number",
        MINIMAL + 'max_current_a = "16"\n',
        ["connector", "max_current_a = '16'", "expected a number"],
    ),
    ("bool for a number", MINIMAL + "max_current_a = true\n", ["max_current_a = True", "expected a number"]),
    ("float for an integer", MINIMAL + "phases = 3.0\n", ["phases = 3.0", "expected an integer"]),
    ("string for a bool", MINIMAL + 'ventilation = "yes"\n', ["ventilation = 'yes'", "expected true or false"]),
    (
        "string for a list",
        MINIMAL + '[charging]\nauthorize = "local"\ntokens = "TAG"\n',
        ["[charging]", "tokens = 'TAG'", "expected a list of str"],
    ),
    (
        "number above the maximum",
        MINIMAL + "[charging]\nsafe_current_a = 100\n",
        ["[charging]", "safe_current_a = 100", "at most 80"],
    ),
    ("number below the minimum", MINIMAL + "[loop]\nperiod_ms = 0.5\n", ["[loop]", "period_ms = 0.5", "at least 1"]),
    ("connector current too low", MINIMAL + "max_current_a = 5\n", ["max_current_a = 5", "at least 6"]),
    ("phases out of range", MINIMAL + "phases = 4\n", ["phases = 4", "at most 3"]),
    ("NaN connector current", MINIMAL + "max_current_a = nan\n", ["max_current_a = nan"]),
    ("NaN loop period", MINIMAL + "[loop]\nperiod_ms = nan\n", ["[loop]", "period_ms = nan"]),
    (
        "listen without a port",
        MINIMAL + '[api]\nlisten = "localhost"\n',
        ["[api]", "listen = 'localhost'", "host:port"],
    ),
    (
        "listen with a named port",
        MINIMAL + '[api]\nlisten = "127.0.0.1:http"\n',
        ["listen = '127.0.0.1:http'", "host:port"],
    ),
    (
        "listen port too big",
        MINIMAL + '[api]\nlisten = "127.0.0.1:70000"\n',
        ["listen = '127.0.0.1:70000'", "host:port"],
    ),
    ("listen without a host", MINIMAL + '[api]\nlisten = ":8080"\n', ["listen = ':8080'", "host:port"]),
    (
        "connectors out of order",
        '[board]\ntype = "sim"\n\n[[connector]]\nid = 2\n',
        ["connector", "id = 2", "numbered 1, 2, ... in order", "expected 1"],
    ),
    (
        "a connector number skipped",
        MINIMAL + "\n[[connector]]\nid = 3\n",
        ["id = 3", "expected 2"],
    ),
    (
        "local authorization without tokens",
        MINIMAL + '[charging]\nauthorize = "local"\n',
        ["[charging]", "tokens = []", 'authorize = "local" needs at least one token'],
    ),
    (
        "unknown authorization mode",
        MINIMAL + '[charging]\nauthorize = "maybe"\n',
        ["[charging]", "authorize = 'maybe'", "'any', 'local', 'ocpp'"],
    ),
    (
        "id tag too long",
        MINIMAL + '[charging]\nauthorize = "local"\ntokens = ["ABCDEFGHIJKLMNOPQRSTU"]\n',
        ["tokens = 'ABCDEFGHIJKLMNOPQRSTU'", "1..20"],
    ),
    ("unknown board type", '[board]\ntype = "arduino"\n\n[[connector]]\nid = 1\n', ["[board]", "'arduino'", "'sim'"]),
    ("board type missing", "[board]\n\n[[connector]]\nid = 1\n", ["[board]", "type", "'sim'", "'gpio'"]),
    (
        "cable rating that does not exist",
        MINIMAL + "[connector.sim]\ncable_ampacity_a = 25\n",
        ["sim]", "cable_ampacity_a = 25", "13, 20, 32, 63, 70"],
    ),
    (
        "sim board key out of range",
        '[board]\ntype = "sim"\nev_reaction_s = 60\n\n[[connector]]\nid = 1\n',
        ["[board]", "ev_reaction_s = 60", "at most 10"],
    ),
    ("log level", MINIMAL + '[log]\nlevel = "verbose"\n', ["[log]", "level = 'verbose'", "'debug'"]),
    ("no connector", '[board]\ntype = "sim"\n', ["at least one [[connector]]"]),
    ("invalid TOML", MINIMAL + "[charging\nauthorize = 'any'\n", ["not valid TOML", "line 6"]),
    ("duplicate key", MINIMAL + "phases = 1\nphases = 3\n", ["not valid TOML"]),
]


@pytest.mark.parametrize(("text", "fragments"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_config_error_names_file_section_key_value_and_allowed(tmp_path: Path, text: str, fragments: list[str]):
    message = load_error(tmp_path, text)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"{message!r} does not mention {missing}"


def test_misspelled_board_key_is_reported_after_load_board_not_by_parse() -> None:
    text = MINIMAL + "[connector.sim]\nlok = true\n"
    config = parse(text, "bench.toml")  # the controller does not know the board's keys
    with pytest.raises(ConfigError, match=r"^bench\.toml: \[connector\[0\]\.sim\] lok = True: unknown key"):
        load_board(config)


def test_unknown_key_in_a_controller_section_is_reported_by_load_board() -> None:
    config = parse(MINIMAL + "[loop]\nperiod = 5\n", "x.toml")
    with pytest.raises(ConfigError, match=r"\[loop\] period = 5: unknown key \(known here: .*period_ms"):
        load_board(config)


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=rf"^{missing}: cannot read the configuration"):
        load(missing)


def test_defaults_are_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    config = parse(MINIMAL, "min.toml")
    [c] = config.connectors
    assert (c.id, c.phases, c.max_current_a, c.ventilation) == (1, 3, 16.0, False)
    assert config.station == StationConfig()
    assert config.charging == ChargingConfig()
    assert config.charging.authorize == "any" and config.charging.safe_current_a == 6.0
    assert config.loop == LoopConfig() and config.loop.period_ms == 5.0
    assert config.storage == StorageConfig() and config.storage.database == Path("/var/lib/evsed/evsed.db")
    assert config.api == ApiConfig() and (config.api.host, config.api.port) == ("127.0.0.1", 8080)
    assert config.log == LogConfig()
    board = load_board(config)
    try:
        hw = board.connector(1)
        assert board.kind == "sim" and hw.cable is None and hw.lock is None  # tethered, no lock
        assert hw.rcd is not None and hw.temperature is not None
    finally:
        board.close()


def test_values_are_read_and_typed() -> None:
    text = (
        '[station]\ncharge_point_id = "CP-7"\n\n[board]\ntype = "sim"\n\n'
        "[[connector]]\nid = 1\nphases = 1\nmax_current_a = 32\nventilation = true\n\n"
        '[charging]\nauthorize = "local"\ntokens = ["A", "B"]\nconnection_timeout_s = 30\n\n'
        '[api]\nlisten = "[::1]:9000"\nenabled = false\n'
    )
    config = parse(text, "t.toml")
    c = config.connector(1)
    assert (c.phases, c.max_current_a, c.ventilation) == (1, 32.0, True)
    assert isinstance(c.max_current_a, float)  # an integer in the file is a float here
    assert config.charging.tokens == ("A", "B") and config.charging.connection_timeout_s == 30.0
    assert config.station.charge_point_id == "CP-7"
    assert config.api == ApiConfig("::1", 9000, False)


def test_state_directory_default_comes_from_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/evsed-a:/var/lib/evsed-b")
    assert parse(MINIMAL).storage.state_dir == Path("/var/lib/evsed-a")  # the first of several
    explicit = parse(MINIMAL + '[storage]\nstate_dir = "/srv/evsed"\n')
    assert explicit.storage.state_dir == Path("/srv/evsed")  # the file wins over the environment
    assert explicit.storage.database == Path("/srv/evsed/evsed.db")
    monkeypatch.delenv("STATE_DIRECTORY")
    assert parse(MINIMAL).storage.state_dir == Path("/var/lib/evsed")


# -- evsed check (subprocess) ----------------------------------------------------------


CHECKED = (
    '[board]\ntype = "sim"\n\n[[connector]]\nid = 1\nmax_current_a = 32\n\n'
    "[[connector]]\nid = 2\nphases = 1\n[connector.sim]\ncable_ampacity_a = 20\nlock = true\n\n"
    '[charging]\nauthorize = "local"\ntokens = ["TAG-1"]\n'
)


def test_evsed_check_prints_the_effective_configuration(tmp_path: Path) -> None:
    path = tmp_path / "evsed.toml"
    path.write_text(CHECKED)
    env = {k: v for k, v in os.environ.items() if k != "STATE_DIRECTORY"}
    result = run_cli("check", "--config", str(path), env=env)
    assert result.returncode == 0, result.stderr
    first, _, rest = result.stdout.partition("\n")
    assert first == f"# {path}: OK (sim board, 2 connector(s); hardware not opened)"
    for line in (
        "period_ms = 5.0",
        "safe_current_a = 6.0",
        'listen = "127.0.0.1:8080"',
        'state_dir = "/var/lib/evsed"',
        "connection_timeout_s = 120.0",
        "ev_reaction_s = 1.0",
        "cable_ampacity_a = 20",
        "lock = true",
    ):
        assert line in rest.splitlines(), f"{line!r} missing from:\n{rest}"
    # The printed configuration is itself a valid configuration, equal to the one checked.
    printed = tomllib.loads(result.stdout)
    assert printed["connector"][1]["sim"] == {
        "cable_ampacity_a": 20,
        "lock": True,
        "rcd": True,
        "temperature": True,
        "phase_switch": False,
    }
    again, original = parse(result.stdout, "printed"), parse(CHECKED, "original")
    for name in ("station", "connectors", "charging", "loop", "storage", "api", "log"):
        assert getattr(again, name) == getattr(original, name), name


@pytest.mark.parametrize(
    ("text", "start"),
    [
        (MINIMAL + '[charging]\nauthorize = "local"\n', "[charging] tokens = []"),
        (MINIMAL + "[connector.sim]\ncable_ampacity = 20\n", "[connector[0].sim] cable_ampacity = 20"),
        (MINIMAL + "[charging\n", "not valid TOML"),
        (MINIMAL + '[ocpp]\nurl = "ws://x"\n[ocpp.keys]\nHeartbeatInterval = "often"\n', "[ocpp.keys] Heartbeat"),
    ],
    ids=["value", "board key", "toml", "ocpp key of the chosen version"],
)
def test_evsed_check_bad_file_exits_1_with_one_line(tmp_path: Path, text: str, start: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = run_cli("check", "--config", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"evsed: {path}: {start}"), lines[0]


# -- bundled files -------------------------------------------------------------------------


def _sim_configs() -> list[Path]:
    files = sorted((REPO / "sim" / "configs").glob("*.toml")) + sorted((REPO / "systemd" / "examples").glob("*.toml"))
    # Files for other board types are tested with their drivers.
    return [f for f in files if tomllib.loads(f.read_text()).get("board", {}).get("type") == "sim"]


def test_the_bundled_sim_configs_are_found() -> None:
    names = {f.name for f in _sim_configs()}
    assert {"bench.toml", "bench-2.toml"} <= names


@pytest.mark.parametrize("path", _sim_configs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bundled_sim_config_loads_cleanly(path: Path) -> None:
    config = load(path)
    board = load_board(config)
    try:
        assert board.kind == "sim" and board.simulation is not None
        assert [c.id for c in board.connectors] == [c.id for c in config.connectors]
    finally:
        board.close()


def test_bench_configs_match_the_demo_scenarios() -> None:
    from sim.demo import SCENARIOS

    for name, (file, steps) in SCENARIOS.items():
        config = load(REPO / "sim" / "configs" / file)
        tags = {s.args["id_tag"] for s in steps if s.action == "swipe"}
        assert tags <= set(config.charging.tokens), name
        assert {s.connector for s in steps} <= {c.id for c in config.connectors}, name
    bench2 = load(REPO / "sim" / "configs" / "bench-2.toml")
    assert dataclasses.astuple(bench2.connector(2))[:3] == (2, 3, 16.0)
