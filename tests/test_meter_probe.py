"""``evsed probe meter`` finds the model and unit on an emulated bus and prints config that works."""

from __future__ import annotations

import tomllib

import pytest

from drivers.meter_maps import MAPS
from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from drivers.probe import families, probe_main
from hal.config import ConfigSection
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues


def indistinguishable(model: str) -> set[str]:
    family = next(f for f in families() if any(m.model == model for m in f))
    return {m.model for m in family if m.identity is None} if MAPS[model].identity is None else {model}


@pytest.mark.parametrize("model", sorted(MAPS))
def test_probe_names_each_model_over_tcp_and_its_snippet_works(model: str, capsys: pytest.CaptureFixture[str]) -> None:
    emulated = EmulatedMeter(model, unit=4, values=MeterValues(voltage_v=(229.5, 230.5, 231.5), power_w=1_000.0))
    with EmulatedBus([emulated]) as bus:
        rc = probe_main(
            ["meter", "--host", "127.0.0.1", "--tcp-port", str(bus.port), "--units", "3-5", "--timeout", "0.1"]
        )
        out = capsys.readouterr().out
        assert rc == 0, out
        table = tomllib.loads(out)["connector"]["meter"]
        assert table["unit"] == 4
        assert table["model"] in indistinguishable(model)
        assert model in out
        pool = BusPool()
        try:
            reading = build_meter(ConfigSection("probe.toml", "connector.meter", table, {}), pool).read()
        finally:
            pool.close()
    assert reading.power_w == pytest.approx(1_000.0)


def test_probe_scans_baud_rates_and_units_on_an_rs485_line(capsys: pytest.CaptureFixture[str]) -> None:
    meters = [EmulatedMeter("sdm630", unit=2), EmulatedMeter("abb_b24", unit=3)]
    with EmulatedBus(meters, "rtu", baudrate=19200) as bus:
        argv = ["meter", "--port", bus.keys["serial"], "--bauds", "9600,19200", "--parities", "N"]
        rc = probe_main([*argv, "--units", "1-4", "--timeout", "0.1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    snippets = [tomllib.loads(part)["connector"]["meter"] for part in out.split("\n\n")]
    assert [(s["model"], s["unit"], s["baudrate"]) for s in snippets] == [("sdm630", 2, 19200), ("abb_b24", 3, 19200)]
    assert "cannot tell it from: sdm72d" in out


def test_probe_reports_nothing_found(capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatedBus([EmulatedMeter("sdm120", unit=9)]) as bus:
        rc = probe_main(["meter", "--host", "127.0.0.1", "--tcp-port", str(bus.port), "--units", "1-2"])
    assert rc == 1
    assert "no meter found" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["meter"], ["meter", "--port", "/dev/null", "--bauds", "1234"], ["meter", "--host", "h", "--units", "0-3"], []],
)
def test_probe_rejects_bad_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert probe_main(argv) == 2
    assert "error" in capsys.readouterr().err
