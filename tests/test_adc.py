"""ADS1115 at the smbus2 boundary, MCP3202/MCP3008 at the spidev boundary, the poller thread."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
from hwfakes import FakeAds1115Bus, FakeSpiDev, wait_until

from drivers.adc import AdcPoller, AdcSpec, Ads1115, SpiAdc, ads1115_config_word, open_adc, read_adc_spec
from hal.config import ConfigError, ConfigSection
from hal.errors import HardwareError


def section(table: dict) -> ConfigSection:
    return ConfigSection("test.toml", "connector.pilot", table, {})


def test_ads1115_config_word_bits():
    # OS=1, MUX=AIN2 (110), PGA=4.096 (001), MODE=single, DR=860 (111), comparator off (11)
    assert ads1115_config_word(2, 4.096, 860) == 0b1_110_001_1_111_0_0_0_11
    assert ads1115_config_word(0, 6.144, 128) == 0b1_100_000_1_100_0_0_0_11


def test_ads1115_reads_each_channel_with_the_configured_range():
    bus = FakeAds1115Bus(address=0x49, volts={0: 1.5, 1: 3.0, 2: -0.5, 3: 0.0})
    adc = Ads1115(bus, 0x49, range_v=4.096, rate_sps=860)
    assert adc.volts(0) == pytest.approx(1.5, abs=2e-4)
    assert adc.volts(1) == pytest.approx(3.0, abs=2e-4)
    assert adc.volts(2) == pytest.approx(-0.5, abs=2e-4)
    assert [(w >> 12) & 7 for w in bus.config_writes] == [4, 5, 6]
    assert all((w >> 9) & 7 == 1 for w in bus.config_writes)


def test_ads1115_wrong_address_is_a_hardware_error():
    adc = Ads1115(FakeAds1115Bus(address=0x48), 0x4A)
    with pytest.raises(HardwareError, match="0x4a"):
        adc.volts(0)


@pytest.mark.parametrize(("model", "channel", "volts", "bits"), [("mcp3202", 1, 2.0, 12), ("mcp3008", 5, 1.1, 10)])
def test_spi_adc_frames_and_codes(model, channel, volts, bits):
    spi = FakeSpiDev(model, vref=3.3)
    spi.open(0, 0)
    spi.volts[channel] = volts
    adc = SpiAdc(spi, model, vref_v=3.3)
    assert adc.volts(channel) == pytest.approx(volts, abs=3.3 / (1 << bits))
    expected_second = {"mcp3202": 0xA0 | (channel << 6), "mcp3008": 0x80 | (channel << 4)}[model]
    assert spi.frames == [[0x01, expected_second, 0x00]]


def test_spec_from_config_and_bad_values():
    spec = read_adc_spec(section({"adc": "ads1115", "i2c_bus": 1, "address": 0x49, "range_v": 6.144}))
    assert spec == AdcSpec("ads1115", 1, 0x49, 6.144, 860)
    with pytest.raises(ConfigError, match=r"range_v = 5\.0"):
        read_adc_spec(section({"adc": "ads1115", "range_v": 5.0}))
    with pytest.raises(ConfigError, match="address = 32"):
        read_adc_spec(section({"adc": "ads1115", "address": 0x20}))
    with pytest.raises(ConfigError, match="expected one of"):
        read_adc_spec(section({"adc": "ads1015"}))
    spec = read_adc_spec(section({"adc": "mcp3008", "spi_device": 1}))
    assert spec.channels == 8
    with pytest.raises(ConfigError, match="channel = 8"):
        spec.read_channel(section({"channel": 8}), "channel")


def test_open_adc_uses_the_smbus2_and_spidev_modules(monkeypatch):
    bus = FakeAds1115Bus(volts={0: 0.25, 1: 0, 2: 0, 3: 0})
    opened: list[int] = []
    monkeypatch.setitem(sys.modules, "smbus2", SimpleNamespace(SMBus=lambda n: opened.append(n) or bus))
    adc = open_adc(AdcSpec("ads1115", 3, 0x48))
    assert opened == [3] and adc.volts(0) == pytest.approx(0.25, abs=2e-4)
    spi = FakeSpiDev("mcp3202")
    monkeypatch.setitem(sys.modules, "spidev", SimpleNamespace(SpiDev=lambda: spi))
    open_adc(AdcSpec("mcp3202", 0, 1, spi_hz=500_000))
    assert spi.opened == (0, 1) and spi.max_speed_hz == 500_000 and spi.mode == 0
    monkeypatch.setitem(sys.modules, "spidev", None)  # import fails like a missing package
    with pytest.raises(ConfigError, match=r"'spidev'.*not installed"):
        open_adc(AdcSpec("mcp3008", 0, 0))


def test_poller_publishes_samples_and_survives_a_failing_probe():
    spi = FakeSpiDev("mcp3202")
    spi.open(0, 0)
    spi.volts[0] = 1.0
    poller = AdcPoller(SpiAdc(spi, "mcp3202"), "test", interval_s=0.001)
    good = poller.add("cp", lambda: poller.adc.volts(0))

    def broken() -> float:
        raise HardwareError("no reply")

    bad = poller.add("pp", broken)
    poller.start()
    try:
        wait_until(lambda: good.latest is not None and bad.failing)
        assert good.latest.value == pytest.approx(1.0, abs=1e-3)
        assert bad.latest is None and bad.failing
        first = good.latest.at
        wait_until(lambda: good.latest.at > first)  # keeps sampling
        assert good.fresh(max_age_s=-1.0, now=good.latest.at) is None  # older than allowed
    finally:
        poller.close()
    assert spi.opened is None
