"""``[board] type = "evse-din"``: Modbus EVSE boards of the SimpleEVSE / EVSE-WB / EVSE-DIN family.

These boards generate the CP PWM, read the CP levels and switch the contactor
themselves; we tell them how much current to offer and whether they may charge.

Register map (holding registers, FC 3 read, FC 16 write; firmware 10 and later):
  1000 R/W  current offered, A (0 or 6..80)      1004 R/W  bit 0: "turn off charging now"
  1001 R    current the PWM announces now, A     1005 R    firmware revision
  1002 R    vehicle state: 1 A, 2 B, 3 C, 4 D,   1006 R    EVSE state: 1 steady 12 V,
            5 failure                                      2 PWM on, 3 off (steady 12 V)
  1003 R    cable limit from PP, A               1007 R    bits: 0 relay on, 1 diode check
                                                           failed, 2 ventilation required,
                                                           3 waiting for pilot release, 4 RCD check error
The board must have Modbus enabled (it is off from the factory; see its manual).

Rules kept here:
- The bus is shared with the meter(s) and a meter read may hold it up to its timeout,
  so one daemon thread per board owns every transaction: each cycle it applies the
  latest commands, then reads 1000..1007 in one request. ``Pilot``/``Contactor`` calls
  from the real-time thread only swap a value or look at the latest sample.
- A sample older than ``max_age_s`` reads as state E: the controller faults safely.
- A new vehicle state is told to the pilot's ``watch`` callback once it is in the sample.
- Command mapping (``board_setpoint``, pure): X2 -> the duty's current (IEC 61851
  formula inverted, rounded down, never more than asked) and charging on; X1 and F ->
  "turn off charging now" (the board has no -12 V output on demand: F is reported to
  the EV as a steady +12 V without PWM). Duties that mean less than 6 A (5 % = digital
  communication) switch off too.
- The board closes its relay by itself when the EV asks for power under PWM. So the
  contactor command is enforced through the enable bit: while the contactor is
  commanded open and the EV is in C or D, charging is switched off. Opening therefore
  takes up to one poll period plus one transaction (documented latency), and when an
  EV enters C before the controller allows power, the board may close its relay for
  that long before the veto lands: with this board the close decision is the board's,
  the controller can only withdraw it.
- The board has no Modbus watchdog: if this daemon dies, it keeps charging at the last
  current. ``close()`` switches it off before the thread ends, and only if the thread ran.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drivers.hd44780 import build_display
from drivers.meters import build_meter
from drivers.modbus_bus import BusPool, ModbusDevice
from hal.board import Board, ConnectorHardware, ConnectorSlot
from hal.config import ConfigSection
from hal.errors import HardwareError
from hal.types import CpState, PilotCommand, PilotMode, PilotReading

log = logging.getLogger(__name__)

REG_AMPS = 1000
REG_CONTROL = 1004
REG_FIRST, REG_COUNT = 1000, 8  # 1000..1007 in one read
CONTROL_OFF = 0x0001
STATUS_RELAY, STATUS_DIODE_FAIL = 0x0001, 0x0002
EVSE_PWM_ON = 2
MIN_AMPS, MAX_AMPS = 6, 80

# vehicle state register -> (CP state, nominal positive level in volts)
VEHICLE_STATES: dict[int, tuple[CpState, float]] = {
    1: (CpState.A, 12.0),
    2: (CpState.B, 9.0),
    3: (CpState.C, 6.0),
    4: (CpState.D, 3.0),
    5: (CpState.E, 0.0),
}


def duty_to_amps(duty_percent: float) -> int:
    """Inverse of IEC 61851-1 duty = A / 0.6 (6-51 A), A / 2.5 + 64 (51-80 A), rounded down.

    Rounded to 0.1 A first: a duty rounded to 0.1 % (53.3 % for 32 A) still means 32 A.
    """
    amps = duty_percent * 0.6 if duty_percent <= 85.0 else (duty_percent - 64.0) * 2.5
    return math.floor(round(amps, 1))


@dataclass(frozen=True)
class Setpoint:
    amps: int
    off: bool


def board_setpoint(pilot: PilotCommand, contactor_closed: bool, vehicle: CpState | None) -> Setpoint:
    """What to write, from our commands and the last vehicle state seen."""
    amps = duty_to_amps(pilot.duty_percent) if pilot.mode is PilotMode.X2 else 0
    if amps < MIN_AMPS:
        return Setpoint(0, True)
    ev_asks_for_power = vehicle in (CpState.C, CpState.D)
    return Setpoint(min(amps, MAX_AMPS), ev_asks_for_power and not contactor_closed)


@dataclass(frozen=True)
class BoardStatus:
    """One read of 1000..1007."""

    offered_a: int
    pwm_a: int
    vehicle: int
    cable_limit_a: int
    control: int
    firmware: int
    evse_state: int
    status_bits: int
    at: float

    @staticmethod
    def from_registers(regs: Sequence[int], at: float) -> BoardStatus:
        offered_a, pwm_a, vehicle, cable_limit_a, control, firmware, evse_state, status_bits = regs[:REG_COUNT]
        return BoardStatus(offered_a, pwm_a, vehicle, cable_limit_a, control, firmware, evse_state, status_bits, at)

    def pilot_reading(self) -> PilotReading:
        state, level = VEHICLE_STATES.get(self.vehicle, (CpState.E, 0.0))
        negative: float | None = None
        if self.evse_state == EVSE_PWM_ON:
            # A failed diode check means the low half was not at -12 V: report the EV's level.
            negative = level if self.status_bits & STATUS_DIODE_FAIL else -12.0
        return PilotReading(state, level, negative, self.at)

    @property
    def relay_closed(self) -> bool:
        return bool(self.status_bits & STATUS_RELAY)


class EvseDinLink:
    """The board's thread: applies the latest commands, reads the status, every ``poll_interval_s``."""

    def __init__(
        self,
        device: ModbusDevice,
        poll_interval_s: float = 0.1,
        max_age_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._device = device
        self._poll_interval_s = poll_interval_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._pilot = PilotCommand.x1()
        self._contactor_closed = False
        self.status: BoardStatus | None = None
        self.vehicle_changed: Callable[[], None] | None = None  # called once a new vehicle state is in status
        self._written: Setpoint | None = None
        self._failing = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"evse-din {device.describe()}", daemon=True)
        self._closed = False

    # -- called from the real-time thread (non-blocking) ------------------------
    def set_pilot(self, cmd: PilotCommand) -> None:
        if cmd != self._pilot:
            self._pilot = cmd
            self._wake.set()

    def set_contactor(self, closed: bool) -> None:
        if closed != self._contactor_closed:
            self._contactor_closed = closed
            self._wake.set()

    def fresh_status(self) -> BoardStatus | None:
        status = self.status
        return status if status is not None and self._clock() - status.at <= self._max_age_s else None

    # -- the board's thread -------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def cycle(self) -> None:
        """One transaction round: write what changed, read the status."""
        vehicle = self.status.pilot_reading().state if self.status is not None else None
        want = board_setpoint(self._pilot, self._contactor_closed, vehicle)
        last = self._written
        if last is None or want.amps != last.amps:
            self._device.write_registers(REG_AMPS, [want.amps])
        if last is None or want.off != last.off:
            self._device.write_registers(REG_CONTROL, [CONTROL_OFF if want.off else 0])
        self._written = want
        regs = self._device.read_holding_registers(REG_FIRST, REG_COUNT)
        status = BoardStatus.from_registers(regs, self._clock())
        before = self.status
        if before is None:
            log.info("%s: EVSE board firmware %d", self._device.describe(), status.firmware)
        self.status = status
        if (before is None or before.vehicle != status.vehicle) and self.vehicle_changed is not None:
            self.vehicle_changed()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # a command arriving during the cycle wakes the next one
            try:
                self.cycle()
                if self._failing:
                    log.info("%s: EVSE board answers again", self._device.describe())
                self._failing = False
            except HardwareError as exc:
                if not self._failing:
                    log.error("%s: EVSE board: %s", self._device.describe(), exc)
                self._failing = True
                self._written = None  # unknown what arrived: write everything next time
            self._wake.wait(self._poll_interval_s)

    def close(self) -> None:
        """Stop the thread, then switch the board off (best effort, never raises). A link that
        never started commanded nothing, so it leaves the board alone (another daemon may drive it)."""
        if self._closed or self._thread.ident is None:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        try:
            self._device.write_registers(REG_CONTROL, [CONTROL_OFF])
        except HardwareError as exc:
            log.error("%s: could not switch the EVSE board off: %s", self._device.describe(), exc)


class EvseDinPilot:
    """hal.interfaces.Pilot backed by the board's own CP generator and sensing."""

    def __init__(self, link: EvseDinLink):
        self.link = link

    def command(self, cmd: PilotCommand) -> None:
        self.link.set_pilot(cmd)

    def read(self) -> PilotReading:
        status = self.link.fresh_status()
        if status is None:
            return PilotReading(CpState.E, 0.0, None, time.monotonic())
        return status.pilot_reading()

    def watch(self, changed: Callable[[], None]) -> bool:
        self.link.vehicle_changed = changed
        return True

    def close(self) -> None:
        self.link.close()


class EvseDinContactor:
    """hal.interfaces.Contactor: the board's relay, allowed or vetoed through its enable bit."""

    def __init__(self, link: EvseDinLink):
        self.link = link

    def set_closed(self, closed: bool) -> None:
        self.link.set_contactor(closed)

    def feedback(self) -> bool | None:
        status = self.link.status
        return None if status is None else status.relay_closed

    def close(self) -> None:
        self.link.close()


def build_board(
    section: ConfigSection,
    slots: Sequence[ConnectorSlot],
    *,
    grid_meter: ConfigSection | None = None,
    dry_run: bool = False,
) -> Board:
    """``[board]`` has no keys of its own but an optional ``[board.display]`` (drivers/hd44780.py); each
    connector has ``[connector.evse]`` and ``[connector.meter]``.

    A dry build starts no link: the board is never asked anything, nor told anything."""
    pool = BusPool()
    board = Board("evse-din", [])
    board.on_close(pool.close)
    links: list[EvseDinLink] = []
    try:
        for slot in slots:
            evse = slot.section.section("evse", required=True)
            link = EvseDinLink(
                pool.device(evse, default_timeout_s=0.3),
                poll_interval_s=evse.get_float("poll_interval_s", 0.1, minval=0.02, maxval=2.0),
                max_age_s=evse.get_float("max_age_s", 1.0, minval=0.1, maxval=10.0),
            )
            links.append(link)
            board.connectors.append(
                ConnectorHardware(
                    slot.id,
                    pilot=EvseDinPilot(link),
                    contactor=EvseDinContactor(link),
                    meter=build_meter(slot.section.section("meter", required=True), pool),
                )
            )
        if grid_meter is not None:  # on the board's RS-485 line too, if it says so
            board.grid_meter = build_meter(grid_meter, pool, phase_power=True)
        if section.has_section("display"):
            board.display = build_display(section.section("display"), dry_run)
    except BaseException:
        board.close()
        raise
    if not dry_run:
        for link in links:
            link.start()
    return board
