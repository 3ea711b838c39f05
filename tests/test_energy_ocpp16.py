"""Issue 17 with OCPP 1.6: the CSMS's profiles still cap energy management. The real daemon on
the sim board with a grid meter at the house connection (40 A main fuse, 1 A margin), 1.6 to the
bench CSMS: a ChargePointMaxProfile of 10 A below what the fuse leaves is what the EV is offered;
with the house busy, energy management's 9 A is below it and wins; with the house quiet again
the profile's 10 A is back."""

from __future__ import annotations

from charging_profiles import profile
from conftest import GRID_METER
from ocpp_bench import EV, until

from controller.iec61851 import TIMING


async def test_a_charge_point_max_profile_caps_energy_management_and_a_busy_house_caps_both(csms, tmp_path):
    from ocpp_bench import Bench

    bench = Bench(csms, tmp_path, sections=GRID_METER)
    try:
        daemon = await bench.start()
        sim = daemon.board.simulation
        sim.set_house(load_a=[2.0, 2.0, 2.0])
        sim.plug_in(1, **EV)
        await bench.wait_status(1, "Preparing")
        sim.swipe("TAG1")
        await bench.wait_status(1, "Charging")

        def limit() -> tuple[float, str]:
            view = daemon.station.view(1).limit
            return view.amps, view.source

        def offered() -> float:
            return round(float(sim.snapshot(1)["offered_a"]), 1)

        assert limit() == (32.0, "configuration")  # the fuse leaves 37 A: energy management gives all
        cap = profile(1, "ChargePointMaxProfile", [(0, 10)], start="2020-01-01T00:00:00Z")
        answer = await bench.call("SetChargingProfile", {"connectorId": 0, "csChargingProfiles": cap})
        assert answer == {"status": "Accepted"}
        await until(lambda: limit() == (10.0, "charging profiles"))
        await until(lambda: offered() == 10.0, TIMING.pwm_change_interval_s + 2)
        sim.set_house(load_a=[30.0, 30.0, 30.0])  # the fuse leaves 9 A
        await until(lambda: limit() == (9.0, "energy management"))
        await until(lambda: offered() == 9.0, TIMING.pwm_change_interval_s + 2)
        sim.set_house(load_a=[2.0, 2.0, 2.0])
        await until(lambda: limit() == (10.0, "charging profiles"))
        assert csms.callerrors == 0
    finally:
        await bench.stop()
