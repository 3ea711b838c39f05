"""The local API's password: the hash format, the [api] rules, real HTTP requests with and
without it, ``evsed hash-password`` and ``evsed ctl --password`` / $EVSED_API_PASSWORD."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from conftest import EV, LOCAL_TOKENS, run_cli

from controller.api_access import hash_password, parse_password_hash, presented_password
from controller.config import effective_toml, parse
from hal.config import ConfigError

PASSWORD = "bench password 1"
HASH = str(hash_password(PASSWORD))
API_KEYS = f'password_hash = "{HASH}"'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_hash_round_trips_and_only_the_password_matches() -> None:
    parsed = parse_password_hash(HASH)
    assert HASH.startswith("$scrypt$ln=14,r=8,p=1$") and str(parsed) == HASH
    assert parsed.matches(PASSWORD)
    assert not parsed.matches(PASSWORD.upper()) and not parsed.matches(PASSWORD + " ")
    assert hash_password(PASSWORD) != parsed, "a fresh salt every time"
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
    for bad in (PASSWORD, "$scrypt$ln=14,r=8,p=1$c2FsdA$a2V5", HASH.replace("ln=14", "ln=40"), "$pbkdf2$x$y"):
        with pytest.raises(ValueError):
            parse_password_hash(bad)


def test_the_password_is_read_from_bearer_or_basic() -> None:
    assert presented_password({"Authorization": f"Bearer {PASSWORD}"}) == PASSWORD
    assert presented_password({"Authorization": f"bearer  {PASSWORD} "}) == PASSWORD
    assert presented_password({"Authorization": basic("admin", PASSWORD)}) == PASSWORD
    assert presented_password({"Authorization": basic("", "a:b")}) == "a:b"  # only the first colon splits
    for header in ("", "Bearer", "Basic !!!", "Basic " + base64.b64encode(b"\xff:\xfe").decode(), "Digest x"):
        assert presented_password({"Authorization": header}) is None, header
    assert presented_password({}) is None


CONFIG = LOCAL_TOKENS + "\n[api]\n"


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "[::]:8080", "192.168.1.20:8080", "wallbox.local:8080"])
def test_a_listen_address_off_loopback_needs_a_password_hash(listen: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(CONFIG + f'listen = "{listen}"\n', "evsed.toml")
    assert str(err.value).startswith(f"evsed.toml: [api] listen = '{listen}': reachable from the network")
    assert "password_hash" in str(err.value) and "evsed hash-password" in str(err.value)
    config = parse(CONFIG + f'listen = "{listen}"\n{API_KEYS}\n')
    assert config.api.password_hash == parse_password_hash(HASH)
    assert parse(CONFIG + f'listen = "{listen}"\nenabled = false\n').api.enabled is False  # no API, no risk


@pytest.mark.parametrize("listen", ["127.0.0.1:8080", "127.3.2.1:80", "[::1]:8080", "localhost:8080"])
def test_loopback_may_stay_open(listen: str) -> None:
    assert parse(CONFIG + f'listen = "{listen}"\n').api.password_hash is None


def test_a_malformed_hash_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as err:
        parse(CONFIG + f'password_hash = "{PASSWORD}"\n', "evsed.toml")
    assert str(err.value).startswith("evsed.toml: [api] password_hash = '***': expected")
    assert PASSWORD not in str(err.value)
    shown = effective_toml(parse(CONFIG + API_KEYS))
    assert 'password_hash = "***"' in shown and HASH not in shown


async def test_with_a_password_every_request_presents_it(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)

    async def ask(method: str, path: str, authorization: str | None, body: object = None) -> tuple[int, Any]:
        headers = {"Authorization": authorization} if authorization is not None else {}
        async with run.http.request(method, run.url + path, json=body, headers=headers) as resp:
            answer = await resp.json()
            if resp.status == 401:
                answer["challenge"] = resp.headers.get("WWW-Authenticate")
            return resp.status, answer

    endpoints = [("GET", "/api/status"), ("GET", "/api/sessions"), ("POST", "/api/ocpp/disconnect"),
                 ("POST", "/api/sim/plug-in"), ("GET", "/api/no-such-thing")]  # fmt: skip
    failures = []
    for method, path in endpoints:
        for authorization, words in (
            (None, "needs its password"),
            (f"Bearer {PASSWORD[:-1]}", "wrong password"),
            (basic("admin", "not it at all"), "wrong password"),
            ("Bearer ", "wrong password"),
        ):
            code, body = await ask(method, path, authorization, {"connector": 1, **EV})
            if code != 401 or words not in body["error"] or body["challenge"] != 'Basic realm="evsed"':
                failures.append(f"{method} {path} with {authorization!r}: {code} {body}")
    assert not failures, "\n".join(failures)
    assert run.sim.snapshot(1)["plugged"] is False  # the refused plug-ins did nothing

    code, body = await ask("GET", "/api/status", f"Bearer {PASSWORD}")
    assert code == 200 and body["connectors"][0]["status"] == "Available"
    assert (await ask("GET", "/api/sessions", basic("", PASSWORD)))[0] == 200
    assert (await ask("POST", "/api/sim/plug-in", basic("tech", PASSWORD), {"connector": 1, **EV}))[0] == 200
    await run.wait_status("Preparing")
    # Once accepted, the password is checked against a remembered digest; a wrong one still fails.
    assert (await ask("GET", "/api/status", f"Bearer {PASSWORD}"))[0] == 200
    assert (await ask("GET", "/api/status", f"Bearer {PASSWORD}x"))[0] == 401


def test_hash_password_and_ctl_with_the_password(evsed_process) -> None:
    made = run_cli("hash-password", input=PASSWORD + "\n")
    assert made.returncode == 0 and made.stderr == "", made.stderr
    assert parse_password_hash(made.stdout.strip()).matches(PASSWORD)
    short = run_cli("hash-password", input="abc\n")
    assert (short.returncode, short.stdout) == (1, "")
    assert short.stderr == "evsed hash-password: the password must have at least 8 characters\n"

    daemon = evsed_process(LOCAL_TOKENS, api=f'password_hash = "{made.stdout.strip()}"', password=PASSWORD)
    refused = run_cli("ctl", "--api", daemon.url, "status")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == f"evsed ctl: GET {daemon.url}/api/status: 401 this API needs its password " \
        "(Authorization: Bearer ...)\n"  # fmt: skip
    wrong = run_cli("ctl", "--api", daemon.url, "--password", "not the password", "status")
    assert wrong.returncode == 1 and "401 wrong password" in wrong.stderr
    ok = run_cli("ctl", "--api", daemon.url, "--password", PASSWORD, "status")
    assert ok.returncode == 0 and ok.stdout.startswith("evsed "), ok.stderr
    env = {**os.environ, "EVSED_API_PASSWORD": PASSWORD}
    plugged = run_cli("ctl", "--api", daemon.url, "plug-in", env=env)
    assert plugged.returncode == 0, plugged.stderr
    assert daemon.connector(1)["ev"]["plugged"] is True
