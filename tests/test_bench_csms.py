"""The bench CSMS: its OCPP behaviour, its records and its HTTP control API."""

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from conftest import EVSED

from controller.ocpp.link import CallErrorReceived, Link
from controller.ocpp.rpc import Rpc
from sim.csms import Csms, CsmsConfig

REPO = Path(__file__).resolve().parents[1]
BOOT = {"chargePointVendor": "evsed", "chargePointModel": "bench"}


@pytest.fixture
async def bench():
    csms = Csms(CsmsConfig(boot_status="Pending", heartbeat_interval=42, id_tags={"GOOD"}))
    port = await csms.start()
    link = Link(f"ws://127.0.0.1:{port}", "CP7", Rpc("1.6"))

    async def reset(payload):
        return {"status": "Accepted"}

    link.handle("Reset", reset)
    link.start()
    async with asyncio.timeout(5):
        await link.connected.wait()
    yield csms, link
    await link.close()
    await csms.stop()


async def test_boot_status_interval_and_authorization(bench):
    csms, link = bench
    boot = await link.call("BootNotification", BOOT)
    assert (boot["status"], boot["interval"]) == ("Pending", 42)
    assert (await link.call("Authorize", {"idTag": "GOOD"}))["idTagInfo"]["status"] == "Accepted"
    assert (await link.call("Authorize", {"idTag": "EVIL"}))["idTagInfo"]["status"] == "Invalid"
    first = await link.call("StartTransaction", {"connectorId": 1, "idTag": "GOOD", "meterStart": 0,
                                                 "timestamp": "2025-01-01T00:00:00Z"})  # fmt: skip
    second = await link.call("StartTransaction", {"connectorId": 1, "idTag": "EVIL", "meterStart": 0,
                                                  "timestamp": "2025-01-01T00:00:00Z"})  # fmt: skip
    assert second["transactionId"] == first["transactionId"] + 1
    assert second["idTagInfo"]["status"] == "Invalid"
    assert await link.call("Heartbeat", {})
    assert await link.call("DataTransfer", {"vendorId": "evsed"}) == {"status": "Accepted"}
    assert csms.summary() == {
        "sent": {},
        "received": {"BootNotification": 1, "Authorize": 2, "StartTransaction": 2, "Heartbeat": 1,
                     "DataTransfer": 1},
        "callerrors": 0,
        "versions": {"CP7": "1.6"},
        "transactions": {},  # 2.0.1 only
        "reports": {},
    }  # fmt: skip


async def test_injected_failure_and_csms_initiated_calls(bench):
    csms, link = bench
    csms.fail_next["Heartbeat"] = 1
    with pytest.raises(CallErrorReceived):
        await link.call("Heartbeat", {})
    assert await link.call("Heartbeat", {})
    assert await csms.call("CP7", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
    with pytest.raises(Exception, match="NotSupported"):
        await csms.call("CP7", "UnlockConnector", {"connectorId": 1})
    await csms.send_raw("CP7", "[2, broken")
    async with asyncio.timeout(5):
        await csms.wait_for(lambda c: c.callerrors >= 3)
    assert csms.messages("CP7")[-1]["text"].startswith('[4,"-1","FormationViolation"')
    assert csms.summary()["sent"] == {"Reset": 1, "UnlockConnector": 1}


async def test_http_control_api(bench):
    csms, link = bench
    await link.call("Heartbeat", {})
    async with TestServer(csms.http_app()) as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.port}"
        async with http.post(f"{base}/csms/call", json={"cp": "CP7", "action": "Reset",
                                                         "payload": {"type": "Hard"}}) as reply:  # fmt: skip
            assert reply.status == 200
            assert await reply.json() == {"response": {"status": "Accepted"}}
        async with http.post(f"{base}/csms/call", json={"cp": "nobody", "action": "Reset"}) as reply:
            assert reply.status == 404
        async with http.post(f"{base}/csms/call", json={"cp": "CP7", "action": "Reset", "payload": {}}) as reply:
            assert reply.status == 400  # a payload without "type": nothing sent
            assert (await reply.json())["error"].startswith("Reset payload: ")
        async with http.post(f"{base}/csms/call", json={"cp": "CP7", "action": "Bogus"}) as reply:
            assert (reply.status, await reply.json()) == (400, {"error": "'Bogus' is not an OCPP 1.6 message"})
        async with http.post(f"{base}/csms/call", json={"cp": "CP7", "action": "Reset",
                                                         "payload": {"type": "Sideways"}}) as reply:  # fmt: skip
            error = (await reply.json())["error"]
            assert reply.status == 502 and error.startswith("FormatViolation: Payload for Action is syntactically")
            assert error.endswith("('Sideways' is not one of ['Hard', 'Soft'])"), error  # no dict repr
        async with http.get(f"{base}/csms/messages") as reply:
            actions = [m["text"] for m in await reply.json()]
        assert any('"Heartbeat"' in text for text in actions)
        async with http.get(f"{base}/csms/summary") as reply:
            assert (await reply.json())["sent"]["Reset"] >= 1


async def test_log_is_bounded():
    csms = Csms(CsmsConfig(log_limit=3))
    for n in range(10):
        csms.record("CP", "in", f'[2, "{n}", "Heartbeat", {{}}]')
    assert len(csms.messages()) == 3 and csms.summary()["received"] == {"Heartbeat": 10}


async def test_runs_standalone_and_knows_the_bench_tokens():
    """``evsed sim --csms URL`` against ``python -m sim.csms`` needs no --tag: the bench's tokens
    (sim/configs/bench*.toml) are known, others are not."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim.csms", "--port", "0", "--http-port", "0",
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    try:
        async with asyncio.timeout(10):
            line = (await proc.stdout.readline()).decode()
        assert line.startswith("csms listening ws://127.0.0.1:")
        link = Link(line.split()[2], "CP-STANDALONE", Rpc("1.6"))
        link.start()
        try:
            async with asyncio.timeout(10):
                await link.connected.wait()
                for tag, status in (("DEMO-TAG-1", "Accepted"), ("DEMO-TAG-2", "Accepted"), ("NOBODY", "Invalid")):
                    answer = await link.call("Authorize", {"idTag": tag})
                    assert answer["idTagInfo"]["status"] == status, tag
        finally:
            await link.close()
    finally:
        proc.kill()
        await proc.wait()


async def test_sim_against_another_csms_shows_the_daemons_frames():
    """``evsed sim --csms URL --frames``: no bench CSMS of its own to log them, so the daemon's
    frame log is shown (its BootNotification, as sent)."""
    csms = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sim.csms", "--port", "0", "--http-port", "0",
        stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    sim = None
    try:
        async with asyncio.timeout(10):
            url = (await csms.stdout.readline()).decode().split()[2]
        sim = await asyncio.create_subprocess_exec(
            EVSED, "sim", "--headless", "--csms", url, "--frames",
            stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, cwd=REPO,
        )  # fmt: skip
        async with asyncio.timeout(30):
            while b'"BootNotification"' not in (line := await sim.stderr.readline()):
                assert line, "evsed sim ended without showing a frame"
        assert b"out [2," in line
    finally:
        for proc in (sim, csms):
            if proc is not None:
                proc.kill()
                await proc.wait()
