"""The MQTT link (controller/mqtt/link.py) against a real mosquitto: availability, last will,
reconnects keeping only the newest state, credentials, TLS."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import textwrap

import aiomqtt
import pytest
from conftest import eventually
from mosquitto import MISSING, MOSQUITTO, Broker, Watcher

from controller.mqtt.config import MqttConfig
from controller.mqtt.link import MqttLink
from controller.mqtt.topics import Outgoing
from sim import pki

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason=MISSING)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("mosquitto"))
    yield b
    b.stop()


async def run_link(link: MqttLink) -> asyncio.Task:
    return asyncio.create_task(link.run())


async def finish(link: MqttLink, task: asyncio.Task) -> None:
    await link.stop()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def config(port: int, **kw) -> MqttConfig:
    return MqttConfig(host="127.0.0.1", port=port, reconnect_cap_s=1.0, **kw)


async def test_online_retained_then_offline_on_stop_and_commands_arrive(broker):
    got: list[tuple[str, bytes]] = []
    link = MqttLink(
        config(broker.port), "t-online", "t1/status", ["t1/cmd/#"], lambda t, p: got.append((t, p)),
        on_connect=lambda: [Outgoing("t1/hello", "first", retain=True)],
    )  # fmt: skip
    task = await run_link(link)
    await eventually(lambda: link.connected, what="connected")
    async with Watcher(broker.port, ["t1/#"]) as w:
        await eventually(lambda: w.payloads("t1/status") == ["online"] and w.payloads("t1/hello") == ["first"])
        assert all(retained for _, _, retained in w.seen)  # both were retained: a late subscriber sees them
        async with aiomqtt.Client("127.0.0.1", broker.port) as c:
            await c.publish("t1/cmd/x", "go")
        await eventually(lambda: got == [("t1/cmd/x", b"go")], what="command delivered")
        await finish(link, task)
        await eventually(lambda: w.payloads("t1/status")[-1:] == ["offline"], what="offline on stop")


async def test_a_handler_that_raises_does_not_break_the_link(broker):
    calls = []

    def handler(topic: str, payload: bytes) -> None:
        calls.append(payload)
        raise RuntimeError("bug in a handler")

    link = MqttLink(config(broker.port), "t-raise", "t2/status", ["t2/in"], handler)
    task = await run_link(link)
    await eventually(lambda: link.connected)
    async with aiomqtt.Client("127.0.0.1", broker.port) as c:
        await c.publish("t2/in", "a", qos=1)
        await c.publish("t2/in", "b", qos=1)
    await eventually(lambda: calls == [b"a", b"b"])
    assert link.connected
    await finish(link, task)


async def test_last_will_when_the_process_dies(broker, tmp_path):
    script = tmp_path / "box.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio
            from controller.mqtt.config import MqttConfig
            from controller.mqtt.link import MqttLink

            async def main():
                link = MqttLink(MqttConfig(host="127.0.0.1", port={broker.port}), "t-will", "t3/status", [],
                                lambda t, p: None)
                task = asyncio.create_task(link.run())
                while not link.connected:
                    await asyncio.sleep(0.01)
                print("connected", flush=True)
                await task

            asyncio.run(main())
            """
        )
    )
    async with Watcher(broker.port, ["t3/status"]) as w:
        box = await asyncio.to_thread(subprocess.Popen, [sys.executable, str(script)], stdout=subprocess.PIPE)
        try:
            line = await asyncio.to_thread(box.stdout.readline)  # type: ignore[union-attr]
            assert line.strip() == b"connected"
            await eventually(lambda: w.payloads("t3/status") == ["online"])
            box.send_signal(signal.SIGKILL)
            box.wait()
        finally:
            if box.poll() is None:
                box.kill()
                box.wait()
            box.stdout.close()  # type: ignore[union-attr]
        # the broker notices the dead socket and publishes the will, retained
        await eventually(lambda: w.payloads("t3/status")[-1:] == ["offline"], within=15.0, what="last will")
    async with Watcher(broker.port, ["t3/status"]) as late:
        await eventually(lambda: late.seen == [("t3/status", "offline", True)], what="will retained")


async def test_reconnect_sends_only_the_newest_state(tmp_path):
    broker = Broker(tmp_path / "b")
    link = MqttLink(config(broker.port), "t-reconnect", "t4/status", [], lambda t, p: None)
    task = await run_link(link)
    try:
        await eventually(lambda: link.connected)
        port = broker.port
        broker.stop()
        await eventually(lambda: not link.connected, what="link notices the broker is gone")
        assert link.last_error
        for i in range(50):  # state changes while the broker is away
            link.publish("t4/state", f"v{i}", retain=True)
        link.publish("t4/other", "x", retain=True)
        broker.port = port
        broker.start()
        async with Watcher(broker.port, ["t4/#"]) as w:
            await eventually(lambda: link.connected, within=15.0, what="reconnected")
            await eventually(lambda: w.payloads("t4/state") == ["v49"] and w.payloads("t4/other") == ["x"])
            await eventually(lambda: w.payloads("t4/status") == ["online"])
            assert link.last_error is None
    finally:
        await finish(link, task)
        broker.stop()


async def test_credentials(tmp_path):
    broker = Broker(tmp_path / "b", users={"wallbox": "s3cret-pass"})
    try:
        bad = MqttLink(config(broker.port, username="wallbox", password="wrong"), "t-bad", "t5/status", [],
                       lambda t, p: None)  # fmt: skip
        task = await run_link(bad)
        await eventually(lambda: bad.last_error, what="refusal reported")
        assert not bad.connected and "wrong" not in bad.last_error
        assert "authori" in bad.last_error.lower() or "password" in bad.last_error.lower()
        await finish(bad, task)
        good = MqttLink(config(broker.port, username="wallbox", password="s3cret-pass"), "t-good", "t5/status", [],
                        lambda t, p: None)  # fmt: skip
        task = await run_link(good)
        await eventually(lambda: good.connected)
        await finish(good, task)
    finally:
        broker.stop()


async def test_tls_verifies_the_broker(tmp_path):
    root = pki.authority("mqtt test root")
    cert, key = pki.server(root).write(tmp_path / "pki", "broker")
    ca = tmp_path / "pki" / "root.pem"
    ca.write_text(root.cert_pem)
    broker = Broker(tmp_path / "b", tls=(cert, key))
    try:
        trusted = MqttLink(config(broker.port, tls=True, ca_file=ca), "t-tls", "t6/status", [], lambda t, p: None)
        task = await run_link(trusted)
        await eventually(lambda: trusted.connected, what="TLS connection with the right CA")
        await finish(trusted, task)
        untrusted = MqttLink(config(broker.port, tls=True), "t-tls2", "t6/status", [], lambda t, p: None)
        task = await run_link(untrusted)
        await eventually(lambda: untrusted.last_error, what="certificate refused")
        assert not untrusted.connected and "certificate" in untrusted.last_error.lower()
        await finish(untrusted, task)
    finally:
        broker.stop()
