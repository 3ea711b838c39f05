"""Large frames from the CSMS against the real daemon (bench CSMS, sim board): a 200 KB
DataTransfer with a hex blob is answered at once (over max_frame_bytes: FormationViolation,
by its head), one under the limit is parsed off the loop and answered, and the local API
answers meanwhile."""

import asyncio
import json
import secrets

import aiohttp
from conftest import read_log


def answer_to(csms, unique_id: str) -> list | None:
    for frame in csms.log:
        if frame.direction == "in" and f'"{unique_id}"' in frame.text[:80]:
            message = json.loads(frame.text)
            if message[0] in (3, 4) and message[1] == unique_id:
                return message
    return None


async def test_a_200_kb_data_transfer_is_answered_promptly_and_the_api_answers_meanwhile(bench, csms):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    blob = secrets.token_hex(100_000)  # 200,000 hex digits: a long run of letters and digits
    big = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "acme", "data": blob}])
    under = json.dumps([2, "under-1", "DataTransfer", {"vendorId": "acme", "data": blob[:60_000]}])
    async with aiohttp.ClientSession() as http:
        await csms.send_raw("CP-TEST", big)
        await csms.send_raw("CP-TEST", under)
        async with asyncio.timeout(5), http.get(f"http://127.0.0.1:{daemon.api.port}/api/status") as response:
            assert response.status == 200
            assert (await response.json())["ocpp"]["state"] == "connected"
        async with asyncio.timeout(5):
            await csms.wait_for(lambda c: answer_to(c, "big-1") and answer_to(c, "under-1"))
    assert answer_to(csms, "big-1")[:3] == [4, "big-1", "FormationViolation"]
    assert answer_to(csms, "under-1") == [3, "under-1", {"status": "UnknownVendorId"}]
    ocpp_log = read_log(bench.tmp_path / "logs", "ocpp.log")
    assert f"... [{len(big)} characters]" in ocpp_log  # the frame log keeps the head of a huge frame
