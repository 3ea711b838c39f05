"""The OCPP 2.0.1 charging station: a translator between the charging core and the CSMS, one
module per functional block, wired here.

Rules kept here (part 2; DESIGN.md "One core, two protocols"):
- Blocks: connectivity (B09/B10 network profiles, A05, the credentials and TLS of each attempt),
  security (A01-A03, M03-M05 certificates), registration (B01-B03, G02), configuration
  (B05-B08, the device model), availability (G01, G05, B04: StatusNotification and NotifyEvent;
  G03/G04: ChangeAvailability), reset (B11/B12), trigger (F06), unlock (F05), security events
  (A04), transactions (E, TransactionEvent from the core's ledger; E14 GetTransactionStatus),
  meter values (J, sampled and clock-aligned), remote control (F01-F04), smart charging (K01,
  K08-K10 on the neutral engine, F01's profile; K11-K13 local energy management's limits as
  ChargingStationExternalConstraints), authorization (C: the
  station's authorization engine, its cache and local list, the station's authorizer when the
  CSMS decides who charges), the local list's management (D), firmware (L01/L02), log upload
  (N01), monitoring (N02-N08: the monitors, their NotifyEvents and reports), customer
  information (N09/N10), DataTransfer (P01), reservations (H), and on a box with a display
  tariff and cost (I) and display messages (O). Each block owns its handlers; this module
  registers them and binds the device model's effects and live values.
- Nothing of our own goes out before the first BootNotification is Accepted (B01.FR.08): the
  journal opens once every connector's status was reported after that Accepted; the CSMS's
  requests are answered while Pending (B02.FR.01), refused with SecurityError while Rejected.
- Every effect the model's variables drive is bound (a listener, or read where it is used),
  except ``PENDING``: variables the station stores and reports whose functional block is not
  built yet. The start fails if any other effect is unbound.
- It keeps the ``FrontEnd`` contract (controller/ocpp/frontend.py); setup.py builds it. Its
  ``firmware_updater`` is the station's one updater (the firmware block's): it settles a release
  on trial once a BootNotification is Accepted, as the 1.6 front end does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from controller import __version__
from controller.authorization.cache import AuthCache
from controller.authorization.engine import Authorization
from controller.authorization.local_list import LocalList
from controller.ocpp.certificates import MANUFACTURER_ROOT, CertificateStore
from controller.ocpp.frontend import FrontEndContext, LinkControls
from controller.ocpp.journal import STATION_IDS, Journal
from controller.ocpp.link import Link, Reply
from controller.ocpp.rpc import Rpc
from controller.ocpp.security_log import SecurityLog
from controller.ocpp.security_profile import ConnectionSecurity, Trust
from controller.ocpp.tls import TlsEvent
from controller.ocpp.v201.authorization import EFFECTS as AUTHORIZATION_EFFECTS
from controller.ocpp.v201.authorization import CsmsAuthorizer, policy
from controller.ocpp.v201.availability import StatusReports
from controller.ocpp.v201.change_availability import ChangeAvailability
from controller.ocpp.v201.communication import RetryBackOff
from controller.ocpp.v201.configuration import Configuration
from controller.ocpp.v201.connectivity import Connectivity, NetworkStore, configured_profile
from controller.ocpp.v201.credentials import PASSWORD, Credentials
from controller.ocpp.v201.customer_information import CustomerInformation
from controller.ocpp.v201.data_transfer import DataTransfer
from controller.ocpp.v201.description import StationDescription
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.diagnostics import Diagnostics
from controller.ocpp.v201.display_messages import DisplayMessages
from controller.ocpp.v201.external_limits import ExternalConstraints
from controller.ocpp.v201.firmware import Firmware
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.local_list import LocalListManagement
from controller.ocpp.v201.meter_values import settings as meter_settings
from controller.ocpp.v201.metering import Metering
from controller.ocpp.v201.monitoring import Monitoring
from controller.ocpp.v201.notify_event import EventIds, Events
from controller.ocpp.v201.policy import EFFECTS as POLICY_EFFECTS
from controller.ocpp.v201.policy import charging_policy
from controller.ocpp.v201.readings import readers
from controller.ocpp.v201.registration import BootReasons, Identity, Registration
from controller.ocpp.v201.remote_control import RemoteControl
from controller.ocpp.v201.reservation import EFFECTS as RESERVATION_EFFECTS
from controller.ocpp.v201.reservation import Reservations
from controller.ocpp.v201.reset import Reset
from controller.ocpp.v201.security import Security
from controller.ocpp.v201.security_events import SecurityEvents
from controller.ocpp.v201.smart_charging import SmartCharging
from controller.ocpp.v201.store import VariableStore
from controller.ocpp.v201.tariff_cost import EFFECTS as TARIFF_EFFECTS
from controller.ocpp.v201.tariff_cost import TariffCost
from controller.ocpp.v201.transactions import Transactions
from controller.ocpp.v201.trigger import Payload, Triggers
from controller.ocpp.v201.unlock import UnlockConnector
from controller.smart_charging.enforcement import ChargingLimits
from controller.smart_charging.store import ProfileStore
from controller.tasks import Tasks

log = logging.getLogger(__name__)

# Effects whose functional block is still to come: the variables are stored and reported.
PENDING = frozenset({
    "ntp_servers", "time_adjustment_reporting_threshold",  # the clock's sources
})  # fmt: skip
READ_AT_USE = {
    "offline_threshold": "availability.py, at each reconnect",
    "minimum_status_duration": "availability.py, at each status change",
    "reset_retries": "the daemon, when a reset restarts the station",
    "time_source": "registration.py, at each CSMS time",
    "authorize_remote_start": "remote_control.py, at each RequestStartTransaction",
    "allow_csms_tls_wildcards": "controller/ocpp/security_profile.py, at each TLS connection",
    **dict.fromkeys(AUTHORIZATION_EFFECTS, "authorization.py, at each decision about a token"),
    "allow_new_sessions_pending_firmware_update": "firmware.py, when an install waits for transactions",
    "display_messages_enabled": "display_messages.py, at each SetDisplayMessage",
    "smart_charging_enabled": "smart_charging.py, at each smart-charging request",
    "monitoring_enabled": "monitoring.py, when a monitor fires",
    "offline_queuing_severity": "monitoring.py, when a monitor fires",
    **dict.fromkeys(RESERVATION_EFFECTS, "reservation.py, at each ReserveNow"),
    "limit_change_significance": "external_limits.py, at each change of energy management's limits",
    "notify_charging_limit_with_schedules": "external_limits.py, at each NotifyChargingLimit",
}
BACKOFF = ("OCPPCommCtrlr.RetryBackOffWaitMinimum", "OCPPCommCtrlr.RetryBackOffRandomRange",
           "OCPPCommCtrlr.RetryBackOffRepeatTimes")  # fmt: skip
PING_INTERVAL = "OCPPCommCtrlr.WebSocketPingInterval"
MESSAGE_ATTEMPTS = "OCPPCommCtrlr.MessageAttempts[TransactionEvent]"
MESSAGE_INTERVAL = "OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]"
ADDITIONAL_ROOT_CHECK = "SecurityCtrlr.AdditionalRootCertificateCheck"
WILDCARDS = "SecurityCtrlr.AllowCSMSTLSWildcards"
TLS_EVENTS = {  # part 2 appendix 1 spellings
    TlsEvent.INVALID_CSMS_CERTIFICATE: "InvalidCsmsCertificate",
    TlsEvent.CREDENTIALS_REFUSED: "FailedToAuthenticationAtCsms",
    TlsEvent.INVALID_TLS_VERSION: "InvalidTLSVersion",
    TlsEvent.INVALID_TLS_CIPHER_SUITE: "InvalidTLSCipherSuite",
}
ALLOW_NEW_SESSIONS = "ChargingStation.AllowNewSessionsPendingFirmwareUpdate"
DISPLAY_MESSAGES_ENABLED = "DisplayMessageCtrlr.Enabled"
Handler = Callable[[Payload], Awaitable["Payload | Reply"]]


class ChargingStation(LinkControls):
    def __init__(self, ctx: FrontEndContext, description: StationDescription, inventory: Inventory,
                 presets: dict[str, str]):  # fmt: skip
        config, db, ledger, clock, station = ctx.config, ctx.db, ctx.ledger, ctx.clock, ctx.station
        ocpp = config.ocpp
        assert ocpp.url is not None
        state_dir = config.storage.state_dir
        self.station, self.clock = station, clock
        identity = ocpp.charge_point_id or config.station.charge_point_id
        self.journal = Journal(db, ids=STATION_IDS)
        store = VariableStore(db, state_dir / "secrets")
        self.certificates = CertificateStore(
            state_dir / "certificates", description.capacities.certificate_entries, now=clock.now,
            additional_root_check=lambda: self.model.value(ADDITIONAL_ROOT_CHECK) is True,
        )  # fmt: skip
        local_list, cache = LocalList(db), AuthCache(db, clock.now)
        screen = ctx.screen if description.display is not None else None
        limits = ChargingLimits(ProfileStore(db), now=clock.now, voltage_v=config.station.nominal_voltage_v)
        self.queue_open = asyncio.Event()  # set once the statuses after the first Accepted went out
        self.link = Link(ocpp.url, identity, Rpc("2.0.1"), call_timeout=ocpp.call_timeout_s)
        self.external = ExternalConstraints(ctx.energy, station.evse_ids, self.link, lambda a: self.model.value(a),
                                            self.queue_open, clock.now)  # fmt: skip
        live = readers(station, {
            "display_message_entries": lambda: self.display_messages.count if self.display_messages else 0,
            "display_text": lambda: "\n".join(screen.lines) if screen is not None else "",
            "security_profile": lambda: self.connectivity.security_profile,
            "active_network_profile": lambda: self.connectivity.active,
            "certificate_entries": self.certificates.count,
            "auth_cache_storage": lambda: cache.storage,
            "local_auth_list_entries": lambda: len(local_list.state.entries),
            "local_auth_list_storage": lambda: local_list.state.storage,
            "charging_profile_entries": lambda: len(limits.installed),
            "monitoring_base": lambda: self.monitoring.store.setting("base"),
            "monitoring_level": lambda: self.monitoring.level,
            "link_connected": lambda: self.link.connected.is_set(),
            "external_control_signals": lambda: self.external.enabled,
        })  # fmt: skip
        self.model = DeviceModel(inventory, live, presets=presets, stored=store.load(inventory))
        self.configuration = Configuration(self.model, store, self.link, clock.now)
        self.security_events = SecurityEvents(self.journal, SecurityLog(state_dir / "security.log"), clock.now)
        self.connection = ConnectionSecurity(
            self.certificates, clock, Trust(ocpp.ca_file, ocpp.insecure), report=self._report_tls_event,
            connect_again=self.link.connect, time_source=ctx.time_source,
            partial_chain=lambda: self.model.value(ADDITIONAL_ROOT_CHECK) is True,
            wildcards=lambda: self.model.value(WILDCARDS) is True,
        )  # fmt: skip
        self.connectivity = Connectivity(
            self.link, NetworkStore(db), self.configuration, self.connection,
            Credentials(identity, lambda: self.model.value(PASSWORD)), self.certificates,
            identity=identity, configured=configured_profile(ocpp.url, ocpp.call_timeout_s),
            slots=tuple(range(1, description.network_slots + 1)), on_switch=self._register_again,
            report=self.security_events.report,
        )  # fmt: skip
        self.security = Security(self.link, self.certificates, self.configuration, self.connectivity,
                                 self.security_events.report,
                                 serial_number=config.station.serial_number or identity, now=clock.now)  # fmt: skip
        self.reasons = BootReasons(db)
        self.registration = Registration(
            self.link, self.configuration, clock,
            Identity(config.station.vendor, config.station.model, config.station.serial_number,
                     ocpp.firmware_version),
            self.reasons, on_accepted=self._accepted, on_reconnected=self._reconnected,
        )  # fmt: skip
        events = Events(self.link, EventIds(db), clock.now, self.journal,
                        lambda: self.registration.accepted.is_set() and self.link.connected.is_set())  # fmt: skip
        self.statuses = StatusReports(station, self.link, self.model, events, self.registration.accepted, clock.now)
        self.monitoring = Monitoring(self.model, db, station, self.link, events, clock.now)
        self.statuses.monitor_of = self.monitoring.built_in_active
        self.monitoring.changed = self.statuses.monitors_changed
        self.triggers = Triggers(lambda: station.evse_ids)
        self.reset = Reset(station, self.journal, self.reasons, self.security_events.report)
        engine = Authorization(local_list, cache, lambda: policy(self.model), clock.now)
        self.authorizer = CsmsAuthorizer(engine, self.link, self.registration.accepted, station)
        self.firmware = Firmware(
            config.firmware, state_dir, clock, __version__, link=self.link, journal=self.journal,
            reasons=self.reasons, security_event=self.security_events.report,
            installed_roots=lambda: self.certificates.certificates(MANUFACTURER_ROOT),
            allow_new_sessions=lambda: self.model.value(ALLOW_NEW_SESSIONS) is True,
        )  # fmt: skip
        self.diagnostics = Diagnostics(
            config.diagnostics, state_dir, clock, link=self.link, journal=self.journal, station=station,
            identity=identity, ocpp_status=lambda: self.status_json()["ocpp"], effective_config=config.effective,
        )  # fmt: skip
        # The station's one updater: the web page uploads through it too.
        self.firmware_updater = self.firmware.updater
        self.firmware_updater.attach(station)
        self.transactions = Transactions(db, self.journal, self.link, station, clock.now,
                                         lambda: meter_settings(self.model.value))  # fmt: skip
        self.transactions.token_answered = self.authorizer.answered
        self.metering = Metering(station, self.transactions, self.link, self.registration.accepted, clock,
                                 lambda: meter_settings(self.model.value))  # fmt: skip
        switchable = frozenset(n for n, e in enumerate(description.evses, 1) if e.phase_switch)
        self.smart_charging = SmartCharging(station, limits, self.model, self.link,
                                            description.capacities.charging_profiles, self.external.entries,
                                            switchable)  # fmt: skip
        self.smart_charging.attach()
        self.remote_control = RemoteControl(station, self.configuration, self.registration.accepted,
                                            self.smart_charging.remote_start_profile)  # fmt: skip
        self.reservations = Reservations(station, self.model, db, self.journal, description.connector_types)
        self.display_messages: DisplayMessages | None = None
        self.tariff_cost: TariffCost | None = None
        if screen is not None:
            self.display_messages = DisplayMessages(
                db, self.link, station, screen, description.capacities.display_messages,
                enabled=lambda: self.model.value(DISPLAY_MESSAGES_ENABLED) is True, now=clock.now,
            )  # fmt: skip
            self.tariff_cost = TariffCost(station, self.link, screen, self.model.value)
            self.journal.listen(self.tariff_cost.confirmed)
        self._tasks = Tasks("ocpp 2.0.1")
        self.link.on_connected = self.registration.on_connected
        blocks = (self.configuration, self.reset, self.triggers, self.remote_control, self.transactions,
                  self.connectivity, self.security, ChangeAvailability(station, self.statuses),
                  UnlockConnector(station), self.authorizer, LocalListManagement(self.model, local_list),
                  self.firmware, self.smart_charging, self.reservations, self.diagnostics, self.monitoring,
                  DataTransfer(config.station.vendor),
                  CustomerInformation(ledger, cache, station, self.link, clock.now),
                  *(b for b in (self.display_messages, self.tariff_cost) if b is not None))  # fmt: skip
        for block in blocks:
            for action, handler in block.handlers().items():
                self.link.handle(action, handler)
        self._offer_triggers()
        self._bind(description.has_lock)
        station.subscribe(self.statuses.on_event)
        station.subscribe(self.transactions.on_event)
        station.subscribe(self.metering.on_event)
        station.subscribe(self.reservations.on_event)
        for display_block in (self.display_messages, self.tariff_cost):
            if display_block is not None:
                station.subscribe(display_block.on_event)
        station.subscribe(self.monitoring.on_event)
        station.on_readings(self.monitoring.on_readings)
        self.model.watch(self.monitoring.on_write)
        self.link.on_disconnected = self._link_down
        ledger.hooks.append(self.transactions.hook)

    # ---- wiring -------------------------------------------------------------------------

    def _bind(self, has_lock: bool) -> None:
        model, link, journal = self.model, self.link, self.journal

        def backoff(_write: object = None) -> None:
            wait, spread, repeat = (self.configuration.number(a) for a in BACKOFF)
            link.backoff = RetryBackOff(wait, spread, repeat).delay

        def ping(_write: object = None) -> None:
            link.ping_interval = float(self.configuration.number(PING_INTERVAL))

        def attempts(_write: object = None) -> None:
            journal.attempts = self.configuration.number(MESSAGE_ATTEMPTS)
            journal.retry_interval = float(self.configuration.number(MESSAGE_INTERVAL))

        def policy(_write: object = None) -> None:
            self.station.set_policy(charging_policy(model.value, has_lock, self.registration.accepted.is_set()))

        self._policy = policy

        bindings: list[tuple[str, Callable[[object], None]]] = [
            ("retry_backoff", backoff),
            ("websocket_ping_interval", ping),
            ("transaction_event_attempts", attempts),
            ("transaction_event_attempt_interval", attempts),
            *((e, policy) for e in POLICY_EFFECTS if e in model.effects()),
            ("sampled_data", self.metering.changed),
            ("aligned_data", self.metering.changed),
            *((e, self.tariff_cost.changed) for e in TARIFF_EFFECTS if self.tariff_cost is not None),
        ]
        for effect, apply in bindings:
            model.on_change(effect, apply)
            apply(None)
        model.on_change("heartbeat_interval", self.registration.heart.changed)
        self.connectivity.bind()
        self.security.bind()
        for effect in READ_AT_USE.keys() & model.effects():  # a feature's rows exist only where it is declared
            model.read_at_use(effect)
        unbound = model.unbound_effects() - PENDING
        if unbound:
            raise RuntimeError(f"device model effects nobody applies: {sorted(unbound)}")

    def _offer_triggers(self) -> None:
        def boot(_evse: Payload | None) -> Callable[[], Awaitable[None]] | None:
            return _nothing if self.registration.trigger() else None

        def heartbeat(_evse: Payload | None) -> Callable[[], Awaitable[None]]:
            return self.registration.heart.beat

        def transaction_event(evse: Payload | None) -> Callable[[], Awaitable[None]] | None:
            asked = [evse["id"]] if evse is not None else list(self.station.evse_ids)
            running = [e for e in asked if self.station.view(e).transaction is not None]
            if not running:
                return None

            async def send() -> None:
                for e in running:
                    self.transactions.triggered(e)

            return send

        self.triggers.offer("BootNotification", boot)
        self.triggers.offer("Heartbeat", heartbeat)
        self.triggers.offer("StatusNotification", self.statuses.trigger_offer)
        self.triggers.offer("SignChargingStationCertificate", self.security.sign_offer)
        self.triggers.offer("MeterValues", self.metering.triggered)
        self.triggers.offer("TransactionEvent", transaction_event)
        self.triggers.offer("FirmwareStatusNotification", lambda _evse: self.firmware.send_triggered)
        self.triggers.offer("LogStatusNotification", lambda _evse: self.diagnostics.send_triggered)

    async def _accepted(self) -> None:
        self._policy()  # transactions may start now (TxBeforeAcceptedEnabled aside)
        self.monitoring.on_link()
        await self.statuses.report_all()
        self.queue_open.set()

    async def _reconnected(self, offline_s: float) -> None:
        self.monitoring.on_link()
        await self.statuses.reconnected(offline_s)

    def _link_down(self) -> None:
        self.transactions.link_down()
        self.monitoring.on_link()

    def _register_again(self) -> None:
        """Connected through another network profile: nothing of ours before its Accepted (B10.FR.10)."""
        self.queue_open.clear()
        self.registration.register_again()

    async def _report_tls_event(self, event: TlsEvent, reason: str) -> None:
        await self.security_events.report(TLS_EVENTS[event], reason)

    # ---- the front end's contract ---------------------------------------------------------

    def start(self) -> None:
        self.diagnostics.open()
        self._tasks.spawn(self.journal.deliver(self.link, self.queue_open), "ocpp201-journal")
        self._tasks.spawn(self.statuses.run(), "ocpp201-status")
        self._tasks.spawn(self.registration.heart.run(), "ocpp201-heartbeat")
        self._tasks.spawn(self.security_events.report("StartupOfTheDevice"), "ocpp201-startup-event")
        self._tasks.spawn(self.firmware_updater.verify_boot(self.registration.accepted), "ocpp201-firmware-trial")
        self._tasks.spawn(self.security.watch_expiry(self.registration.accepted), "ocpp201-certificate-expiry")
        self._tasks.spawn(self.external.run(), "ocpp201-external-limits")
        self.metering.start()
        if self.display_messages is not None:
            self._tasks.spawn(self.display_messages.run(), "ocpp201-display-messages")
        self.monitoring.start()
        self.link.start()

    async def stop(self) -> None:
        if self.queue_open.is_set() and self.link.connected.is_set():
            with contextlib.suppress(TimeoutError):  # let the last queued messages out
                async with asyncio.timeout(3):
                    await self.journal.wait_empty()
        await self.link.close()
        await self.metering.stop()
        self.smart_charging.limits.close()
        await self.monitoring.close()
        await self.firmware_updater.close()
        await self.diagnostics.close()
        await self.security.close()
        await self.connection.close()
        await self._tasks.cancel()

    def status_json(self) -> dict[str, Any]:
        status = self.registration.status
        return {
            "ocpp": {
                "version": "2.0.1",
                "state": self.link.state.value,
                "last_error": self.link.last_error,
                "url": self.link.url,
                "registration": status.value if status is not None else None,
            },
            "security": {
                "profile": self.connectivity.profile.security_profile,
                "tls": self.link.url.startswith("wss://"),
                "network_slot": self.connectivity.active,
                "insecure": self.connection.trust.insecure,
            },
        }

    async def report_security_event(self, kind: str, detail: str) -> None:
        await self.security_events.report(kind, detail)

    @property
    def reset_retries(self) -> int:
        return self.configuration.number("OCPPCommCtrlr.ResetRetries")


async def _nothing() -> None:
    return None
