"""[grid], [solar] and [mqtt]: values, defaults, and errors that name the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import MINIMAL, load_error

from controller.config import load_board, parse
from controller.energy.fuse import TripCurve
from controller.energy.solar import SolarMode
from hal.config import REDACTED

GRID = '[grid]\nsource = "meter"\nmain_fuse_a = 35\n[grid.meter]\n'
MQTT = '[mqtt]\nhost = "127.0.0.1"\n'


def test_defaults_mean_no_energy_management():
    cfg = parse(MINIMAL)
    assert cfg.grid.source is None and not cfg.grid.manages_fuse
    assert cfg.solar.mode is SolarMode.OFF
    assert not cfg.mqtt.enabled


def test_grid_with_a_meter_on_the_sim_board():
    cfg = parse(MINIMAL + GRID)
    assert cfg.grid.source == "meter" and cfg.grid.manages_fuse
    rules = cfg.grid.fuse_rules()
    assert (rules.main_fuse_a, rules.margin_a, rules.max_age_s, rules.fallback_a) == (35.0, 2.0, 10.0, 6.0)
    assert rules.curve is TripCurve.B and rules.detection_s == 1.0
    board = load_board(cfg)
    try:
        assert board.grid_meter is not None
    finally:
        board.close()
    board = load_board(parse(MINIMAL))
    assert board.grid_meter is None
    board.close()


def test_values_are_read():
    text = (
        MINIMAL
        + "[[connector]]\nid = 2\nphases = 1\n"
        + '[grid]\nsource = "mqtt"\ntopic = "house/grid"\nmain_fuse_a = 25\nmargin_a = 1.5\nmax_age_s = 20\n'
        + 'fallback_current_a = 10\nraise_delay_s = 30\ntrip_curve = "C"\nrotation = ["L1L2L3", "L3L1L2"]\n'
        + 'members = ["wb-2", "wb-3"]\n'
        + '[solar]\nmode = "pv"\nstart_margin_w = 200\nstop_margin_w = 100\nstart_delay_s = 30\nstop_delay_s = 90\n'
        + "phase_switch_pause_s = 20\n"
        + MQTT
        + 'port = 1884\nusername = "box"\npassword = "pw"\ntopic_prefix = "garage/evsed"\ndiscovery = false\n'
        + "publish_interval_s = 30\n"
    )
    cfg = parse(text)
    g = cfg.grid
    assert (g.source, g.topic, g.main_fuse_a, g.margin_a, g.max_age_s) == ("mqtt", "house/grid", 25.0, 1.5, 20.0)
    assert (g.fallback_current_a, g.raise_delay_s, g.trip_curve) == (10.0, 30.0, TripCurve.C)
    assert g.connector_phases(1) == (0, 1, 2) and g.connector_phases(2) == (2, 0, 1)
    assert g.members == ("wb-2", "wb-3")
    s = cfg.solar
    assert s.mode is SolarMode.PV and s.phase_switch_pause_s == 20.0
    assert (s.rules.start_margin_w, s.rules.stop_margin_w, s.rules.start_delay_s, s.rules.stop_delay_s) == (
        200.0, 100.0, 30.0, 90.0)  # fmt: skip
    m = cfg.mqtt
    assert (m.host, m.port, m.username, m.password, m.topic_prefix) == ("127.0.0.1", 1884, "box", "pw", "garage/evsed")
    assert not m.discovery and m.publish_interval_s == 30.0
    assert cfg.effective["mqtt"]["password"] == REDACTED


def test_member_box_needs_no_fuse():
    cfg = parse(MINIMAL + '[grid]\nsource = "manager"\n' + MQTT)
    assert cfg.grid.source == "manager" and not cfg.grid.manages_fuse


def test_password_file_and_tls_port(tmp_path: Path):
    secret = tmp_path / "mqtt-password"
    secret.write_text("from-the-file\nignored\n")
    cfg = parse(MINIMAL + MQTT + f'tls = true\nusername = "u"\npassword_file = "{secret}"\n')
    assert cfg.mqtt.password == "from-the-file" and cfg.mqtt.port == 8883
    assert "from-the-file" not in repr(cfg.mqtt)


ERRORS = [
    (GRID.replace("main_fuse_a = 35\n", ""), ["[grid] main_fuse_a is required"]),
    (GRID.replace('"meter"', '"modbus"'), ["[grid] source = 'modbus'", "'meter'", "'manager'"]),
    (GRID + "[grid]\n", ["not valid TOML"]),
    (GRID.replace("35", "35\nmargin_a = 40"), ["[grid] margin_a = 40.0", "below main_fuse_a"]),
    (GRID.replace("35", "35\ntrip_curve = 'D'"), ["[grid] trip_curve = 'D'", "'B'", "'C'"]),
    (GRID.replace("35", '35\nrotation = ["L1L1L2"]'), ["rotation = 'L1L1L2'", "connector 1", "L1, L2, L3 once"]),
    (GRID.replace("35", '35\nrotation = ["L1L2L3", "L2L3L1"]'), ["[grid] rotation", "one entry per connector"]),
    (GRID.replace("35", '35\nmembers = ["a/b"]'), ["[grid] members = ['a/b']", "charge point ids"]),
    (GRID.replace("35", '35\nmembers = ["wb-2"]'), ['[grid] source = "mqtt" and [grid] members need an [mqtt]']),
    ('[grid]\nsource = "mqtt"\nmain_fuse_a = 35\n' + MQTT, ['source = "mqtt" needs topic']),
    (
        '[grid]\nsource = "mqtt"\nmain_fuse_a = 35\ntopic = "a/#"\n' + MQTT,
        ["[grid] topic = 'a/#'", "without wildcards"],
    ),
    ('[grid]\nsource = "manager"\nmembers = ["x"]\n' + MQTT, ["[grid] members", "only the box that manages"]),
    (GRID + "model = 'sdm630'\n", ["[grid.meter] model = 'sdm630'", "unknown key"]),
    ('[grid]\nsource = "api"\nmain_fuse_a = 35\n[grid.meter]\nmodel = "sdm630"\n', ["[grid] meter", "unknown key"]),
    ('[solar]\nmode = "pv"\n', ["[solar] mode = 'pv'", "add a [grid] section"]),
    (GRID + '[solar]\nmode = "sun"\n', ["[solar] mode = 'sun'", "'minpv'"]),
    (GRID + "[solar]\nstart_margin_w = 0\nstop_margin_w = 0\n", ["[solar] stop_margin_w = 0.0", "hysteresis"]),
    ("[mqtt]\nport = 1883\n", ["[mqtt] host is required"]),
    (MQTT + 'password = "x"\n', ["[mqtt] password = '***'", "needs a username"]),
    (MQTT + 'certfile = "c.pem"\n', ["certfile and keyfile go together"]),
    (MQTT + 'certfile = "c.pem"\nkeyfile = "k.pem"\n', ["[mqtt] certfile = 'c.pem'", "tls = true"]),
    (MQTT + 'topic_prefix = "evsed/#"\n', ["[mqtt] topic_prefix = 'evsed/#'", "without wildcards"]),
    (
        MQTT + 'username = "u"\npassword_file = "/nonexistent/pw"\n',
        ["password_file = '/nonexistent/pw'", "cannot read"],
    ),
    (MQTT + "hots = 'x'\n", ["[mqtt] hots = 'x'", "unknown key"]),
]


@pytest.mark.parametrize(("extra", "fragments"), ERRORS)
def test_errors_name_the_key_and_what_is_allowed(tmp_path: Path, extra: str, fragments: list[str]):
    message = load_error(tmp_path, MINIMAL + extra)
    for fragment in fragments:
        assert fragment in message, message
