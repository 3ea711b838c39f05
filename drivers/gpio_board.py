"""``[board] type = "gpio"``: a Pi (or any Linux SBC) with GPIO, kernel PWM, an ADC and Modbus meters.

Rules kept here:
- ``[board]`` keys: ``gpio`` (backend name, drivers.gpio), ``chip`` (gpiod chip path),
  ``pwm_sysfs`` (the sysfs PWM class directory), ``adc_interval_s`` (poll period of
  every ADC thread). Each ``[[connector]]`` needs ``pilot``, ``contactor`` and
  ``meter`` tables; ``rcd``, ``lock``, ``cable`` and ``leds`` are optional; ``[board.display]``
  is the driver's LCD (drivers/hd44780.py), optional.
- One ADC chip -> one poller thread, whoever uses its channels (pilot, PP). Two
  tables naming the same chip with different settings is a config error.
- Shared resources (ADC pollers, Modbus buses, the GPIO backend) close after every
  device, pollers first so no thread touches a closed chip. A build that fails half-way
  closes what it already built, so the outputs are left safe.
- Threads start only once the whole board is built. A dry build (plain ``evsed check``)
  opens nothing and starts nothing: drivers.dry_run stands in for the chip, ADCs and PWM.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from drivers.adc import Adc, AdcPoller, AdcSpec, open_adc
from drivers.devices import build_cable, build_contactor, build_leds, build_lock, build_rcd
from drivers.dry_run import BookedLines, UnopenedAdc, unopened_pwm
from drivers.gpio import GPIO_BACKENDS, GpioBackend, open_backend
from drivers.hd44780 import build_display
from drivers.meters import build_meter
from drivers.modbus_bus import BusPool
from drivers.pilot import build_pilot
from drivers.pwm import SYSFS_PWM, PwmOpener, sysfs_opener
from hal.board import Board, ConnectorHardware, ConnectorSlot
from hal.config import ConfigError, ConfigSection

log = logging.getLogger(__name__)


class AdcPollers:
    """The board's ADC chips, each opened once, keyed by where it sits."""

    def __init__(self, interval_s: float, open_chip: Callable[[AdcSpec], Adc] = open_adc):
        self._interval_s = interval_s
        self._open_chip = open_chip
        self._pollers: dict[tuple[str, int, int], tuple[AdcSpec, AdcPoller]] = {}

    def __call__(self, spec: AdcSpec) -> AdcPoller:
        where = (spec.kind, spec.bus, spec.address)
        if where in self._pollers:
            known, poller = self._pollers[where]
            if known != spec:
                raise ConfigError(
                    f"ADC {spec.kind} on bus {spec.bus} at {spec.address:#x} is configured twice with different "
                    f"settings ({known} vs {spec}): one chip has one configuration"
                )
            return poller
        poller = AdcPoller(self._open_chip(spec), f"{spec.kind}-{spec.bus}-{spec.address:#x}", self._interval_s)
        self._pollers[where] = (spec, poller)
        return poller

    def start(self) -> None:
        for _, poller in self._pollers.values():
            poller.start()

    def close(self) -> None:
        for _, poller in self._pollers.values():
            poller.close()


def build_board(
    section: ConfigSection,
    slots: Sequence[ConnectorSlot],
    *,
    grid_meter: ConfigSection | None = None,
    dry_run: bool = False,
) -> Board:
    gpio = section.get_str("gpio", "gpiod", choices=sorted(GPIO_BACKENDS))
    chip = section.get_str("chip", "/dev/gpiochip0", min_length=1)
    pwm_root = Path(section.get_str("pwm_sysfs", str(SYSFS_PWM), min_length=1))
    adc_interval_s = section.get_float("adc_interval_s", 0.005, minval=0.001, maxval=1.0)
    if dry_run:
        backend: GpioBackend = BookedLines(chip)
        pollers = AdcPollers(adc_interval_s, lambda spec: UnopenedAdc())
        open_pwm: PwmOpener = unopened_pwm
    else:
        backend = open_backend(gpio, chip)
        pollers = AdcPollers(adc_interval_s)
        open_pwm = sysfs_opener(pwm_root)
    pool = BusPool()
    board = Board("gpio", [])
    for closer in (pollers.close, pool.close, backend.close):
        board.on_close(closer)
    try:
        for slot in slots:
            board.connectors.append(build_connector(slot, backend, pollers, open_pwm, pool))
        if grid_meter is not None:  # the house connection's meter may share a connector meter's bus
            board.grid_meter = build_meter(grid_meter, pool, phase_power=True)
        if section.has_section("display"):
            board.display = build_display(section.section("display"), dry_run)
    except BaseException:
        board.close()
        raise
    if not dry_run:
        pollers.start()
    return board


def build_connector(
    slot: ConnectorSlot, backend: GpioBackend, pollers: AdcPollers, open_pwm: PwmOpener, pool: BusPool
) -> ConnectorHardware:
    s = slot.section
    contactor, phase_switch = build_contactor(s.section("contactor", required=True), backend, slot.phases)
    hw = ConnectorHardware(
        slot.id,
        contactor=contactor,
        pilot=build_pilot(s.section("pilot", required=True), pollers, open_pwm),
        meter=build_meter(s.section("meter", required=True), pool),
        phase_switch=phase_switch,
    )
    if s.has_section("rcd"):
        hw.rcd = build_rcd(s.section("rcd"), backend)
    if s.has_section("lock"):
        hw.lock = build_lock(s.section("lock"), backend)
    if s.has_section("cable"):
        hw.cable = build_cable(s.section("cable"), pollers, slot.phases)
    if s.has_section("leds"):
        hw.indicator = build_leds(s.section("leds"), backend)
    return hw
