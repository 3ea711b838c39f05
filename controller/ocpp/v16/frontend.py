"""The OCPP 1.6J charge point: a translator between the charging core and the CSMS.

Rules kept here (OCPP 1.6 edition 2 chapters 4 and 5; DESIGN.md "One core, two protocols"):
- Core events become messages (status -> StatusNotification, sessions -> Start/Stop via
  transactions.py); CSMS requests become core calls (``start_session``, ``stop_session``,
  ``set_operative``...). No charging logic lives here.
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

from controller.authorization import AuthResult
from controller.clock import WallClock, iso
from controller.faults import Fault
from controller.ocpp.journal import Journal
from controller.ocpp.link import CallFailed, Link, Reply
from controller.ocpp.v16.authorization import Ask, Authorization
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.sampling import Sampling
from controller.ocpp.v16.status import NO_ERROR, error_code
from controller.ocpp.v16.transactions import Transactions
from controller.sessions import StopReason
from controller.status import ConnectorStatus
from controller.storage import Database
from controller.tasks import Tasks

if TYPE_CHECKING:
    from controller.ocpp.certificates import CertificateStore
    from controller.ocpp.v16.local_list import LocalList
    from controller.ocpp.v16.security import Security
    from controller.station import Station, StationEvent

log = logging.getLogger(__name__)

BOOT_RETRY_S = 60.0  # when the CSMS says interval 0
UNLOCK_WAIT_S = 3.0  # lock motor plus the loop's feedback check
Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable[Payload | Reply]]
StatusItem = tuple[int, str, str, str]  # connector, status, errorCode, timestamp

_AVAILABILITY_DDL = "CREATE TABLE ocpp16_availability (connector INTEGER PRIMARY KEY, operative INTEGER NOT NULL)"

RESET_REASON = {"Soft": StopReason.SOFT_RESET, "Hard": StopReason.HARD_RESET}
# Keys whose value the core applies as is: key -> Station attribute.
STATION_POLICIES = {
    "ConnectionTimeOut": "connection_timeout_s",
    "StopTransactionOnEVSideDisconnect": "stop_on_ev_disconnect",
    "UnlockConnectorOnEVSideDisconnect": "unlock_on_ev_disconnect",
}


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


class ChargePoint:
    free_vend = False  # as the station's authorizer: the CSMS decides, nobody charges unasked
    # Set by build_frontend, for features that need them (firmware: ManufacturerRootCertificate,
    # SecurityEventNotification).
    certificates: CertificateStore | None = None
    security: Security | None = None

    def __init__(
        self,
        db: Database,
        link: Link,
        journal: Journal,
        keys: Configuration,
        identity: Identity,
        clock: WallClock,
        *,
        on_reset: Callable[[str], None] | None = None,
        features: Iterable[Feature] = (),
        local_list: LocalList | None = None,
    ):
        db.migrate("ocpp16_availability_0001", _AVAILABILITY_DDL)
        self.db, self.link, self.journal, self.keys = db, link, journal, keys
        self.identity = identity
        self.clock = clock
        self.on_reset = on_reset
        self.transactions = Transactions(journal, keys, clock.now)
        self.authorization = Authorization(db, keys, clock.now, local_list)
        self.authorization.on_conflict = self._local_list_conflict
        self.transactions.authorization = self.authorization
        self.sampling = Sampling(keys, clock, self.transactions, self._send_when_accepted)
        self.station: Station | None = None
        self.accepted = asyncio.Event()
        self.registration: str | None = None  # last BootNotification status
        self._sent_status: dict[int, tuple[str, str]] = {}
        self._status_queue: asyncio.Queue[StatusItem] = asyncio.Queue()
        self._latest_status: dict[int, StatusItem] = {}  # per connector, for MinimumStatusDuration
        self._status_lock = asyncio.Lock()
        self._heartbeat_changed = asyncio.Event()
        self._boot_now = asyncio.Event()
        self._tasks = Tasks("ocpp 1.6")
        self.features = list(features)
        # Set when Smart Charging is wired: judges (and keeps) a RemoteStartTransaction's
        # chargingProfile; False answers Rejected. Without it the profile is ignored.
        self.remote_start_profile: Callable[[int | None, str, Payload], bool] | None = None
        link.on_connected = self._on_connected
        for action, handler in self._handlers().items():
            link.handle(action, handler)
        for feature in self.features:
            for action, handler in feature.handlers().items():
                link.handle(action, handler)
        keys.on_change("HeartbeatInterval", lambda _v: self._heartbeat_changed.set())
        keys.on_change("TransactionMessageAttempts", lambda v: setattr(journal, "attempts", v))
        keys.on_change("TransactionMessageRetryInterval", lambda v: setattr(journal, "retry_interval", float(v)))
        journal.attempts = int(keys["TransactionMessageAttempts"])  # type: ignore[arg-type]
        journal.retry_interval = float(keys["TransactionMessageRetryInterval"])  # type: ignore[arg-type]
        if "WebSocketPingInterval" in keys.keys:  # websockets takes it per connection: from the next one
            keys.on_change("WebSocketPingInterval", lambda v: setattr(link, "ping_interval", float(v)))  # type: ignore[arg-type]

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
        """Bind to the station (after the ledger's crash recovery queued its StopTransactions)."""
        self.station = station
        self.transactions.station = station
        self.sampling.station = station
        station.listeners.append(self._on_event)
        for key, attribute in STATION_POLICIES.items():
            setattr(station, attribute, self.keys[key])
            self.keys.on_change(key, lambda value, a=attribute: setattr(station, a, value))
        for feature in self.features:
            feature.attach(station)
        stored = self.db.run_sync(
            lambda c: c.execute("SELECT connector, operative FROM ocpp16_availability").fetchall()
        )
        for connector, operative in stored:
            if connector == 0 or connector in station.evses:
                station.set_operative(connector, bool(operative))

    def start(self) -> None:
        self._spawn(self.journal.deliver(self.link, self.accepted), "ocpp-journal")
        self._spawn(self._send_statuses(), "ocpp-status")
        self._spawn(self._heartbeats(), "ocpp-heartbeat")
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
        return {
            "ocpp": {
                "version": "1.6",
                "state": self.link.state.value,
                "last_error": self.link.last_error,
                "url": self.link.url,
                "registration": self.registration,
            }
        }

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
            serials = [e.meter.serial_number for e in self.station.evses.values() if e.meter and e.meter.serial_number]
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
        if interval > 0 and interval != self.keys["HeartbeatInterval"]:
            await self.keys.change("HeartbeatInterval", str(interval))
        log.info("BootNotification accepted; heartbeat every %s s", interval)
        self.accepted.set()
        await self._report_all_statuses()
        return None

    def _take_time(self, current_time: str) -> None:
        try:
            csms = datetime.fromisoformat(current_time.replace("Z", "+00:00"))
        except ValueError:
            log.warning("CSMS time %r unreadable; clock not adjusted", current_time)
            return
        if csms.tzinfo is None:
            csms = csms.replace(tzinfo=UTC)
        self.clock.take((csms - datetime.now(UTC)).total_seconds(), "csms")  # never over NTP (clock.py)

    # ---- heartbeat ------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        while True:
            await self.accepted.wait()
            interval = self.keys["HeartbeatInterval"]
            assert isinstance(interval, int)
            self._heartbeat_changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval if interval > 0 else None):
                    await self._heartbeat_changed.wait()
                continue  # the interval changed: start counting again
            await self.heartbeat()

    async def heartbeat(self) -> None:
        try:
            response = await self.link.call("Heartbeat", {})
        except CallFailed as exc:
            log.info("Heartbeat failed: %s", exc)
            return
        self._take_time(response["currentTime"])

    # ---- status -----------------------------------------------------------------------------

    def _on_event(self, event: StationEvent) -> None:
        if event.kind == "status" and event.status is not None:
            self._queue_status((event.connector, event.status.value, error_code(event.fault), iso(self.clock.now())))
            if event.connector in (self.station.evses if self.station else {}):
                self._queue_station_status()
        elif event.kind == "session_started" and event.session is not None:
            self.sampling.session_started(event.session)
        elif event.kind == "session_stopped" and event.session is not None:
            self.sampling.session_stopped(event.session)

    def station_status(self) -> str:
        """Connector 0: Unavailable when every connector was made inoperative, Faulted when every
        connector is faulted (the station as a whole cannot charge), else Available."""
        evses = list(self.station.evses.values()) if self.station is not None else []
        if evses and not any(e.operative for e in evses):
            return ConnectorStatus.UNAVAILABLE.value
        if evses and all(e.status is ConnectorStatus.FAULTED for e in evses):
            return ConnectorStatus.FAULTED.value
        return ConnectorStatus.AVAILABLE.value

    def _queue_station_status(self) -> None:
        current = self.connector_status(0)
        if self._sent_status.get(0) != current:
            self._queue_status((0, *current, iso(self.clock.now())))

    def _queue_status(self, item: StatusItem) -> None:
        """Report a status change, or with MinimumStatusDuration only once it held that long."""
        hold = self.keys["MinimumStatusDuration"] if "MinimumStatusDuration" in self.keys.keys else 0
        assert isinstance(hold, int)
        if hold == 0:
            self._status_queue.put_nowait(item)
            return
        self._latest_status[item[0]] = item
        self._spawn(self._queue_when_stable(item, hold), f"ocpp-status-hold-{item[0]}")

    async def _queue_when_stable(self, item: StatusItem, hold_s: float) -> None:
        await asyncio.sleep(hold_s)  # the stability window itself, not a synchronisation
        if self._latest_status.get(item[0]) is item:
            self._status_queue.put_nowait(item)

    def connector_status(self, connector: int) -> tuple[str, str]:
        if connector == 0 or self.station is None:
            status = self.station_status()
            if status == ConnectorStatus.FAULTED.value and self.station is not None:
                return status, self.connector_status(min(self.station.evses))[1]  # the faults they share
            return status, NO_ERROR
        evse = self.station.evses[connector]
        status = (evse.status or ConnectorStatus.UNAVAILABLE).value
        return status, error_code(evse.fault)

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
        for connector in [0, *(self.station.evses if self.station else ())]:
            await self.send_status(connector, *self.connector_status(connector), only_if_changed=True)

    async def _report_changed_statuses(self) -> None:
        self._drain_status_queue()
        for connector in [0, *(self.station.evses if self.station else ())]:
            current = self.connector_status(connector)
            if self._sent_status.get(connector) != current:
                await self.send_status(connector, *current)

    def _drain_status_queue(self) -> None:
        while not self._status_queue.empty():
            self._status_queue.get_nowait()

    # ---- authorization (the station's authorizer when charging.authorize = "ocpp") ---------

    async def authorize(self, id_tag: str) -> AuthResult:
        """Local list, cache and CSMS as authorization.py orders them; offline rules without a link."""
        return await self.authorization.authorize(id_tag, self._asker(id_tag))

    def _asker(self, id_tag: str) -> Ask | None:
        """Sends Authorize.req for ``id_tag``; None while the CSMS cannot be asked."""

        async def ask() -> Payload:
            return await self.link.call("Authorize", {"idTag": id_tag})

        return ask if self.accepted.is_set() and self.link.connected.is_set() else None

    def _local_list_conflict(self, _id_tag: str) -> None:
        """3.5.2: the CSMS contradicts the local list -> StatusNotification 0 with LocalListConflict."""
        self._spawn(self.send_status(0, self.station_status(), "LocalListConflict"), "local-list-conflict")

    # ---- CSMS -> charge point --------------------------------------------------------------

    def _evse_id(self, payload: Payload, key: str = "connectorId", allow_zero: bool = False) -> int | None:
        cid = payload.get(key)
        if cid is None:
            return None
        if self.station is None or not (cid in self.station.evses or (allow_zero and cid == 0)):
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
        candidates = [station.evses[connector]] if connector is not None else list(station.evses.values())
        id_tag = payload["idTag"]
        idle = [e for e in candidates if e.session is None and e.operative and not e.finishing]
        known = await self.authorization.known(id_tag)
        parent = known.parent_id_tag if known is not None else None

        def admitted(group: str | None) -> bool:
            return any(station.admission(e.id, id_tag, group).allowed for e in idle)

        # Unknown here, it may still belong to a group a reservation admits: ask the CSMS (5.13).
        groups = {r.parent_id_tag for r in station.reservations.values() if r.parent_id_tag}
        learn = not admitted(parent) and known is None and any(admitted(g) for g in groups)
        if not (admitted(parent) or learn):  # no idle connector, or reserved for another
            return {"status": "Rejected"}
        profile = payload.get("chargingProfile")
        judge = self.remote_start_profile
        if profile is not None and judge is not None and not judge(connector, id_tag, profile):
            return {"status": "Rejected"}

        async def start() -> None:
            group = parent
            if self.keys["AuthorizeRemoteTxRequests"]:
                result = await self.authorize(id_tag)
                if not result.accepted:
                    log.info("RemoteStartTransaction for %s not authorized: %s", id_tag, result.status)
                    return
                group = result.parent_id_tag
            elif learn:
                group = await self.authorization.parent_of(id_tag, self._asker(id_tag))
            outcome = await station.start_session(connector, id_tag, group)
            log.info("RemoteStartTransaction %s on %s: %s", id_tag, connector or "any connector", outcome)

        return Reply({"status": "Accepted"}, after=start)

    async def remote_stop(self, payload: Payload) -> Payload | Reply:
        wanted = payload["transactionId"]
        station = self.station
        if station is None:
            return {"status": "Rejected"}
        for cid in station.evses:
            if await self.transactions.transaction_of(cid) == wanted:

                async def stop(connector: int = cid) -> None:
                    await station.stop_session(connector, StopReason.REMOTE)

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
        targets = [0, *self.station.evses] if connector == 0 else [connector]

        def persist(c: Any) -> None:
            if connector == 0:
                c.execute("DELETE FROM ocpp16_availability")
            for target in targets:
                c.execute("INSERT OR REPLACE INTO ocpp16_availability VALUES (?, ?)", (target, int(operative)))

        await self.db.run(persist)
        return {"status": self.station.set_operative(connector, operative)}

    async def reset(self, payload: Payload) -> Reply:
        kind = payload["type"]

        async def restart() -> None:
            if self.security is not None:  # critical: journaled, so it is delivered after the restart at worst
                await self.security.report_event("ResetOrReboot", f"Reset {kind} requested by the CSMS")
            if self.station is not None:
                await self.station.stop_all(RESET_REASON[kind])
            if kind == "Soft":  # 4.11: graceful; a hard reset sends them after the reboot
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(10):
                        await self.journal.wait_empty()  # StopTransactions out before we go, if online
            log.warning("Reset %s requested by the CSMS: restarting", kind)
            if self.on_reset is not None:
                self.on_reset(kind)

        return Reply({"status": "Accepted"}, after=restart)

    async def unlock_connector(self, payload: Payload) -> Payload:
        try:
            connector = self._evse_id(payload)
        except _Unknown:
            return {"status": "NotSupported"}
        if self.station is None or connector is None:
            return {"status": "NotSupported"}
        if self.station.board.connector(connector).lock is None:
            return {"status": "NotSupported"}
        if self.station.evses[connector].session is not None:
            await self.station.stop_session(connector, StopReason.UNLOCK_COMMAND)
        self.station.unlock(connector)
        # The loop drives the lock; the answer waits for its verdict (feedback checked there).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(UNLOCK_WAIT_S):
                await self.station.until_snapshot(connector, lambda s: not s.locked and Fault.LOCK not in s.faults)
                return {"status": "Unlocked"}
        log.warning("connector %s: unlock failed", connector)
        return {"status": "UnlockFailed"}

    async def trigger_message(self, payload: Payload) -> Payload | Reply:
        requested = payload["requestedMessage"]
        try:
            connector = self._evse_id(payload, allow_zero=True)
        except _Unknown:
            return {"status": "Rejected"}
        triggers: dict[str, Callable[[], Awaitable[None]]] = {
            "BootNotification": self._triggered_boot,
            "Heartbeat": self.heartbeat,
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
        targets = [connector] if connector is not None else [0, *(self.station.evses if self.station else ())]
        for cid in targets:
            await self.send_status(cid, *self.connector_status(cid))

    async def _triggered_meter_values(self, connector: int | None) -> None:
        if self.station is None:
            return
        from controller.ocpp.v16.metering import meter_value, sampled_values

        targets = [connector] if connector not in (None, 0) else list(self.station.evses)
        for cid in targets:
            evse = self.station.evses[cid]
            measurands = self.keys["MeterValuesSampledData"]
            assert isinstance(measurands, tuple)
            samples = sampled_values(measurands, evse.meter, evse.snapshot, "Trigger")
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
