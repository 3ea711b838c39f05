"""The ``[ocpp]`` section and the OCPP front end built from it for the daemon.

Rules kept here:
- ``[ocpp]`` without ``url`` means no backend: nothing is built and nothing connects.
- ``version`` chooses the front end; "1.6" is built here (OCPP-J 1.6 over ``Link``).
- ``charge_point_id`` overrides ``[station] charge_point_id``; BootNotification's vendor, model
  and serial number come from ``[station]``, the firmware version from ``[ocpp]`` (default the
  evsed version).
- ``[ocpp.keys]`` sets configuration-key defaults (e.g. ``HeartbeatInterval = 60``); values the
  CSMS changed later and stored win over them. Key names are case-insensitive (CiString50Type);
  an unknown key, or one key written twice in different cases, is a startup error naming it.
- Security (whitepaper; controller/ocpp/v16/security.py): ``tls_url`` (wss:// for profiles
  2-3), ``ca_file`` (CSMS roots; default the system store), ``insecure`` (bench only, loudly
  logged), ``basic_auth`` (password as written or hex-decoded). AuthorizationKey is a secret:
  never in the configuration file, it lives in ``<state_dir>/secrets/authorization_key``;
  certificates in ``<state_dir>/certificates``.
- The front end's hook is registered on the ledger before crash recovery runs, so the
  StopTransaction (PowerLoss) of a transaction a crash left open is queued with its closing,
  in the same SQLite transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from controller import __version__
from hal.config import ConfigError, ConfigSection

if TYPE_CHECKING:
    from controller.clock import WallClock
    from controller.config import Config
    from controller.core.ledger import Ledger
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import ChargePoint, Feature
    from controller.ocpp.v16.security import TimeSource
    from controller.storage import Database

VERSIONS = ("1.6",)
# Optional keys with nothing behind them on this station: unknown to the CSMS, not faked.
WITHOUT_EFFECT = ("BlinkRepeat", "LightIntensity")
# What SupportedFeatureProfiles announces: only profiles whose messages are wired below.
WIRED_PROFILES = frozenset(
    {"Core", "RemoteTrigger", "LocalAuthListManagement", "Reservation", "Security", "SmartCharging",
     "FirmwareManagement"}
)  # fmt: skip
AUTHORIZATION_KEY_FILE = Path("secrets") / "authorization_key"  # under the state directory


@dataclass(frozen=True)
class OcppConfig:
    url: str | None = None
    version: str = "1.6"
    charge_point_id: str | None = None
    firmware_version: str = __version__
    call_timeout_s: float = 30.0
    reconnect_cap_s: float = 300.0
    keys: dict[str, str] = field(default_factory=dict)
    tls_url: str | None = None
    ca_file: Path | None = None
    insecure: bool = False
    basic_auth: str = "as-written"

    @staticmethod
    def from_section(s: ConfigSection) -> OcppConfig:
        from controller.ocpp.v16.keys import named

        url = websocket_url(s, "url", ("ws", "wss"))
        keys_section = s.section("keys")
        keys: dict[str, str] = {}
        for name in keys_section.names():  # unknown names are left unread: check_unused names them
            key = named(name)
            if key is None:
                continue
            if key.access == "W":
                raise keys_section.error(name, "(hidden)", f"a secret does not belong in the configuration file; "
                                         f"write it to <state_dir>/{AUTHORIZATION_KEY_FILE} (mode 0600)")  # fmt: skip
            if key.name in keys:
                raise ConfigError(f"{keys_section.source}: [{keys_section.name}] {name}: {key.name} is set twice "
                                  "(key names ignore letter case)")  # fmt: skip
            if key.kind == "bool":
                keys[key.name] = "true" if keys_section.get_bool(name) else "false"
            elif key.kind == "int":
                keys[key.name] = str(keys_section.get_int(name, minval=key.minimum, maxval=key.maximum))
            else:
                keys[key.name] = keys_section.get_str(name)
        tls_url = websocket_url(s, "tls_url", ("wss",))
        ca_file = s.get_str("ca_file", None, min_length=1)
        if ca_file is not None and not Path(ca_file).is_file():
            raise s.error("ca_file", ca_file, "expected a readable PEM file of CSMS root certificates")
        return OcppConfig(
            url=url,
            tls_url=tls_url,
            ca_file=Path(ca_file) if ca_file is not None else None,
            insecure=s.get_bool("insecure", False),
            basic_auth=s.get_str("basic_auth", "as-written", choices=("as-written", "hex-decoded")),
            version=s.get_str("version", "1.6", choices=VERSIONS),
            charge_point_id=s.get_str("charge_point_id", None, min_length=1, max_length=48),
            firmware_version=s.get_str("firmware_version", __version__, min_length=1, max_length=50),
            call_timeout_s=s.get_float("call_timeout_s", 30.0, minval=1.0, maxval=600.0),
            reconnect_cap_s=s.get_float("reconnect_cap_s", 300.0, minval=0.1, maxval=3600.0),
            keys=keys,
        )


def websocket_url(s: ConfigSection, key: str, schemes: tuple[str, ...]) -> str | None:
    """``key`` as a websocket URL of one of ``schemes`` with a host (and a valid port, if any)."""
    url = s.get_str(key, None, min_length=1)
    if url is None:
        return None
    kind = "a TLS websocket URL" if schemes == ("wss",) else "a websocket URL"
    expected = f"expected {kind} " + " or ".join(f'"{scheme}://host[:port]/path"' for scheme in schemes)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0..65535
    except ValueError as exc:
        raise s.error(key, url, f"{expected}: {exc}") from None
    if parts.scheme not in schemes:
        raise s.error(key, url, expected)
    if not parts.hostname:
        raise s.error(key, url, f"{expected}: the host is missing")
    return url


def build_frontend(
    config: Config,
    db: Database,
    ledger: Ledger,
    clock: WallClock,
    station: Station,
    time_source: TimeSource | None = None,
) -> ChargePoint | None:
    """The 1.6 charge point for ``config`` (None without an [ocpp] url), bound to ``station``;
    its hook is on the ledger."""
    from controller import measurands
    from controller.authorization.local_list import LocalList
    from controller.ocpp.certificates import CertificateStore
    from controller.ocpp.journal import Journal
    from controller.ocpp.link import Link
    from controller.ocpp.rpc import Rpc
    from controller.ocpp.security_log import SecurityLog
    from controller.ocpp.v16 import firmware_management
    from controller.ocpp.v16.configuration import Configuration
    from controller.ocpp.v16.frontend import ChargePoint, Identity
    from controller.ocpp.v16.local_list import LocalListProfile
    from controller.ocpp.v16.reservation import ReservationProfile
    from controller.ocpp.v16.security import Security, TlsSettings
    from controller.ocpp.v16.smart_charging import SmartCharging
    from controller.smart_charging.enforcement import ChargingLimits
    from controller.smart_charging.store import ProfileStore

    ocpp: OcppConfig | None = getattr(config, "ocpp", None)
    if ocpp is None or ocpp.url is None:
        return None
    state_dir = config.storage.state_dir
    overrides = {
        "NumberOfConnectors": str(len(config.connectors)),
        "ConnectionTimeOut": str(max(1, round(config.charging.connection_timeout_s))),  # [charging] as default
        **ocpp.keys,
    }
    try:
        keys = Configuration(db, WIRED_PROFILES, measurands=measurands.supported(), overrides=overrides,
                             hidden=WITHOUT_EFFECT,
                             secrets={"AuthorizationKey": state_dir / AUTHORIZATION_KEY_FILE})  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"{config.source}: [ocpp.keys]: {exc}") from exc
    ping = keys["WebSocketPingInterval"] if "WebSocketPingInterval" in keys.keys else 60
    link = Link(
        ocpp.url,
        ocpp.charge_point_id or config.station.charge_point_id,
        Rpc("1.6"),
        call_timeout=ocpp.call_timeout_s,
        ping_interval=float(ping),  # type: ignore[arg-type]
        backoff_cap=ocpp.reconnect_cap_s,
    )
    journal = Journal(db)
    identity = Identity(
        vendor=config.station.vendor,
        model=config.station.model,
        serial_number=config.station.serial_number,
        firmware_version=ocpp.firmware_version,
    )
    charge_point_id = ocpp.charge_point_id or config.station.charge_point_id
    store_size = keys["CertificateStoreMaxLength"]
    assert isinstance(store_size, int)
    certificates = CertificateStore(
        state_dir / "certificates", store_size, now=clock.now,
        additional_root_check=lambda: bool(keys["AdditionalRootCertificateCheck"]),
    )  # fmt: skip
    security = Security(
        link, keys, journal, clock, certificates, SecurityLog(state_dir / "security.log"),
        TlsSettings(ocpp.url, ocpp.tls_url, ocpp.ca_file, ocpp.insecure, ocpp.basic_auth),
        charge_point_id=charge_point_id, serial_number=config.station.serial_number or charge_point_id,
        time_source=time_source,
    )  # fmt: skip
    smart_charging = SmartCharging(
        ChargingLimits(ProfileStore(db), now=clock.now, voltage_v=config.station.nominal_voltage_v),
        keys,
        transaction_of=lambda connector: charge_point.transactions.transaction_of(connector),
    )
    features: list[Feature] = [security]  # one object per wired feature profile beyond Core / RemoteTrigger
    features.append(smart_charging)
    maintenance = firmware_management.build(config, clock, certificates, security, charge_point_id)
    features.extend(maintenance)
    local_list = LocalList(db)
    features += [LocalListProfile(db, local_list, keys), ReservationProfile(keys)]
    charge_point = ChargePoint(db, link, journal, keys, identity, clock, features=features, local_list=local_list)
    charge_point.remote_start_profile = smart_charging.remote_start_profile
    charge_point.certificates, charge_point.security = certificates, security
    security.charge_point = charge_point
    firmware_management.bind(maintenance, charge_point, security)
    ledger.hooks.append(charge_point.transactions.hook)
    charge_point.attach(station)
    if config.charging.authorize == "ocpp":
        station.authorizer = charge_point
    return charge_point
