"""`evsed ctl ocpp connect|disconnect` against a daemon's local API and `evsed ctl csms ...`
against the bench CSMS's HTTP control API, each a real subprocess over loopback HTTP."""

import asyncio
import json

from aiohttp import web
from conftest import run_cli


async def ctl(*args: str):
    return await asyncio.to_thread(run_cli, "ctl", *args)


async def test_ctl_drops_and_restores_the_link_and_drives_the_bench_csms(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    api = f"http://127.0.0.1:{daemon.api.port}"

    done = await ctl("--api", api, "ocpp", "disconnect")
    assert done.returncode == 0, done.stderr
    assert not daemon.ocpp.link.connected.is_set()
    done = await ctl("--api", api, "ocpp", "connect")
    assert done.returncode == 0, done.stderr
    async with asyncio.timeout(10):
        await daemon.ocpp.link.connected.wait()

    runner = web.AppRunner(bench.csms.http_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    csms_api = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        await bench.wait(lambda c: len(c.sessions) == 1)
        beats = bench.csms.received["Heartbeat"]
        call = await ctl("--json", "csms", "call", "TriggerMessage", '{"requestedMessage": "Heartbeat"}',
                         "--csms-api", csms_api)  # fmt: skip
        assert call.returncode == 0, call.stderr
        assert json.loads(call.stdout) == {"response": {"status": "Accepted"}}
        await bench.wait(lambda c: c.received["Heartbeat"] == beats + 1)

        summary = await ctl("--json", "csms", "summary", "--csms-api", csms_api)
        assert json.loads(summary.stdout)["received"]["Heartbeat"] == beats + 1

        bad = await ctl("csms", "call", "TriggerMessage", "{not json", "--csms-api", csms_api)
        assert bad.returncode == 2 and "not JSON" in bad.stderr
        # Nothing is sent for an action the station's version lacks or a payload that does not fit.
        sent = dict(bench.csms.sent)
        bogus = await ctl("csms", "call", "Bogus", "--csms-api", csms_api)
        assert (bogus.returncode, bogus.stdout) == (1, "")
        assert bogus.stderr == f"evsed ctl: POST {csms_api}/csms/call: 400 'Bogus' is not an OCPP 1.6 message\n"
        for action, payload, words in (("TriggerMessage", '{"requested": "Heartbeat"}', "TriggerMessage payload: "),
                                       ("ocpp_message", "{}", "'ocpp_message' is not")):  # fmt: skip
            unfit = await ctl("csms", "call", action, payload, "--csms-api", csms_api)
            assert unfit.returncode == 1 and f"400 {words}" in unfit.stderr, unfit.stderr
        assert bench.csms.sent == sent

        # The daemon's status for people: the OCPP link in words, not a Python dict.
        status = await ctl("--api", api, "status")
        assert status.returncode == 0, status.stderr
        [ocpp] = [line for line in status.stdout.splitlines() if line.startswith("ocpp: ")]
        assert ocpp.startswith("ocpp: version 1.6, state connected, url ws://127.0.0.1:"), ocpp
        assert "registration Accepted" in ocpp
        assert "{" not in status.stdout and "'" not in status.stdout and "None" not in status.stdout
    finally:
        await runner.cleanup()
