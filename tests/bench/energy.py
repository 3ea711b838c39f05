"""Energy management: how fast an overload is cleared, how often solar charging switches, MQTT rate.

1. Overload: the whole daemon on the simulated board, two EVs (3 phases, 1 s reaction to a PWM
   change) on 16 A connectors behind a 35 A main fuse with 1 A margin and the house drawing 3 A;
   the grid meter (sim board, polled every second as by default) sees house + EVs. Each trial the
   house load jumps by 20 A per phase at a random instant 0-7 s after the last duty change (so
   about 70 % of the trials hit the IEC 5 s duty rule); measured: from the jump to the instant the
   physical grid current (the sim's meter at the house connection, read every 10 ms) is back at
   or below the fuse's rating, EV reaction included. Then the load goes away and the EVs come
   back up before the next trial.
2. Solar starts per day: (a) the daemon on the bench's compressed day (sim/configs/bench-solar.toml:
   a 120 s day with three clouds, one connector with a phase switch, pv mode, delays 4 s / 8 s);
   (b) the pure engines (solar.py, phase_switch.py) with the default delays (60 s / 180 s) over a
   12-hour day in simulated time: the sim's three clouds, 15 random clouds (seeded), a clear sky.
   A start is charging beginning after solar charging had stopped (the solar level from stopped to
   one or three phases); contactor closings also count the re-close after each phase switch.
3. MQTT rate: the daemon of part 1 with [mqtt] at its defaults (publish_interval_s 10) on a local
   mosquitto, both EVs charging steadily: messages the box publishes in 60 s, discovery excluded.

Run alone: python tests/bench/energy.py [--trials 12] [--mqtt-seconds 60]
Prints the figures, then one line of JSON:
{"overload_p50_s":..,"overload_p99_s":..,"solar_day_starts":..,"mqtt_msgs_per_min":..}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mosquitto import MOSQUITTO, Broker, Watcher

from controller.config import parse
from controller.daemon import Daemon
from controller.energy import phase_switch, solar
from controller.energy.phase_switch import SwitchState
from controller.energy.solar import SolarMode, SolarRules, SolarState
from controller.safety.process import open_board
from sim.house import CLOUDY, Cloud, SolarDay

REPO = Path(__file__).resolve().parents[2]
FUSE_A = 35.0
EV = {"max_current_a": 32.0, "phases": 3, "battery_kwh": 200.0, "soc": 0.1}
CONFIG = """
[station]
charge_point_id = "wb-bench"
[board]
type = "sim"
ev_reaction_s = 1.0
[[connector]]
id = 1
max_current_a = 16
[[connector]]
id = 2
max_current_a = 16
[charging]
authorize = "any"
[loop]
meter_interval_s = 0.5
[grid]
source = "meter"
main_fuse_a = 35
margin_a = 1
raise_delay_s = 2
[grid.meter]
[storage]
state_dir = "{state_dir}"
[api]
enabled = false
{mqtt}
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def until(predicate, within: float = 30.0, period: float = 0.01) -> float:
    """Poll a physical condition of the sim (nothing to wait on); the instant it held."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(period)
    return time.monotonic()


def grid_a(sim) -> float:
    return max(sim.read_grid().current_a)


def last_duty_change(sim) -> float:
    return max(log[-1][0] for log in (sim.pilot_log(1), sim.pilot_log(2)) if log)


async def overload_trials(daemon: Daemon, trials: int, rng: random.Random) -> list[float]:
    sim = daemon.board.simulation
    sim.set_house(load_a=[3.0, 3.0, 3.0])
    for connector in (1, 2):
        sim.plug_in(connector, **EV)
    full = 15.5  # room 35 - 1 - 3 = 31 A: 15.5 A each

    def at_full() -> bool:
        snaps = [sim.snapshot(c)["current_a"][0] for c in (1, 2)]
        return all(abs(a - full) < 0.1 for a in snaps)

    times = []
    for _ in range(trials):
        await until(at_full, 60.0)
        jump_at = last_duty_change(sim) + rng.uniform(0.0, 7.0)
        await asyncio.sleep(max(0.0, jump_at - time.monotonic()))
        sim.set_house(load_a=[23.0, 23.0, 23.0])
        start = time.monotonic()
        cleared = await until(lambda: grid_a(sim) <= FUSE_A, 30.0)
        times.append(cleared - start)
        sim.set_house(load_a=[3.0, 3.0, 3.0])
    return times


async def mqtt_rate(port: int, seconds: float) -> float:
    async with Watcher(port, ["evsed/wb-bench/#"]) as w:
        await asyncio.sleep(seconds)  # the measuring window itself
        return len(w.seen) * 60.0 / seconds


async def part_one(trials: int, mqtt_seconds: float, rng: random.Random) -> tuple[list[float], float | None]:
    broker = None
    with tempfile.TemporaryDirectory() as tmp:
        mqtt = ""
        if MOSQUITTO is not None:
            broker = Broker(Path(tmp) / "mosquitto")
            mqtt = f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n'
        config = parse(CONFIG.format(state_dir=Path(tmp) / "state", mqtt=mqtt), "bench-energy.toml")
        daemon = Daemon(config, open_board(config))
        await daemon.start()
        try:
            times = await overload_trials(daemon, trials, rng)
            rate = None
            if broker is not None:
                sim = daemon.board.simulation
                await until(lambda: all(abs(sim.snapshot(c)["current_a"][0] - 15.5) < 0.1 for c in (1, 2)), 60.0)
                rate = await mqtt_rate(broker.port, mqtt_seconds)
        finally:
            await daemon.stop()
            if broker is not None:
                broker.stop()
    return times, rate


def closings(contactor: list[tuple[float, bool]]) -> int:
    return sum(1 for _, closed in contactor if closed)


class Levels:
    """Counts charging starts: the solar level going from stopped to charging."""

    def __init__(self) -> None:
        self.level, self.starts = 0, 0

    def see(self, level: int) -> None:
        if self.level == 0 and level > 0:
            self.starts += 1
        self.level = level


async def bench_day() -> tuple[int, int]:
    """The daemon over the bench's compressed solar day: (starts, contactor closings)."""
    with tempfile.TemporaryDirectory() as tmp:
        text = (REPO / "sim" / "configs" / "bench-solar.toml").read_text()
        text = text.replace('state_dir = "/tmp/evsed-bench-solar"', f'state_dir = "{Path(tmp) / "state"}"')
        text = text.replace('listen = "127.0.0.1:8080"', "enabled = false")
        text = text.replace('authorize = "local"', 'authorize = "any"')
        config = parse(text, "bench-solar.toml")
        daemon = Daemon(config, open_board(config))
        await daemon.start()
        sim = daemon.board.simulation
        try:
            sim.set_house(load_a=[1.0, 1.0, 1.0])
            sim.plug_in(1, **EV)
            sim.set_house(solar={"peak_w": 9000.0, "day_s": 120.0, "cloudy": True})
            levels = Levels()

            def evening() -> bool:
                state = daemon.site.solar_states.get("1")
                levels.see(state.phases if state is not None else 0)
                return sim.house_snapshot()["day_fraction"] > 1.05

            await until(evening, 200.0, 0.1)
            return levels.starts, closings(sim.contactor_log(1))
        finally:
            await daemon.stop()


def engine_day(clouds: tuple[Cloud, ...], day_s: float = 12 * 3600.0) -> tuple[int, int]:
    """The engines with the default delays over a 12 h day, 1 s steps, an EV that follows at once:
    (starts, contactor closings)."""
    day = SolarDay(9000.0, day_s, 0.0, clouds)
    rules = SolarRules()
    state, switch = SolarState(), SwitchState(3)
    closed, t = False, 0.0
    contactor: list[tuple[float, bool]] = []
    levels = Levels()
    while t <= day_s:
        surplus = day.production_w(t) - 690.0  # export plus what the EV draws: production minus the house
        state, target = solar.step(rules, state, SolarMode.PV, surplus, (1, 3), 16.0, t)
        levels.see(state.phases)
        switch, out = phase_switch.step(switch, target.phases, not closed, 60.0, t)
        charging = bool(target.amps) and not out.hold_off
        if charging != closed:
            contactor.append((t, charging))
        closed = charging
        t += 1.0
    return levels.starts, closings(contactor)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--mqtt-seconds", type=float, default=60.0)
    args = parser.parse_args()
    rng = random.Random(17)
    times, rate = await part_one(args.trials, args.mqtt_seconds, rng)
    p50, p99 = statistics.median(times), percentile(times, 0.99)
    print(f"overload (house +20 A on a 35 A fuse, 2 EVs, 1 s EV reaction): {len(times)} trials, "
          f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(times):.2f} s")  # fmt: skip
    starts, closings = await bench_day()
    print(f"solar, the daemon over the bench day (120 s, 3 clouds, phase switch): {starts} starts, "
          f"{closings} contactor closings")  # fmt: skip
    sky = random.Random(5)
    clouds = tuple(Cloud(sky.uniform(0.05, 0.9), sky.uniform(0.005, 0.04), sky.uniform(0.3, 0.9)) for _ in range(15))
    days = {"3 clouds": engine_day(CLOUDY), "15 random clouds": engine_day(clouds), "clear": engine_day(())}
    for name, (s12, c12) in days.items():
        print(f"solar, the engines over a 12 h day ({name}), default delays: {s12} starts, {c12} contactor closings")
    if rate is None:
        print("mqtt: skipped, mosquitto is not installed")
    else:
        print(f"mqtt: {rate:.1f} messages per minute (default publish_interval_s, two EVs charging)")
    print(
        json.dumps(
            {
                "overload_p50_s": round(p50, 3),
                "overload_p99_s": round(p99, 3),
                "solar_day_starts": starts,
                "solar_day_closings": closings,
                "solar_12h_cloudy_starts": days["15 random clouds"][0],
                "solar_12h_cloudy_closings": days["15 random clouds"][1],
                "mqtt_msgs_per_min": round(rate, 1) if rate is not None else None,
            }
        )
    )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
