"""When MeterValues are taken: clock-aligned instants (pure) and, end to end through the bench
CSMS, clock-aligned values for idle and charging connectors, StopTxnAlignedData, and a
MeterValueSampleInterval change that takes effect at once."""

from datetime import UTC, datetime

import pytest
from ocpp_bench import EV, Bench

from controller.aligned import next_aligned


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "interval", "due"),
    [
        ("2026-11-21T10:07:12", 900, "2026-11-21T10:15:00"),
        ("2026-11-21T10:15:00", 900, "2026-11-21T10:30:00"),  # strictly after: no double fire
        ("2026-11-21T23:59:58", 7, "2026-11-22T00:00:00"),  # 86400 % 7 != 0: restart at midnight
        ("2026-11-21T23:59:50", 7, "2026-11-21T23:59:54"),  # 12342 x 7 s = 86394 s
        ("2026-11-21T12:00:00", 86400, "2026-11-22T00:00:00"),
        ("2026-11-21T00:00:00.500", 1, "2026-11-21T00:00:01"),
    ],
)
def test_next_aligned_counts_from_midnight(now, interval, due):
    assert next_aligned(at(now), interval) == at(due)


ALIGNED = """
ClockAlignedDataInterval = 1
MeterValuesAlignedData = "Energy.Active.Import.Register,Current.Import"
StopTxnAlignedData = "Energy.Active.Import.Register"
"""


def clock_values(bench: Bench) -> list[dict]:
    return [
        p for p in bench.payloads("MeterValues") if p["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"
    ]


async def test_clock_aligned_values_idle_and_in_a_transaction_and_in_stop_transaction(csms, tmp_path):
    bench = Bench(csms, tmp_path, connectors=2, keys=ALIGNED)
    try:
        daemon = await bench.start()
        await bench.wait(lambda _c: {p["connectorId"] for p in clock_values(bench)} == {1, 2})
        idle = clock_values(bench)[0]
        assert "transactionId" not in idle
        stamp = idle["meterValue"][0]["timestamp"]
        assert stamp.endswith(".000Z"), "stamped with the aligned instant, not the moment of sending"
        assert {s["measurand"] for s in idle["meterValue"][0]["sampledValue"]} == {
            "Energy.Active.Import.Register",
            "Current.Import",
        }

        sim = daemon.board.simulation
        sim.plug_in(1, **EV)
        await bench.wait_status(1, "Preparing")
        sim.swipe("TAG1")
        await bench.wait_status(1, "Charging")
        seen = len(clock_values(bench))
        await bench.wait(lambda _c: any(p.get("transactionId") == 1 for p in clock_values(bench)[seen:]))
        sim.swipe("TAG1")
        await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
        data = bench.payloads("StopTransaction")[0]["transactionData"]
        contexts = [v["sampledValue"][0]["context"] for v in data]
        assert "Sample.Clock" in contexts, contexts
        clock_stamps = [v["timestamp"] for v in data if v["sampledValue"][0]["context"] == "Sample.Clock"]
        assert all(s.endswith(".000Z") for s in clock_stamps)
        assert bench.csms.callerrors == 0
    finally:
        await bench.stop()


async def test_changing_the_sample_interval_reschedules_at_once(bench):
    daemon = await bench.start()  # MeterValueSampleInterval = 1
    sim = daemon.board.simulation
    sim.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    sim.swipe("TAG1")
    await bench.wait(lambda c: c.received["MeterValues"] >= 1)
    assert (await bench.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "3600"})) == {
        "status": "Accepted"
    }
    quiet = bench.csms.received["MeterValues"]
    assert (await bench.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"})) == {
        "status": "Accepted"
    }
    # Without re-scheduling the sampler would sleep out the hour it started before this change.
    await bench.wait(lambda c: c.received["MeterValues"] >= quiet + 1)
    assert bench.payloads("MeterValues")[-1]["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Periodic"
