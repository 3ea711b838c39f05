"""The station's way to its CSMS: the network connection profiles in their slots, the slot and
credentials of each connection attempt, and what a successful connection settles (part 2 B09,
B10, A05; errata 2025-09 2.5, 2.9, 2.11-2.13). The rules are network_profiles.py's and
controller/ocpp/security_profile.py's; this module is their I/O.

Rules kept here:
- Slot 1 is the configuration's ``[ocpp] url`` (security profile 1 for ws://, 2 for wss://) until
  the CSMS writes that slot. The CSMS's profiles are rows of ``ocpp201_network_profiles``; the
  current security profile and the slot of the last successful connection are one row of
  ``ocpp201_network_state``: they outlive restarts (after the reboot of a migration, the old slot
  is where the station falls back to).
- Profiles and the priority are taken as the station boots: a SetNetworkProfile or a new
  NetworkConfigurationPriority (RebootRequired) applies from the next boot (B09 remark, B10).
  NetworkProfileConnectionAttempts applies from the next attempt.
- Each attempt: the walk's slot, its URL with the station's identity appended (part 4 3.1.1), its
  message timeout as the CALL timeout, its security profile's credentials and TLS; a replaced
  CSMS root kept as the fallback is trusted only on the slot of the last good connection, not
  while migrating to another one (M05.FR.14-16).
- Connected: the slot is ActiveNetworkProfile and the last good one. Through a slot of a higher
  security profile (A05.FR.06): SecurityProfile becomes that, every profile below it is removed
  and NetworkConfigurationPriority loses those slots. Through another slot than the one of the
  last registration: BootNotification again (errata B10.FR.10). With profile 3 every other
  client certificate is discarded (errata A02.FR.10); a renewed client certificate the CSMS
  refuses is discarded and the one before it used again (errata A02.FR.28/29,
  DiscardedRenewedClientCertificate).
- SetNetworkProfile: Accepted once the profile is in SQLite, Failed when it cannot be stored
  (B09.FR.03), Rejected with the reason code network_profiles.py names.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from controller.ocpp.link import Link
from controller.ocpp.security_profile import ConnectionSecurity, missing
from controller.ocpp.v201.credentials import Credentials
from controller.ocpp.v201.network_profiles import NetworkProfile, Walk, priority_refusal, refusal
from controller.ocpp.v201.values import BadValue, Value
from controller.storage import Database

if TYPE_CHECKING:
    from controller.ocpp.certificates import CertificateStore
    from controller.ocpp.v201.configuration import Configuration
    from controller.ocpp.v201.device_model import Write
    from controller.ocpp.websocket import WebSocket

log = logging.getLogger(__name__)

Payload = dict[str, Any]
PRIORITY = "OCPPCommCtrlr.NetworkConfigurationPriority"
ATTEMPTS = "OCPPCommCtrlr.NetworkProfileConnectionAttempts"
_PROFILES_DDL = "CREATE TABLE ocpp201_network_profiles (slot INTEGER PRIMARY KEY, profile TEXT NOT NULL)"
_STATE_DDL = """CREATE TABLE ocpp201_network_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    security_profile INTEGER NOT NULL,
    last_slot INTEGER
)"""


def configured_profile(url: str, call_timeout_s: float) -> NetworkProfile:
    """Slot 1 as the configuration file gives it."""
    return NetworkProfile(url, 2 if url.startswith("wss://") else 1, max(1, round(call_timeout_s)))


class NetworkStore:
    def __init__(self, db: Database):
        db.migrate("ocpp201_network_profiles_0001", _PROFILES_DDL)
        db.migrate("ocpp201_network_state_0001", _STATE_DDL)
        self.db = db

    def load(self) -> tuple[dict[int, NetworkProfile], int | None, int | None]:
        """The CSMS's profiles, the security profile reached and the last good slot (blocking: at startup)."""

        def read(conn: sqlite3.Connection) -> tuple[list[tuple[int, str]], tuple[int, int | None] | None]:
            rows = conn.execute("SELECT slot, profile FROM ocpp201_network_profiles").fetchall()
            return rows, conn.execute("SELECT security_profile, last_slot FROM ocpp201_network_state").fetchone()

        rows, state = self.db.run_sync(read)
        profiles = {}
        for slot, text in rows:
            try:
                profiles[slot] = NetworkProfile.from_json(json.loads(text))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("network profile of slot %s unreadable (%s); ignored", slot, exc)
        return profiles, *(state if state is not None else (None, None))

    async def put(self, slot: int, profile: NetworkProfile) -> None:
        text = json.dumps(profile.to_json())
        await self.db.run(lambda conn: conn.execute("INSERT OR REPLACE INTO ocpp201_network_profiles VALUES (?, ?)",
                                                    (slot, text)))  # fmt: skip

    async def remove(self, slots: Iterable[int]) -> None:
        gone = [(s,) for s in slots]
        await self.db.run(lambda conn: conn.executemany("DELETE FROM ocpp201_network_profiles WHERE slot = ?", gone))

    async def settle(self, security_profile: int, last_slot: int) -> None:
        await self.db.run(lambda conn: conn.execute("INSERT OR REPLACE INTO ocpp201_network_state VALUES (1, ?, ?)",
                                                    (security_profile, last_slot)))  # fmt: skip


class Connectivity:
    def __init__(
        self,
        link: Link,
        store: NetworkStore,
        configuration: Configuration,
        connection: ConnectionSecurity,
        credentials: Credentials,
        certificates: CertificateStore,
        *,
        identity: str,
        configured: NetworkProfile,
        slots: tuple[int, ...],
        on_switch: Callable[[], None],
        report: Callable[[str, str | None], Awaitable[None]],
    ):
        self.link, self.store, self.configuration = link, store, configuration
        self.connection, self.credentials, self.certificates = connection, credentials, certificates
        self.identity, self.slots, self.on_switch, self.report = identity, slots, on_switch, report
        stored, security_profile, last_slot = store.load()
        self.profiles: dict[int, NetworkProfile] = {1: configured, **stored}  # as the CSMS set them
        self.security_profile = security_profile or configured.security_profile
        self._boot_profiles = dict(self.profiles)  # what this run connects with
        order = tuple(int(s) for s in self._priority() if self._usable(int(s)))
        self.walk = Walk(order, configuration.number(ATTEMPTS), last_slot if last_slot and self._usable(last_slot)
                         else None)  # fmt: skip
        self.slot: int | None = None  # the slot of the current (or last) attempt
        self.active: int | None = None  # the slot of the current (or last) connection
        self._registered: int | None = None  # the slot the registration was made through
        link.before_attempt = self.before_attempt
        link.additional_headers = lambda: credentials.headers(self.profile.security_profile)
        link.ssl = lambda: connection.ssl_context(link.url, self.profile.security_profile, self.migrating)
        link.on_open = self.opened
        link.on_failure = self.failed

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"SetNetworkProfile": self.set_network_profile}

    def bind(self) -> None:
        """Wire the device model: the priority's guard, the attempts' listener."""
        model = self.configuration.model
        model.guard("network_configuration_priority", self._check_priority)
        model.read_at_use("network_configuration_priority")  # RebootRequired: read as the station boots
        model.on_change("network_profile_connection_attempts", self._attempts_changed)

    def _priority(self) -> tuple[str, ...]:
        value = self.configuration.value(PRIORITY)
        return value if isinstance(value, tuple) else ()

    def _usable(self, slot: int) -> bool:
        profile = self._boot_profiles.get(slot)
        return profile is not None and profile.security_profile >= self.security_profile

    @property
    def profile(self) -> NetworkProfile:
        """The network profile of the current (or last) attempt."""
        return self._boot_profiles[self.slot if self.slot is not None else 1]

    @property
    def migrating(self) -> bool:
        """The current attempt goes to another slot than the last good one (M05.FR.15)."""
        return self.walk.last_good is not None and self.slot != self.walk.last_good

    @property
    def connected_profile(self) -> int | None:
        """The security profile of the connection in use (None: not connected)."""
        return self.profile.security_profile if self.link.connected.is_set() else None

    def missing(self, profile: int) -> str | None:
        """What this station lacks for ``profile`` (A05.FR.02/03)."""
        password = "" if self.credentials.has_password() else "SecurityCtrlr.BasicAuthPassword is not set"
        return missing(profile, password=password, roots=self.connection.has_roots(),
                       client_certificate=self.certificates.client_identity() is not None)  # fmt: skip

    # ---- device model -------------------------------------------------------------------

    def _check_priority(self, value: Value) -> None:
        assert isinstance(value, tuple)
        reason = priority_refusal(value, self.profiles, self.security_profile, self.missing)
        if reason is not None:
            raise BadValue("InvalidValue", f"{PRIORITY}: {reason}")

    def _attempts_changed(self, _write: Write) -> None:
        self.walk.attempts = self.configuration.number(ATTEMPTS)

    # ---- link hooks ---------------------------------------------------------------------

    def before_attempt(self) -> None:
        slot = self.walk.next()
        if slot is None:
            raise ConnectionError(
                f"no network connection profile to use: {PRIORITY} names none at security profile "
                f"{self.security_profile} or higher"
            )
        self.slot = slot
        profile = self.profile
        self.link.url = profile.url.rstrip("/") + "/" + self.identity
        self.link.call_timeout = float(profile.message_timeout_s)

    def opened(self, ws: WebSocket) -> None:
        """The websocket is open: TLS checks, then what the slot's success settles."""
        self.connection.opened(ws)
        slot, profile = self.slot if self.slot is not None else 1, self.profile
        self.active = slot
        self.walk.connected(slot)
        if self._registered is not None and slot != self._registered:
            log.info("connected through network profile slot %s (registered through %s): registering again", slot,
                     self._registered)  # fmt: skip
            self.on_switch()  # errata B10.FR.10
        self._registered = slot
        identity = self.connection.identity
        if profile.security_profile == 3 and identity is not None:
            self.certificates.keep_only_client(identity[0])  # errata A02.FR.10
        self.link.spawn(self._settle(slot, profile), "ocpp201-network-settle")

    async def _settle(self, slot: int, profile: NetworkProfile) -> None:
        if profile.security_profile > self.security_profile:  # A05.FR.06
            before, self.security_profile = self.security_profile, profile.security_profile
            lower = [s for s, p in self.profiles.items() if p.security_profile < self.security_profile]
            await self.store.remove(lower)
            for gone in lower:
                del self.profiles[gone]
            priority = [s for s in self._priority() if int(s) not in lower] or [str(slot)]
            await self.store.settle(self.security_profile, slot)
            await self.configuration.write(PRIORITY, ",".join(priority))
            log.warning("security profile %s -> %s through slot %s; slots %s removed", before, self.security_profile,
                        slot, lower)  # fmt: skip
            await self.report("ReconfigurationOfSecurityParameters",
                              f"SecurityProfile {before} -> {self.security_profile}")  # fmt: skip
            return
        await self.store.settle(self.security_profile, slot)

    def failed(self, exc: BaseException) -> str | None:
        """A failed attempt: its reason; a renewed client certificate the CSMS refused goes."""
        try:
            profile = self.profile.security_profile
            judged = self.connection.judge(exc, profile)
            identity = self.connection.identity
            if profile == 3 and judged.failure.credentials_refused and identity is not None \
                    and len(self.certificates.client_ids()) > 1:  # fmt: skip
                self.certificates.discard_client(identity[0])
                self.link.spawn(self.report("DiscardedRenewedClientCertificate", judged.reason),
                                "ocpp201-discarded-certificate")  # fmt: skip
            return judged.reason
        except Exception:
            log.exception("judging the failed CSMS connection failed")
            return None

    # ---- CSMS -> station ----------------------------------------------------------------

    async def set_network_profile(self, payload: Payload) -> Payload:
        slot, data = payload["configurationSlot"], payload["connectionData"]
        refused = refusal(slot, data, self.slots, self.security_profile)
        if refused is not None:
            log.info("SetNetworkProfile slot %s rejected: %s", slot, refused.info)
            return {"status": "Rejected", "statusInfo": {"reasonCode": refused.reason_code,
                                                         "additionalInfo": refused.info[:512]}}  # fmt: skip
        profile = NetworkProfile.from_json(data)
        try:
            await self.store.put(slot, profile)
        except (sqlite3.Error, OSError) as exc:
            log.error("SetNetworkProfile slot %s not stored: %s", slot, exc)
            return {"status": "Failed"}
        self.profiles[slot] = profile
        log.info("network profile slot %s: %s, security profile %s (from the next boot)", slot, profile.url,
                 profile.security_profile)  # fmt: skip
        return {"status": "Accepted"}
