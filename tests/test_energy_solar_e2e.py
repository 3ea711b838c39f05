"""Solar surplus end to end: a solar day with clouds, compressed into half a minute, on the sim board.

The EV starts on one phase once the surplus covers it, switches to three phases (contactor open,
then the pause), follows the sun, rides out the clouds without a stop, goes back to one phase and
stops in the evening; the contactor closes only a handful of times over the day."""

from __future__ import annotations

import itertools

from conftest import BOARD, LOOP, eventually

DAY_S = 30.0
CONFIG = (
    BOARD
    + """
[[connector]]
id = 1
phases = 3
max_current_a = 16.0
[connector.sim]
phase_switch = true
"""
    + LOOP
    + """
[charging]
authorize = "any"

[grid]
source = "meter"
main_fuse_a = 35
max_age_s = 2
raise_delay_s = 0.5
interval_s = 0.2
[grid.meter]

[solar]
mode = "pv"
start_margin_w = 0
stop_margin_w = 300
start_delay_s = 1.5
stop_delay_s = 3
phase_switch_pause_s = 1
"""
)
EV = {"max_current_a": 32.0, "phases": 3, "battery_kwh": 200.0, "soc": 0.1}


def closings(log: list[tuple[float, bool]]) -> list[float]:
    return [t for t, closed in log if closed]


async def test_a_cloudy_solar_day(start_daemon):
    run = await start_daemon(CONFIG)
    sim = run.sim
    await run.post("/api/sim/house", {"load_a": [1.0, 1.0, 1.0]})
    sim.plug_in(1, **EV)
    await eventually(lambda: run.transaction(1) is not None, 5, "transaction")
    assert run.daemon.rt.snapshot(1).offered_a == 0.0  # no sun yet: nothing offered, the transaction waits
    code, house = await run.post("/api/sim/house", {"solar": {"peak_w": 9000, "day_s": DAY_S, "cloudy": True}})
    assert house["solar_w"] < 100.0 and house["day_fraction"] < 0.01  # sunrise
    assert code == 200
    await eventually(lambda: sim.phase_log(1) and sim.phase_log(1)[0][1] == 1, DAY_S / 2, "one phase first")
    await eventually(lambda: run.daemon.rt.snapshot(1).contactor, DAY_S / 2, "charging on one phase")
    await eventually(lambda: sim.snapshot(1)["phases"] == 3 and run.daemon.rt.snapshot(1).contactor, DAY_S,
                     "three phases around noon")  # fmt: skip

    async def follows() -> bool:
        _, energy = await run.get("/api/energy")
        c = energy["connectors"][0]
        return c["solar"] is not None and c["solar"]["phases"] == 3 and c["offered_a"] >= 8.0

    await eventually(follows, DAY_S, "following the surplus above the minimum")
    await eventually(lambda: sim.house_snapshot()["day_fraction"] > 1.0, DAY_S, "sunset")
    await eventually(lambda: not run.daemon.rt.snapshot(1).contactor, 10, "stopped in the evening")
    assert run.transaction(1) is not None  # solar stops the energy, not the transaction
    starts = closings(sim.contactor_log(1))
    assert 2 <= len(starts) <= 6, starts  # a start per level change at most: no chatter in the clouds
    # the phase switch moved only while the contactor was open
    contactor = sim.contactor_log(1)
    for at, _phases in sim.phase_log(1):
        closed = [c for t, c in contactor if t <= at]
        assert not closed or closed[-1] is False
    assert [p for _, p in sim.phase_log(1)] in ([1, 3, 1], [1, 3, 1, 3], [1, 3])
    for a, b in itertools.pairwise(starts):
        assert b - a >= 1.0  # never two closings in a row faster than the pause
    sim.unplug(1)
    await eventually(lambda: run.transaction(1) is None, 5, "transaction ended at unplug")


async def test_minpv_charges_at_night_and_modes_switch_at_run_time(start_daemon):
    run = await start_daemon(CONFIG)
    run.sim.plug_in(1, **EV)
    code, body = await run.post("/api/energy/mode", {"connector": 1, "mode": "minpv"})
    assert code == 200 and body["mode"] == "minpv"
    # no sun: the minimum, on one phase (the switch goes down first)
    await eventually(lambda: run.daemon.rt.snapshot(1).offered_a == 6.0, 10, "6 A at night")
    await eventually(lambda: run.sim.snapshot(1)["phases"] == 1, 10, "on one phase")
    code, body = await run.post("/api/energy/mode", {"connector": 1, "mode": "off"})
    # off: full power on three phases
    await eventually(lambda: run.sim.snapshot(1)["phases"] == 3, 10, "back on three phases")
    await eventually(lambda: run.daemon.rt.snapshot(1).offered_a == 16.0, 10, "16 A")
    assert run.daemon.site.modes[1].value == "off"
