"""Browser sessions, CSRF, the cross-origin rule and the login throttle (controller/api_access.py):
the pure rules with an injected clock, then real HTTP against a daemon with and without a password."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from conftest import EV, LOCAL_TOKENS

from controller.api_access import (
    CSRF_HEADER,
    FORGET_S,
    FREE_FAILURES,
    FREE_FAILURES_ALL,
    MAX_SESSIONS,
    MAX_WAIT_S,
    SESSION_IDLE_S,
    SESSION_MAX_S,
    ApiAccess,
    Failures,
    Throttle,
    Verdict,
    cross_site,
    hash_password,
    loopback_host,
    wait_s,
)

PASSWORD = "garage password 7"
HASH = hash_password(PASSWORD)
API_KEYS = f'password_hash = "{HASH}"'


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, False),  # reads are not changes
        ("POST", {}, False),  # curl, evsed ctl: no browser headers
        ("POST", {"Host": "box:8080", "Origin": "http://box:8080", "Sec-Fetch-Site": "same-origin"}, False),
        ("POST", {"Host": "box:8080", "Origin": "http://BOX:8080"}, False),
        ("POST", {"Sec-Fetch-Site": "none"}, False),  # typed into the address bar
        ("POST", {"Host": "box:8080", "Origin": "http://box:9090"}, True),  # another port is another origin
        ("POST", {"Host": "box:8080", "Origin": "http://evil.example"}, True),
        ("POST", {"Host": "box:8080", "Origin": "null"}, True),  # sandboxed frame, file: page
        ("POST", {"Origin": "http://box:8080"}, True),  # no Host to compare with
        ("DELETE", {"Host": "box:8080", "Sec-Fetch-Site": "same-site"}, True),
        ("PUT", {"Host": "box:8080", "Origin": "http://box:8080", "Sec-Fetch-Site": "cross-site"}, True),
    ],
)
def test_a_state_change_from_another_origin_is_refused(method: str, headers: dict[str, str], refused: bool) -> None:
    assert cross_site(method, headers) is refused


def test_an_open_api_answers_only_loopback_host_names() -> None:
    for host in ("127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.9.9.9"):
        assert loopback_host({"Host": host}), host
    assert loopback_host({})
    for host in ("evil.example:8080", "192.168.1.5:8080", "127.0.0.1.evil.example", "[::2]:80", ""):
        assert not loopback_host({"Host": host}), host


def test_the_throttle_doubles_the_wait_after_the_free_failures_and_forgets() -> None:
    assert wait_s(None, FREE_FAILURES, 0.0) == 0.0
    assert wait_s(Failures(FREE_FAILURES, 100.0), FREE_FAILURES, 100.0) == 0.0
    assert wait_s(Failures(FREE_FAILURES + 1, 100.0), FREE_FAILURES, 100.0) == 1.0
    assert wait_s(Failures(FREE_FAILURES + 1, 100.0), FREE_FAILURES, 100.4) == pytest.approx(0.6)
    assert wait_s(Failures(FREE_FAILURES + 4, 100.0), FREE_FAILURES, 100.0) == 8.0
    assert wait_s(Failures(FREE_FAILURES + 40, 100.0), FREE_FAILURES, 100.0) == MAX_WAIT_S
    assert wait_s(Failures(FREE_FAILURES + 40, 100.0), FREE_FAILURES, 100.0 + FORGET_S + 1) == 0.0

    t = Throttle()
    for _ in range(FREE_FAILURES + 2):
        t.failed("192.168.1.9", 50.0)
    assert t.wait_s("192.168.1.9", 50.0) == 2.0
    assert t.wait_s("192.168.1.10", 50.0) == 0.0, "another address is not held by this one's failures"
    t.succeeded("192.168.1.9")
    assert t.wait_s("192.168.1.9", 50.0) == 0.0
    t.failed("192.168.1.9", 50.0 + FORGET_S + 1)  # long after: counts from 1 again, not 13
    assert t._by_address["192.168.1.9"].count == 1


def test_many_addresses_together_are_throttled_but_not_the_box_itself() -> None:
    t = Throttle()
    for i in range(FREE_FAILURES_ALL + 1):
        t.failed(f"10.0.{i // 200}.{i % 200}", 10.0)
    assert t.wait_s("10.9.9.9", 10.0) == 1.0, "a fresh address off loopback waits for the others' guesses"
    assert t.wait_s("127.0.0.1", 10.0) == 0.0 and t.wait_s("::1", 10.0) == 0.0


async def test_sessions_csrf_expiry_and_logout_with_an_injected_clock() -> None:
    clock = Clock()
    access = ApiAccess(HASH, clock)
    assert (await access.decide("GET", {})).verdict is Verdict.NO_CREDENTIAL
    assert (await access.login("not it at all", "10.0.0.2")).verdict is Verdict.WRONG_PASSWORD
    made = await access.login(PASSWORD, "10.0.0.2")
    session = made.session
    assert made.allowed and session is not None and session.token != session.csrf and len(session.token) >= 40

    assert (await access.decide("GET", {}, session.token)).allowed
    assert (await access.decide("GET", {}, session.token + "x")).verdict is Verdict.SESSION_ENDED
    assert (await access.decide("POST", {}, session.token)).verdict is Verdict.NO_CSRF_TOKEN
    assert (await access.decide("POST", {CSRF_HEADER: "guess"}, session.token)).verdict is Verdict.NO_CSRF_TOKEN
    assert (await access.decide("POST", {CSRF_HEADER: session.csrf}, session.token)).allowed
    other = (await access.login(PASSWORD, "10.0.0.3")).session
    assert other is not None
    assert (await access.decide("POST", {CSRF_HEADER: other.csrf}, session.token)).verdict is Verdict.NO_CSRF_TOKEN

    clock.now += SESSION_IDLE_S - 1
    assert (await access.decide("GET", {}, session.token)).allowed, "used in time: kept alive"
    clock.now += SESSION_IDLE_S - 1
    assert (await access.decide("GET", {}, session.token)).allowed
    assert (await access.decide("GET", {}, other.token)).verdict is Verdict.SESSION_ENDED, "idle too long"
    clock.now = 1000.0 + SESSION_MAX_S + 1
    assert (await access.decide("GET", {}, session.token)).verdict is Verdict.SESSION_ENDED, "too old, however used"

    last = (await access.login(PASSWORD)).session
    assert last is not None
    access.logout(last.token)
    assert (await access.decide("GET", {}, last.token)).verdict is Verdict.SESSION_ENDED


async def test_the_oldest_session_goes_when_too_many_exist() -> None:
    clock = Clock()
    access = ApiAccess(HASH, clock)
    tokens = []
    for _ in range(MAX_SESSIONS + 1):
        clock.now += 1
        made = (await access.login(PASSWORD)).session
        assert made is not None
        tokens.append(made.token)
    assert (await access.decide("GET", {}, tokens[0])).verdict is Verdict.SESSION_ENDED
    assert all([(await access.decide("GET", {}, t)).allowed for t in tokens[1:]])


async def test_a_throttled_password_is_not_even_checked() -> None:
    clock = Clock()
    access = ApiAccess(HASH, clock)
    for _ in range(FREE_FAILURES + 1):
        assert (await access.login("wrong guess 1", "10.1.1.1")).verdict is Verdict.WRONG_PASSWORD
    held = await access.login(PASSWORD, "10.1.1.1")
    assert held.verdict is Verdict.THROTTLED and held.retry_after_s == 1.0 and held.session is None
    bearer = await access.decide("GET", {"Authorization": f"Bearer {PASSWORD}"}, peer="10.1.1.1")
    assert bearer.verdict is Verdict.THROTTLED, "the header is throttled like the login form"
    clock.now += 1.0
    assert (await access.login(PASSWORD, "10.1.1.1")).allowed


# -- over HTTP ----------------------------------------------------------------------------------


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.request(method, url, **kwargs) as resp:
        body = await resp.json(content_type=None) if "json" in resp.content_type else await resp.text()
        return resp.status, body, resp


async def test_a_browser_logs_in_gets_a_strict_cookie_and_needs_the_csrf_token(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies for 127.0.0.1
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        code, page, _ = await _call(browser, "GET", run.url + "/")
        assert code == 200 and 'id="login"' in page and "connectors" not in page, "the login form, no station data"
        for path in ("/static/app.js", "/api/status", "/api/live", "/api/session"):
            code, _, resp = await _call(browser, "GET", run.url + path, headers={"Sec-Fetch-Mode": "cors"})
            assert code == 401 and "WWW-Authenticate" not in resp.headers, path  # no pop-up for the page's fetches
        assert (await _call(browser, "GET", run.url + "/static/style.css"))[0] == 200
        assert (await _call(browser, "GET", run.url + "/static/login.js"))[0] == 200

        code, body, _ = await _call(browser, "POST", run.url + "/api/login", json={"password": "no"})
        assert (code, body) == (401, {"error": "wrong password"})
        code, body, resp = await _call(browser, "POST", run.url + "/api/login", json={"password": PASSWORD})
        assert code == 200, body
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("evsed_session=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/" in cookie and "Secure" not in cookie  # plain HTTP here
        csrf = body["csrf"]

        code, page, _ = await _call(browser, "GET", run.url + "/")
        assert code == 200 and 'id="connectors"' in page
        assert (await _call(browser, "GET", run.url + "/api/status"))[0] == 200
        assert (await _call(browser, "GET", run.url + "/api/session"))[1]["csrf"] == csrf

        plug = {"connector": 1, **EV}
        code, body, _ = await _call(browser, "POST", run.url + "/api/sim/plug-in", json=plug)
        assert code == 403 and "X-CSRF-Token" in body["error"]
        assert run.sim.snapshot(1)["plugged"] is False
        code, body, _ = await _call(browser, "POST", run.url + "/api/sim/plug-in", json=plug,
                                    headers={CSRF_HEADER: csrf, "Origin": "http://127.0.0.1:1"})  # fmt: skip
        assert code == 403 and "another origin" in body["error"]
        assert run.sim.snapshot(1)["plugged"] is False
        code, body, _ = await _call(
            browser, "POST", run.url + "/api/sim/plug-in", json=plug, headers={CSRF_HEADER: csrf}
        )
        assert code == 200 and run.sim.snapshot(1)["plugged"] is True

        token = cookie.split(";")[0].partition("=")[2]
        assert (await _call(browser, "POST", run.url + "/api/logout", headers={CSRF_HEADER: csrf}))[0] == 200
        assert (await _call(browser, "GET", run.url + "/api/status"))[0] == 401, "the browser dropped the cookie"
        code, body, _ = await _call(
            run.http, "GET", run.url + "/api/status", headers={"Cookie": f"evsed_session={token}"}
        )
        assert code == 401 and "log in again" in body["error"], "and the server forgot it"


async def test_bearer_still_works_but_not_from_another_origin(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)
    bearer = {"Authorization": f"Bearer {PASSWORD}"}
    assert (await _call(run.http, "POST", run.url + "/api/sim/plug-in", json={"connector": 1, **EV}, headers=bearer))[
        0
    ] == 200
    code, body, _ = await _call(run.http, "POST", run.url + "/api/sim/unplug", json={"connector": 1},
                                headers={**bearer, "Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert code == 403 and run.sim.snapshot(1)["plugged"] is True
    code, body, _ = await _call(run.http, "POST", run.url + "/api/login", json={"password": PASSWORD},
                                headers={"Origin": "http://attacker.example"})  # fmt: skip
    assert code == 403 and "another origin" in body["error"], "no login from a foreign page either"


async def test_wrong_logins_are_throttled_with_retry_after(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)
    for _ in range(FREE_FAILURES + 1):
        assert (await _call(run.http, "POST", run.url + "/api/login", json={"password": "guess 1234"}))[0] == 401
    code, body, resp = await _call(run.http, "POST", run.url + "/api/login", json={"password": PASSWORD})
    assert code == 429 and resp.headers["Retry-After"] == "1" and "too many" in body["error"]
    code, body, resp = await _call(
        run.http, "GET", run.url + "/api/status", headers={"Authorization": f"Bearer {PASSWORD}"}
    )
    assert code == 429 and resp.headers["Retry-After"] == "1"


async def test_the_open_api_serves_the_page_but_not_to_a_foreign_host_name(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    code, page, _ = await _call(run.http, "GET", run.url + "/")
    assert code == 200 and 'id="connectors"' in page, "open on loopback: the page itself, no login"
    assert (await _call(run.http, "GET", run.url + "/api/session"))[1]["csrf"] is None
    for path in ("/", "/api/status"):
        code, body, _ = await _call(run.http, "GET", run.url + path, headers={"Host": "rebound.example:8080"})
        assert code == 403 and "loopback host" in body["error"], path
    code, body, _ = await _call(run.http, "POST", run.url + "/api/sim/plug-in", json={"connector": 1, **EV},
                                headers={"Origin": "http://rebound.example"})  # fmt: skip
    assert code == 403 and run.sim.snapshot(1)["plugged"] is False
    for name in ("../api.py", "..%2Fapi.py", "index.html", "nope.js"):
        assert (await _call(run.http, "GET", run.url + "/static/" + name))[0] == 404, name
