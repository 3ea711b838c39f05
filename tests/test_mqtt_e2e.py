"""The daemon on MQTT, against a real mosquitto: Home Assistant discovery, state, commands round
trip, the grid reading from a topic, availability on stop and the last will when the process dies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal

import aiomqtt
import pytest
from conftest import BOARD, LOOP, eventually
from mosquitto import MISSING, MOSQUITTO, Broker, Watcher
from test_mqtt_topics import ha_errors

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason=MISSING)

BASE = "evsed/wb-1"
EV = {"max_current_a": 32.0, "phases": 3, "battery_kwh": 60.0, "soc": 0.2}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Broker(tmp_path_factory.mktemp("mosquitto"))
    yield b
    b.stop()


def config(port: int) -> str:
    return (
        BOARD
        + """
[station]
charge_point_id = "wb-1"
[[connector]]
id = 1
phases = 3
max_current_a = 16.0
"""
        + LOOP
        + f"""
[charging]
authorize = "any"

[grid]
source = "mqtt"
topic = "house/grid"
main_fuse_a = 35
max_age_s = 5

[mqtt]
host = "127.0.0.1"
port = {port}
publish_interval_s = 1
"""
    )


async def publish(port: int, topic: str, payload: str) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(topic, payload, qos=1)


async def house_meter(port: int, stop: asyncio.Event) -> None:
    """The home's energy manager: a grid reading every second (readings age out after max_age_s)."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        while not stop.is_set():
            await client.publish("house/grid", json.dumps({"power_w": [460, 460, 460]}), qos=1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


def latest(w: Watcher, topic: str) -> dict | None:
    payloads = w.payloads(topic)
    return json.loads(payloads[-1]) if payloads else None


async def test_discovery_state_and_commands(start_daemon, broker):
    async with Watcher(broker.port, ["evsed/#", "homeassistant/#"]) as w:
        run = await start_daemon(config(broker.port))
        await eventually(lambda: w.payloads(f"{BASE}/status")[-1:] == ["online"], 10, "online")
        # 6 sensors, a select, a number and 2 buttons for the connector, 4 grid sensors
        await eventually(lambda: len([t for t, _, _ in w.seen if t.startswith("homeassistant/")]) == 14, 10)
        configs = [(t, json.loads(p)) for t, p, _ in w.seen if t.startswith("homeassistant/")]
        for topic, payload in configs:
            assert ha_errors(topic, payload) == []
        async with Watcher(broker.port, ["homeassistant/#"]) as late:  # Home Assistant started later
            await eventually(lambda: len(late.seen) == len(configs), 10, "retained discovery")
            assert all(retained for _, _, retained in late.seen)

        # the grid reading from the home's topic; no EV yet
        stop_meter = asyncio.Event()
        meter = asyncio.create_task(house_meter(broker.port, stop_meter))
        await eventually(lambda: (latest(w, f"{BASE}/grid/state") or {}).get("current_a") == [2.0, 2.0, 2.0], 10)
        _, energy = await run.get("/api/energy")
        assert energy["grid"]["current_a"] == [2.0, 2.0, 2.0]

        run.sim.plug_in(1, **EV)
        await eventually(lambda: (latest(w, f"{BASE}/connector/1/state") or {}).get("status") == "Charging", 10)
        state = latest(w, f"{BASE}/connector/1/state")
        assert state["mode"] == "off" and state["max_current_a"] == 16.0 and state["session"] is not None

        # commands round trip: maximum current, pause and resume, mode
        await publish(broker.port, f"{BASE}/connector/1/max_current/set", "10")
        await eventually(lambda: run.daemon.rt.snapshot(1).offered_a == 10.0, 10, "10 A offered")
        await eventually(lambda: (latest(w, f"{BASE}/connector/1/state") or {}).get("max_current_a") == 10.0, 10)
        await publish(broker.port, f"{BASE}/connector/1/charging/set", "stop")
        await eventually(lambda: run.daemon.rt.snapshot(1).offered_a == 0.0, 10, "paused")
        await publish(broker.port, f"{BASE}/connector/1/charging/set", "start")
        await eventually(lambda: run.daemon.rt.snapshot(1).offered_a == 10.0, 10, "resumed")
        await publish(broker.port, f"{BASE}/connector/1/mode/set", "minpv")
        await eventually(lambda: (latest(w, f"{BASE}/connector/1/state") or {}).get("mode") == "minpv", 10)
        assert run.daemon.site.modes[1].value == "minpv"

        # a bad command changes nothing and says why on <base>/error
        await publish(broker.port, f"{BASE}/connector/1/max_current/set", "99")
        await eventually(lambda: latest(w, f"{BASE}/error"), 10, "error published")
        error = latest(w, f"{BASE}/error")
        assert error["topic"] == f"{BASE}/connector/1/max_current/set" and "0 to 16 A" in error["error"]
        await publish(broker.port, "house/grid", "not json")
        await eventually(lambda: "not JSON" in (latest(w, f"{BASE}/error") or {}).get("error", ""), 10)
        assert run.daemon.owner_limits.amps[1] == 10.0  # the web page's owner limit

        _, status = await run.get("/api/status")
        assert status["mqtt"]["connected"] is True and status["energy"]["source"] == "mqtt"
        stop_meter.set()
        await meter
        await run.stop()
        await eventually(lambda: w.payloads(f"{BASE}/status")[-1:] == ["offline"], 10, "offline on stop")


async def test_the_last_will_says_offline_when_the_daemon_is_killed(evsed_process, broker):
    async with Watcher(broker.port, [f"{BASE}/status"]) as w:
        box = await asyncio.to_thread(evsed_process, config(broker.port))
        await eventually(lambda: w.payloads(f"{BASE}/status")[-1:] == ["online"], 15, "online")
        box.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(box.proc.wait, 10)
        await eventually(lambda: w.payloads(f"{BASE}/status")[-1:] == ["offline"], 15, "last will")
