"""The websocket link against a raw websocket CSMS on 127.0.0.1: frames on the wire."""

import asyncio
import contextlib
import json

import pytest
from websockets.asyncio.server import serve

from controller.ocpp.journal import Journal
from controller.ocpp.link import (
    CallErrorReceived,
    CallTimeout,
    Link,
    LinkState,
    NotConnected,
    Refuse,
    Reply,
    backoff_delay,
)
from controller.ocpp.rpc import Rpc
from controller.storage import Database

TS = "2025-01-01T00:00:00Z"


class RawCsms:
    """A websocket server that hands every frame to the test and sends whatever it is told."""

    def __init__(self):
        self.frames: asyncio.Queue = asyncio.Queue()
        self.ws = None
        self.connections = 0
        self.arrived = asyncio.Event()
        self.closed = asyncio.Event()  # the current connection's closing handshake arrived

    async def handler(self, ws):
        self.ws = ws
        self.connections += 1
        self.closed = asyncio.Event()
        self.arrived.set()
        async for message in ws:
            await self.frames.put(message)
        self.closed.set()

    async def recv(self):
        async with asyncio.timeout(5):
            return json.loads(await self.frames.get())

    async def send(self, frame):
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def wait_connection(self, count=1):
        async with asyncio.timeout(5):
            while self.connections < count:
                self.arrived.clear()
                await self.arrived.wait()


@pytest.fixture
async def csms():
    raw = RawCsms()
    async with serve(raw.handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:
        raw.port = server.sockets[0].getsockname()[1]
        yield raw


@pytest.fixture
async def link(csms):
    frames = []
    link = Link(f"ws://127.0.0.1:{csms.port}", "CP1", Rpc("1.6", max_frame_bytes=4096), backoff_base=0.01,
                backoff_cap=0.05, frame_log=frames.append)  # fmt: skip
    link.frames = frames

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
        ("{{{", [4, "-1", "FormationViolation"]),
        ('[2, "a2", "Teleport", {}]', [4, "a2", "NotImplemented"]),  # ocpp package says NotSupported
        ('[2, "a3", "UnlockConnector", {"connectorId": 1}]', [4, "a3", "NotSupported"]),  # package: NotImplemented
        ('[2, "a4", "Reset", {"type": "Warm"}]', [4, "a4", "PropertyConstraintViolation"]),
        ('[2, "a5", "Reset"]', [4, "a5", "ProtocolError"]),
        ('[2, "a6", "Reset", {"type": "Soft"}]', [3, "a6", {"status": "Accepted"}]),
    ],
)
async def test_every_incoming_frame_gets_the_specs_answer(csms, link, frame, expected):
    await csms.send(frame)
    answer = await csms.recv()
    assert answer[: len(expected)] == expected


async def test_unknown_message_type_is_ignored_not_answered(csms, link):
    await csms.send('[9, "a1", "Reset", {"type": "Soft"}]')  # OCPP-J 4.1.3: ignore the payload
    await csms.send('[2, "a2", "Reset", {"type": "Soft"}]')
    assert (await csms.recv())[:2] == [3, "a2"]


async def test_binary_frames_are_never_executed(csms, link):
    resets = []

    async def reset(payload):
        resets.append(payload)
        return {"status": "Accepted"}

    link.handle("Reset", reset)
    await csms.ws.send(b'[2, "b1", "Reset", {"type": "Soft"}]')  # a binary websocket frame
    assert await csms.recv() == [4, "-1", "FormationViolation", "binary frame: OCPP-J messages are UTF-8 text", {}]
    # Invalid UTF-8 in a text frame: the websocket layer fails the connection (1007).
    await csms.ws.send(b'[2, "b2", "Reset", {"type": "\xff"}]', text=True)
    await csms.wait_connection(2)
    await csms.send('[2, "b3", "Reset", {"type": "Soft"}]')
    assert (await csms.recv())[:2] == [3, "b3"]
    assert resets == [{"type": "Soft"}]  # only b3's


async def test_oversized_frame_is_answered_and_the_connection_survives(csms, link):
    await csms.send(json.dumps([2, "big", "Reset", {"type": "Soft", "pad": "x" * 8000}]))
    assert (await csms.recv())[:3] == [4, "big", "FormationViolation"]
    await csms.send('[2, "next", "Reset", {"type": "Soft"}]')
    assert (await csms.recv())[:2] == [3, "next"]
    assert csms.connections == 1


async def test_deeply_nested_frame_is_answered_and_queued_messages_still_go_out(csms, link, tmp_path):
    nested = "[" * 1000 + "]" * 1000
    await csms.send('[2, "deep", "DataTransfer", {"vendorId": "x", "data": ' + nested + "}]")
    assert (await csms.recv())[:3] == [4, "deep", "FormationViolation"]
    db = Database(tmp_path / "journal.db")
    journal = Journal(db)
    delivery = asyncio.create_task(journal.deliver(link))
    try:
        await journal.enqueue("StopTransaction", {"transactionId": 7, "meterStop": 10, "timestamp": TS})
        stop = await csms.recv()
        assert stop[2:] == ["StopTransaction", {"transactionId": 7, "meterStop": 10, "timestamp": TS}]
        await csms.send([3, stop[1], {}])
        async with asyncio.timeout(5):
            await journal.wait_empty()
    finally:
        delivery.cancel()
        await asyncio.gather(delivery, return_exceptions=True)
        db.close()
    assert csms.connections == 1


async def test_any_exception_in_the_link_is_reported_and_the_link_starts_again(csms, caplog):
    def frame_log(frame):
        if "boom" in frame.text:
            raise RuntimeError("frame log broke")

    link = Link(f"ws://127.0.0.1:{csms.port}", "CP1", Rpc("1.6"), backoff_base=30, frame_log=frame_log)
    link.handle("Reset", lambda payload: _accepted())
    link.start()
    try:
        await csms.wait_connection()
        await csms.send('[2, "boom", "Reset", {"type": "Soft"}]')
        async with asyncio.timeout(5):
            await link.wait_state(LinkState.WAITING)  # what /api/status shows as ocpp.state
        assert link.last_error == "link failure: RuntimeError: frame log broke"
        assert "Traceback" in caplog.text and "RuntimeError: frame log broke" in caplog.text
        link.connect()  # cut the backoff short
        await csms.wait_connection(2)
        await csms.send('[2, "ok", "Reset", {"type": "Soft"}]')
        assert (await csms.recv())[:2] == [3, "ok"]
        async with asyncio.timeout(5):
            await link.wait_state(LinkState.CONNECTED)
    finally:
        await link.close()


async def _accepted():
    return {"status": "Accepted"}


async def test_failing_handler_gets_internal_error_and_the_link_keeps_serving(csms, link):
    async def broken(payload):
        raise RuntimeError("bug")

    async def refusing(payload):
        raise Refuse("OccurenceConstraintViolation", "too many keys")

    link.handle("ClearCache", broken)
    link.handle("GetConfiguration", refusing)
    await csms.send('[2, "b1", "ClearCache", {}]')
    assert (await csms.recv())[:3] == [4, "b1", "InternalError"]
    await csms.send('[2, "b2", "GetConfiguration", {}]')
    assert (await csms.recv())[:3] == [4, "b2", "OccurenceConstraintViolation"]
    await csms.send('[2, "b3", "Reset", {"type": "Soft"}]')
    assert (await csms.recv())[:2] == [3, "b3"]


async def test_invalid_handler_response_is_internal_error_not_on_the_wire(csms, link):
    async def bad_answer(payload):
        return {"status": "Perhaps"}

    link.handle("ClearCache", bad_answer)
    await csms.send('[2, "c1", "ClearCache", {}]')
    assert (await csms.recv())[:3] == [4, "c1", "InternalError"]


async def test_call_result_error_and_timeout(csms, link):
    task = asyncio.create_task(link.call("Heartbeat", {}))
    sent = await csms.recv()
    assert sent[0] == 2 and sent[2] == "Heartbeat"
    await csms.send([3, sent[1], {"currentTime": "2025-01-01T00:00:00Z"}])
    assert await task == {"currentTime": "2025-01-01T00:00:00Z"}

    task = asyncio.create_task(link.call("Heartbeat", {}))
    sent = await csms.recv()
    await csms.send([4, sent[1], "InternalError", "nope", {}])
    with pytest.raises(CallErrorReceived) as err:
        await task
    assert err.value.code == "InternalError"

    with pytest.raises(CallTimeout):
        await link.call("Heartbeat", {}, timeout=0.1)
    await csms.recv()  # the timed-out CALL did go out


async def test_invalid_call_result_fails_the_call(csms, link):
    task = asyncio.create_task(link.call("Heartbeat", {}))
    sent = await csms.recv()
    await csms.send([3, sent[1], {"currentTime": 5}])
    with pytest.raises(Exception, match="Heartbeat response"):
        await task


async def test_one_outstanding_call_and_incoming_calls_answered_meanwhile(csms, link):
    first = asyncio.create_task(link.call("Heartbeat", {}))
    second = asyncio.create_task(link.call("Heartbeat", {}))
    call1 = await csms.recv()
    # While our CALL waits, a CSMS CALL is still answered and the second CALL is held back.
    await csms.send('[2, "x1", "Reset", {"type": "Hard"}]')
    assert (await csms.recv())[:2] == [3, "x1"]
    assert csms.frames.empty()
    await csms.send([3, call1[1], {"currentTime": "2025-01-01T00:00:00Z"}])
    call2 = await csms.recv()
    assert call2[1] != call1[1]
    await csms.send([3, call2[1], {"currentTime": "2025-01-01T00:00:01Z"}])
    await asyncio.gather(first, second)


async def test_after_hook_runs_once_the_response_is_sent_and_may_call(csms, link):
    async def follow_up():
        await link.call("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"})

    async def trigger(payload):
        return Reply({"status": "Accepted"}, after=follow_up)

    link.handle("TriggerMessage", trigger)
    await csms.send('[2, "t1", "TriggerMessage", {"requestedMessage": "StatusNotification"}]')
    assert (await csms.recv())[:2] == [3, "t1"]
    follow = await csms.recv()
    assert follow[2] == "StatusNotification"
    await csms.send([3, follow[1], {}])


async def test_reconnects_after_the_csms_drops_and_greets_again(csms):
    greeted = asyncio.Queue()

    async def on_connected():
        await greeted.put(True)

    link = Link(f"ws://127.0.0.1:{csms.port}", "CP9", Rpc("1.6"), backoff_base=0.01, backoff_cap=0.02,
                on_connected=on_connected)  # fmt: skip
    link.start()
    try:
        async with asyncio.timeout(5):
            await greeted.get()
        await csms.ws.close()
        await csms.wait_connection(2)
        async with asyncio.timeout(5):
            await greeted.get()
            await link.connected.wait()
        assert link.state == LinkState.CONNECTED
        assert csms.ws.request.path == "/CP9"
    finally:
        await link.close()


async def test_disconnect_stays_down_until_connect(csms, link):
    await link.disconnect()
    assert not link.connected.is_set() and link.state == LinkState.DISCONNECTED  # down once it returns
    with pytest.raises(NotConnected):
        await link.call("Heartbeat", {})
    async with asyncio.timeout(5):
        await link.wait_state(LinkState.DISCONNECTED)
    assert csms.connections == 1
    link.connect()
    await csms.wait_connection(2)
    async with asyncio.timeout(5):
        await link.connected.wait()


async def test_a_deliberate_disconnect_lets_the_outstanding_call_get_its_answer(csms, link):
    stop = {"transactionId": 7, "meterStop": 10, "timestamp": TS}
    answered = []
    call = asyncio.create_task(link.call("StopTransaction", stop, on_result=answered.append))
    sent = await csms.recv()
    disconnecting = asyncio.create_task(link.disconnect())  # e.g. POST /api/ocpp/disconnect
    # A CSMS that gets our close before it answers cannot answer any more: it must not get one.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.5):
            await csms.closed.wait()
    await csms.send([3, sent[1], {}])
    assert await call == {} and answered == [{}]  # on_result ran in the receive path
    async with asyncio.timeout(5):
        await disconnecting
        await csms.closed.wait()
        await link.wait_state(LinkState.DISCONNECTED)


async def test_unreachable_csms_reports_the_error_and_backs_off():
    link = Link("ws://127.0.0.1:1", "CP1", Rpc("1.6"), backoff_base=10, backoff_cap=10)
    link.start()
    try:
        async with asyncio.timeout(5):
            await link.wait_state(LinkState.WAITING)
        assert "Connect" in link.last_error or "refused" in link.last_error.lower()
    finally:
        await link.close()


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    assert backoff_delay(0, 1, 60, 0.0) == 0.5
    assert backoff_delay(0, 1, 60, 0.999) < 1
    assert backoff_delay(3, 1, 60, 0.0) == 4
    assert backoff_delay(20, 1, 60, 0.999) <= 60
    assert backoff_delay(20, 1, 60, 0.0) == 30


async def test_frame_log_sees_both_directions(csms, link):
    await csms.send('[2, "l1", "Reset", {"type": "Soft"}]')
    await csms.recv()
    directions = [(f.direction, json.loads(f.text)[1]) for f in link.frames]
    assert ("in", "l1") in directions and ("out", "l1") in directions
