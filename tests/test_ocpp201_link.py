"""OCPP-J 2.0.1 on the link (part 4): the 2.0.1 error codes on the wire against a raw websocket
CSMS, SecurityError while the registration is Rejected (B03.FR.08), and the reconnection
back-off of section 5.3 (RetryBackOffWaitMinimum / RandomRange / RepeatTimes, errata 4.12)."""

import asyncio
import json
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_ocpp_link import RawCsms
from websockets.asyncio.server import serve

from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc
from controller.ocpp.v201.communication import FLOOR_S, RetryBackOff


@pytest.fixture
async def csms():
    raw = RawCsms()
    async with serve(raw.handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:
        raw.port = server.sockets[0].getsockname()[1]
        yield raw


@pytest.fixture
async def link(csms):
    link = Link(f"ws://127.0.0.1:{csms.port}", "CS1", Rpc("2.0.1", max_frame_bytes=4096), backoff_base=0.01)

    async def reset(payload):
        return {"status": "Accepted"}

    link.handle("Reset", reset)
    link.start()
    await csms.wait_connection()
    async with asyncio.timeout(5):
        await link.connected.wait()
    yield link
    await link.close()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("{{{", [4, "-1", "RpcFrameworkError"]),
        ('[9, "a1", "Reset", {}]', [4, "a1", "MessageTypeNotSupported"]),
        ('[2, "a2", "Teleport", {}]', [4, "a2", "NotImplemented"]),
        ('[2, "a3", "UnlockConnector", {"evseId": 1, "connectorId": 1}]', [4, "a3", "NotSupported"]),
        ('[2, "a4", "Reset", {"type": "Warm"}]', [4, "a4", "PropertyConstraintViolation"]),
        ('[2, "a5", "Reset", {}]', [4, "a5", "OccurrenceConstraintViolation"]),
        ('[2, "a6", "Reset", {"type": 7}]', [4, "a6", "TypeConstraintViolation"]),
        ('[2, "a7", "Reset", {"type": "Immediate", "extra": 1}]', [4, "a7", "FormatViolation"]),
        ('[2, "a8", "Reset"]', [4, "a8", "RpcFrameworkError"]),
        ('[2, "a9", "Reset", {"type": "Immediate"}]', [3, "a9", {"status": "Accepted"}]),
    ],
)
async def test_every_incoming_frame_gets_the_2_0_1_answer(csms, link, frame, expected):
    await csms.send(frame)
    answer = await csms.recv()
    assert answer[: len(expected)] == expected


async def test_oversized_frame_is_a_format_violation(csms, link):
    await csms.send(json.dumps([2, "big", "Reset", {"type": "Immediate", "pad": "x" * 8000}]))
    assert (await csms.recv())[:3] == [4, "big", "FormatViolation"]


async def test_while_refusing_every_call_gets_security_error_and_responses_still_arrive(csms, link):
    link.refuse_with = "SecurityError"
    await csms.send('[2, "r1", "Reset", {"type": "Immediate"}]')
    assert (await csms.recv())[:3] == [4, "r1", "SecurityError"]
    call = asyncio.create_task(link.call("Heartbeat", {}))
    sent = await csms.recv()
    await csms.send([3, sent[1], {"currentTime": "2025-01-01T00:00:00Z"}])
    assert (await call) == {"currentTime": "2025-01-01T00:00:00Z"}
    link.refuse_with = None
    await csms.send('[2, "r2", "Reset", {"type": "Immediate"}]')
    assert (await csms.recv())[:2] == [3, "r2"]


def test_retry_backoff_doubles_from_the_minimum_then_stays():
    backoff = RetryBackOff(wait_minimum_s=3, random_range_s=0, repeat_times=2)
    assert [backoff.delay(n, 0.0) for n in range(5)] == [3, 6, 12, 12, 12]
    assert RetryBackOff(3, 10, 2).delay(0, 0.5) == 8.0  # a random part of at most the range
    assert RetryBackOff(0, 0, 5).delay(3, 0.0) == FLOOR_S  # never a tight loop


@given(st.integers(0, 3600), st.integers(0, 3600), st.integers(0, 20), st.integers(0, 40),
       st.floats(0, 1, exclude_max=True))  # fmt: skip
def test_retry_backoff_bounds(wait, spread, repeat, attempt, rand):
    delay = RetryBackOff(wait, spread, repeat).delay(attempt, rand)
    base = wait * 2 ** min(attempt, repeat)
    assert max(base, FLOOR_S) <= delay <= max(base + spread, FLOOR_S)
    assert delay <= RetryBackOff(wait, spread, repeat).delay(attempt + 1, rand)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_link_counts_attempts_from_the_last_successful_connection():
    """Each failed attempt counts up; a successful connection starts over at 0 (errata 4.12)."""
    port = closed_port()
    attempts: list[int] = []
    failures = asyncio.Event()

    def backoff(attempt: int, rand: float) -> float:
        attempts.append(attempt)
        if len(attempts) == 3:
            failures.set()
        return 0.01

    link = Link(f"ws://127.0.0.1:{port}", "CS1", Rpc("2.0.1"), backoff=backoff)
    raw = RawCsms()
    link.start()
    try:
        async with asyncio.timeout(5):
            await failures.wait()
        assert attempts[:3] == [0, 1, 2]
        async with serve(raw.handler, "127.0.0.1", port, subprotocols=["ocpp2.0.1"]):
            await raw.wait_connection()
            async with asyncio.timeout(5):
                await link.connected.wait()
            before = len(attempts)
            await raw.ws.close()
            await raw.wait_connection(2)
            assert attempts[before] == 0
            assert link.down_since is not None
    finally:
        await link.close()
