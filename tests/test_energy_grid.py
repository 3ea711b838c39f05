"""The grid reading (controller/energy/grid.py): from a Modbus meter over real pymodbus (the meter
tables, a bus shared with a connector's meter), from an energy manager's JSON, and from the sim house."""

from __future__ import annotations

import pytest

from controller.energy.grid import from_json, from_meter
from drivers.meter_maps import MAPS
from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from hal.board import ConnectorSlot
from hal.config import ConfigSection
from hal.errors import HardwareError, MeterError
from hal.types import MeterReading
from sim.board import build_board
from sim.house import CLOUDY, Cloud, House, SolarDay
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

# L1 imports 16 A, L2 exports 10 A (solar on that phase), L3 idle.
GRID = MeterValues(
    voltage_v=(230.0, 230.0, 230.0),
    current_a=(16.0, 10.0, 0.0),
    power_w=1380.0,
    power_phase_w=(3680.0, -2300.0, 0.0),
    energy_import_wh=5_000_000.0,
)
THREE_PHASE = sorted(m for m, meter_map in MAPS.items() if meter_map.phase_power)


@pytest.mark.parametrize("model", THREE_PHASE)
def test_a_grid_meter_reads_signed_currents_per_phase(model):
    emulated = EmulatedMeter(model, unit=2, values=GRID)
    pool = BusPool()
    try:
        with EmulatedBus([emulated]) as bus:
            meter = build_meter(ConfigSection("t", "grid.meter", {"model": model, "unit": 2, **bus.keys}, {}), pool,
                                phase_power=True)  # fmt: skip
            reading = from_meter(meter.read(), 230.0)
    finally:
        pool.close()
    assert reading.current_a == pytest.approx((16.0, -10.0, 0.0), abs=0.01)
    assert reading.power_w == pytest.approx((3680.0, -2300.0, 0.0), abs=0.2)
    assert reading.total_power_w == pytest.approx(1380.0, abs=0.5)


def test_the_grid_meter_shares_the_bus_of_a_connector_meter():
    ev_meter = EmulatedMeter("sdm630", unit=1, values=MeterValues(current_a=(8.0, 8.0, 8.0), power_w=5520.0))
    grid_meter = EmulatedMeter("sdm630", unit=2, values=GRID)
    pool = BusPool()
    try:
        with EmulatedBus([ev_meter, grid_meter], "rtu") as bus:
            ev_section = ConfigSection("t", "connector.meter", {"model": "sdm630", "unit": 1, **bus.keys}, {})
            ev = build_meter(ev_section, pool)
            grid = build_meter(ConfigSection("t", "grid.meter", {"model": "sdm630", "unit": 2, **bus.keys}, {}), pool,
                               phase_power=True)  # fmt: skip
            assert ev.device.bus is grid.device.bus  # type: ignore[attr-defined]  # one RS-485 line, one client
            for _ in range(3):
                assert ev.read().current_a == pytest.approx((8.0, 8.0, 8.0))
                assert from_meter(grid.read(), 230.0).current_a == pytest.approx((16.0, -10.0, 0.0))
    finally:
        pool.close()
    # a connector meter never pays for the per-phase powers
    assert all(address != 0x000C for _, address, _ in ev_meter.requests)


def test_meters_without_per_phase_power():
    single = MeterReading((230.0,), (12.0,), -2760.0, 0.0, at=5.0)
    assert from_meter(single, 230.0).current_a == (-12.0, 0.0, 0.0)  # the total's sign is the phase's
    three = MeterReading((230.0,) * 3, (10.0, 5.0, 1.0), -690.0, 0.0, at=5.0)
    reading = from_meter(three, 230.0)
    assert reading.current_a == (10.0, 5.0, 1.0)  # import: the safe side for the fuse
    assert reading.total_power_w == pytest.approx(-690.0)


def test_json_from_an_energy_manager():
    r = from_json({"power_w": [2300, -460, 0]}, 7.0, 230.0)
    assert r.current_a == pytest.approx((10.0, -2.0, 0.0)) and r.at == 7.0
    r = from_json({"current_a": [5.5]}, 7.0, 230.0)
    assert r.current_a == (5.5, 0.0, 0.0) and r.power_w == pytest.approx((1265.0, 0.0, 0.0))
    r = from_json({"current_a": [1, 2, 3], "power_w": [230, 460, -690]}, 7.0, 230.0)
    assert r.current_a == (1.0, 2.0, 3.0) and r.power_w == (230.0, 460.0, -690.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2, 3], "JSON object"),
        ({}, "needs power_w or current_a"),
        ({"power_w": [1, 2]}, "1 or 3 numbers"),
        ({"power_w": "100"}, "1 or 3 numbers"),
        ({"power_w": [1, True, 3]}, "finite numbers"),
        ({"current_a": [float("nan")] * 3}, "finite numbers"),
        ({"current_a": [1, 2, 3], "power_w": [1]}, "same phases"),
        ({"current_a": [5000, 0, 0]}, "not a house connection"),
        ({"power": [1, 2, 3]}, "unknown field 'power'"),
    ],
)
def test_json_errors_name_the_field(body, message):
    with pytest.raises(ValueError, match=message):
        from_json(body, 0.0, 230.0)


# ---- the simulated house ---------------------------------------------------------------------


def test_solar_day_curve_and_clouds():
    day = SolarDay(peak_w=9000.0, day_s=100.0, sunrise_at=10.0, clouds=(Cloud(0.45, 0.1, 0.5),))
    assert day.production_w(5.0) == 0.0 and day.production_w(111.0) == 0.0
    assert day.production_w(35.0) == pytest.approx(9000.0 * 0.7071, rel=1e-3)
    assert day.production_w(60.0) == pytest.approx(4500.0)  # noon under a half cloud
    house = House(load_a=(3.0, 3.0, 3.0), day=day)
    assert house.current_a(60.0) == pytest.approx((3.0 - 4500 / 690,) * 3)


def test_house_values_are_checked():
    with pytest.raises(ValueError, match="load_a"):
        House().with_load([1.0, 2.0])
    with pytest.raises(ValueError, match="load_a"):
        House().with_load([1.0, -2.0, 0.0])
    with pytest.raises(ValueError, match="peak_w"):
        House().with_day(-5.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="cloud depth"):
        Cloud(0.1, 0.1, 1.5)
    assert all(0.0 <= c.start < 1.0 for c in CLOUDY)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def sim_board(clock, phase_switch=False):
    def slot(cid: int) -> ConnectorSlot:
        table = {"sim": {"phase_switch": phase_switch}}
        return ConnectorSlot(cid, 3, 32.0, ConfigSection("t", f"connector[{cid}]", table, {}))

    return build_board(ConfigSection("t", "board", {"ev_reaction_s": 0.0}, {}), [slot(1), slot(2)], clock=clock,
                       grid_meter=ConfigSection("t", "grid.meter", {}, {}))  # fmt: skip


def charge(board, cid: int, amps: float) -> None:
    from hal.types import PilotCommand

    hw = board.connector(cid)
    hw.pilot.command(PilotCommand.pwm(amps / 0.6))
    hw.pilot.read()
    hw.contactor.set_closed(True)


def test_the_sim_grid_meter_sees_house_solar_and_every_ev():
    clock = Clock()
    board = sim_board(clock)
    sim = board.simulation
    sim.set_house(load_a=[4.0, 2.0, 2.0])
    sim.plug_in(1, 16.0, 3, 60.0, 0.2)
    sim.plug_in(2, 16.0, 1, 60.0, 0.2)  # a single-phase EV draws on L1
    charge(board, 1, 10.0)
    charge(board, 2, 12.0)
    clock.t += 1.0
    reading = board.grid_meter.read()
    assert reading.current_a == pytest.approx((4 + 10 + 12, 2 + 10, 2 + 10))
    assert reading.power_phase_w == pytest.approx((26 * 230.0, 12 * 230.0, 12 * 230.0))
    sim.set_house(solar={"peak_w": 6900.0, "day_s": 100.0})
    clock.t += 50.0  # noon: 2300 W per phase, 10 A of export each
    assert board.grid_meter.read().current_a == pytest.approx((16.0, 2.0, 2.0))
    with pytest.raises(ValueError, match="load_a"):
        sim.set_house(load_a=[1.0], grid_meter=False)  # all or nothing
    board.grid_meter.read()
    sim.set_house(grid_meter=False)
    with pytest.raises(MeterError):
        board.grid_meter.read()
    sim.set_house(grid_meter=True)
    assert sim.house_snapshot()["solar_w"] == pytest.approx(6900.0)
    board.close()


def test_the_sim_phase_switch_refuses_under_load_and_changes_the_supply():
    clock = Clock()
    board = sim_board(clock, phase_switch=True)
    sim, hw = board.simulation, board.connector(1)
    sim.plug_in(1, 16.0, 3, 60.0, 0.2)
    charge(board, 1, 10.0)
    clock.t += 1.0
    with pytest.raises(HardwareError, match="under load"):
        hw.phase_switch.select(1)
    assert hw.phase_switch.selected() == 3 and sim.phase_log(1) == []
    hw.contactor.set_closed(False)
    hw.phase_switch.select(1)
    hw.contactor.set_closed(True)
    clock.t += 1.0
    assert hw.meter.read().current_a == pytest.approx((10.0, 0.0, 0.0))
    assert sim.phase_log(1) == [(1001.0, 1)]
    board.close()
