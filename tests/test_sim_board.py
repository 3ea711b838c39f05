"""The simulated board through the HAL interfaces, on an injected clock unless threads are involved."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from hal import board as hal_board
from hal.board import Board, ConnectorSlot
from hal.config import ConfigError, ConfigSection
from hal.errors import MeterError
from hal.interfaces import (
    CableSense,
    ConnectorLock,
    Contactor,
    Meter,
    Pilot,
    ResidualCurrentMonitor,
    TemperatureSensor,
    TokenReader,
)
from hal.types import CpState, PilotCommand
from sim.board import SimTokenReader, build_board
from sim.world import FAULT_KINDS, World

DUTY_16A = 16.0 / 0.6


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def slot(cid: int, phases: int = 3, sim: dict[str, Any] | None = None) -> ConnectorSlot:
    table: dict[str, Any] = {} if sim is None else {"sim": sim}
    return ConnectorSlot(cid, phases, 32.0, ConfigSection("test.toml", f"connector[{cid - 1}]", table, {}))


def make_board(
    board: dict[str, Any] | None = None, slots: list[ConnectorSlot] | None = None, clock: FakeClock | None = None
) -> tuple[Board, World, FakeClock]:
    clock = clock or FakeClock()
    b = build_board(ConfigSection("test.toml", "board", board or {}, {}), slots or [slot(1)], clock=clock)
    assert isinstance(b.simulation, World)
    return b, b.simulation, clock


def world_of(b: Board) -> World:
    assert isinstance(b.simulation, World)
    return b.simulation


def test_devices_satisfy_the_hal_protocols_and_config_switches_them() -> None:
    b, _, _ = make_board(slots=[slot(1, sim={"cable_ampacity_a": 32, "lock": True}), slot(2, sim={"rcd": False})])
    one, two = b.connector(1), b.connector(2)
    assert isinstance(one.pilot, Pilot) and isinstance(one.contactor, Contactor) and isinstance(one.meter, Meter)
    assert isinstance(one.rcd, ResidualCurrentMonitor) and isinstance(one.temperature, TemperatureSensor)
    assert isinstance(one.lock, ConnectorLock) and isinstance(one.cable, CableSense)
    assert isinstance(b.token_reader, TokenReader)
    assert two.rcd is None and two.lock is None and two.cable is None and two.temperature is not None
    b2, _, _ = make_board(slots=[slot(1, sim={"temperature": False})])
    assert b2.connector(1).temperature is None


def test_cp_levels_for_every_state() -> None:
    b, world, clock = make_board({"ev_reaction_s": 0.5})
    pilot = b.connector(1).pilot

    def seen() -> tuple[CpState, float, float | None]:
        r = pilot.read()
        assert r.at == clock.t
        return r.state, r.positive_v, r.negative_v

    assert seen() == (CpState.A, 12.0, None)
    pilot.command(PilotCommand.pwm(50.0))
    assert seen() == (CpState.A, 12.0, -12.0)
    pilot.command(PilotCommand.x1())
    world.plug_in(1, max_current_a=32, phases=3, battery_kwh=50, soc=0.2)
    assert seen() == (CpState.B, 9.0, None)
    pilot.command(PilotCommand.pwm(50.0))
    assert seen() == (CpState.B, 9.0, -12.0)
    clock.t += 0.5
    assert seen() == (CpState.C, 6.0, -12.0)
    pilot.command(PilotCommand.state_f())
    assert seen() == (CpState.F, -12.0, None)
    world.unplug(1)
    world.plug_in(1, max_current_a=32, phases=3, battery_kwh=50, soc=0.2, reaction_s=0.0, needs_ventilation=True)
    pilot.command(PilotCommand.pwm(50.0))
    assert seen() == (CpState.D, 3.0, -12.0)


def test_diode_fault_lifts_the_negative_level_only_with_an_ev() -> None:
    b, world, _ = make_board({"ev_reaction_s": 0.0})
    pilot = b.connector(1).pilot
    world.set_fault(1, "diode", True)
    pilot.command(PilotCommand.pwm(50.0))
    assert pilot.read().negative_v == -12.0
    world.plug_in(1, 32, 3, 50, 0.5)
    r = pilot.read()
    assert r.state is CpState.C and r.negative_v == r.positive_v == 6.0
    world.set_fault(1, "diode", False)
    assert pilot.read().negative_v == -12.0


def charging(reaction_s: float = 0.0, **plug: Any) -> tuple[Board, World, FakeClock]:
    """Connector 1 charging at 16 A, three phases, contactor closed."""
    b, world, clock = make_board({"ev_reaction_s": reaction_s})
    hw = b.connector(1)
    params = {"max_current_a": 32, "phases": 3, "battery_kwh": 60, "soc": 0.3} | plug
    world.plug_in(1, **params)
    hw.pilot.command(PilotCommand.pwm(DUTY_16A))
    hw.contactor.set_closed(True)
    return b, world, clock


def test_meter_reports_voltage_current_power_and_identity() -> None:
    b, _, _ = make_board(slots=[slot(1), slot(2, phases=1)])
    r1 = b.connector(1).meter.read()
    r2 = b.connector(2).meter.read()
    assert r1.voltage_v == (230.0, 230.0, 230.0) and r2.voltage_v == (230.0, 0.0, 0.0)
    assert r1.current_a == (0.0, 0.0, 0.0) and r1.power_w == 0.0
    assert (r1.energy_import_wh, r2.energy_import_wh) == (1000.0, 2000.0)
    assert (r1.serial_number, r2.serial_number) == ("SIM-1", "SIM-2")
    assert r1.frequency_hz == 50.0

    b, _, _ = charging()
    r = b.connector(1).meter.read()
    assert r.current_a == (pytest.approx(16.0),) * 3
    assert r.power_w == pytest.approx(3 * 16 * 230.0)


def test_three_phase_ev_on_single_phase_connector_draws_on_l1() -> None:
    b, world, _ = make_board({"ev_reaction_s": 0.0}, slots=[slot(1, phases=1)])
    hw = b.connector(1)
    world.plug_in(1, 32, 3, 60, 0.3)
    hw.pilot.command(PilotCommand.pwm(DUTY_16A))
    hw.contactor.set_closed(True)
    r = hw.meter.read()
    assert r.current_a == (pytest.approx(16.0), 0.0, 0.0)
    assert r.power_w == pytest.approx(16 * 230.0)


def test_energy_register_is_monotonic_and_the_integral_of_power() -> None:
    b, _, clock = charging(reaction_s=1.0)
    hw = b.connector(1)
    # Duty changes every 2 s and the contactor toggles; reads every 0.5 s catch every step
    # because the 1 s reaction delay lands on the read grid.
    duties = [DUTY_16A, 50.0, 20.0, 0.0, 80.0, 50.0]
    last = hw.meter.read()
    integral = last.energy_import_wh
    for step in range(1, 49):
        clock.t += 0.5
        r = hw.meter.read()
        integral += last.power_w * 0.5 / 3600.0
        assert r.energy_import_wh >= last.energy_import_wh
        assert r.energy_import_wh == pytest.approx(integral, rel=1e-12)
        if step % 4 == 0:
            hw.pilot.command(PilotCommand.pwm(duties[(step // 4) % len(duties)]))
        if step % 12 == 0:
            hw.contactor.set_closed(step % 24 != 0)
        last = hw.meter.read()
    assert integral > 1000.0 + 10.0  # energy did flow


def test_energy_does_not_depend_on_how_often_the_meter_is_read() -> None:
    results = []
    for reads in (1, 1000):
        b, _, clock = charging(reaction_s=1.0)
        for _ in range(reads):
            clock.t += 60.0 / reads
            b.connector(1).meter.read()
        results.append(b.connector(1).meter.read().energy_import_wh)
    # 59 s at 3 x 16 A (1 s reaction before any current) = 181 Wh
    assert results[0] == pytest.approx(results[1], rel=1e-9)
    assert results[0] == pytest.approx(1000.0 + 3 * 16 * 230.0 * 59 / 3600.0)


def test_meter_offline_raises_meter_error_and_energy_keeps_counting() -> None:
    b, world, clock = charging()
    meter = b.connector(1).meter
    world.set_fault(1, "meter_offline", True)
    with pytest.raises(MeterError, match="SIM-1"):
        meter.read()
    clock.t += 3600.0
    world.set_fault(1, "meter_offline", False)
    assert meter.read().energy_import_wh == pytest.approx(1000.0 + 3 * 16 * 230.0)


def test_rcd_fault_trips_and_fails_the_self_test() -> None:
    b, world, _ = charging()
    rcd = b.connector(1).rcd
    assert rcd is not None
    assert not rcd.tripped() and rcd.self_test().passed
    world.set_fault(1, "rcd", True)
    assert rcd.tripped() and not rcd.self_test().passed
    # The RCM only reports: opening the contactor is the controller's job.
    assert b.connector(1).meter.read().power_w > 0


def test_contactor_weld_keeps_contacts_and_current() -> None:
    b, world, _ = charging()
    hw = b.connector(1)
    assert hw.contactor.feedback() is True
    world.set_fault(1, "contactor_weld", True)
    hw.contactor.set_closed(False)
    assert hw.contactor.feedback() is True
    assert hw.meter.read().current_a[0] == pytest.approx(16.0)
    world.set_fault(1, "contactor_weld", False)
    assert hw.contactor.feedback() is False
    assert hw.meter.read().current_a == (0.0, 0.0, 0.0)


def test_contactor_stuck_open_reports_open_and_blocks_current() -> None:
    b, world, _ = charging()
    hw = b.connector(1)
    world.set_fault(1, "contactor_stuck_open", True)
    assert hw.contactor.feedback() is False
    assert hw.meter.read().power_w == 0.0
    assert world.snapshot(1)["contactor"] == {"commanded": True, "closed": False}


def test_a_stuck_lock_stays_where_it_was() -> None:
    b, world, _ = make_board(slots=[slot(1, sim={"cable_ampacity_a": 32, "lock": True})])
    lock = b.connector(1).lock
    assert lock is not None
    lock.set_locked(True)
    world.set_fault(1, "lock_stuck", True)
    lock.set_locked(False)
    assert lock.locked() is True
    world.set_fault(1, "lock_stuck", False)
    lock.set_locked(False)
    assert lock.locked() is False


def test_overtemp_and_overcurrent_faults() -> None:
    b, world, _ = charging()
    hw = b.connector(1)
    assert hw.temperature is not None and hw.temperature.celsius() == 35.0
    world.set_fault(1, "overtemp", True)
    assert hw.temperature.celsius() == 95.0
    world.set_fault(1, "overcurrent", True)
    assert hw.meter.read().current_a[0] == pytest.approx(16.0 * 1.25 + 2.0)
    world.set_fault(1, "overcurrent", False)
    assert hw.meter.read().current_a[0] == pytest.approx(16.0)


def test_faults_set_before_plug_in_apply_to_the_ev() -> None:
    b, world, _ = make_board({"ev_reaction_s": 0.0})
    world.set_fault(1, "overcurrent", True)
    hw = b.connector(1)
    hw.pilot.command(PilotCommand.pwm(DUTY_16A))
    hw.contactor.set_closed(True)
    world.plug_in(1, 32, 3, 60, 0.3)
    assert hw.meter.read().current_a[0] == pytest.approx(22.0)
    assert world.snapshot(1)["faults"] == ["overcurrent"]


def test_ev_actions_through_the_board() -> None:
    b, world, clock = charging(reaction_s=1.0)
    hw = b.connector(1)
    clock.t += 1.0
    assert hw.pilot.read().state is CpState.C
    world.ev_action(1, "pause")
    assert hw.pilot.read().state is CpState.B and hw.meter.read().power_w == 0.0
    world.ev_action(1, "resume")
    assert hw.pilot.read().state is CpState.C
    world.ev_action(1, "stay_in_c")
    hw.pilot.command(PilotCommand.x1())
    clock.t += 5.0
    assert hw.pilot.read().state is CpState.C
    world.ev_action(1, "behave")
    assert hw.pilot.read().state is CpState.B
    hw.pilot.command(PilotCommand.pwm(DUTY_16A))
    world.ev_action(1, "overdraw")
    clock.t += 1.0
    assert hw.meter.read().current_a[0] == pytest.approx(22.0)


def test_unplug_stops_current_and_cable_sense_follows_the_plug() -> None:
    b, world, _ = make_board({"ev_reaction_s": 0.0}, slots=[slot(1, sim={"cable_ampacity_a": 20})])
    hw = b.connector(1)
    assert hw.cable is not None and hw.cable.ampacity_a() is None
    world.plug_in(1, 32, 3, 60, 0.3)
    assert hw.cable.ampacity_a() == 20.0
    hw.pilot.command(PilotCommand.pwm(DUTY_16A))
    hw.contactor.set_closed(True)
    assert hw.meter.read().power_w > 0
    world.unplug(1)
    assert hw.meter.read().power_w == 0.0 and hw.cable.ampacity_a() is None
    assert hw.pilot.read().state is CpState.A


def test_lock_follows_its_command() -> None:
    b, _, _ = make_board(slots=[slot(1, sim={"lock": True})])
    lock = b.connector(1).lock
    assert lock is not None and lock.locked() is False
    lock.set_locked(True)
    assert lock.locked() is True
    b.close()
    assert lock.locked() is False


def test_logs_carry_exact_event_times_even_when_observed_late() -> None:
    b, world, clock = make_board({"ev_reaction_s": 1.5})
    hw = b.connector(1)
    t0 = clock.t
    world.plug_in(1, 32, 3, 60, 0.3)
    hw.pilot.command(PilotCommand.pwm(50.0))
    hw.pilot.command(PilotCommand.pwm(50.0))  # a repeat is not a change
    clock.t += 10.0  # nobody looks for 10 s: the S2 edge still has its true time
    hw.contactor.set_closed(True)
    hw.contactor.set_closed(True)
    world.set_fault(1, "rcd", True)
    clock.t += 0.02
    hw.contactor.set_closed(False)
    world.unplug(1)
    assert world.cp_log(1) == [(t0, CpState.B), (t0 + 1.5, CpState.C), (t0 + 10.02, CpState.A)]
    assert world.pilot_log(1) == [(t0, PilotCommand.pwm(50.0))]
    assert world.contactor_log(1) == [(t0 + 10.0, True), (t0 + 10.02, False)]
    assert world.fault_log(1) == [(t0 + 10.0, "rcd", True)]


def test_logs_are_bounded() -> None:
    b, world, clock = make_board()
    for i in range(10_000):
        clock.t += 0.001
        b.connector(1).contactor.set_closed(i % 2 == 0)
    assert len(world.contactor_log(1)) == 4096


def test_token_reader_hands_out_swipes_in_order() -> None:
    b, world, _ = make_board()
    reader = b.token_reader
    assert isinstance(reader, SimTokenReader)
    reader.read_timeout_s = 0.0
    assert reader.poll() is None
    world.swipe("AA11")
    world.swipe("BB22")
    assert [reader.poll(), reader.poll(), reader.poll()] == ["AA11", "BB22", None]


def test_token_reader_waits_for_a_card_like_a_serial_reader() -> None:
    b, world, _ = make_board()
    reader = b.token_reader
    assert isinstance(reader, SimTokenReader)
    reader.read_timeout_s = 30.0
    swiping = threading.Timer(0.05, world.swipe, ("CC33",))  # the card arrives while the poll waits
    swiping.start()
    try:
        assert reader.poll() == "CC33"
    finally:
        swiping.join()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: w.plug_in(1, 32, 3, 60, 0.3), "already plugged"),
        (lambda w: w.plug_in(9, 32, 3, 60, 0.3), r"connector = 9: expected one of \[1\]"),
        (lambda w: w.plug_in("1", 32, 3, 60, 0.3), "connector"),
        (lambda w: w.set_fault(1, "fire", True), "rcd, diode, contactor_weld"),
        (lambda w: w.set_fault(1, "rcd", "yes"), "true or false"),
        (lambda w: w.ev_action(1, "dance"), "pause, resume, stay_in_c"),
        (lambda w: w.swipe(""), "id_tag"),
        (lambda w: w.swipe("x" * 37), "id_tag"),
        (lambda w: w.snapshot(0), "connector"),
    ],
)
def test_bad_bench_calls_raise_value_error_and_change_nothing(call: Any, match: str) -> None:
    _, world, _ = make_board()
    world.plug_in(1, 32, 3, 60, 0.3)
    before = world.snapshot(1)
    with pytest.raises(ValueError, match=match):
        call(world)
    assert world.snapshot(1) == before


def test_calls_needing_an_ev_say_so_and_bad_ev_params_are_rejected() -> None:
    _, world, _ = make_board()
    with pytest.raises(ValueError, match="no EV"):
        world.unplug(1)
    with pytest.raises(ValueError, match="no EV"):
        world.ev_action(1, "pause")
    with pytest.raises(ValueError, match="phases"):
        world.plug_in(1, 32, 2, 60, 0.3)
    with pytest.raises(ValueError, match="soc"):
        world.plug_in(1, 32, 3, 60, -0.1)
    assert world.snapshot(1)["plugged"] is False
    for kind in FAULT_KINDS:
        world.set_fault(1, kind, True)
    assert world.snapshot(1)["faults"] == sorted(FAULT_KINDS)


def test_snapshot_is_json_and_describes_the_session() -> None:
    _, world, clock = charging()
    clock.t += 60.0
    snap = json.loads(json.dumps(world.snapshot(1)))
    assert snap["plugged"] is True and snap["cp_state"] == "C"
    assert snap["pilot"] == {"mode": "X2", "duty_percent": pytest.approx(DUTY_16A)}
    assert snap["offered_a"] == pytest.approx(16.0)
    assert snap["current_a"] == [pytest.approx(16.0)] * 3
    assert snap["energy_import_wh"] == pytest.approx(1000.0 + 3 * 16 * 230.0 / 60.0)
    assert snap["ev"]["soc"] > 0.3 and snap["ev"]["paused"] is False


def test_close_leaves_outputs_safe() -> None:
    b, world, _ = charging()
    b.close()
    snap = world.snapshot(1)
    assert snap["contactor"] == {"commanded": False, "closed": False}
    assert snap["pilot"]["mode"] == "X1"  # type: ignore[index]


def test_pilot_reads_stay_consistent_while_another_thread_plugs_and_unplugs() -> None:
    b = build_board(ConfigSection("test.toml", "board", {"ev_reaction_s": 0.0}, {}), [slot(1)])
    world, hw = world_of(b), b.connector(1)
    hw.pilot.command(PilotCommand.x1())
    stop = threading.Event()
    seen: set[tuple[CpState, float]] = set()
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            while not stop.is_set():
                r = hw.pilot.read()
                seen.add((r.state, r.positive_v))
                hw.meter.read()
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    reader = threading.Thread(target=hammer)
    reader.start()
    try:
        for _ in range(500):
            world.plug_in(1, 32, 3, 60, 0.5)
            world.unplug(1)
    finally:
        stop.set()
        reader.join(timeout=5)
    assert not errors
    assert seen <= {(CpState.A, 12.0), (CpState.B, 9.0)}
    assert len(world.cp_log(1)) == 1000


def test_board_config_is_bounded_and_named() -> None:
    with pytest.raises(ConfigError, match=r"\[board\] voltage_v = 1000: expected at most"):
        make_board({"voltage_v": 1000})
    with pytest.raises(ConfigError, match=r"ev_reaction_s = 'slow': expected a number"):
        make_board({"ev_reaction_s": "slow"})
    with pytest.raises(ConfigError, match=r"\[connector\[0\]\.sim\] cable_ampacity_a = 17.0: expected one of 13"):
        make_board(slots=[slot(1, sim={"cable_ampacity_a": 17})])
    with pytest.raises(ConfigError, match=r"lock = 'yes': expected true or false"):
        make_board(slots=[slot(1, sim={"lock": "yes"})])


def test_unknown_sim_key_is_reported_by_check_unused() -> None:
    s = slot(1, sim={"cable_ampacity": 32})
    make_board(slots=[s])
    with pytest.raises(ConfigError, match=r"\[connector\[0\]\.sim\] cable_ampacity = 32: unknown key"):
        s.section.check_unused()


def test_registered_as_the_sim_board_type() -> None:
    section = ConfigSection("test.toml", "board", {"type": "sim", "voltage_v": 120, "frequency_hz": 60}, {})
    b = hal_board.build_board(section, [slot(1)])
    section.check_unused()
    r = b.connector(1).meter.read()
    assert b.kind == "sim" and r.voltage_v == (120.0,) * 3 and r.frequency_hz == 60.0
