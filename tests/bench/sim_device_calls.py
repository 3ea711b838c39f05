"""Cost of one simulated-board device call, alone and with a second thread contending.

The real-time loop calls the pilot every 5 ms, so a device call must stay in the tens of
microseconds. Runs the sim board with a charging EV on the real monotonic clock.
Prints one line per figure, then a JSON summary as the last line.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable

from hal.board import Board, ConnectorSlot
from hal.config import ConfigSection
from hal.types import PilotCommand
from sim.board import build_board

CALLS = 20_000


def per_call_us(fn: Callable[[], object], calls: int = CALLS) -> tuple[float, float]:
    """(median, 99th percentile) of single-call wall time in microseconds."""
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return statistics.median(samples) / 1000.0, samples[int(len(samples) * 0.99)] / 1000.0


def contended_pilot_read_us(board: Board, pause_s: float) -> tuple[float, float]:
    sim, hw = board.simulation, board.connector(1)
    assert sim is not None
    stop = threading.Event()

    def contend() -> None:
        while not stop.wait(pause_s):
            hw.meter.read()
            sim.snapshot(1)

    other = threading.Thread(target=contend)
    other.start()
    try:
        return per_call_us(hw.pilot.read)
    finally:
        stop.set()
        other.join()


def main() -> None:
    slots = [ConnectorSlot(i, 3, 32.0, ConfigSection("bench", f"connector[{i}]", {}, {})) for i in (1, 2)]
    board = build_board(ConfigSection("bench", "board", {"ev_reaction_s": 0.0}, {}), slots)
    assert board.simulation is not None
    board.simulation.plug_in(1, 32, 3, 60, 0.2)
    hw = board.connector(1)
    hw.pilot.command(PilotCommand.pwm(50.0))
    hw.contactor.set_closed(True)

    results: dict[str, float] = {}
    calls: dict[str, Callable[[], object]] = {
        "pilot_read": hw.pilot.read,
        "pilot_command": lambda: hw.pilot.command(PilotCommand.pwm(50.0)),
        "contactor_set": lambda: hw.contactor.set_closed(True),
        "meter_read": hw.meter.read,
    }
    for name, fn in calls.items():
        median, p99 = per_call_us(fn)
        results[f"{name}_median_us"], results[f"{name}_p99_us"] = median, p99
        print(f"{name:20s} median {median:6.2f} us   p99 {p99:6.2f} us")

    # Other threads calling the world as the daemon's worker and bench threads do: paced at
    # 1 kHz (already far busier than a 1 s meter poll) and flat out (the worst case, where
    # a GIL switch while the other thread holds the world lock shows up in the tail).
    for label, pause_s in (("paced", 0.001), ("flat_out", 0.0)):
        median, p99 = contended_pilot_read_us(board, pause_s)
        results[f"pilot_read_{label}_median_us"], results[f"pilot_read_{label}_p99_us"] = median, p99
        print(f"{'pilot_read+' + label:20s} median {median:6.2f} us   p99 {p99:6.2f} us")
    board.close()
    print(json.dumps({"bench": "sim_device_calls", "calls": CALLS, **{k: round(v, 2) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
