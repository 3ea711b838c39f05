"""Two wallboxes on one fuse: two real daemons on the bench, one managing, one a member, over a real
mosquitto. The test plays the house's grid meter (the manager takes it over POST /api/grid): the
house plus both boxes' EVs, as a meter at the house connection would see them."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from conftest import BOARD, LOOP, eventually
from mosquitto import MISSING, MOSQUITTO, Broker

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason=MISSING)

EV = {"max_current_a": 32.0, "phases": 3, "battery_kwh": 60.0, "soc": 0.2}


def box(name: str, port: int, grid: str) -> str:
    return (
        BOARD
        + f"""
[station]
charge_point_id = "{name}"
[[connector]]
id = 1
phases = 3
max_current_a = 16.0
"""
        + LOOP
        + f"""
[charging]
authorize = "any"

{grid}

[mqtt]
host = "127.0.0.1"
port = {port}
publish_interval_s = 1
"""
    )


MANAGER = """[grid]
source = "api"
main_fuse_a = 25
margin_a = 1
max_age_s = 3
raise_delay_s = 3
members = ["wb-2"]"""
MEMBER = """[grid]
source = "manager"
max_age_s = 3
fallback_current_a = 6"""


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path / "mosquitto")
    yield b
    b.stop()


def offered(run) -> float:
    snap = run.daemon.rt.snapshot(1)
    return round(snap.offered_a, 1) if snap is not None else 0.0  # the duty's resolution


async def test_a_manager_shares_the_fuse_with_a_member_box(start_daemon, broker):
    manager = await start_daemon(box("wb-1", broker.port, MANAGER), name="wb-1")
    member = await start_daemon(box("wb-2", broker.port, MEMBER), name="wb-2")
    house = {"amps": 2.0}

    async def grid_meter() -> None:
        """What a meter at the house connection reads: the house and both boxes' EVs, per phase."""
        while True:
            ev1 = manager.sim.snapshot(1)["current_a"]
            ev2 = member.sim.snapshot(1)["current_a"]
            amps = [house["amps"] + a + b for a, b in zip(ev1, ev2, strict=True)]
            await manager.post("/api/grid", {"current_a": amps})
            await asyncio.sleep(0.2)

    meter = asyncio.create_task(grid_meter())
    try:
        # the manager's EV first, so that the member's is the later starter (it pauses first)
        manager.sim.plug_in(1, **EV)
        await eventually(lambda: offered(manager) > 0.0, 30, "the manager's EV charging")
        member.sim.plug_in(1, **EV)
        # room 25 - 1 - 2 = 22 A: 11 A on each box, the member's through its allocation
        await eventually(lambda: offered(manager) == 11.0 and offered(member) == 11.0, 30, "11 A on both boxes")
        _, energy = await manager.get("/api/energy")
        assert energy["members"]["wb-2/1"]["allocated_a"] == 11.0
        _, energy = await member.get("/api/energy")
        assert energy["manager"]["1"]["amps"] == 11.0 and energy["manager"]["1"]["fresh"] is True
        assert energy["connectors"][0]["limit_source"] == "energy management"

        house["amps"] = 14.0  # the oven: room 10 A, not enough for two: the member, which started later, pauses
        await eventually(lambda: (offered(manager), offered(member)) == (10.0, 0.0), 15, "the member pauses")
        house["amps"] = 2.0
        # raise_delay_s (3 s), the manager's duty no sooner than 5 s after it went down (IEC 61851-1),
        # a second raise where a reading from the oven's last moment lowered the first: 8.3 s at most
        # in 32 traced runs
        await eventually(lambda: offered(manager) == 11.0 and offered(member) == 11.0, 15, "both back at 11 A")

        # the manager goes away: the member's allocation ages out and it falls back to its own safe share
        meter.cancel()
        await manager.stop()
        await eventually(lambda: offered(member) == 6.0, 15, "member on its fallback current")
        _, energy = await member.get("/api/energy")
        assert energy["manager"]["1"]["fresh"] is False
    finally:
        meter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await meter
