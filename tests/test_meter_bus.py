"""The shared bus: one client per wire, serialised across threads, and config errors that name the key."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from hal.config import ConfigError, ConfigSection
from sim.meter_emulator import EmulatedBus, EmulatedMeter, MeterValues


def section(table: dict[str, Any], name: str = "connector[0].meter") -> ConfigSection:
    return ConfigSection("test.toml", name, table, {})


@pytest.fixture
def pool() -> Iterator[BusPool]:
    p = BusPool()
    yield p
    p.close()


def test_two_meters_on_one_rs485_line_from_two_threads(pool: BusPool) -> None:
    three_phase = EmulatedMeter("sdm630", unit=1, values=MeterValues(power_w=11_000.0))
    one_phase = EmulatedMeter("sdm120", unit=2, values=MeterValues(voltage_v=(240.0,), power_w=3_600.0))
    with EmulatedBus([three_phase, one_phase], "rtu") as bus:
        a = build_meter(section({"model": "sdm630", "unit": 1, **bus.keys}), pool)
        b = build_meter(section({"model": "sdm120", "unit": 2, **bus.keys}, "connector[1].meter"), pool)
        assert a.device.bus is b.device.bus  # type: ignore[attr-defined]
        results: dict[str, list[float]] = {"a": [], "b": []}
        errors: list[BaseException] = []

        def poll(name: str, meter: Any) -> None:
            try:
                for _ in range(25):
                    results[name].append(meter.read().power_w)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=poll, args=(n, m)) for n, m in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert results == {"a": [11_000.0] * 25, "b": [3_600.0] * 25}


def test_a_holder_of_the_bus_lock_keeps_others_off_the_wire(pool: BusPool) -> None:
    with EmulatedBus([EmulatedMeter("sdm630")], "tcp") as bus:
        meter = build_meter(section({"model": "sdm630", **bus.keys}), pool)
        lock = meter.device.bus.lock  # type: ignore[attr-defined]
        done = threading.Event()
        with lock:
            worker = threading.Thread(target=lambda: (meter.read(), done.set()))
            worker.start()
            assert not done.wait(0.2)  # blocked on the lock, not on the meter
            meter.read()  # re-entrant: the holder may transact itself
        assert done.wait(5)
        worker.join()


def test_devices_on_one_path_share_a_bus_even_through_a_symlink(pool: BusPool, tmp_path: Path) -> None:
    link = tmp_path / "ttyMeter"
    os.symlink("/dev/null", link)
    first = pool.bus(section({"serial": "/dev/null"}))
    assert pool.bus(section({"serial": str(link)})) is first
    tcp = pool.bus(section({"host": "127.0.0.1", "port": 1502}))
    assert pool.bus(section({"host": "127.0.0.1", "port": 1502})) is tcp
    assert pool.bus(section({"host": "127.0.0.1", "port": 1503})) is not tcp


def test_mismatched_line_settings_on_one_path_name_both_devices(pool: BusPool) -> None:
    pool.bus(section({"serial": "/dev/null", "baudrate": 9600}, "connector[0].meter"))
    with pytest.raises(ConfigError) as err:
        pool.bus(section({"serial": "/dev/null", "baudrate": 19200, "parity": "E"}, "connector[1].meter"))
    text = str(err.value)
    assert "[connector[0].meter]" in text and "[connector[1].meter]" in text
    assert "19200" in text and "9600" in text


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"model": "sdm999", "host": "h"}, "model = 'sdm999': expected one of"),
        ({"model": "sdm630", "serial": "/dev/null", "parity": "X"}, "parity = 'X': expected one of 'N', 'E', 'O'"),
        ({"model": "sdm630", "serial": "/dev/null", "baudrate": 1234}, "baudrate = 1234: expected one of"),
        ({"model": "sdm630", "serial": "/dev/null", "stopbits": 3}, "stopbits = 3: expected at most 2"),
        ({"model": "sdm630", "serial": "/dev/null", "unit": 0}, "unit = 0: expected at least 1"),
        ({"model": "sdm630", "serial": "/dev/null", "timeout_s": 60}, "timeout_s = 60: expected at most 10"),
        ({"model": "sdm630", "serial": "/dev/null", "retries": -1}, "retries = -1: expected at least 0"),
        ({"model": "sdm630", "host": "h", "port": 70000}, "port = 70000: expected at most 65535"),
        ({"model": "sdm630", "host": "h", "baudrate": 9600}, "baudrate = 9600: only meaningful with 'serial'"),
        ({"model": "sdm630", "serial": "/dev/null", "port": 502}, "port = 502: only meaningful with 'host'"),
        ({"model": "sdm630", "serial": "/dev/null", "host": "h"}, "needs exactly one of 'serial'"),
        ({"model": "sdm630"}, "needs exactly one of 'serial'"),
    ],
)
def test_bad_config_is_a_clear_error(table: dict[str, Any], message: str, pool: BusPool) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        build_meter(section(table), pool)
    assert str(err.value).startswith("test.toml: [connector[0].meter]")


def test_unknown_key_is_rejected_by_check_unused(pool: BusPool) -> None:
    cfg = section({"model": "sdm630", "host": "127.0.0.1", "unti": 3})
    build_meter(cfg, pool)
    with pytest.raises(ConfigError, match=r"\[connector\[0\]\.meter\] unti = 3: unknown key"):
        cfg.check_unused()
