"""The daemon: builds the station from configuration and runs it until told to stop.

Rules kept here:
- Start order: database, ledger, meter poller, real-time loop (not started), station
  (constructed), the OCPP front end (when ``[ocpp] url`` is set; its ledger hook and event
  listener registered as it is built), crash recovery (transactions left open are closed with
  PowerLoss and the meter register; the front end's messages for them are queued in the same
  SQLite transaction), the station takes over what was persisted, energy management (its
  limit source in place before the loop starts, with ``[grid]`` or ``[mqtt]``), loop start,
  meter polling, station duties, API, OCPP connection, MQTT, then READY=1.
- A reset is the core's (controller/core/station.py): it ends the transactions, then calls
  ``restart``, which sets ``restart_requested`` and the front end's reset retries and stops;
  ``evsed run`` then exits for systemd or re-executes (cli.py).
- Stop order (SIGTERM/SIGINT or ``request_stop``): transactions end (Reboot), MQTT says
  offline, the real-time loop stops with every contactor open, the last meter values are written,
  the database closes, the board closes. A failing step never skips the next.
- The board comes opened in the real-time process (``controller.safety.open_board``); the
  real-time loop runs there too, and this process only talks to it. ``stop`` closes the board
  (and with it that process) unless ``close_board`` is False.
- The systemd watchdog is fed from the event loop, and only while the real-time process reports
  its loop healthy: both processes must be well.
- A release on trial (firmware update, or ``systemd/install.sh`` run again) ends its trial
  when it reaches the backend (the OCPP front end decides); without ``[ocpp] url`` it has
  come up once the daemon is ready.
- From start to stop, any asyncio step that holds the event loop over 100 ms is logged with
  what it was doing (controller/slow_steps.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from controller import __version__
from controller.clock import WallClock
from controller.config import Config
from controller.core.ledger import Ledger
from controller.core.station import Station
from controller.core.vocabulary import RestartKind, StopCause
from controller.curves import Curves
from controller.metering import MeterPoller, idle_interval
from controller.ocpp.frontend import FrontEnd
from controller.owner_limits import OWNER, OwnerLimits
from controller.realtime import ConnectorLimits, ConnectorSnapshot, LoopSettings
from controller.safety.process import RealtimeProcess, RemoteBoard
from controller.slow_steps import SlowStepWatch
from controller.storage import Database
from controller.systemd import notify, watchdog_interval_s
from controller.tasks import Tasks

log = logging.getLogger(__name__)


@dataclass
class Daemon:
    config: Config
    board: RemoteBoard
    db: Database = field(init=False)
    ledger: Ledger = field(init=False)
    rt: RealtimeProcess = field(init=False)
    station: Station = field(init=False)
    poller: MeterPoller = field(init=False)
    owner_limits: OwnerLimits = field(init=False)
    curves: Curves = field(init=False)
    clock: WallClock = field(default_factory=WallClock)
    api: Any = None
    ocpp: FrontEnd | None = None  # the OCPP front end when [ocpp] has a url
    time_sync: Any = None  # NTP when [time] names servers
    site: Any = None  # energy management (controller/energy/site.py) with [grid], [mqtt] or a phase switch
    mqtt: Any = None  # the MQTT bridge with [mqtt] host
    screen: Any = None  # the driver's display (controller/display/screen.py) on a board with one
    restart_requested: RestartKind | None = None  # after a reset
    close_board: bool = True  # False: a bench restarts the controller on the same board, its simulated world intact
    reset_retries: int = 0  # OCPP ResetRetries: further tries of a reboot command that failed
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    slow_steps: SlowStepWatch | None = None
    _tasks: Tasks = field(init=False)

    def _on_snapshot(self, snap: ConnectorSnapshot) -> None:
        self.poller.set_idle(snap.connector, snap.idle)
        self.station.on_snapshot(snap)

    async def start(self) -> None:
        cfg = self.config
        if not isinstance(self.board, RemoteBoard):  # a board built here would share the loop's interpreter
            raise TypeError("the daemon runs on a board opened by controller.safety.process.open_board(config)")
        loop = asyncio.get_running_loop()
        self._tasks = Tasks("daemon", on_failure=lambda task: self.request_stop())  # a dead duty stops us
        self.slow_steps = SlowStepWatch(loop)
        self.slow_steps.start()
        sys.setswitchinterval(0.001)  # bound how long any thread holds the GIL: the loop thread waits less
        self.db = Database(cfg.storage.database)
        self.ledger = Ledger(self.db)
        meters = {c.id: c.meter for c in self.board.connectors}
        interval, deadline = cfg.loop.meter_interval_s, max(2.0, cfg.loop.meter_interval_s)
        idle = idle_interval(interval, deadline, cfg.loop.meter_timeout_s)
        self.poller = MeterPoller(meters, [], interval, deadline_s=deadline, idle_interval_s=idle)
        from controller.ocpp import versions
        from controller.ocpp.frontend import FrontEndContext  # the front ends' layer, imported when used

        versions.check(cfg)  # the chosen OCPP version's keys, before anything starts
        if cfg.time.servers:
            from controller.time_sync import TimeSync

            self.time_sync = TimeSync(cfg.time, self.clock, on_step=self._clock_stepped)
            self._spawn(self.time_sync.run(), "ntp")
        self.rt = self.board.realtime(
            [
                (hw.id, ConnectorLimits(cfg.connector(hw.id).max_current_a, cfg.connector(hw.id).ventilation))
                for hw in self.board.connectors
            ],
            LoopSettings(
                period_s=cfg.loop.period_ms / 1000,
                idle_period_s=cfg.loop.idle_period_ms / 1000,
                safe_current_a=cfg.charging.safe_current_a,
                meter_timeout_s=cfg.loop.meter_timeout_s,
                max_temperature_c=cfg.loop.max_temperature_c,
                realtime_priority=cfg.loop.realtime_priority,
            ),
            on_change=lambda snap: loop.call_soon_threadsafe(self._on_snapshot, snap),
            feed_timeout_s=cfg.loop.feed_timeout_s,
        )
        self.station = Station(cfg, self.board, self.ledger, self.rt, self.clock, restart=self._restart)
        if self.board.display is not None:
            from controller.display.screen import Screen

            self.screen = Screen(self.board.display, self.station, self.clock)
            self.station.subscribe(self.screen.on_event)
        self.owner_limits = OwnerLimits(self.db, {c.id: (c.max_current_a, c.phases) for c in cfg.connectors})
        switches = any(hw.phase_switch is not None for hw in self.board.connectors)
        if cfg.grid.source is not None or cfg.mqtt.enabled or switches:
            from controller.energy.site import Site

            self.site = Site(cfg, self.station, self.board, self.db, self.owner_limits)
        # Before recovery: the front end's ledger hook queues the PowerLoss messages.
        energy = self.site if cfg.grid.source is not None else None  # limits the EVSEs only with a grid source
        context = FrontEndContext(cfg, self.db, self.ledger, self.station, self.clock, time_source=self.time_sync,
                                  screen=self.screen, energy=energy)  # fmt: skip
        self.ocpp = versions.build_frontend(context)
        for tx in self.ledger.recover(self._register_at_start, self.clock.now()):
            log.warning(
                "connector %s: transaction %s was left open by a crash or power cut; closed with PowerLoss at %.1f Wh",
                tx.evse,
                tx.id,
                tx.meter_stop_wh or 0.0,
            )
        self.station.add_limit_source(OWNER, self.owner_limits.limit)
        self.curves = Curves(self.db, self.station.views, self.clock, cfg.storage.curve_interval_s)
        self.station.subscribe(self.curves.on_event)
        self.station.restore()
        if self.site is not None:
            self.site.attach()
        self.poller.sinks.extend([self.rt.post_meter, self.station.on_meter])
        self.station.read_meter = self.poller.read
        self.rt.start()
        # READY means the status of every connector is known: wait for the loop's first samples.
        await asyncio.wait_for(self.station.sampled.wait(), timeout=5.0)
        self._spawn(self.poller.run(), "meter poller")
        self._spawn(self.station.run(), "station")
        self._spawn(self.curves.run(), "session curves")
        if self.site is not None:
            self._spawn(self.site.run(), "energy management")
        if self.screen is not None:
            self._spawn(self.screen.run(), "display")
        if cfg.api.enabled:
            from controller.api import LocalApi

            self.api = LocalApi(self)
            if self.time_sync is not None:
                self.api.extra_status.append(self.time_sync.status_json)
            if self.site is not None:
                self.api.extra_status.append(lambda: {"energy": self.site.status_json()})
            if self.screen is not None:
                self.api.extra_status.append(self.screen.status_json)
            if self.ocpp is not None:
                self.api.extra_status.append(self.ocpp.status_json)
            await self.api.start(cfg.api.host, cfg.api.port)
        if self.ocpp is not None:
            self.ocpp.start()
        if cfg.mqtt.enabled:
            from controller.mqtt.bridge import MqttBridge

            self.mqtt = MqttBridge(cfg, self.station, self.site, self.owner_limits, __version__)
            self._spawn(self.mqtt.run(), "mqtt")
            if self.api is not None:
                self.api.extra_status.append(lambda: {"mqtt": self.mqtt.link.status_json()})
        self._spawn(self._watchdog(), "watchdog")
        if self.ocpp is None:
            self._verify_boot_without_backend()
        notify("READY=1", f"STATUS=evsed {__version__}: {len(self.board.connectors)} connector(s) ready")
        log.info("evsed %s ready on a %s board", __version__, self.board.kind)
        self.ready.set()

    async def _clock_stepped(self, offset_s: float) -> None:
        if self.ocpp is not None:
            step = f"system clock stepped by {offset_s:+.3f} s (NTP)"
            await self.ocpp.report_security_event("SettingSystemTime", step)

    def _verify_boot_without_backend(self) -> None:
        """End a trial (or settle a rollback) by the firmware rules, with "ready" for "accepted"."""
        from controller.firmware.slots import SlotRoot
        from controller.firmware.updater import Updater

        if SlotRoot(self.config.firmware.slot_root).marker() is None:
            return
        cfg = self.config
        updater = Updater(
            cfg.firmware, cfg.storage.state_dir, self.clock, __version__,
            report=_unreported, security_event=_unreported, restart_kind=RestartKind.SOFT,
        )  # fmt: skip
        updater.attach(self.station)
        self._spawn(updater.verify_boot(self.ready), "firmware trial")

    def _register_at_start(self, connector: int) -> float | None:
        reading = self.poller.read_blocking(connector)
        return reading.energy_import_wh if reading is not None else None

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.spawn(coro, name)

    async def _watchdog(self) -> None:
        interval = watchdog_interval_s()
        while interval is not None:  # without systemd's watchdog nothing to do (and no wake-ups)
            if self.rt.healthy():
                notify("WATCHDOG=1")
            else:
                log.error("real-time loop unhealthy: not feeding the watchdog")
            await asyncio.sleep(interval)

    def request_stop(self) -> None:
        self.stopping.set()

    def _restart(self, kind: RestartKind) -> None:
        """A reset: the station already ended the transactions; stop, then the CLI restarts us."""
        self.restart_requested = kind
        if self.ocpp is not None:
            self.reset_retries = self.ocpp.reset_retries
        self.request_stop()

    async def stop(self, cause: StopCause = StopCause.REBOOT) -> None:
        notify("STOPPING=1", "STATUS=stopping")
        steps = [
            ("end transactions", lambda: self.station.stop_all(cause)),
            ("write curves", lambda: self.curves.drain()),
            ("stop mqtt", lambda: self.mqtt.stop() if self.mqtt else _nothing()),
            ("stop api", lambda: self.api.stop() if self.api else _nothing()),
            ("stop ocpp", lambda: self.ocpp.stop() if self.ocpp else _nothing()),
        ]
        for name, step in steps:
            try:
                await asyncio.wait_for(step(), timeout=5.0)
            except Exception:
                log.exception("shutdown: %s failed", name)
        await self._tasks.cancel()
        for name, fn in (("real-time loop", self.rt.stop), ("meters", self.poller.close), ("database", self.db.close)):
            try:
                fn()
            except Exception:
                log.exception("shutdown: %s failed", name)
        if self.close_board:
            self.board.close()
        self._stop_slow_steps()
        log.info("evsed stopped")

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.start()
        except BaseException:
            self._abort_start()
            raise
        await self.stopping.wait()
        await self.stop()

    def _abort_start(self) -> None:
        """A start that failed half-way (port in use, unusable state directory): outputs safe, files closed."""
        for part in ("rt", "poller", "db"):
            obj = self.__dict__.get(part)
            close = getattr(obj, "stop", None) or getattr(obj, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
        self.board.close()
        self._stop_slow_steps()

    def _stop_slow_steps(self) -> None:
        if self.slow_steps is not None:
            self.slow_steps.stop()
            self.slow_steps = None


async def _nothing() -> None:
    return None


async def _unreported(*_what: Any) -> None:
    """No backend to tell: the updater logs every step itself."""
