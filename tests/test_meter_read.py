"""Every model, over Modbus TCP on loopback and RTU through a pty pair, reads back what the emulator holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drivers.meter_maps import MAPS
from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from drivers.modbus_meter import ModbusMeter
from hal.config import ConfigSection
from hal.interfaces import Meter
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues

# Values every map can represent exactly at its resolution (CG: 0.1 V, 0.1 W, 100 Wh; ABB: 0.01 A).
VALUES = MeterValues(
    voltage_v=(230.1, 231.2, 228.9),
    current_a=(16.12, 15.5, 14.88),
    power_w=10_987.5,
    energy_import_wh=1_234_500.0,
    energy_export_wh=6_700.0,
    frequency_hz=49.9,
    serial_number="20231234",
)


def section(table: dict[str, object]) -> ConfigSection:
    return ConfigSection("test.toml", "connector[0].meter", table, {})


@pytest.fixture
def pool() -> Iterator[BusPool]:
    p = BusPool()
    yield p
    p.close()


@pytest.mark.parametrize("transport", ["tcp", "rtu"])
@pytest.mark.parametrize("model", sorted(MAPS))
def test_reads_back_the_values_set(model: str, transport: str, pool: BusPool) -> None:
    meter_map = MAPS[model]
    emulated = EmulatedMeter(model, unit=7, values=VALUES)
    # Linux ptys cannot carry parity (see sim.meter_emulator.NullModem): line settings other than parity.
    with EmulatedBus([emulated], transport, baudrate=19200, stopbits=2) as bus:
        cfg = section({"model": model, "unit": 7, "timeout_s": 0.5, **bus.keys})
        meter = build_meter(cfg, pool)
        cfg.check_unused()
        assert isinstance(meter, Meter)
        reading = meter.read()

    n = meter_map.phases
    assert reading.voltage_v == pytest.approx(VALUES.voltage_v[:n], rel=1e-6)
    assert reading.current_a == pytest.approx(VALUES.current_a[:n], rel=1e-6)
    assert reading.power_w == pytest.approx(VALUES.power_w, rel=1e-6)
    assert reading.energy_import_wh == pytest.approx(VALUES.energy_import_wh, rel=1e-6)
    assert reading.energy_export_wh == pytest.approx(VALUES.energy_export_wh, rel=1e-6)
    assert reading.frequency_hz == pytest.approx(VALUES.frequency_hz, rel=1e-6)
    assert reading.serial_number == "20231234"
    # One request per planned block plus the serial number, each within the model's limit.
    assert len(emulated.requests) == len(meter._plan) + 1  # type: ignore[attr-defined]
    assert all(count <= meter_map.max_registers for _, _, count in emulated.requests)


def test_values_follow_the_meter_and_serial_is_read_once(pool: BusPool) -> None:
    emulated = EmulatedMeter("sdm630", values=VALUES)
    with EmulatedBus([emulated]) as bus:
        meter = build_meter(section({"model": "sdm630", **bus.keys}), pool)
        assert meter.read().power_w == pytest.approx(10_987.5)
        emulated.set(power_w=3_000.0, energy_import_wh=1_300_000.0)
        second = meter.read()
    assert second.power_w == pytest.approx(3_000.0)
    assert second.energy_import_wh == pytest.approx(1_300_000.0)
    assert second.serial_number == "20231234"
    assert [r for r in emulated.requests if r[1] == 0xFC00] == [(3, 0xFC00, 2)]


def test_serial_number_absent_is_none_not_a_failure(pool: BusPool) -> None:
    emulated = EmulatedMeter("sdm120", values=VALUES)
    with EmulatedBus([emulated]) as bus:
        meter = build_meter(section({"model": "sdm120", **bus.keys}), pool)
        assert isinstance(meter, ModbusMeter)
        # A meter whose firmware lacks the serial register answers "illegal address".
        meter._serial_register = meter._serial_register.__class__("serial", 3, 0xFD00, "uint32")  # type: ignore[union-attr]
        reading = meter.read()
    assert reading.serial_number is None
    assert reading.voltage_v == pytest.approx((230.1,))
