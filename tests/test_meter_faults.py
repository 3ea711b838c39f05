"""A meter that goes silent, answers exceptions or garbage, or reports nonsense: MeterError, then recovery."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from drivers.modbus_meter import ComplaintLog
from hal.config import ConfigSection
from hal.errors import MeterError
from hal.interfaces import Meter
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

TIMEOUT_S = 0.2
RETRIES = 2


@pytest.fixture
def pool() -> Iterator[BusPool]:
    p = BusPool()
    yield p
    p.close()


def meter_on(bus: EmulatedBus, pool: BusPool, model: str) -> Meter:
    cfg = {"model": model, "timeout_s": TIMEOUT_S, "retries": RETRIES, **bus.keys}
    return build_meter(ConfigSection("test.toml", "connector[0].meter", cfg, {}), pool)


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_silent_meter_is_retried_then_fails_within_its_budget(transport: str, pool: BusPool) -> None:
    emulated = EmulatedMeter("sdm630")
    with EmulatedBus([emulated], transport) as bus:
        meter = meter_on(bus, pool, "sdm630")
        meter.read()
        emulated.requests.clear()
        emulated.mode = "silent"
        start = time.monotonic()
        with pytest.raises(MeterError, match="no answer"):
            meter.read()
        elapsed = time.monotonic() - start
    assert len(emulated.requests) == RETRIES + 1  # the emulator saw every attempt
    assert TIMEOUT_S * (RETRIES + 1) * 0.9 <= elapsed <= TIMEOUT_S * (RETRIES + 1) + 0.5


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_exception_reply_fails_at_once(transport: str, pool: BusPool) -> None:
    emulated = EmulatedMeter("abb_b23", mode="exception")
    with EmulatedBus([emulated], transport) as bus:
        meter = meter_on(bus, pool, "abb_b23")
        with pytest.raises(MeterError, match="Modbus exception 4"):
            meter.read()


@pytest.mark.parametrize(
    ("transport", "mode"), [("tcp", "short"), ("rtu", "short"), ("tcp", "bad_crc"), ("rtu", "bad_crc")]
)
def test_garbage_is_retried_then_fails_and_the_next_good_reply_is_used(
    transport: str, mode: str, pool: BusPool
) -> None:
    emulated = EmulatedMeter("em24", values=MeterValues(power_w=4_600.0))
    with EmulatedBus([emulated], transport) as bus:
        meter = meter_on(bus, pool, "em24")
        emulated.mode = mode
        with pytest.raises(MeterError):
            meter.read()
        assert len(emulated.requests) == RETRIES + 1
        emulated.mode = "ok"
        assert meter.read().power_w == pytest.approx(4_600.0)


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
def test_recovers_by_itself_when_the_link_comes_back(transport: str, pool: BusPool) -> None:
    emulated = EmulatedMeter("orno_we517", values=MeterValues(energy_import_wh=5_000.0))
    with EmulatedBus([emulated], transport) as bus:
        meter = meter_on(bus, pool, "orno_we517")
        meter.read()
        bus.cut()
        for _ in range(2):
            with pytest.raises(MeterError):
                meter.read()
        emulated.set(energy_import_wh=5_500.0)
        bus.restore()
        assert meter.read().energy_import_wh == pytest.approx(5_500.0)


def test_energy_going_backwards_is_rejected_until_it_is_sane_again(
    pool: BusPool, caplog: pytest.LogCaptureFixture
) -> None:
    emulated = EmulatedMeter("sdm630", values=MeterValues(energy_import_wh=10_000.0, energy_export_wh=500.0))
    with EmulatedBus([emulated]) as bus:
        meter = meter_on(bus, pool, "sdm630")
        meter.read()
        emulated.set(energy_import_wh=9_000.0)
        with pytest.raises(MeterError, match="energy_import went backwards"):
            meter.read()
        emulated.set(energy_import_wh=10_000.0, energy_export_wh=400.0)
        with pytest.raises(MeterError, match="energy_export went backwards"):
            meter.read()
        emulated.set(energy_import_wh=10_001.0, energy_export_wh=500.0)
        assert meter.read().energy_import_wh == pytest.approx(10_001.0)
    assert "rejected reading" in caplog.text


@pytest.mark.parametrize(
    ("model", "values", "message"),
    [
        ("sdm630", MeterValues(voltage_v=(230.0, 1_000.0, 230.0)), "voltage_l2 = 1000 outside"),
        ("sdm630", MeterValues(current_a=(0.0, 0.0, 900.0)), "current_l3 = 900 outside"),
        ("sdm120", MeterValues(power_w=1e9), "power = 1e\\+09 outside"),
        ("sdm630", MeterValues(voltage_v=(float("nan"), 230.0, 230.0)), "voltage_l1 = nan is not a number"),
        ("sdm630", MeterValues(power_w=float("inf")), "power = inf is not a number"),
        ("orno_we516", MeterValues(frequency_hz=400.0), "frequency = 400 outside"),
        ("abb_b23", MeterValues(unavailable=frozenset({"voltage_l1"})), "voltage_l1 reported as not available"),
        ("abb_b24", MeterValues(unavailable=frozenset({"energy_import"})), "energy_import reported as not available"),
    ],
)
def test_implausible_readings_are_never_returned(model: str, values: MeterValues, message: str, pool: BusPool) -> None:
    with EmulatedBus([EmulatedMeter(model, values=values)]) as bus, pytest.raises(MeterError, match=message):
        meter_on(bus, pool, model).read()


def test_optional_quantity_not_available_reads_as_none(pool: BusPool) -> None:
    values = MeterValues(unavailable=frozenset({"energy_export", "frequency"}), energy_import_wh=100.0)
    with EmulatedBus([EmulatedMeter("abb_b23", values=values)]) as bus:
        reading = meter_on(bus, pool, "abb_b23").read()
    assert reading.energy_export_wh is None and reading.frequency_hz is None
    assert reading.energy_import_wh == pytest.approx(100.0)


def test_complaints_are_rate_limited_and_recovery_is_told_once(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    complaints = ComplaintLog("sdm630 at test", interval_s=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="drivers.modbus_meter"):
        for _ in range(100):
            complaints.failed("link", "no answer")
            now[0] += 1.0
        complaints.failed("implausible", "voltage")  # another kind has its own budget
        complaints.failed("link", "no answer")  # 40 s after the last link report: held back
        complaints.succeeded()
        complaints.succeeded()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "meter sdm630 at test: no answer",
        "meter sdm630 at test: no answer (59 more since last report)",
        "meter sdm630 at test: voltage",
    ]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert infos == ["meter sdm630 at test: sound reading again after 102 failed reads"]
