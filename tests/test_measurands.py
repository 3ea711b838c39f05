"""controller.measurands: what each measurand reads, per phase, and what is left out."""

from __future__ import annotations

from controller.measurands import Sample, samples, supported
from hal.types import MeterReading

READING = MeterReading(voltage_v=(230.0, 231.0, 229.5), current_a=(16.0, 15.5, 0.0), power_w=7000.0,
                       energy_import_wh=1234.5, frequency_hz=50.02)  # fmt: skip


def test_per_phase_values_carry_their_phase_and_a_selector_picks_one() -> None:
    assert samples(["Current.Import"], READING, None) == [
        Sample("Current.Import", 16.0, "A", "Outlet", "L1"),
        Sample("Current.Import", 15.5, "A", "Outlet", "L2"),
        Sample("Current.Import", 0.0, "A", "Outlet", "L3"),
    ]
    assert samples(["Voltage.L2"], READING, None) == [Sample("Voltage", 231.0, "V", "Outlet", "L2-N")]


def test_what_cannot_be_measured_is_left_out_never_zero() -> None:
    assert samples(["Energy.Active.Import.Register", "Current.Offered"], None, None) == []
    assert samples(["Energy.Active.Export.Register", "Temperature", "No.Such.Thing"], READING, None) == []
    assert samples(["Frequency", "Power.Active.Import"], READING, None) == [
        Sample("Frequency", 50.02, "Hz", "Outlet"),
        Sample("Power.Active.Import", 7000.0, "W", "Outlet"),
    ]


def test_supported_lists_every_measurand_and_the_phase_selectors() -> None:
    names = supported()
    assert "Energy.Active.Import.Register" in names and "Voltage.L3" in names and "Current.Import.L1" in names
    assert "Power.Active.Import.L1" not in names  # a total, not per phase
