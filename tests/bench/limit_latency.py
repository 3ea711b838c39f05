"""Smart-charging latency and composite-schedule cost.

1. Limit latency, for each OCPP front end (1.6, then 2.0.1, in the same run): the whole daemon
   runs on the simulated board (5 ms real-time loop) with a charging session, connected over a
   real loopback websocket to the bench CSMS (sim/csms/, in this process). The CSMS sends
   SetChargingProfile (a TxProfile for the running transaction)
   over and over; each one alternates between a pause (< 6 A: pilot X1) and a charging limit
   (6..32 A: PWM on at that duty), so that every change may be applied at once under the IEC rule
   that the duty changes at most once every 5 s (switching the PWM off or on is not a duty
   change). Measured: from the instant the station read the frame off the websocket (its link's
   frame log) to the instant the simulated board received the pilot command carrying the new
   state (the world's pilot log), both on time.monotonic. The answer to the CSMS leaves after the
   profile is also in SQLite; that round trip is reported too.
2. Composite cost: 10 profiles of 24 periods each (station maxima, daily and absolute defaults,
   a connector default and TxProfiles; a third in W), composite schedule over 24 h, and one
   ``limit_at`` (what the enforcement evaluates per connector and refresh).

Run alone: python tests/bench/limit_latency.py [--profiles 500]
Prints the figures, then one line of JSON (the 1.6 figures at the top level):
{"profiles":..,"p50_ms":..,"p99_ms":..,"max_ms":..,"answer_p50_ms":..,"composite_us":..,"limit_at_us":..,
 "v201":{"profiles":..,"p50_ms":..,"p99_ms":..,"max_ms":..,"answer_p50_ms":..}}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.config import parse
from controller.daemon import Daemon
from controller.iec61851 import duty_for_current
from controller.ocpp.link import Frame
from controller.safety.process import open_board
from controller.smart_charging import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfiles,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    composite_schedule,
    limit_at,
)
from hal.types import PilotCommand
from sim.csms import Csms, CsmsConfig

CONFIG = """
[station]
charge_point_id = "CP-BENCH"
[board]
type = "sim"
ev_reaction_s = 0.05
[[connector]]
id = 1
max_current_a = 32
[charging]
authorize = "any"
[loop]
period_ms = 5
meter_interval_s = 0.5
[storage]
state_dir = "{state_dir}"
[api]
enabled = false
[ocpp]
url = "ws://127.0.0.1:{port}"
{ocpp}
"""
OCPP = {
    "1.6": "[ocpp.keys]\nMeterValueSampleInterval = 10",
    "2.0.1": 'version = "2.0.1"\n[ocpp.variables]\n"SampledDataCtrlr.TxUpdatedInterval" = 10',
}
WAIT_S = 5.0  # for one pilot change; far above any latency worth measuring


# ---- 1. latency ------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def wait_for(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll the simulated world (it has no event of its own) with a deadline."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.001)


def tx_profile(amps: float, transaction_id: int | str) -> dict:
    """SetChargingProfile.req of 1.6 (int transaction id) or 2.0.1 (the station's string id)."""
    period = {"startPeriod": 0, "limit": amps}
    # Same purpose and stack level (and in 2.0.1 the same id): each one replaces the last.
    if isinstance(transaction_id, int):
        return {"connectorId": 1, "csChargingProfiles": {
            "chargingProfileId": 1, "transactionId": transaction_id, "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Relative",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]}}}  # fmt: skip
    return {"evseId": 1, "chargingProfile": {
        "id": 1, "transactionId": transaction_id, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [period]}]}}  # fmt: skip


async def latency(count: int, version: str) -> tuple[list[float], list[float]]:
    csms = Csms(CsmsConfig(id_tags={"FreeVend"}))  # the free-vend session's StartTransaction is Accepted
    port = await csms.start()
    with tempfile.TemporaryDirectory() as state_dir:
        config = parse(CONFIG.format(state_dir=state_dir, port=port, ocpp=OCPP[version]), "bench")
        daemon = Daemon(config, open_board(config))
        await daemon.start()
        try:
            return await _measure(daemon, csms, count, version)
        finally:
            await daemon.stop()
            await csms.stop()


async def transaction_of(daemon: Daemon, csms: Csms, version: str) -> int | str:
    """The id a TxProfile names: 1.6 the CSMS's, once StartTransaction.conf landed (no event says
    when); 2.0.1 the station's, once its TransactionEvent Started reached the CSMS."""
    if version == "2.0.1":
        await wait_for(lambda: csms.received["TransactionEvent"] >= 1, "TransactionEvent")
        return daemon.station.view(1).transaction.id
    await wait_for(lambda: csms.received["StartTransaction"] >= 1, "StartTransaction")
    transaction_id = None
    while transaction_id is None:
        transaction_id = await daemon.ocpp.transactions.transaction_of(1)  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    return transaction_id


async def _measure(daemon: Daemon, csms: Csms, count: int, version: str) -> tuple[list[float], list[float]]:
    sim = daemon.board.simulation
    assert sim is not None and daemon.ocpp is not None
    received: list[float] = []

    def frame_log(frame: Frame) -> None:
        if frame.direction == "in" and '"SetChargingProfile"' in frame.text:
            received.append(time.monotonic())

    daemon.ocpp.link.frame_log = frame_log
    sim.plug_in(1, 32.0, 3, 60.0, 0.2)  # free vend: the session starts at the plug-in
    transaction_id = await transaction_of(daemon, csms, version)
    rng = random.Random(61851)
    pilot_ms: list[float] = []
    answer_ms: list[float] = []
    for index in range(count):
        amps = round(rng.uniform(0, 5.9), 1) if index % 2 == 0 else float(rng.randint(6, 32))
        expected = PilotCommand.x1() if amps < 6 else PilotCommand.pwm(duty_for_current(amps))
        # A random pause first (pacing, not synchronisation), so that arrivals do not lock onto
        # one phase of the loop's 5 ms tick.
        await asyncio.sleep(rng.uniform(0, 0.02))
        answer = await csms.call("CP-BENCH", "SetChargingProfile", tx_profile(amps, transaction_id))
        answered = time.monotonic()
        assert answer == {"status": "Accepted"}, answer
        start = received[-1]

        def applied(start: float = start, expected: PilotCommand = expected) -> float | None:
            return next((t for t, cmd in sim.pilot_log(1) if t >= start and cmd == expected), None)

        await wait_for(lambda: applied() is not None, f"pilot {expected}")
        commanded = applied()
        assert commanded is not None
        pilot_ms.append((commanded - start) * 1000)
        answer_ms.append((answered - start) * 1000)
    return pilot_ms, answer_ms


# ---- 2. composite cost -------------------------------------------------------------------------

PROFILES = 10
PERIODS = 24
START = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
LAYOUT = [
    (0, Purpose.STATION_MAX, Kind.RECURRING),
    (0, Purpose.STATION_MAX, Kind.ABSOLUTE),
    (0, Purpose.TX_DEFAULT, Kind.RECURRING),
    (0, Purpose.TX_DEFAULT, Kind.ABSOLUTE),
    (0, Purpose.TX_DEFAULT, Kind.RECURRING),
    (1, Purpose.TX_DEFAULT, Kind.RECURRING),
    (1, Purpose.TX_DEFAULT, Kind.ABSOLUTE),
    (1, Purpose.TX, Kind.RELATIVE),
    (1, Purpose.TX, Kind.ABSOLUTE),
    (1, Purpose.TX, Kind.RECURRING),
]


def installed() -> InstalledProfiles:
    profiles = InstalledProfiles()
    for index, (connector, purpose, kind) in enumerate(LAYOUT):
        # Hourly periods, shifted per profile so that boundaries rarely coincide; every third
        # profile is in W (the same currents as power on three phases).
        unit = RateUnit.W if index % 3 == 0 else RateUnit.A
        scale = 230 * 3 if unit is RateUnit.W else 1
        periods = tuple(
            SchedulePeriod(hour * 3600 + index * 97 * (hour > 0), scale * (6 + (hour * 7 + index * 5) % 26), 3)
            for hour in range(PERIODS)
        )
        schedule = ChargingSchedule(
            unit=unit,
            periods=periods,
            duration=86_400,
            start_schedule=None if kind is Kind.RELATIVE else START.replace(hour=0) - timedelta(minutes=index * 13),
        )
        profiles = profiles.add(
            connector,
            ChargingProfile(
                id=index + 1,
                stack_level=index % 4,
                purpose=purpose,
                kind=kind,
                schedule=schedule,
                recurrency=Recurrency.DAILY if kind is Kind.RECURRING else None,
                transaction_id=7 if purpose is Purpose.TX else None,
            ),
        )
    return profiles


def composite_cost() -> tuple[int, float, float]:
    profiles = installed()
    assert len(profiles) == PROFILES
    tx_start = START - timedelta(hours=1)

    def composite() -> object:
        return composite_schedule(profiles, 1, START, 86_400, RateUnit.A, now=START, tx_start=tx_start, tx_id=7)

    def limit() -> object:
        return limit_at(profiles, 1, START, tx_start=tx_start, tx_id=7)

    periods = len(composite().periods)  # type: ignore[attr-defined]
    composite_us = min(timeit.repeat(composite, number=50, repeat=5)) / 50 * 1e6
    limit_us = min(timeit.repeat(limit, number=500, repeat=5)) / 500 * 1e6
    return periods, composite_us, limit_us


def figures(pilot_ms: list[float], answer_ms: list[float]) -> dict[str, float]:
    return {
        "profiles": len(pilot_ms),
        "p50_ms": round(statistics.median(pilot_ms), 3),
        "p99_ms": round(percentile(pilot_ms, 99), 3),
        "max_ms": round(max(pilot_ms), 3),
        "answer_p50_ms": round(statistics.median(answer_ms), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=500)
    args = parser.parse_args()
    measured = {version: figures(*asyncio.run(latency(args.profiles, version))) for version in OCPP}
    periods, composite_us, limit_us = composite_cost()
    for version, f in measured.items():
        print(f"OCPP {version}: SetChargingProfile received -> pilot command, {f['profiles']} profiles:")
        print(f"  p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms, max {f['max_ms']:.2f} ms (target p99 <= 50 ms)")
        print(f"  answer back at the CSMS (sent after the SQLite write): p50 {f['answer_p50_ms']:.2f} ms")
    print(f"{PROFILES} profiles x {PERIODS} periods, composite over 24 h -> {periods} periods")
    print(f"  composite_schedule {composite_us:.1f} us per evaluation, limit_at {limit_us:.1f} us")
    line = {**measured["1.6"], "composite_us": round(composite_us, 1), "limit_at_us": round(limit_us, 1)}
    print(json.dumps({**line, "v201": measured["2.0.1"]}))


if __name__ == "__main__":
    main()
