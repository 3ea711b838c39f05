"""The OCPP 1.6J charge point: a translator between the charging core and the CSMS.

Rules kept here (OCPP 1.6 edition 2 chapters 4 and 5; DESIGN.md "One core, two protocols"):
- Core events become messages (any event -> the connectors' statuses projected again
  (status.py), changes -> StatusNotification; the ledger's transactions -> Start/Stop via
  transactions.py); CSMS requests become core commands (``remote_start``, ``remote_stop``,
  ``set_availability``, ``reset``...). No charging logic lives here.
- The 1.6 keys that are charging rules (ConnectionTimeOut, StopTransactionOnEVSideDisconnect,
  UnlockConnectorOnEVSideDisconnect, StopTransactionOnInvalidId, MaxEnergyOnInvalidId) become
  the core's ``ChargingPolicy``, at start and on every change.
- BootNotification first on every connection until one is Accepted (4.2). Pending: answer the
  CSMS, send nothing of our own (TriggerMessage excepted) and boot again after ``interval``;
  RemoteStartTransaction is Rejected then (its StartTransaction could not be sent);
  Rejected: send nothing until ``interval`` passed, then boot again. Interval 0 -> our own
  ``BOOT_RETRY_S``. Accepted: the heartbeat interval and the CSMS clock are taken over, and the
  status of connector 0 and of every connector is sent.
- The journal (transaction messages) and StatusNotifications wait for the ``accepted`` gate.
  Status changes while offline are not replayed one by one: after a reconnect, every
  connector whose status differs from the last one sent is reported once.
- Heartbeat every HeartbeatInterval s while accepted (0 = none); its currentTime sets the
  station clock offset (source "csms").
- Handlers are thin: validate the request's meaning (connector ids, transaction ids), answer,
  and do the core work in ``after`` once the answer is on the wire.
- RemoteStartTransaction on a connector reserved with a parentIdTag, for another tag: the tag's
  parent comes from the list or cache; when neither knows the tag, the request is Accepted and
  an Authorize.req asks for it before the start, which the reservation then admits or not (5.13).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from controller.authorization.engine import Ask
from controller.authorization.rules import TokenInfo
from controller.clock import WallClock, iso, parse_time
from controller.core.authorizer import AuthResult
from controller.core.commands import AvailabilityOutcome, ChargingPolicy, RemoteStartOutcome, ResetWhen, UnlockOutcome
from controller.core.events import Event, EventKind
from controller.core.vocabulary import AvailabilityReason, RestartKind, StopCause, Token
from controller.ocpp.frontend import LinkControls
from controller.ocpp.heartbeat import Heartbeat
from controller.ocpp.journal import Journal
from controller.ocpp.link import CallFailed, Link, Reply
from controller.ocpp.v16 import authorization
from controller.ocpp.v16.authorization import readable_tag_info
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.idtag import id_tag, token
from controller.ocpp.v16.policy import tx_policy
from controller.ocpp.v16.sampling import Sampling
from controller.ocpp.v16.status import Status, connector_status, station_status
from controller.ocpp.v16.transactions import Transactions
from controller.storage import Database
from controller.tasks import Tasks

if TYPE_CHECKING:
    from controller.authorization.local_list import LocalList
    from controller.core.station import Station
    from controller.firmware.updater import Updater
    from controller.ocpp.certificates import CertificateStore
    from controller.ocpp.v16.security import Security

log = logging.getLogger(__name__)

BOOT_RETRY_S = 60.0  # when the CSMS says interval 0
Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable[Payload | Reply]]
StatusItem = tuple[int, str, str, str]  # connector, status, errorCode, timestamp

_AVAILABILITY_DDL = "CREATE TABLE ocpp16_availability (connector INTEGER PRIMARY KEY, operative INTEGER NOT NULL)"
# ChangeAvailability used to be kept here; the core keeps it now (controller/core/availability.py).
_AVAILABILITY_TO_CORE = f"""
INSERT OR IGNORE INTO availability (evse, reason)
    SELECT connector, '{AvailabilityReason.OPERATOR.value}' FROM ocpp16_availability WHERE operative = 0;
DROP TABLE ocpp16_availability
"""

RESET_CAUSE = {"Soft": StopCause.SOFT_RESET, "Hard": StopCause.HARD_RESET}
UNLOCK_STATUS = {UnlockOutcome.UNLOCKED: "Unlocked", UnlockOutcome.FAILED: "UnlockFailed"}
# Keys that are charging rules of the core (ChargingPolicy).
POLICY_KEYS = (
    "ConnectionTimeOut",
    "StopTransactionOnEVSideDisconnect",
    "UnlockConnectorOnEVSideDisconnect",
    "StopTransactionOnInvalidId",
    "MaxEnergyOnInvalidId",
)


class Feature(Protocol):
    """A feature profile (or whitepaper part) plugged into the charge point: its own module owns
    its handlers, keys' effects and storage; the charge point only routes to it."""

    def handlers(self) -> dict[str, Handler]: ...

    def attach(self, station: Station) -> None: ...


@dataclass(frozen=True)
class Identity:
    """What BootNotification says about the station."""

    vendor: str
    model: str
    serial_number: str | None
    firmware_version: str


class ChargePoint(LinkControls):
    # Set by build_frontend, for features that need them (firmware: ManufacturerRootCertificate,
    # SecurityEventNotification).
    certificates: CertificateStore | None = None
    security: Security | None = None
    firmware_updater: Updater | None = None  # the station's one updater (the web page uploads through it)

    def __init__(
        self,
        db: Database,
        link: Link,
        journal: Journal,
        keys: Configuration,
        identity: Identity,
        clock: WallClock,
        *,
        features: Iterable[Feature] = (),
        local_list: LocalList | None = None,
    ):
        db.migrate("ocpp16_availability_0001", _AVAILABILITY_DDL)
        db.migrate("ocpp16_availability_0002_to_core", _AVAILABILITY_TO_CORE)
        self.db, self.link, self.journal, self.keys = db, link, journal, keys
        self.identity = identity
        self.clock = clock
        self.transactions = Transactions(db, journal, keys, clock.now)
        self.authorization = authorization.build(db, keys, clock.now, local_list)
        self.authorization.on_conflict = self._local_list_conflict
        self.transactions.authorization = self.authorization
        self.sampling = Sampling(keys, clock, self.transactions, self._send_when_accepted)
        self.station: Station | None = None
        self.accepted = asyncio.Event()
        self.registration: str | None = None  # last BootNotification status
        self._sent_status: dict[int, tuple[str, str]] = {}
        self._seen_status: dict[int, Status] = {}  # the last projection of each connector
        self._status_queue: asyncio.Queue[StatusItem] = asyncio.Queue()
        self._latest_status: dict[int, StatusItem] = {}  # per connector, for MinimumStatusDuration
        self._status_lock = asyncio.Lock()
        self.heart = Heartbeat(link, self.accepted, self._heartbeat_interval, self._take_time)
        self._boot_now = asyncio.Event()
        self._tasks = Tasks("ocpp 1.6")
        self.features = list(features)
        # Set when Smart Charging is wired: judges (and keeps) a RemoteStartTransaction's
        # chargingProfile; False answers Rejected. Without it the profile is ignored.
        self.remote_start_profile: Callable[[int | None, Payload], object | None] | None = None
        link.on_connected = self._on_connected
        for action, handler in self._handlers().items():
            link.handle(action, handler)
        for feature in self.features:
            for action, handler in feature.handlers().items():
                link.handle(action, handler)
        keys.on_change("HeartbeatInterval", self.heart.changed)

        def retries(_value: object = None) -> None:
            journal.attempts = keys.integer("TransactionMessageAttempts")
            journal.retry_interval = float(keys.integer("TransactionMessageRetryInterval"))

        retries()
        keys.on_change("TransactionMessageAttempts", retries)
        keys.on_change("TransactionMessageRetryInterval", retries)
        if "WebSocketPingInterval" in keys.keys:  # the link reads it before each ping
            keys.on_change(
                "WebSocketPingInterval",
                lambda _v: setattr(link, "ping_interval", float(keys.integer("WebSocketPingInterval"))),
            )

    def _handlers(self) -> dict[str, Handler]:
        return {
            "GetConfiguration": self.keys.get_configuration,
            "ChangeConfiguration": self.keys.change_configuration,
            "RemoteStartTransaction": self.remote_start,
            "RemoteStopTransaction": self.remote_stop,
            "ChangeAvailability": self.change_availability,
            "Reset": self.reset,
            "UnlockConnector": self.unlock_connector,
            "TriggerMessage": self.trigger_message,
            "DataTransfer": self.data_transfer,
            "ClearCache": self.clear_cache,
        }

    # ---- lifecycle ----------------------------------------------------------------------

    def attach(self, station: Station) -> None:
        """Bind to the station (before the ledger's crash recovery queues its StopTransactions)."""
        self.station = station
        self.transactions.station = station
        self.sampling.station = station
        station.subscribe(self._on_event)
        station.set_policy(self.policy())
        for key in POLICY_KEYS:
            if key in self.keys.keys:
                self.keys.on_change(key, lambda _v: station.set_policy(self.policy()))
        for feature in self.features:
            feature.attach(station)

    def policy(self) -> ChargingPolicy:
        """The charging rules the keys say."""
        keys = self.keys
        return ChargingPolicy(
            tx=tx_policy(keys.flag("StopTransactionOnEVSideDisconnect")),
            connection_timeout_s=float(keys.integer("ConnectionTimeOut")),
            unlock_on_ev_disconnect=keys.flag("UnlockConnectorOnEVSideDisconnect"),
            stop_on_invalid_id=keys.flag("StopTransactionOnInvalidId"),
            max_energy_on_invalid_id_wh=float(keys.integer("MaxEnergyOnInvalidId", unwired=0)),
        )

    @property
    def reset_retries(self) -> int:
        return self.keys.integer("ResetRetries")

    def start(self) -> None:
        self._spawn(self.journal.deliver(self.link, self.accepted), "ocpp-journal")
        self._spawn(self._send_statuses(), "ocpp-status")
        self._spawn(self.heart.run(), "ocpp-heartbeat")
        self.sampling.start()
        self.link.start()

    async def stop(self) -> None:
        if self.accepted.is_set() and self.link.connected.is_set():
            with contextlib.suppress(TimeoutError):  # let the last StopTransactions out
                async with asyncio.timeout(3):
                    await self.journal.wait_empty()
        await self.link.close()
        await self.sampling.stop()
        if self.security is not None:
            await self.security.close()
        for feature in self.features:  # features with work of their own (firmware, diagnostics)
            close = getattr(feature, "close", None)
            if close is not None and feature is not self.security:
                await close()
        await self._tasks.cancel()

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        return self._tasks.spawn(coro, name)

    def status_json(self) -> dict[str, Any]:
        link = {
            "ocpp": {
                "version": "1.6",
                "state": self.link.state.value,
                "last_error": self.link.last_error,
                "url": self.link.url,
                "registration": self.registration,
            }
        }
        return {**link, **(self.security.status_json() if self.security is not None else {})}

    async def report_security_event(self, kind: str, detail: str) -> None:
        if self.security is not None:
            await self.security.report_event(kind, detail)

    # ---- boot -----------------------------------------------------------------------------

    def boot_payload(self) -> Payload:
        payload: Payload = {
            "chargePointVendor": self.identity.vendor,
            "chargePointModel": self.identity.model,
            "firmwareVersion": self.identity.firmware_version,
        }
        if self.identity.serial_number:
            payload["chargePointSerialNumber"] = self.identity.serial_number
        if self.station is not None:
            serials = [v.meter.serial_number for v in self.station.views() if v.meter and v.meter.serial_number]
            if serials:
                payload["meterSerialNumber"] = serials[0][:25]
        return payload

    async def _on_connected(self) -> None:
        if self.accepted.is_set():
            await self._report_changed_statuses()
            return
        while not self.accepted.is_set():
            wait = await self._boot_once()
            if wait is None:
                return
            self._boot_now.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._boot_now.wait()  # TriggerMessage BootNotification cuts it short

    async def _boot_once(self) -> float | None:
        """One BootNotification; returns the wait before the next one, None when done / offline."""
        try:
            response = await self.link.call("BootNotification", self.boot_payload())
        except CallFailed as exc:
            if not self.link.connected.is_set():
                return None
            log.warning("BootNotification failed: %s", exc)
            return BOOT_RETRY_S
        self.registration = response["status"]
        self.link.silent = response["status"] == "Rejected"
        interval = int(response["interval"])
        self._take_time(response["currentTime"])
        if response["status"] != "Accepted":
            log.info("BootNotification %s; again in %s s", response["status"], interval or BOOT_RETRY_S)
            return float(interval) if interval > 0 else BOOT_RETRY_S
        if interval > 0 and interval != self.keys.integer("HeartbeatInterval"):
            await self.keys.change("HeartbeatInterval", str(interval))
        log.info("BootNotification accepted; heartbeat every %s s", interval)
        self.accepted.set()
        await self._report_all_statuses()
        return None

    def _take_time(self, current_time: str) -> None:
        try:
            csms = parse_time(current_time, assume_utc=True)
        except ValueError:
            log.warning("CSMS time %r unreadable; clock not adjusted", current_time)
            return
        self.clock.take((csms - datetime.now(UTC)).total_seconds(), "csms")  # never over NTP (clock.py)

    # ---- heartbeat ------------------------------------------------------------------------

    def _heartbeat_interval(self) -> int:
        return self.keys.integer("HeartbeatInterval")

    # ---- status -----------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if event.kind is EventKind.TRANSACTION_STARTED and event.transaction is not None:
            self.sampling.transaction_started(event.transaction)
        elif event.kind is EventKind.TRANSACTION_ENDED and event.transaction is not None:
            self.sampling.transaction_ended(event.transaction)
        self._project_statuses()

    def _project_statuses(self) -> None:
        """Every connector's status projected from its view; each change is reported."""
        if self.station is None:
            return
        views = self.station.views()
        changed = False
        for view in views:
            if view.indication is None:
                continue  # not sampled yet
            status, code = connector_status(view)
            if self._seen_status.get(view.id) != (status, code):
                self._seen_status[view.id], changed = (status, code), True
                self._queue_status((view.id, status.value, code, iso(self.clock.now())))
        station, code = station_status(views)
        if changed and self._sent_status.get(0) != (station.value, code):
            self._queue_status((0, station.value, code, iso(self.clock.now())))

    def _queue_status(self, item: StatusItem) -> None:
        """Report a status change, or with MinimumStatusDuration only once it held that long."""
        hold = self.keys.integer("MinimumStatusDuration", unwired=0)
        if hold == 0:
            self._status_queue.put_nowait(item)
            return
        self._latest_status[item[0]] = item
        self._spawn(self._queue_when_stable(item, hold), f"ocpp-status-hold-{item[0]}")

    async def _queue_when_stable(self, item: StatusItem, hold_s: float) -> None:
        await asyncio.sleep(hold_s)  # the stability window itself, not a synchronisation
        if self._latest_status.get(item[0]) is item:
            self._status_queue.put_nowait(item)

    def station_status(self) -> str:
        return station_status(self.station.views() if self.station is not None else ())[0].value

    def connector_status(self, connector: int) -> tuple[str, str]:
        if connector == 0 or self.station is None:
            status, code = station_status(self.station.views() if self.station is not None else ())
        else:
            status, code = connector_status(self.station.view(connector))
        return status.value, code

    async def _send_statuses(self) -> None:
        while True:
            connector, status, code, timestamp = await self._status_queue.get()
            await self.accepted.wait()
            if not self.link.connected.is_set():
                continue  # reported as a changed status after the reconnect
            await self.send_status(connector, status, code, timestamp, only_if_changed=True)

    async def send_status(self, connector: int, status: str, code: str, timestamp: str | None = None,
                          *, only_if_changed: bool = False) -> None:  # fmt: skip
        """One StatusNotification; serialised, so a change queued while the boot report is on
        the wire is compared with what that report sent, not with what was sent before it."""
        async with self._status_lock:
            if only_if_changed and self._sent_status.get(connector) == (status, code):
                return
            payload = {"connectorId": connector, "errorCode": code, "status": status,
                       "timestamp": timestamp or iso(self.clock.now())}  # fmt: skip
            try:
                await self.link.call("StatusNotification", payload)
            except CallFailed as exc:
                log.info("StatusNotification %s of connector %s failed: %s", status, connector, exc)
                return
            self._sent_status[connector] = (status, code)

    async def _report_all_statuses(self) -> None:
        self._drain_status_queue()
        self._sent_status.clear()  # after a boot every connector is reported once, current status
        for connector in [0, *(self.station.evse_ids if self.station else ())]:
            await self.send_status(connector, *self.connector_status(connector), only_if_changed=True)

    async def _report_changed_statuses(self) -> None:
        self._drain_status_queue()
        for connector in [0, *(self.station.evse_ids if self.station else ())]:
            current = self.connector_status(connector)
            if self._sent_status.get(connector) != current:
                await self.send_status(connector, *current)

    def _drain_status_queue(self) -> None:
        while not self._status_queue.empty():
            self._status_queue.get_nowait()

    # ---- authorization (the station's authorizer when charging.authorize = "ocpp") ---------

    @property
    def free_vend(self) -> bool:
        return False  # as the station's authorizer: the CSMS decides, nobody charges unasked

    async def authorize(self, t: Token, *, stop_groups: frozenset[str] = frozenset()) -> AuthResult:
        """Local list, cache and CSMS as the engine orders them; offline rules without a link."""
        tag = id_tag(t)
        return await self.authorization.authorize(token(tag), self._asker(tag), stop_groups)

    def _asker(self, tag: str) -> Ask | None:
        """Sends Authorize.req for ``tag`` (its answer remembered); None while the CSMS cannot be asked."""

        async def ask() -> TokenInfo | None:
            try:
                response = await self.link.call("Authorize", {"idTag": tag})
            except CallFailed as exc:
                log.info("Authorize %s failed (%s)", tag, exc)
                return None
            info, cacheable = readable_tag_info(tag, response["idTagInfo"])
            await self.authorization.remember(token(tag), info, cacheable=cacheable)
            return info

        return ask if self.accepted.is_set() and self.link.connected.is_set() else None

    def _local_list_conflict(self, _token: Token) -> None:
        """3.5.2: the CSMS contradicts the local list -> StatusNotification 0 with LocalListConflict."""
        self._spawn(self.send_status(0, self.station_status(), "LocalListConflict"), "local-list-conflict")

    # ---- CSMS -> charge point --------------------------------------------------------------

    def _evse_id(self, payload: Payload, key: str = "connectorId", allow_zero: bool = False) -> int | None:
        cid = payload.get(key)
        if cid is None:
            return None
        if self.station is None or not (cid in self.station.evse_ids or (allow_zero and cid == 0)):
            raise _Unknown
        return int(cid)

    async def remote_start(self, payload: Payload) -> Payload | Reply:
        station = self.station
        try:
            connector = self._evse_id(payload)
        except _Unknown:
            return {"status": "Rejected"}
        if station is None or not self.accepted.is_set():  # Pending: StartTransaction may not be sent
            return {"status": "Rejected"}
        tag = payload["idTag"]
        known = await self.authorization.known(token(tag))
        parent = known.group if known is not None else None

        def admitted(group: str | None) -> bool:
            return station.remote_start_check(token(tag, group), connector) is RemoteStartOutcome.ACCEPTED

        # Unknown here, it may still belong to a group a reservation admits: ask the CSMS (5.13).
        groups = {r.token.group for r in station.reservations() if r.token.group}
        learn = not admitted(parent) and known is None and any(admitted(g) for g in groups)
        if not (admitted(parent) or learn):  # no idle connector, or reserved for another
            return {"status": "Rejected"}
        profile = None
        if payload.get("chargingProfile") is not None and self.remote_start_profile is not None:
            profile = self.remote_start_profile(connector, payload["chargingProfile"])
            if profile is None:
                return {"status": "Rejected"}

        async def start() -> None:
            group = parent
            if self.keys.flag("AuthorizeRemoteTxRequests"):
                result = await self.authorize(token(tag))
                if not result.accepted:
                    log.info("RemoteStartTransaction for %s not authorized: %s", tag, result.status.value)
                    return
                group = result.group
            elif learn:
                group = await self.authorization.group_of(token(tag), self._asker(tag))
            outcome = await station.remote_start(token(tag, group), connector, profile=profile)
            log.info("RemoteStartTransaction %s on %s: %s", tag, connector or "any connector", outcome.value)

        return Reply({"status": "Accepted"}, after=start)

    async def remote_stop(self, payload: Payload) -> Payload | Reply:
        wanted = payload["transactionId"]
        station = self.station
        if station is None:
            return {"status": "Rejected"}
        for view in station.views():
            tx = view.transaction
            if tx is not None and await self.journal.transaction_id(tx.id) == wanted:

                async def stop(transaction_id: str = tx.id) -> None:
                    await station.remote_stop(transaction_id)

                return Reply({"status": "Accepted"}, after=stop)
        return {"status": "Rejected"}

    async def change_availability(self, payload: Payload) -> Payload:
        try:
            connector = self._evse_id(payload, allow_zero=True)
        except _Unknown:
            return {"status": "Rejected"}
        if self.station is None or connector is None:
            return {"status": "Rejected"}
        operative = payload["type"] == "Operative"
        outcome = await self.station.set_availability(connector or None, operative, AvailabilityReason.OPERATOR)
        return {"status": "Scheduled" if outcome is AvailabilityOutcome.SCHEDULED else "Accepted"}

    async def reset(self, payload: Payload) -> Reply:
        kind = payload["type"]

        async def drain() -> None:  # 4.11: graceful; a hard reset sends them after the reboot
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self.journal.wait_empty()  # StopTransactions out before we go, if online

        async def restart() -> None:
            if self.security is not None:  # critical: journaled, so it is delivered after the restart at worst
                await self.security.report_event("ResetOrReboot", f"Reset {kind} requested by the CSMS")
            if self.station is not None:
                log.warning("Reset %s requested by the CSMS: restarting", kind)
                await self.station.reset(None, ResetWhen.IMMEDIATE, RESET_CAUSE[kind], kind=RestartKind(kind),
                                         settle=drain if kind == "Soft" else None)  # fmt: skip

        return Reply({"status": "Accepted"}, after=restart)

    async def unlock_connector(self, payload: Payload) -> Payload:
        try:
            connector = self._evse_id(payload)
        except _Unknown:
            return {"status": "NotSupported"}
        if self.station is None or connector is None or not self.station.view(connector).has_lock:
            return {"status": "NotSupported"}
        await self.station.stop(connector, StopCause.UNLOCK_COMMAND)  # 1.6: unlocking ends the transaction
        return {"status": UNLOCK_STATUS.get(await self.station.unlock(connector), "NotSupported")}

    async def trigger_message(self, payload: Payload) -> Payload | Reply:
        requested = payload["requestedMessage"]
        try:
            connector = self._evse_id(payload, allow_zero=True)
        except _Unknown:
            return {"status": "Rejected"}
        triggers: dict[str, Callable[[], Awaitable[None]]] = {
            "BootNotification": self._triggered_boot,
            "Heartbeat": self.heart.beat,
            "StatusNotification": lambda: self._triggered_status(connector),
            "MeterValues": lambda: self._triggered_meter_values(connector),
        }
        for feature in self.features:  # firmware and diagnostics report their own status
            triggers.update(getattr(feature, "trigger_messages", dict)())
        send = triggers.get(requested)
        if send is None:
            return {"status": "NotImplemented"}
        return Reply({"status": "Accepted"}, after=send)

    async def _triggered_boot(self) -> None:
        if self.accepted.is_set():
            await self._boot_once()
        else:
            self._boot_now.set()

    async def _triggered_status(self, connector: int | None) -> None:
        targets = [connector] if connector is not None else [0, *(self.station.evse_ids if self.station else ())]
        for cid in targets:
            await self.send_status(cid, *self.connector_status(cid))

    async def _triggered_meter_values(self, connector: int | None) -> None:
        if self.station is None:
            return
        from controller.ocpp.v16.metering import meter_value, sampled_values

        targets = [connector] if connector not in (None, 0) else list(self.station.evse_ids)
        for cid in targets:
            view = self.station.view(cid)
            measurands = self.keys.members("MeterValuesSampledData")
            samples = sampled_values(measurands, view.meter, view.snapshot, "Trigger")
            if not samples:
                continue
            payload: Payload = {"connectorId": cid, "meterValue": [meter_value(iso(self.clock.now()), samples)]}
            transaction_id = await self.transactions.transaction_of(cid)
            if transaction_id is not None and transaction_id >= 0:
                payload["transactionId"] = transaction_id
            await self._call_quietly("MeterValues", payload)

    async def _send_when_accepted(self, action: str, payload: Payload) -> None:
        """A message that is not worth queueing (idle clock-aligned values): now or never."""
        if self.accepted.is_set():
            await self._call_quietly(action, payload)

    async def _call_quietly(self, action: str, payload: Payload) -> None:
        try:
            await self.link.call(action, payload)
        except CallFailed as exc:
            log.info("%s failed: %s", action, exc)

    async def data_transfer(self, payload: Payload) -> Payload:
        log.info("DataTransfer from vendor %s ignored", payload.get("vendorId"))
        return {"status": "UnknownVendorId"}

    async def clear_cache(self, _payload: Payload) -> Payload:
        await self.authorization.clear_cache()
        return {"status": "Accepted"}


class _Unknown(Exception):
    """A connectorId the station does not have."""
