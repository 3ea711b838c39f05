"""The OCPP 1.6 front end as the daemon builds it: its [ocpp.keys] checked by the 1.6 key table,
then the charge point and its feature profiles wired to the station.

Rules kept here (the rest of [ocpp] is version-neutral: controller/ocpp/config.py):
- ``[ocpp.keys]`` sets configuration-key defaults (e.g. ``HeartbeatInterval = 60``); values the
  CSMS changed later and stored win over them. Key names are case-insensitive (CiString50Type);
  an unknown key, a key without effect here, one written twice in different cases, a value of
  the wrong type or out of range, or a secret (AuthorizationKey: it lives in
  ``<state_dir>/secrets/authorization_key``) is an error naming it, from ``check`` (``evsed
  check``) and from ``build``.
- ``[charging] connection_timeout_s`` is ConnectionTimeOut's default; NumberOfConnectors is the
  station's. SupportedFeatureProfiles announces only the profiles wired here.
- The charge point's ledger hook and station listener are registered as it is built: crash
  recovery, which runs after, queues the StopTransaction (PowerLoss) of a transaction a crash
  left open with its closing, in the same SQLite transaction.
"""

from __future__ import annotations

from controller import measurands
from controller.authorization.local_list import LocalList
from controller.config import Config
from controller.ocpp.certificates import CertificateStore
from controller.ocpp.config import AUTHORIZATION_KEY_FILE, OcppConfig
from controller.ocpp.frontend import FrontEndContext
from controller.ocpp.journal import Journal
from controller.ocpp.link import Link
from controller.ocpp.rpc import Rpc
from controller.ocpp.security_log import SecurityLog
from controller.ocpp.v16 import firmware_management
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.frontend import ChargePoint, Feature, Identity
from controller.ocpp.v16.keys import CHOICES, BadValue, named, parse
from controller.ocpp.v16.local_list import LocalListProfile
from controller.ocpp.v16.reservation import ReservationProfile
from controller.ocpp.v16.security import Security, TlsSettings
from controller.ocpp.v16.smart_charging import SmartCharging
from controller.smart_charging.enforcement import ChargingLimits
from controller.smart_charging.store import ProfileStore
from hal.config import ConfigError

# Optional keys with nothing behind them on this station: unknown to the CSMS, not faked.
WITHOUT_EFFECT = ("BlinkRepeat", "LightIntensity")
# What SupportedFeatureProfiles announces: only profiles whose messages are wired below.
WIRED_PROFILES = frozenset(
    {"Core", "RemoteTrigger", "LocalAuthListManagement", "Reservation", "Security", "SmartCharging",
     "FirmwareManagement"}
)  # fmt: skip


def keys_from(ocpp: OcppConfig) -> dict[str, str]:
    """[ocpp.keys] as the 1.6 table's key names and wire texts. Raises ConfigError naming the key."""
    where = ocpp.keys_where
    keys: dict[str, str] = {}
    for name, value in ocpp.keys.items():
        key = named(name)
        if key is None or key.name in WITHOUT_EFFECT:
            raise ConfigError(f"{where} {name} = {value!r}: unknown OCPP 1.6 configuration key")
        if key.access == "W":
            raise ConfigError(f"{where} {name} = '(hidden)': a secret does not belong in the configuration file; "
                              f"write it to <state_dir>/{AUTHORIZATION_KEY_FILE} (mode 0600)")  # fmt: skip
        if key.name in keys:
            raise ConfigError(f"{where} {name}: {key.name} is set twice (key names ignore letter case)")
        if key.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{where} {name} = {value!r}: expected true or false")
            text = "true" if value else "false"
        elif key.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{where} {name} = {value!r}: expected an integer")
            text = str(value)
        elif not isinstance(value, str):
            raise ConfigError(f"{where} {name} = {value!r}: expected a string")
        else:
            text = value
        try:
            parse(key, text, allowed={**CHOICES, "measurands": measurands.supported()})
        except BadValue as exc:
            raise ConfigError(f"{where}: {exc}") from None
        keys[key.name] = text
    return keys


def check(config: Config) -> None:
    """What ``evsed check`` asks of the 1.6 front end: its keys."""
    keys_from(config.ocpp)


def build(ctx: FrontEndContext) -> ChargePoint:
    """The 1.6 charge point for ``ctx.config`` (which has an [ocpp] url), bound to the station;
    its hook is on the ledger. Raises ConfigError for [ocpp.keys] the 1.6 table refuses."""
    config, db, ledger, clock, station = ctx.config, ctx.db, ctx.ledger, ctx.clock, ctx.station
    ocpp = config.ocpp
    assert ocpp.url is not None
    state_dir = config.storage.state_dir
    overrides = {
        "NumberOfConnectors": str(len(config.connectors)),
        "ConnectionTimeOut": str(max(1, round(config.charging.connection_timeout_s))),  # [charging] as default
        **keys_from(ocpp),
    }
    try:
        keys = Configuration(db, WIRED_PROFILES, measurands=measurands.supported(), overrides=overrides,
                             hidden=WITHOUT_EFFECT,
                             secrets={"AuthorizationKey": state_dir / AUTHORIZATION_KEY_FILE})  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"{config.source}: [ocpp.keys]: {exc}") from exc
    ping = keys.integer("WebSocketPingInterval", unwired=60)
    link = Link(
        ocpp.url,
        ocpp.charge_point_id or config.station.charge_point_id,
        Rpc("1.6"),
        call_timeout=ocpp.call_timeout_s,
        ping_interval=float(ping),
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
    certificates = CertificateStore(
        state_dir / "certificates", keys.integer("CertificateStoreMaxLength"), now=clock.now,
        additional_root_check=lambda: keys.flag("AdditionalRootCertificateCheck"),
    )  # fmt: skip
    security = Security(
        link, keys, journal, clock, certificates, SecurityLog(state_dir / "security.log"),
        TlsSettings(ocpp.url, ocpp.tls_url, ocpp.ca_file, ocpp.insecure, ocpp.basic_auth),
        charge_point_id=charge_point_id, serial_number=config.station.serial_number or charge_point_id,
        time_source=ctx.time_source,
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
    charge_point.firmware_updater = maintenance[0].updater
    security.charge_point = charge_point
    firmware_management.bind(maintenance, charge_point, security)
    ledger.hooks.append(charge_point.transactions.hook)
    charge_point.attach(station)
    if config.charging.authorize == "ocpp":
        station.authorizer = charge_point
    return charge_point
