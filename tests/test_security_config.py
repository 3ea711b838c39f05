"""[ocpp] security keys, [time], and secret files: errors name file, section and key; secrets
never appear in the error or the effective configuration."""

import os
import stat

import pytest

from controller.config import effective_toml, load_board, parse
from controller.ocpp import versions
from controller.secret_files import read_secret, write_secret
from controller.storage import Database
from hal.config import ConfigError

BASE = '[[connector]]\nid = 1\n[board]\ntype = "sim"\n'
KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[ocpp]\nurl = "ws://x"\ntls_url = "ws://y"', "[ocpp] tls_url = 'ws://y': expected a TLS websocket URL"),
        ('[ocpp]\nurl = "wss://x"\nca_file = "/nonexistent.pem"', "[ocpp] ca_file = '/nonexistent.pem': expected a"),
        ('[ocpp]\nurl = "wss://x"\nbasic_auth = "base64"', "[ocpp] basic_auth = 'base64': expected one of"),
        (
            '[ocpp]\nurl = "wss://x"\n[ocpp.keys]\nAuthorizationKey = "' + KEY + '"',
            "[ocpp.keys] AuthorizationKey = '(hidden)': a secret does not belong in the configuration file",
        ),
        ('[time]\nservers = ["ntp.example.com:99999"]', "[time] servers = 'ntp.example.com:99999': expected"),
        ('[time]\nset_clock = "always"', "[time] set_clock = 'always': expected one of 'auto', 'never'"),
        ('[time]\nserver = ["pool.ntp.org"]', "[time] server = ['pool.ntp.org']: unknown key"),
    ],
)
def test_errors_name_the_key(section, message):
    with pytest.raises(ConfigError) as raised:
        config = parse(BASE + section, "evsed.toml")
        versions.check(config)  # [ocpp.keys]: the chosen version's table
        load_board(config).close()
    assert f"evsed.toml: {message}" in str(raised.value)
    assert KEY not in str(raised.value)


def test_security_and_time_keys_are_read(tmp_path):
    roots = tmp_path / "roots.pem"
    roots.write_text("")
    ocpp = f'[ocpp]\nurl = "ws://x"\ntls_url = "wss://y"\nca_file = "{roots}"\ninsecure = true\n'
    time = '[time]\nservers = ["127.0.0.1:1230", "[::1]:123", "pool.ntp.org"]\nset_clock = "never"\n'
    config = parse(BASE + ocpp + time)
    assert (config.ocpp.tls_url, config.ocpp.ca_file, config.ocpp.insecure) == ("wss://y", roots, True)
    assert config.time.servers == ("127.0.0.1:1230", "[::1]:123", "pool.ntp.org") and config.time.set_clock == "never"
    assert "[time]" in effective_toml(config)


def test_secret_files_are_private_and_atomic(tmp_path, caplog):
    path = tmp_path / "secrets" / "authorization_key"
    write_secret(path, KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    write_secret(path, KEY.upper())
    assert read_secret(path) == KEY.upper().encode() and os.listdir(path.parent) == ["authorization_key"]
    os.chmod(path, 0o644)  # someone loosened it
    assert read_secret(path) == KEY.upper().encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "tightened to 0600" in caplog.text and KEY.upper() not in caplog.text


def test_a_key_left_in_sqlite_moves_to_its_secret_file(tmp_path):
    from controller.ocpp.v16.configuration import Configuration

    db = Database(tmp_path / "evsed.db")
    try:
        Configuration(db, {"Security"})  # creates config_keys
        db.run_sync(lambda c: c.execute("INSERT INTO config_keys VALUES ('AuthorizationKey', ?)", (KEY,)))
        keys = Configuration(db, {"Security"}, secrets={"AuthorizationKey": tmp_path / "secret"})
        assert keys.text("AuthorizationKey") == KEY and (tmp_path / "secret").read_text() == KEY
        rows = db.run_sync(lambda c: c.execute("SELECT name FROM config_keys").fetchall())
        assert ("AuthorizationKey",) not in [tuple(r) for r in rows]
    finally:
        db.close()
