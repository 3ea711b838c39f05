"""Analog inputs: ADS1115 over I2C, MCP3202 / MCP3008 over SPI, and the thread that polls them.

Rules kept here:
- An ``Adc`` answers one question, ``volts(channel)``: the voltage at its input pin,
  single-ended against ground. What that voltage means (CP level, PP resistor) is the
  caller's calibration, never the ADC's.
- Conversions are slow next to a 5 ms real-time tick (an ADS1115 at 860 SPS needs
  1.2 ms per channel, a CP burst needs many), so ADCs are read only by an
  ``AdcPoller`` thread, one per chip. Consumers register a ``Probe`` and the real-time
  thread reads the probe's latest ``Sample`` with its timestamp, never the chip.
- A probe that fails keeps its old sample, which goes stale; staleness is how the
  consumer notices (the pilot reports state E). Failures are logged once per streak.
- Board libraries (``smbus2``, ``spidev``) are imported lazily when a chip is opened;
  a missing one is a ``ConfigError``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from hal.config import REQUIRED, ConfigError, ConfigSection
from hal.errors import HardwareError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Adc(Protocol):
    def volts(self, channel: int) -> float: ...

    def close(self) -> None: ...


def import_board_library(name: str, purpose: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(
            f"{purpose} needs the Python package {name!r}, which is not installed (install evsed with the 'pi' extra)"
        ) from exc


# -- ADS1115 -----------------------------------------------------------------------
ADS1115_RANGES_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256)  # PGA code = index
ADS1115_RATES_SPS = (8, 16, 32, 64, 128, 250, 475, 860)  # DR code = index
_CONVERSION_REG, _CONFIG_REG = 0x00, 0x01
_OS_START = 0x8000  # write: start a single conversion; read: 1 = idle (conversion done)
_MODE_SINGLE = 0x0100
_COMPARATOR_OFF = 0x0003


def ads1115_config_word(channel: int, range_v: float, rate_sps: int) -> int:
    """Single-shot, single-ended ``channel`` vs GND, comparator disabled."""
    mux = 0b100 | channel
    pga = ADS1115_RANGES_V.index(range_v)
    dr = ADS1115_RATES_SPS.index(rate_sps)
    return _OS_START | (mux << 12) | (pga << 9) | _MODE_SINGLE | (dr << 5) | _COMPARATOR_OFF


class Ads1115:
    """TI ADS1115, 16 bit, 4 channels. Registers are big-endian words (block reads)."""

    channels = 4

    def __init__(self, bus: Any, address: int = 0x48, range_v: float = 4.096, rate_sps: int = 860):
        self._bus = bus
        self._address = address
        self._range_v = range_v
        self._rate_sps = rate_sps
        self._conversion_s = 1.0 / rate_sps

    def volts(self, channel: int) -> float:
        word = ads1115_config_word(channel, self._range_v, self._rate_sps)
        try:
            self._bus.write_i2c_block_data(self._address, _CONFIG_REG, [word >> 8, word & 0xFF])
            deadline = time.monotonic() + 4 * self._conversion_s + 0.005
            while True:
                hi, _lo = self._bus.read_i2c_block_data(self._address, _CONFIG_REG, 2)
                if hi & 0x80:
                    break
                if time.monotonic() > deadline:
                    raise HardwareError(f"ADS1115 at 0x{self._address:02x}: conversion did not complete")
                time.sleep(self._conversion_s / 4)
            hi, lo = self._bus.read_i2c_block_data(self._address, _CONVERSION_REG, 2)
        except OSError as exc:
            raise HardwareError(f"ADS1115 at 0x{self._address:02x}: I2C error {exc}") from exc
        code = (hi << 8) | lo
        if code & 0x8000:
            code -= 0x10000
        return code * self._range_v / 32768

    def close(self) -> None:
        self._bus.close()


# -- MCP3x0x -----------------------------------------------------------------------
@dataclass(frozen=True)
class SpiAdcModel:
    channels: int
    bits: int
    command: int  # second byte: single-ended (and MSB-first) bits
    channel_shift: int  # where the channel number sits in the second byte


# Frames are [start=0x01, command | channel << shift, 0x00]; the reply's last 2 bytes hold the code.
SPI_ADC_MODELS: dict[str, SpiAdcModel] = {
    "mcp3202": SpiAdcModel(channels=2, bits=12, command=0xA0, channel_shift=6),
    "mcp3008": SpiAdcModel(channels=8, bits=10, command=0x80, channel_shift=4),
}


class SpiAdc:
    """Microchip MCP3202 / MCP3008: one 3-byte full-duplex frame per conversion."""

    def __init__(self, spi: Any, model: str, vref_v: float = 3.3):
        self._spi = spi
        self._model = SPI_ADC_MODELS[model]
        self.channels = self._model.channels
        self._vref_v = vref_v
        self._mask = (1 << (self._model.bits - 8)) - 1

    def volts(self, channel: int) -> float:
        m = self._model
        try:
            reply = self._spi.xfer2([0x01, m.command | (channel << m.channel_shift), 0x00])
        except OSError as exc:
            raise HardwareError(f"SPI ADC: transfer failed: {exc}") from exc
        code = ((reply[1] & self._mask) << 8) | reply[2]
        return code * self._vref_v / (1 << m.bits)

    def close(self) -> None:
        self._spi.close()


# -- configuration -----------------------------------------------------------------
ADC_KINDS = ("ads1115", *SPI_ADC_MODELS)


@dataclass(frozen=True)
class AdcSpec:
    """Which chip, where. Equal specs name the same chip, so its probes share one poller."""

    kind: str
    bus: int
    address: int  # I2C address (ads1115) or SPI chip select (mcp3x0x)
    range_v: float = 4.096
    rate_sps: int = 860
    vref_v: float = 3.3
    spi_hz: int = 1_000_000

    @property
    def channels(self) -> int:
        return Ads1115.channels if self.kind == "ads1115" else SPI_ADC_MODELS[self.kind].channels

    def read_channel(self, section: ConfigSection, key: str, default: Any = REQUIRED) -> Any:
        """A channel key, bounded by what this chip has."""
        return section.get_int(key, default, minval=0, maxval=self.channels - 1)


def read_adc_spec(section: ConfigSection) -> AdcSpec:
    kind = section.get_str("adc", choices=ADC_KINDS)
    if kind == "ads1115":
        range_v = section.get_float("range_v", 4.096)
        if range_v not in ADS1115_RANGES_V:
            raise section.error("range_v", range_v, f"expected one of {', '.join(map(str, ADS1115_RANGES_V))}")
        rate = section.get_int("rate_sps", 860)
        if rate not in ADS1115_RATES_SPS:
            raise section.error("rate_sps", rate, f"expected one of {', '.join(map(str, ADS1115_RATES_SPS))}")
        return AdcSpec(
            kind,
            bus=section.get_int("i2c_bus", 1, minval=0, maxval=255),
            address=section.get_int("address", 0x48, minval=0x48, maxval=0x4B),
            range_v=range_v,
            rate_sps=rate,
        )
    return AdcSpec(
        kind,
        bus=section.get_int("spi_bus", 0, minval=0, maxval=15),
        address=section.get_int("spi_device", 0, minval=0, maxval=15),
        vref_v=section.get_float("vref_v", 3.3, minval=1.0, maxval=5.5),
        spi_hz=section.get_int("spi_hz", 1_000_000, minval=10_000, maxval=3_600_000),
    )


def open_adc(spec: AdcSpec) -> Adc:
    if spec.kind == "ads1115":
        smbus2 = import_board_library("smbus2", "ADC 'ads1115'")
        try:
            bus = smbus2.SMBus(spec.bus)
        except OSError as exc:
            raise ConfigError(f"ADC 'ads1115': cannot open I2C bus {spec.bus} ({exc}); is I2C enabled?") from exc
        return Ads1115(bus, spec.address, spec.range_v, spec.rate_sps)
    spidev = import_board_library("spidev", f"ADC {spec.kind!r}")
    spi = spidev.SpiDev()
    try:
        spi.open(spec.bus, spec.address)
    except OSError as exc:
        raise ConfigError(f"ADC {spec.kind!r}: cannot open SPI {spec.bus}.{spec.address} ({exc})") from exc
    spi.max_speed_hz = spec.spi_hz
    spi.mode = 0
    return SpiAdc(spi, spec.kind, spec.vref_v)


# -- polling -----------------------------------------------------------------------
@dataclass(frozen=True)
class Sample(Generic[T]):
    value: T
    at: float  # time.monotonic() when measured


class Probe(Generic[T]):
    """One measurement the poller repeats; ``latest`` is replaced atomically, then ``on_sample``
    (if set) is called with the value on the poller's thread."""

    def __init__(self, name: str, measure: Callable[[], T]):
        self.name = name
        self.measure = measure
        self.latest: Sample[T] | None = None
        self.failing = False
        self.on_sample: Callable[[T], None] | None = None

    def fresh(self, max_age_s: float, now: float) -> Sample[T] | None:
        sample = self.latest
        return sample if sample is not None and now - sample.at <= max_age_s else None


class AdcPoller:
    """A daemon thread that runs every probe of one chip in turn, every ``interval_s``."""

    def __init__(self, adc: Adc, name: str, interval_s: float = 0.01):
        self.adc = adc
        self._name = name
        self._interval_s = interval_s
        self._probes: list[Probe[Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, name: str, measure: Callable[[], T]) -> Probe[T]:
        probe: Probe[T] = Probe(name, measure)
        self._probes.append(probe)
        return probe

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"adc-{self._name}", daemon=True)
        self._thread.start()

    def poll_once(self) -> None:
        for probe in self._probes:
            try:
                value = probe.measure()
            except Exception as exc:  # a sampling thread must outlive any one bad conversion
                if not probe.failing:
                    log.error("%s: %s failed: %r", self._name, probe.name, exc)
                probe.failing = True
                continue
            if probe.failing:
                log.info("%s: %s works again", self._name, probe.name)
            probe.failing = False
            probe.latest = Sample(value, time.monotonic())
            if probe.on_sample is not None:
                probe.on_sample(value)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self._interval_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        try:
            self.adc.close()
        except OSError:
            log.exception("%s: closing the ADC failed", self._name)
