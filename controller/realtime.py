"""The real-time loop: pilot sampling, the IEC machine, contactor and PWM, in one thread.

Rules kept here:
- The loop runs in its own thread at a fixed period and never waits for asyncio, the
  network, SQLite or a Modbus meter. What it needs from them arrives as immutable
  values swapped in by reference (atomic under the GIL): per connector a
  ``ConnectorControl`` (charge allowed + ``Limit(amps, phases, valid_until)``) and the
  latest meter reading. A limit past ``valid_until`` is stale and replaced by the
  configured safe current, so a stalled controller can never keep a high current on.
- Opening the contactor is applied before the pilot changes, closing after: power is
  cut first and connected last.
- A device that raises is a fault of that device, never the end of the loop. Its failure is
  logged once, and again if it fails after having worked in between.
- While nothing is energized (no EV on any connector, every contactor open by command and
  by feedback) the loop is quiet: a quiet connector's tick reads only its pilot, as long as
  it reads "no EV" and no new control arrived, and reads every input at least every
  ``quiet_full_s`` (faults, temperature, a pilot that went silent). Between ticks it waits
  for a pilot to tell of a change (``hal.interfaces.Pilot.watch``) or for a new control,
  and acts on either at once; with a pilot that can only be polled it ticks every
  ``idle_period_s`` instead. From the first tick that sees an EV or a closed contactor on,
  every input every ``period_s``.
- ``healthy()`` is true only while ticks keep coming on time (when the last one said the
  next is due, give or take the watchdog's margin); the daemon feeds the systemd watchdog
  from it. ``stop()`` leaves every contactor open and every pilot X1.
- ``time.monotonic()`` everywhere: wall-clock jumps (NTP) cannot stretch a timer.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from controller import iec61851
from controller.faults import Fault
from hal.board import ConnectorHardware
from hal.errors import CableError, HardwareError
from hal.types import CpState, MeterReading, PilotCommand, PilotMode

TYPE_CHECKING = False  # typing: controller/safety/child.py says why
if TYPE_CHECKING:
    from typing import TypeVar

    Reading = TypeVar("Reading")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    amps: float
    phases: int
    valid_until: float  # time.monotonic()


@dataclass(frozen=True)
class ConnectorControl:
    charge_allowed: bool = False
    limit: Limit = Limit(0.0, 3, float("-inf"))
    hold_lock: bool = False  # the cable stays locked with no EV (see iec61851.Inputs)
    lock_attempt: int = 0  # a new value drives the lock to its position again (a retried unlock)


@dataclass(frozen=True)
class LoopSettings:
    period_s: float = 0.005
    idle_period_s: float = 0.075  # while nothing is energized and a pilot can only be polled
    quiet_full_s: float = 0.5  # a quiet connector's full tick (faults, commands) at least this often
    safe_current_a: float = 6.0  # used while the limit is stale; < 6 A pauses
    meter_timeout_s: float = 10.0  # no good reading for this long: METER_OFFLINE
    max_temperature_c: float = 80.0
    realtime_priority: int = 0  # SCHED_FIFO priority for the thread, 0 = normal


@dataclass(frozen=True)
class ConnectorLimits:
    """Per-connector facts from configuration the loop needs every tick."""

    max_current_a: float
    ventilation: bool = False


@dataclass(frozen=True)
class ConnectorSnapshot:
    connector: int
    at: float
    cp: CpState
    pilot: PilotCommand
    contactor: bool
    contactor_feedback: bool | None
    locked: bool
    offered_a: float
    limit_a: float
    limit_stale: bool
    cable_a: float | None
    temperature_c: float | None
    faults: frozenset[Fault]
    lock_feedback: bool | None = None  # where the lock says it is (None: no lock, or no feedback)

    @property
    def idle(self) -> bool:
        """No EV, and the contactor open by command and by feedback: nothing can draw current."""
        return self.cp is CpState.A and not self.contactor and not self.contactor_feedback

    def material(self) -> tuple[object, ...]:
        """The fields whose change the charging core must hear about."""
        return (self.cp, self.pilot, self.contactor, self.locked, self.lock_feedback, self.faults, self.limit_stale)

    def observable(self) -> tuple[object, ...]:
        """Every field but the time and the temperature (which may wander every tick)."""
        return (*self.material(), self.contactor_feedback, self.offered_a, self.limit_a, self.cable_a)


@dataclass
class _Channel:
    hw: ConnectorHardware
    limits: ConnectorLimits
    state: iec61851.IecState = field(default_factory=iec61851.IecState)
    control: ConnectorControl = ConnectorControl()
    meter: MeterReading | None = None
    meter_ok_at: float = 0.0
    applied_pilot: PilotCommand | None = None
    applied_contactor: bool | None = None
    applied_lock: bool | None = None
    lock_attempt: int = 0  # the control's lock_attempt last acted on
    pilot_at: float = float("-inf")
    snapshot: ConnectorSnapshot | None = None
    quiet: bool = False  # no EV, contactor open by command and feedback: the loop may tick slowly
    full_at: float = float("-inf")  # the last full tick
    full_control: ConnectorControl | None = None  # the control the last full tick applied


class RealtimeLoop:
    def __init__(
        self,
        connectors: Sequence[tuple[ConnectorHardware, ConnectorLimits]],
        settings: LoopSettings = LoopSettings(),
        on_change: Callable[[ConnectorSnapshot], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        change: Callable[[ConnectorSnapshot], tuple[object, ...]] = ConnectorSnapshot.material,
    ):
        """``on_change`` gets each snapshot whose ``change(snapshot)`` differs from the previous one's."""
        self.settings = settings
        self._clock = clock
        self._on_change = on_change
        self._change = change
        now = clock()
        self._channels = {hw.id: _Channel(hw, limits, meter_ok_at=now) for hw, limits in connectors}
        self._stop = threading.Event()
        self._wake = threading.Event()  # a pilot's change, a new control or stop() ends a quiet wait
        self._pilots_tell = all([hw.pilot.watch(self._wake.set) for hw, _ in connectors])  # every one asked
        self._waits = False  # the last tick was quiet and the pilots tell: wait for _wake, not the clock
        self._thread: threading.Thread | None = None
        self._last_tick = now
        self._due = now  # when the next tick should start
        self._error: BaseException | None = None
        self.tick_intervals: deque[float] = deque(maxlen=20_000)  # seconds between tick starts
        self._warned: set[tuple[str, int]] = set()  # (device, connector) failed and not worked since

    # -- inputs from the asyncio side ------------------------------------------
    def set_control(self, connector: int, control: ConnectorControl) -> None:
        self._channels[connector].control = control
        self._wake.set()

    def post_meter(self, connector: int, reading: MeterReading | None) -> None:
        """A meter reading (or None after a failed read) from the meter poller."""
        ch = self._channels[connector]
        if reading is not None:
            ch.meter = reading
            ch.meter_ok_at = self._clock()

    # -- outputs ----------------------------------------------------------------
    def snapshot(self, connector: int) -> ConnectorSnapshot | None:
        return self._channels[connector].snapshot

    def healthy(self) -> bool:
        alive = self._thread is not None and self._thread.is_alive() and self._error is None
        return alive and self._clock() - self._due < max(0.5, 20 * self.settings.period_s)

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="evsed-realtime", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for ch in self._channels.values():
            self._safe(ch)

    def _safe(self, ch: _Channel) -> None:
        for action in (lambda: ch.hw.contactor.set_closed(False), lambda: ch.hw.pilot.command(PilotCommand.x1())):
            try:
                action()
            except Exception:  # shutdown must reach every output
                log.exception("connector %s: could not make the output safe", ch.hw.id)

    def _run(self) -> None:
        if self.settings.realtime_priority > 0:
            try:
                os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(self.settings.realtime_priority))
            except (PermissionError, OSError, AttributeError) as exc:
                log.warning("real-time priority not available (%s); running at normal priority", exc)
        clock = self._clock
        next_at = clock()
        try:
            while not self._stop.is_set():
                start = clock()
                self.tick_intervals.append(start - self._last_tick)
                self._last_tick = start
                self._wake.clear()  # what happens from here on ends the wait below
                period = self.tick(start)
                end = clock()
                next_at = self._due = max(next_at + period, end)
                if self._waits:
                    self._wake.wait(next_at - end)
                    next_at = clock()
                else:
                    time.sleep(next_at - end)  # half the cost of an Event wait; stop() waits one period at most
        except BaseException as exc:  # the loop must not die silently: unhealthy -> watchdog
            self._error = exc
            log.critical("real-time loop crashed", exc_info=True)
            for ch in self._channels.values():
                self._safe(ch)

    def tick(self, now: float) -> float:
        """One pass over every connector at ``now``; returns the seconds until the next one (when
        ``waits``: at most that long, a pilot's change or a new control ends the wait)."""
        settings, quiet = self.settings, True
        for ch in self._channels.values():
            slow = ch.quiet and ch.control is ch.full_control and now - ch.full_at < settings.quiet_full_s
            if not (slow and self._no_ev(ch)):
                self._tick(ch, now)
            quiet = quiet and ch.quiet
        self._waits = quiet and self._pilots_tell
        if not quiet:
            return settings.period_s
        if not self._pilots_tell:
            return settings.idle_period_s
        return max(0.0, min((ch.full_at for ch in self._channels.values()), default=now) + settings.quiet_full_s - now)

    @property
    def waits(self) -> bool:
        """The last tick was quiet and every pilot tells of its changes."""
        return self._waits

    # -- one connector, one tick ------------------------------------------------
    def _no_ev(self, ch: _Channel) -> bool:
        """The pilot of a quiet connector still reads state A (anything else: a full tick)."""
        try:
            return ch.hw.pilot.read().state is CpState.A
        except HardwareError:
            return False

    def _tick(self, ch: _Channel, now: float) -> None:
        hw, settings = ch.hw, self.settings
        ch.full_at, ch.full_control = now, ch.control
        conditions: set[Fault] = set()
        try:
            reading = hw.pilot.read()
            cp, negative = reading.state, reading.negative_v
            if self._warned:
                self._works("pilot", hw.id)
            if reading.at < ch.pilot_at:  # sampled before our last command: levels mean the old mode
                negative = None
                if cp is CpState.F:
                    cp = ch.state.ev
        except HardwareError as exc:
            self._warn_once("pilot", hw.id, "connector %s: pilot unreadable: %s", hw.id, exc)
            cp, negative = CpState.E, None

        feedback = self._read(hw.id, "contactor feedback", hw.contactor.feedback, None)
        if hw.rcd is not None and self._read(hw.id, "rcd", hw.rcd.tripped, True):
            conditions.add(Fault.RCD)
        temperature = None
        if hw.temperature is not None:
            temperature = self._read(hw.id, "temperature", hw.temperature.celsius, None)
            if temperature is None or temperature > settings.max_temperature_c:
                conditions.add(Fault.OVERTEMP)
        cable_a = None
        if hw.cable is not None:
            try:
                cable_a = hw.cable.ampacity_a()
            except (CableError, HardwareError):
                conditions.add(Fault.CABLE)
        lock_feedback = self._read(hw.id, "lock", hw.lock.locked, None) if hw.lock is not None else None

        current = None
        if now - ch.meter_ok_at > settings.meter_timeout_s:
            conditions.add(Fault.METER_OFFLINE)
        elif ch.meter is not None and ch.meter.current_a:
            current = max(ch.meter.current_a)

        control = ch.control
        stale = control.limit.valid_until < now
        limit_a = settings.safe_current_a if stale else control.limit.amps
        limit_a = min(limit_a, ch.limits.max_current_a)
        if cable_a is not None:
            limit_a = min(limit_a, cable_a)

        inputs = iec61851.Inputs(
            now=now,
            cp=cp,
            negative_v=negative,
            charge_allowed=control.charge_allowed,
            limit_a=limit_a,
            current_a=current,
            contactor_feedback=feedback,
            lock_feedback=lock_feedback,
            has_lock=hw.lock is not None,
            hold_lock=control.hold_lock,
            ventilation=ch.limits.ventilation,
            conditions=frozenset(conditions),
        )
        ch.state, out = iec61851.step(ch.state, inputs)
        self._apply(ch, out, now)

        snap = ConnectorSnapshot(
            connector=hw.id,
            at=now,
            cp=ch.state.ev if out.pilot.mode is PilotMode.F else cp,
            pilot=out.pilot,
            contactor=out.contactor,
            contactor_feedback=feedback,
            locked=out.lock,
            offered_a=out.offered_a,
            limit_a=limit_a,
            limit_stale=stale,
            cable_a=cable_a,
            temperature_c=temperature,
            faults=out.faults,
            lock_feedback=lock_feedback if isinstance(lock_feedback, bool) else None,
        )
        previous = ch.snapshot
        ch.snapshot = snap
        ch.quiet = snap.idle
        if self._on_change is not None and (previous is None or self._change(previous) != self._change(snap)):
            try:
                self._on_change(snap)
            except Exception:
                log.exception("on_change listener failed")

    def _apply(self, ch: _Channel, out: iec61851.Outputs, now: float) -> None:
        hw = ch.hw
        if out.contactor != ch.applied_contactor and not out.contactor:
            self._command(ch, "contactor", lambda: hw.contactor.set_closed(False), out.contactor)
        if out.pilot != ch.applied_pilot:
            try:
                hw.pilot.command(out.pilot)
                ch.applied_pilot = out.pilot
                ch.pilot_at = now
                if self._warned:
                    self._works("pilot command", hw.id)
            except HardwareError as exc:
                self._warn_once("pilot command", hw.id, "connector %s: pilot command failed: %s", hw.id, exc)
        if out.contactor != ch.applied_contactor and out.contactor:
            self._command(ch, "contactor", lambda: hw.contactor.set_closed(True), out.contactor)
        retry = ch.control.lock_attempt != ch.lock_attempt
        lock = hw.lock
        if lock is not None and (out.lock != ch.applied_lock or retry):
            ch.lock_attempt = ch.control.lock_attempt
            self._command(ch, "lock", lambda: lock.set_locked(out.lock), out.lock)

    def _command(self, ch: _Channel, what: str, action: Callable[[], None], value: bool) -> None:
        try:
            action()
        except HardwareError as exc:
            self._warn_once(what, ch.hw.id, "connector %s: %s command failed: %s", ch.hw.id, what, exc)
            return
        if self._warned:
            self._works(what, ch.hw.id)
        if what == "contactor":
            ch.applied_contactor = value
        else:
            ch.applied_lock = value

    def _read(self, connector: int, what: str, fn: Callable[[], Reading], on_error: Reading) -> Reading:
        try:
            value = fn()
        except HardwareError as exc:
            self._warn_once(what, connector, "connector %s: %s unreadable: %s", connector, what, exc)
            return on_error
        if self._warned:
            self._works(what, connector)
        return value

    def _warn_once(self, what: str, connector: int, msg: str, *args: object) -> None:
        # One line per failure: a dead sensor must not flood the journal at 200 Hz.
        if (what, connector) not in self._warned:
            self._warned.add((what, connector))
            log.warning(msg, *args)

    def _works(self, what: str, connector: int) -> None:
        """``what`` worked: a later failure is logged again."""
        if (what, connector) in self._warned:
            self._warned.discard((what, connector))
            log.info("connector %s: %s works again", connector, what)
