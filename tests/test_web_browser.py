"""The web page in a real browser (Debian's Chromium via Playwright) against the real daemon on the
sim board: logging in after a wrong password, CSRF attempts from a page on another port, a whole
session watched live (its curve growing, pause, stop) and found in the history and the CSV, the
owner's controls and the station tab, the page with the backend gone and the meter silent, and a
signed release uploaded from the station tab. Screenshots go to tests/artifacts/web/<test>/
(gitignored)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from browser import chromium, chromium_missing, screenshot_path
from conftest import LOCAL_TOKENS, eventually

from controller.api_access import hash_password

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))

PASSWORD = "garage password 7"
API_KEYS = f'password_hash = "{hash_password(PASSWORD)}"'


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as b:
        yield b


async def log_in(page: Any, url: str, password: str = PASSWORD) -> None:
    await page.goto(url + "/")
    await page.fill("#password", password)
    await page.click("button[type=submit]")


async def test_log_in_after_a_wrong_password(start_daemon, browser) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)
    page = await browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    await page.goto(run.url + "/")
    assert await page.is_visible("#login") and not await page.query_selector("#connectors")
    await page.screenshot(path=screenshot_path("login", "1-form"))

    await log_in(page, run.url, "not the password")
    await page.wait_for_selector("#login-error:not([hidden])")
    assert await page.inner_text("#login-error") == "Wrong password."
    assert not [c for c in await page.context.cookies() if c["name"] == "evsed_session"]
    await page.screenshot(path=screenshot_path("login", "2-wrong-password"))

    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#connector-1")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "evsed_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert await page.evaluate("document.cookie") == "", "the session cookie is out of the page script's reach"
    await page.wait_for_selector("#feed-state.ok")
    await page.screenshot(path=screenshot_path("login", "3-logged-in"))

    await page.click("#logout")
    await page.wait_for_selector("#login")
    await page.goto(run.url + "/")
    assert await page.is_visible("#login"), "logged out: the form again"


ATTACKER_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" action="{target}/api/sim/plug-in" enctype="text/plain">
<input name='{{"connector":1,"max_current_a":32,"x":"' value='"}}'></form>
<script>
fetch("{target}/api/sim/plug-in", {{method: "POST", mode: "no-cors", credentials: "include",
  body: JSON.stringify({{connector: 1}})}}).finally(() => document.getElementById("f").submit());
</script></body></html>"""


async def test_a_page_on_another_port_cannot_act_with_the_owners_session(start_daemon, browser) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS)
    seen: list[tuple[str, int]] = []

    async def attacker(request: web.Request) -> web.Response:
        return web.Response(text=ATTACKER_PAGE.format(target=run.url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", attacker)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    evil = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"  # type: ignore[union-attr]
    try:
        page = await browser.new_page()
        await log_in(page, run.url)
        await page.wait_for_selector("#connector-1")  # the owner is logged in; the cookie is same-site
        page.on("response", lambda r: seen.append((r.url, r.status)) if "/api/sim/" in r.url else None)
        await page.goto(evil)
        await eventually(lambda: len(seen) >= 2, 10, "the fetch and the form post")
        # The form post navigates to its (refused) target: let that page load before the screenshot.
        await page.wait_for_url(run.url + "/api/sim/plug-in")
        await page.wait_for_load_state()
        await page.screenshot(path=screenshot_path("csrf", "refused"))
    finally:
        await runner.cleanup()
    assert seen == [(run.url + "/api/sim/plug-in", 403)] * 2
    assert "another origin" in await page.inner_text("body")
    assert run.sim.snapshot(1)["plugged"] is False, "neither attempt plugged the car in"


async def card_state(page: Any, title: str, within_ms: float = 15000) -> None:
    await page.wait_for_selector(f'#connector-1[data-state="{title}"]', timeout=within_ms)


async def test_a_whole_session_seen_live_then_found_in_the_history(start_daemon, browser, tmp_path) -> None:
    run = await start_daemon(LOCAL_TOKENS, api=API_KEYS, storage="curve_interval_s = 1")
    page = await browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await log_in(page, run.url)
    await card_state(page, "Available")
    shot = lambda name: page.screenshot(path=screenshot_path("session", name), full_page=True)  # noqa: E731

    await page.click("[data-bench=plug-in]")  # the simulated car, from the page's bench controls
    await card_state(page, "Waiting")
    assert await page.get_attribute("#connector-1", "data-iec") in ("B1", "B2")
    await page.fill("[data-input=card]", "TAG-A")
    await page.click("[data-action=start]")
    await card_state(page, "Charging")  # no reload: pushed by the live feed
    assert await page.get_attribute("#connector-1", "data-iec") == "C2"
    assert await page.inner_text("#connector-1 [data-f=token]") == "TAG-A"
    await page.wait_for_function("Number(document.querySelector('#connector-1 [data-f=power]').textContent) > 1")
    transaction = await page.get_attribute("#connector-1", "data-transaction")
    assert transaction == run.transaction().id

    points = "Number(document.querySelector('#connector-1 svg.chart')?.dataset.points || 0)"
    await page.wait_for_function(f"{points} >= 2", timeout=15000)
    first = await page.evaluate(points)
    await page.wait_for_function(f"{points} >= {first + 2}", timeout=15000)  # the curve grows while we watch
    await shot("1-charging")

    await page.click("[data-action=pause]")
    await card_state(page, "Paused")
    assert "Paused from this page" in await page.inner_text("#connector-1 [data-f=detail]")
    assert await page.inner_text("[data-action=pause]") == "Resume"
    await shot("2-paused")
    await page.click("[data-action=pause]")
    await card_state(page, "Charging")

    await page.click("[data-action=stop]")
    await card_state(page, "Finished")
    await shot("3-stopped")

    await page.click("nav button[data-tab=sessions]")
    row = page.locator(f'#history tr[data-transaction="{transaction}"]')
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells[2] == "TAG-A" and float(cells[3]) > 0 and cells[4] == "stopped at the wallbox (card or this page)"
    await row.click()
    await page.wait_for_function("Number(document.querySelector('#session-chart').dataset.points) >= 4")
    await shot("4-history")

    async with page.expect_download() as info:
        await page.click("#csv")
    download = await info.value
    saved = tmp_path / "sessions.csv"
    await download.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0].startswith("id,connector,token,started_at,stopped_at,energy_kwh,stop_cause")
    assert lines[1].startswith(f"{transaction},1,TAG-A,") and ",Local," in lines[1]
    assert errors == [], errors


async def test_the_owners_controls_and_the_station_tab(start_daemon, browser) -> None:
    run = await start_daemon(LOCAL_TOKENS)  # open on loopback: no login
    page = await browser.new_page(viewport={"width": 390, "height": 844}, accept_downloads=True)
    await page.goto(run.url + "/")
    await card_state(page, "Available")
    assert await page.is_hidden("#logout"), "nothing to log out of"

    await page.fill("[data-input=amps]", "10")
    await page.click("[data-action=max-current]")
    await page.wait_for_function(
        "document.querySelector('#connector-1 [data-f=limit]').textContent.startsWith('10.0 A, set by the owner')"
    )
    await page.click("[data-action=availability]")
    await card_state(page, "Unavailable")
    assert "switched off by the owner" in await page.inner_text("#connector-1 [data-f=notice]")
    await page.click("[data-action=availability]")
    await card_state(page, "Available")
    await page.screenshot(path=screenshot_path("controls", "1-live"), full_page=True)

    await page.click("nav button[data-tab=station]")
    await page.wait_for_function("document.querySelector('#config').textContent.includes('[station]')")
    assert "none configured" in await page.inner_text("#ocpp")
    assert "SIM-1" in await page.inner_text("#meters")
    async with page.expect_download() as info:
        await page.click("#diagnostics")
    download = await info.value
    assert download.suggested_filename.startswith("diagnostics-evsed-")
    await page.screenshot(path=screenshot_path("controls", "2-station"), full_page=True)
    assert run.daemon.owner_limits.amps == {1: 10.0}


OCPP_LOCAL = LOCAL_TOKENS + '\n[ocpp]\nurl = "ws://127.0.0.1:{port}"\nreconnect_cap_s = 0.2\n'


async def test_the_page_works_on_with_the_backend_gone_and_the_meter_silent(start_daemon, browser, csms) -> None:
    run = await start_daemon(OCPP_LOCAL.format(port=csms.port))
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(run.url + "/")
    await page.wait_for_selector('#link-state[data-state="connected"]', timeout=15000)
    assert await page.inner_text("#link-state") == "backend connected"

    await csms.stop()
    await page.wait_for_selector('#link-state[data-state="waiting"]', timeout=15000)
    assert await page.inner_text("#link-state") == "backend offline"
    await page.click("[data-bench=plug-in]")
    await page.fill("[data-input=card]", "TAG-B")
    await page.click("[data-action=start]")
    await card_state(page, "Charging")  # live while the backend is gone
    await page.click("nav button[data-tab=station]")
    await page.wait_for_function("document.querySelector('#ocpp').textContent.includes('Nothing answers')")
    await page.click("nav button[data-tab=live]")

    await page.check("[data-fault=meter_offline]")
    await page.wait_for_selector('#connector-1 .fault[data-kind="meter_offline"]', timeout=15000)
    fault = await page.inner_text('#connector-1 .fault[data-kind="meter_offline"]')
    assert "Energy meter not answering" in fault and "What to do" in fault
    assert await page.inner_text("#connector-1 [data-f=power]") == "\u2013", "no stale power shown"
    await page.screenshot(path=screenshot_path("degraded", "meter-offline-backend-gone"), full_page=True)
    await page.click("[data-bench=unplug]")  # state changes still arrive
    await card_state(page, "Fault")
    await page.uncheck("[data-fault=meter_offline]")
    await card_state(page, "Available")
    assert await page.is_hidden('#connector-1 .fault[data-kind="meter_offline"]') or not await page.query_selector(
        '#connector-1 .fault[data-kind="meter_offline"]'
    )


async def test_a_signed_release_uploaded_from_the_station_tab(start_daemon, browser, tmp_path) -> None:
    from test_web_firmware import FIRMWARE, release

    from controller.firmware import launcher
    from sim.release import Manufacturer

    manufacturer = Manufacturer.create()
    root = tmp_path / "opt"
    (root / "factory").mkdir(parents=True)
    launcher.switch_current(root, root / "factory")
    (tmp_path / "roots.pem").write_text(manufacturer.root.cert_pem)
    run = await start_daemon(LOCAL_TOKENS + FIRMWARE.format(root=root, roots=tmp_path / "roots.pem"), api=API_KEYS)
    parts = release(manufacturer, tmp_path)
    for name in ("file", "certificate"):
        (tmp_path / parts[name][0]).write_bytes(parts[name][1])

    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await log_in(page, run.url)
    await page.click("nav button[data-tab=station]")
    await page.wait_for_selector('#firmware[data-status="Idle"]')
    await page.set_input_files("#firmware-upload input[name=file]", str(tmp_path / parts["file"][0]))
    await page.set_input_files("#firmware-upload input[name=certificate]", str(tmp_path / parts["certificate"][0]))
    await page.fill("#firmware-upload input[name=signature]", parts["signature"][1].decode())
    await page.click("#firmware-upload button[type=submit]")  # with the session's CSRF token
    await page.wait_for_selector('#firmware[data-status="InstallRebooting"]', timeout=20000)  # pushed, no reload
    assert "restarting into the new release" in await page.inner_text("#firmware")
    assert await page.get_attribute("#firmware-progress", "value") == "90"
    await page.screenshot(path=screenshot_path("firmware", "installed"), full_page=True)
    assert os.readlink(root / "current") == str(root / "slots" / "a")


async def test_after_a_restart_the_page_comes_back_to_the_login(browser, tmp_path) -> None:
    """Sessions live in memory: the page notices its stream refused and shows the form again."""
    from conftest import free_port, with_runtime_sections

    from controller.config import parse
    from controller.daemon import Daemon
    from controller.safety.process import open_board

    port = free_port()
    toml = with_runtime_sections(LOCAL_TOKENS, tmp_path / "state", listen=f"127.0.0.1:{port}", api=API_KEYS)

    async def started() -> Daemon:
        config = parse(toml, "evsed.toml")
        daemon = Daemon(config, open_board(config))
        await daemon.start()
        return daemon

    daemon = await started()
    try:
        page = await browser.new_page()
        await log_in(page, f"http://127.0.0.1:{port}")
        await page.wait_for_selector("#feed-state.ok")
        await daemon.stop()
        await page.wait_for_selector("#feed-state.warn")
        daemon = await started()
        await page.wait_for_selector("#login", timeout=20000)
    finally:
        await daemon.stop()


async def test_the_charging_mode_of_energy_management(start_daemon, browser) -> None:
    run = await start_daemon(LOCAL_TOKENS + '\n[grid]\nsource = "api"\nmain_fuse_a = 35\n')
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    await page.goto(run.url + "/")
    await card_state(page, "Available")
    options = await page.locator("[data-input=mode] option").all_inner_texts()
    assert options == ["Fast", "Solar + minimum", "Solar only"]
    await page.select_option("[data-input=mode]", "pv")
    await eventually(lambda: run.daemon.site.modes[1].value == "pv", 10, "the mode stored")
    await page.click("[data-bench=plug-in]")  # the next frames carry the stored mode
    detail = "document.querySelector('[data-f=mode-detail]').textContent"
    await page.wait_for_function(f"{detail}.startsWith('Charges only')")
    assert await page.input_value("[data-input=mode]") == "pv"
    await page.screenshot(path=screenshot_path("energy", "solar-only"), full_page=True)
