"""Smart charging end to end: the daemon on the simulated board, the bench CSMS over a real
websocket on loopback, profiles in a real SQLite file. What the pilot does is read from the
simulated world's pilot log, what the EV draws from the meter the daemon reads."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from charging_profiles import profile
from ocpp.exceptions import OCPPError
from ocpp_bench import EV, WITHIN, Bench, until

from controller.clock import iso
from controller.daemon import Daemon
from controller.iec61851 import TIMING, duty_for_current
from controller.ocpp.v16.smart_charging import SmartCharging
from controller.smart_charging.enforcement import HANDOVER_S, ChargingLimits
from hal.types import PilotCommand, PilotMode

EV32 = {**EV, "max_current_a": 32.0}
PAST = "2024-01-01T00:00:00Z"
TAGS = {1: "TAG1", 2: "04A2B3C4"}  # both Accepted by the bench CSMS


def loop_limit(daemon: Daemon, connector: int) -> float:
    """The limit the real-time loop applies now (after configuration and cable)."""
    snapshot = daemon.rt.snapshot(connector)
    assert snapshot is not None
    return snapshot.limit_a


def drawn(daemon: Daemon, connector: int) -> float:
    meter = daemon.station.view(connector).meter
    return max(meter.current_a, default=0.0) if meter is not None else 0.0


async def set_profile(bench: Bench, connector: int, data: dict) -> str:
    response = await bench.call("SetChargingProfile", {"connectorId": connector, "csChargingProfiles": data})
    return response["status"]


async def composite(bench: Bench, connector: int, duration: int, unit: str | None = None) -> dict:
    request = {"connectorId": connector, "duration": duration, **({"chargingRateUnit": unit} if unit else {})}
    return await bench.call("GetCompositeSchedule", request)


def limits_of(answer: dict) -> list[float]:
    return [p["limit"] for p in answer["chargingSchedule"]["chargingSchedulePeriod"]]


async def transaction_id(daemon: Daemon, connector: int) -> int:
    """The CSMS's transactionId once StartTransaction is confirmed (polled: no event says so)."""
    deadline = time.monotonic() + WITHIN
    while True:
        tx = await daemon.ocpp.transactions.transaction_of(connector)
        if tx is not None:
            return tx
        if time.monotonic() > deadline:
            raise TimeoutError("StartTransaction not confirmed")
        await asyncio.sleep(0.02)


async def plug(bench: Bench, connector: int) -> None:
    assert bench.daemon is not None
    bench.daemon.board.simulation.plug_in(connector, **EV32)
    await bench.wait_status(connector, "Preparing")


async def start_remotely(bench: Bench, connector: int, **remote_start: object) -> int:
    """RemoteStartTransaction on a plugged connector, wait for Charging; the CSMS's transactionId."""
    assert bench.daemon is not None
    request = {"idTag": TAGS[connector], "connectorId": connector, **remote_start}
    assert (await bench.call("RemoteStartTransaction", request)) == {"status": "Accepted"}
    await bench.wait_status(connector, "Charging")
    return await transaction_id(bench.daemon, connector)


async def charging_session(bench: Bench, connector: int) -> int:
    """A 32 A EV plugged in and charging; the CSMS's transactionId."""
    await plug(bench, connector)
    return await start_remotely(bench, connector)


def engine(daemon: Daemon) -> ChargingLimits:
    return next(f.limits for f in daemon.ocpp.features if isinstance(f, SmartCharging))


async def test_tx_profile_brings_a_32_a_session_down_to_10_a_within_the_iec_window(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    tx = await charging_session(bench, 1)
    await until(lambda: drawn(daemon, 1) > 31)
    sent = time.monotonic()
    pwm_on = max(t for t, _ in sim.pilot_log(1))  # the last pilot change before the profile
    ten_a = profile(1, "TxProfile", [(0, 10)], kind="Relative", transactionId=tx)
    assert await set_profile(bench, 1, ten_a) == "Accepted"
    await until(lambda: loop_limit(daemon, 1) == 10)
    target = PilotCommand.pwm(duty_for_current(10))
    await until(lambda: target in [cmd for _, cmd in sim.pilot_log(1)])
    changed = next(t for t, cmd in sim.pilot_log(1) if cmd == target)
    # The duty changes once the 5 s since the previous change have passed, and not later.
    allowed = max(sent, pwm_on + TIMING.pwm_change_interval_s)
    assert allowed - 0.01 <= changed <= allowed + 0.5
    # The EV follows within the IEC window (5 s after the change); the meter shows it.
    await until(lambda: drawn(daemon, 1) <= 10.0 + 1e-6, within=changed + TIMING.ev_follow_s - time.monotonic())
    assert drawn(daemon, 1) == pytest.approx(10, abs=0.1)

    def offered_10(_csms: object) -> bool:
        for payload in bench.payloads("MeterValues"):
            for sample in payload["meterValue"][0]["sampledValue"]:
                if sample["measurand"] == "Current.Offered" and sample["value"] == "10":
                    return True
        return False

    await bench.wait(offered_10)
    assert bench.csms.callerrors == 0


async def test_charge_point_max_16_a_is_shared_by_two_charging_connectors(csms, tmp_path):
    bench = Bench(csms, tmp_path, connectors=2)
    try:
        daemon = await bench.start()
        await bench.wait_status(2, "Available")
        assert await set_profile(bench, 0, profile(1, "ChargePointMaxProfile", [(0, 16)], start=PAST)) == "Accepted"
        await charging_session(bench, 1)
        assert loop_limit(daemon, 1) == 16
        await charging_session(bench, 2)
        assert [loop_limit(daemon, 1), loop_limit(daemon, 2)] == [8, 8]
        # Connector 1 lowers its duty once its 5 s are up; then the EVs draw 16 A together.
        both_at_8 = [pytest.approx(8, abs=0.1)] * 2
        await until(lambda: [drawn(daemon, 1), drawn(daemon, 2)] == both_at_8, within=2 * TIMING.ev_follow_s + 2)
        station = await composite(bench, 0, 3600)
        assert station["status"] == "Accepted" and limits_of(station) == [16]
    finally:
        await bench.stop()


async def test_daily_recurring_profile_crossing_midnight(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    # The station's clock is put 2.5 s before midnight (as a CSMS currentTime would set it).
    daemon.clock.offset_s = (midnight - timedelta(seconds=2.5) - datetime.now(UTC)).total_seconds()
    daily = profile(
        1,
        "TxDefaultProfile",
        [(0, 8), (3600, 20), (23 * 3600, 12)],
        kind="Recurring",
        recurrencyKind="Daily",
        start=PAST,
    )
    assert await set_profile(bench, 1, daily) == "Accepted"
    report = await composite(bench, 1, 7200)
    periods = report["chargingSchedule"]["chargingSchedulePeriod"]
    assert [p["limit"] for p in periods] == [12, 8, 20]
    assert periods[1]["startPeriod"] in (2, 3) and periods[2]["startPeriod"] == periods[1]["startPeriod"] + 3600
    assert daemon.clock.now() < midnight - timedelta(seconds=HANDOVER_S)
    await until(lambda: loop_limit(daemon, 1) == 12)
    await until(lambda: loop_limit(daemon, 1) == 8, within=5)
    switched = daemon.clock.now()
    assert midnight - timedelta(seconds=HANDOVER_S) <= switched <= midnight  # a decrease is never late


async def test_clearing_restores_the_previous_limit(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    assert loop_limit(daemon, 1) == 32  # no profile: the connector's configured maximum
    assert await set_profile(bench, 0, profile(1, "TxDefaultProfile", [(0, 16)], start=PAST)) == "Accepted"
    await until(lambda: loop_limit(daemon, 1) == 16)
    assert await set_profile(bench, 1, profile(2, "TxDefaultProfile", [(0, 10)], stack=1, start=PAST)) == "Accepted"
    await until(lambda: loop_limit(daemon, 1) == 10)
    assert (await bench.call("ClearChargingProfile", {"id": 2})) == {"status": "Accepted"}
    await until(lambda: loop_limit(daemon, 1) == 16)
    assert (await bench.call("ClearChargingProfile", {"id": 2})) == {"status": "Unknown"}
    wrong = {"connectorId": 0, "chargingProfilePurpose": "ChargePointMaxProfile"}
    assert (await bench.call("ClearChargingProfile", wrong)) == {"status": "Unknown"}
    every_default = {"connectorId": 0, "chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}
    assert (await bench.call("ClearChargingProfile", every_default)) == {"status": "Accepted"}
    await until(lambda: loop_limit(daemon, 1) == 32)
    assert len(engine(daemon).installed) == 0


async def test_an_expired_profile_stops_limiting_and_is_dropped(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    ends = daemon.clock.now() + timedelta(seconds=1.5)
    brief = profile(1, "TxDefaultProfile", [(0, 10)], start=PAST, validTo=iso(ends))
    assert await set_profile(bench, 1, brief) == "Accepted"
    await until(lambda: loop_limit(daemon, 1) == 10)
    await until(lambda: loop_limit(daemon, 1) == 32, within=4)
    # At validTo, from the engine's own timer (the station's 1 s refresh would be later).
    assert timedelta(0) <= daemon.clock.now() - ends < timedelta(seconds=0.3)
    limits = engine(daemon)
    await until(lambda: len(limits.installed) == 0)
    await until(lambda: len(limits.store.load()) == 0)


async def test_remote_start_profile_applies_from_the_first_pwm_and_ends_with_the_transaction(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    await plug(bench, 1)
    not_tx = profile(1, "TxDefaultProfile", [(0, 12)], kind="Relative")
    bad = {"idTag": "TAG1", "connectorId": 1, "chargingProfile": not_tx}
    assert (await bench.call("RemoteStartTransaction", bad)) == {"status": "Rejected"}
    named = profile(1, "TxProfile", [(0, 12)], kind="Relative", transactionId=5)
    assert (await bench.call("RemoteStartTransaction", {**bad, "chargingProfile": named})) == {"status": "Rejected"}
    assert all(cmd.mode is not PilotMode.X2 for _, cmd in sim.pilot_log(1))
    twelve = profile(7, "TxProfile", [(0, 12), (3600, 6)], kind="Relative")
    tx = await start_remotely(bench, 1, chargingProfile=twelve)
    first_pwm = next(cmd for _, cmd in sim.pilot_log(1) if cmd.mode is PilotMode.X2)
    assert first_pwm == PilotCommand.pwm(duty_for_current(12)), "never switched on at 32 A first"
    assert limits_of(await composite(bench, 1, 600)) == [12]
    assert (await bench.call("RemoteStopTransaction", {"transactionId": tx})) == {"status": "Accepted"}
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    limits = engine(daemon)
    await until(lambda: len(limits.installed) == 0)
    assert limits_of(await composite(bench, 1, 600)) == [32]
    await until(lambda: len(limits.store.load()) == 0)


async def test_profiles_survive_a_restart_but_a_tx_profile_ends_with_its_transaction(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    assert await set_profile(bench, 0, profile(1, "ChargePointMaxProfile", [(0, 16)], start=PAST)) == "Accepted"
    assert await set_profile(bench, 1, profile(2, "TxDefaultProfile", [(0, 10)], start=PAST)) == "Accepted"
    tx = await charging_session(bench, 1)
    assert await set_profile(bench, 1, profile(3, "TxProfile", [(0, 8)], kind="Relative", transactionId=tx)) == (
        "Accepted"
    )
    assert limits_of(await composite(bench, 1, 60)) == [8]
    await bench.stop()  # the session ends (Reboot), and its TxProfile with it
    bench.csms.log.clear()
    daemon = await bench.start()
    await bench.wait_status(1, "Available")  # a new simulated board: no EV
    installed = engine(daemon).installed
    assert sorted(entry.profile.id for entry in installed) == [1, 2]
    assert limits_of(await composite(bench, 1, 60)) == [10]
    assert limits_of(await composite(bench, 0, 60, "W")) == [16 * 230 * 3]
    assert loop_limit(daemon, 1) == 10


async def test_offline_the_tx_profile_keeps_applying(bench):
    daemon = await bench.start()
    tx = await charging_session(bench, 1)
    steps = profile(1, "TxProfile", [(0, 16), (4, 8)], start=iso(daemon.clock.now()), transactionId=tx)
    assert await set_profile(bench, 1, steps) == "Accepted"
    await until(lambda: loop_limit(daemon, 1) == 16)
    disconnect = f"http://127.0.0.1:{daemon.api.port}/api/ocpp/disconnect"
    async with aiohttp.ClientSession() as http, http.post(disconnect) as response:
        assert response.status == 200
    await until(lambda: not daemon.ocpp.link.connected.is_set())
    await until(lambda: loop_limit(daemon, 1) == 8, within=6)
    assert not daemon.ocpp.link.connected.is_set()
    assert daemon.station.view(1).transaction is not None


async def test_a_limit_below_6_a_pauses_and_a_higher_one_resumes(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    tx = await charging_session(bench, 1)
    assert await set_profile(bench, 1, profile(1, "TxProfile", [(0, 4)], kind="Relative", transactionId=tx)) == (
        "Accepted"
    )
    await bench.wait_status(1, "SuspendedEVSE")
    assert sim.pilot_log(1)[-1][1] == PilotCommand.x1()
    assert await set_profile(bench, 1, profile(2, "TxProfile", [(0, 16)], kind="Relative", transactionId=tx)) == (
        "Accepted"
    )
    await bench.wait_status(1, "Charging")
    assert sim.pilot_log(1)[-1][1] == PilotCommand.pwm(duty_for_current(16))


KEYS = 'ChargingScheduleAllowedChargingRateUnit = "Current"\nMaxChargingProfilesInstalled = 3\n'
RECURRING = {"kind": "Recurring", "start": PAST}
# (connector, csChargingProfiles, the answer: a status or the CALLERROR code), in order.
WIRE_CASES = [
    (0, profile(1, "TxDefaultProfile", [(0, 16)], start=PAST), "Accepted"),
    (3, profile(2, "TxDefaultProfile", [(0, 16)], start=PAST), "PropertyConstraintViolation"),
    (1, profile(2, "ChargePointMaxProfile", [(0, 16)], start=PAST), "Rejected"),
    (0, profile(2, "TxProfile", [(0, 16)], kind="Relative"), "Rejected"),
    (1, profile(2, "TxProfile", [(0, 16)], kind="Relative"), "Rejected"),  # no transaction
    (0, profile(2, "TxDefaultProfile", [(0, 16)], stack=11, start=PAST), "Rejected"),
    (0, profile(2, "TxDefaultProfile", [(60 * i, 16) for i in range(25)], start=PAST), "Rejected"),
    (0, profile(2, "TxDefaultProfile", [(0, 11000)], unit="W", start=PAST), "NotSupported"),
    (0, profile(2, "TxDefaultProfile", [(60, 16)], start=PAST), "Rejected"),
    (0, profile(2, "TxDefaultProfile", [(0, 16), (120, 8), (60, 10)], start=PAST), "Rejected"),
    (0, profile(2, "TxDefaultProfile", [(0, 16)], **RECURRING), "Rejected"),  # no recurrencyKind
    (0, profile(2, "TxDefaultProfile", [(0, 16)], kind="Recurring", recurrencyKind="Daily"), "Rejected"),
    (1, profile(2, "TxDefaultProfile", [(0, 16)], kind="Relative", start=PAST), "Rejected"),
    (0, profile(2, "TxDefaultProfile", [(0, 16)], start=PAST, validTo="2024-01-02T00:00:00Z"), "Rejected"),
    (0, profile(2, "TxDefaultProfile", [(0, 16)], stack=1, start=PAST), "Accepted"),
    (1, profile(3, "TxDefaultProfile", [(0, 16)], **RECURRING, recurrencyKind="Weekly"), "Accepted"),
    (0, profile(4, "TxDefaultProfile", [(0, 16)], stack=3, start=PAST), "Rejected"),  # a 4th of 3
    (0, profile(3, "TxDefaultProfile", [(0, 12)], stack=3, start=PAST), "Accepted"),  # replaces id 3
    (0, profile(5, "TxDefaultProfile", [(0, 8)], stack=3, start=PAST), "Accepted"),  # replaces its slot
]


async def test_every_validation_answer_on_the_wire(csms, tmp_path):
    bench = Bench(csms, tmp_path, keys=KEYS)
    try:
        daemon = await bench.start()
        await bench.wait_status(1, "Available")
        for connector, data, expected in WIRE_CASES:
            try:
                answer = await set_profile(bench, connector, data)
            except OCPPError as error:
                answer = error.code
            assert answer == expected, (connector, data)
        installed = engine(daemon).installed
        assert sorted((e.connector_id, e.profile.id) for e in installed) == [(0, 1), (0, 2), (0, 5)]
        assert (await composite(bench, 9, 60)) == {"status": "Rejected"}
        assert limits_of(await composite(bench, 1, 60)) == [8]
        keys = await bench.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
        assert "SmartCharging" in keys["configurationKey"][0]["value"].split(",")
    finally:
        await bench.stop()
