"""The controller components of the device model, as one table.

Rules kept here (part 2 "Referenced Components and Variables" = "RCV", part 4 chapter 8,
part 2 appendix 3.1, part 5 section 5, errata 2025-09 which wins):
- Component and variable names are the spec's, with the "Ctrlr" suffix of RCV section 1
  (several spec pages drop the "r"; the names compare case-insensitively anyway).
  Where the spec pages disagree: AuthCtrlr.LocalAuthorizationOffline (RCV 2.3.5 and part 6),
  AuthCtrlr.LocalPreAuthorize (RCV 2.3.6 spells "Preauthorize", part 6 "PreAuthorize"),
  SampledDataCtrlr / AlignedDataCtrlr.TxEndedInterval (appendix 3.1 and the E/J chapters;
  RCV 2.7.5/2.7.16 tables say TxEndInterval).
- Every required variable of a declared feature is present; optional ones only where the
  station really does what they describe (no SignReadings without signed meter values, no
  QueueAllMessages, no ISO 15118).
- Every writable variable names the effect it drives; read-only ones are either configuration
  (a constant value) or live (a ``source`` the front end reads at the moment).
- Defaults are this station's choices and stated here; the CSMS or ``[ocpp.variables]``
  change the writable ones.
"""

# The table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

from controller.core.vocabulary import TxPoint
from controller.ocpp.v201.description import StationDescription
from controller.ocpp.v201.enums import DataEnumType, MessageFormatEnumType, MessagePriorityEnumType, MonitorBaseEnumType
from controller.ocpp.v201.variables import (
    Attribute,
    Feature,
    ReadOnly,
    ReadWrite,
    Variable,
    WriteOnly,
    live,
    setting,
    variable,
)

BOOLEAN = DataEnumType.boolean
INTEGER = DataEnumType.integer
DECIMAL = DataEnumType.decimal
STRING = DataEnumType.string
DATE_TIME = DataEnumType.date_time
OPTION_LIST = DataEnumType.option_list
MEMBER_LIST = DataEnumType.member_list
SEQUENCE_LIST = DataEnumType.sequence_list
DAY_S = 86400
# The core's transaction points (controller/core/txpolicy.py); no DataSigned: no meter here signs.
TX_POINTS = tuple(p.value for p in TxPoint)
FILE_TRANSFER_PROTOCOLS = ("FTP", "FTPS", "HTTP", "HTTPS", "SFTP")
MONITORING_BASES = tuple(b.value for b in MonitorBaseEnumType)
IDENTIFIER = r"[A-Za-z0-9*\-_=:+|@.]*"  # identifierString (part 2 2.1.4)
PRINTABLE = r"[^\x00-\x1f\x7f]*"  # passwordString per errata 2.1: not limited to a symbol set


def rw(default: str | None) -> tuple[Attribute, ...]:
    return setting(ReadWrite, default)


def ro(default: str | None) -> tuple[Attribute, ...]:
    return setting(ReadOnly, default)


def _csv(values: tuple[str, ...]) -> int:
    return len(",".join(values))


def controller_variables(d: StationDescription) -> tuple[Variable, ...]:
    c = d.capacities
    measurands = d.measurands
    tx_points = TX_POINTS if d.has_bay_sensor else tuple(p for p in TX_POINTS if p != TxPoint.PARKING_BAY_OCCUPANCY)
    slots = tuple(str(n) for n in range(1, d.network_slots + 1))
    ntp = tuple(str(n) for n in range(1, max(2, len(d.ntp_servers)) + 1))
    time_sources = ("NTP", "Heartbeat")
    unlock = rw("true") if d.has_lock else ro("false")  # RCV 2.1.12: fixed cables only -> ReadOnly false
    formats = (MessageFormatEnumType.ascii.value, MessageFormatEnumType.utf8.value)
    priorities = tuple(p.value for p in MessagePriorityEnumType)
    # fmt: off
    return (
        # -- OCPPCommCtrlr ------------------------------------------------------------------------------------------------
        variable("OCPPCommCtrlr", "ActiveNetworkProfile", INTEGER, live("active_network_profile"), spec="RCV 2.1.1, errata 2.57 (required)"),
        variable("OCPPCommCtrlr", "MessageTimeout[Default]", INTEGER, ro(str(d.message_timeout_s)), unit="s", spec="RCV 2.1.3"),
        variable("OCPPCommCtrlr", "FileTransferProtocols", MEMBER_LIST, ro(",".join(d.file_transfer_protocols)), values=FILE_TRANSFER_PROTOCOLS, max_limit=_csv(FILE_TRANSFER_PROTOCOLS), spec="RCV 2.1.4"),
        variable("OCPPCommCtrlr", "HeartbeatInterval", INTEGER, rw("300"), unit="s", min_limit=1, max_limit=DAY_S, effect="heartbeat_interval", spec="RCV 2.1.5"),
        variable("OCPPCommCtrlr", "NetworkConfigurationPriority", SEQUENCE_LIST, rw("1"), values=slots, max_limit=_csv(slots), allow_empty=False, reboot=True, effect="network_configuration_priority", spec="RCV 2.1.6, B10.FR.01-04"),
        variable("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", INTEGER, rw("3"), min_limit=1, max_limit=100, effect="network_profile_connection_attempts", spec="RCV 2.1.7"),
        variable("OCPPCommCtrlr", "OfflineThreshold", INTEGER, rw("60"), unit="s", min_limit=0, max_limit=DAY_S, effect="offline_threshold", spec="RCV 2.1.8"),
        variable("OCPPCommCtrlr", "MinimumStatusDuration", INTEGER, rw("0"), unit="s", min_limit=0, max_limit=3600, effect="minimum_status_duration", spec="appendix 3.1.12, part 5 C-04"),
        variable("OCPPCommCtrlr", "MessageAttempts[TransactionEvent]", INTEGER, rw("3"), min_limit=1, max_limit=100, effect="transaction_event_attempts", spec="RCV 2.1.10"),
        variable("OCPPCommCtrlr", "MessageAttemptInterval[TransactionEvent]", INTEGER, rw("60"), unit="s", min_limit=0, max_limit=DAY_S, effect="transaction_event_attempt_interval", spec="RCV 2.1.11"),
        variable("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", BOOLEAN, unlock, effect="unlock_on_ev_side_disconnect" if d.has_lock else None, spec="RCV 2.1.12"),
        variable("OCPPCommCtrlr", "ResetRetries", INTEGER, rw("1"), min_limit=0, max_limit=10, effect="reset_retries", spec="RCV 2.1.14"),
        variable("OCPPCommCtrlr", "RetryBackOffRepeatTimes", INTEGER, rw("5"), min_limit=0, max_limit=20, effect="retry_backoff", spec="part 4 8.1"),
        variable("OCPPCommCtrlr", "RetryBackOffRandomRange", INTEGER, rw("10"), unit="s", min_limit=0, max_limit=3600, effect="retry_backoff", spec="part 4 8.2"),
        variable("OCPPCommCtrlr", "RetryBackOffWaitMinimum", INTEGER, rw("3"), unit="s", min_limit=0, max_limit=3600, effect="retry_backoff", spec="part 4 8.3"),
        variable("OCPPCommCtrlr", "WebSocketPingInterval", INTEGER, rw("60"), unit="s", min_limit=0, max_limit=DAY_S, effect="websocket_ping_interval", spec="part 4 8.4"),
        # -- DeviceDataCtrlr: ReadOnly; the GetReport limits also bound each NotifyReport part we send --------------------
        variable("DeviceDataCtrlr", "ItemsPerMessage[GetReport]", INTEGER, ro(str(c.report_items)), spec="RCV 2.1.16"),
        variable("DeviceDataCtrlr", "ItemsPerMessage[GetVariables]", INTEGER, ro(str(c.items_per_message)), spec="RCV 2.1.17"),
        variable("DeviceDataCtrlr", "BytesPerMessage[GetReport]", INTEGER, ro(str(c.report_bytes)), spec="RCV 2.1.18"),
        variable("DeviceDataCtrlr", "BytesPerMessage[GetVariables]", INTEGER, ro(str(c.bytes_per_message)), spec="RCV 2.1.19"),
        variable("DeviceDataCtrlr", "ConfigurationValueSize", INTEGER, ro("1000"), max_limit=1000, spec="RCV 2.1.20"),
        variable("DeviceDataCtrlr", "ReportingValueSize", INTEGER, ro("2500"), max_limit=2500, spec="RCV 2.1.21"),
        variable("DeviceDataCtrlr", "ItemsPerMessage[SetVariables]", INTEGER, ro(str(c.items_per_message)), spec="RCV 2.1.22"),
        variable("DeviceDataCtrlr", "BytesPerMessage[SetVariables]", INTEGER, ro(str(c.bytes_per_message)), spec="RCV 2.1.23"),
        # -- ClockCtrlr -----------------------------------------------------------------------------------------------------
        variable("ClockCtrlr", "DateTime", DATE_TIME, live("clock"), spec="RCV 2.1.24"),
        *(variable("ClockCtrlr", f"NtpServerUri[{n}]", STRING, rw(d.ntp_servers[int(n) - 1] if int(n) <= len(d.ntp_servers) else ""), max_limit=255, effect="ntp_servers", spec="RCV 2.1.26") for n in ntp),
        variable("ClockCtrlr", "TimeSource", SEQUENCE_LIST, rw(",".join(time_sources)), values=time_sources, max_limit=_csv(time_sources), allow_empty=False, effect="time_source", spec="RCV 2.1.30, part 5 C-23"),
        variable("ClockCtrlr", "TimeAdjustmentReportingThreshold", INTEGER, rw("20"), unit="s", min_limit=0, max_limit=DAY_S, effect="time_adjustment_reporting_threshold", spec="RCV 2.1.32"),
        # -- SecurityCtrlr --------------------------------------------------------------------------------------------------
        variable("SecurityCtrlr", "BasicAuthPassword", STRING, setting(WriteOnly, None), max_limit=40, min_length=16, pattern=PRINTABLE, effect="basic_auth_password", monitoring=True, spec="RCV 2.2.1, errata 2.1 (maxLimit 40..64)"),
        variable("SecurityCtrlr", "Identity", STRING, ro(d.identity), max_limit=48, spec="RCV 2.2.2"),
        variable("SecurityCtrlr", "OrganizationName", STRING, rw(""), max_limit=64, effect="organization_name", spec="RCV 2.2.3"),
        variable("SecurityCtrlr", "CertificateEntries", INTEGER, live("certificate_entries"), max_limit=c.certificate_entries, spec="RCV 2.2.4"),
        variable("SecurityCtrlr", "SecurityProfile", INTEGER, live("security_profile"), spec="RCV 2.2.5"),
        variable("SecurityCtrlr", "AdditionalRootCertificateCheck", BOOLEAN, ro("false"), installer=True, spec="RCV 2.2.6, part 5 AS-2"),
        variable("SecurityCtrlr", "AllowCSMSTLSWildcards", BOOLEAN, rw("false"), effect="allow_csms_tls_wildcards", spec="errata 2.62"),
        variable("SecurityCtrlr", "MaxCertificateChainSize", INTEGER, ro(str(c.max_certificate_chain_size)), max_limit=10000, spec="RCV 2.2.7"),
        variable("SecurityCtrlr", "CertSigningWaitMinimum", INTEGER, rw("60"), unit="s", min_limit=1, max_limit=DAY_S, feature=Feature.ADVANCED_SECURITY, effect="cert_signing_retry", spec="RCV 2.2.8, part 5 AS-3"),
        variable("SecurityCtrlr", "CertSigningRepeatTimes", INTEGER, rw("3"), min_limit=0, max_limit=20, feature=Feature.ADVANCED_SECURITY, effect="cert_signing_retry", spec="RCV 2.2.9, part 5 AS-3"),
        # -- AuthCtrlr ------------------------------------------------------------------------------------------------------
        variable("AuthCtrlr", "Enabled", BOOLEAN, rw("true"), effect="authorization_enabled", spec="RCV 2.3.1"),
        variable("AuthCtrlr", "OfflineTxForUnknownIdEnabled", BOOLEAN, rw("false"), effect="offline_tx_for_unknown_id", spec="RCV 2.3.3"),
        variable("AuthCtrlr", "AuthorizeRemoteStart", BOOLEAN, rw("true"), effect="authorize_remote_start", spec="RCV 2.3.4"),
        variable("AuthCtrlr", "LocalAuthorizationOffline", BOOLEAN, rw("true"), effect="local_authorize_offline", spec="RCV 2.3.5"),
        variable("AuthCtrlr", "LocalPreAuthorize", BOOLEAN, rw("false"), effect="local_pre_authorize", spec="RCV 2.3.6"),
        variable("AuthCtrlr", "MasterPassGroupId", STRING, rw(""), max_limit=36, pattern=IDENTIFIER, effect="master_pass_group_id", spec="RCV 2.3.7"),
        variable("AuthCtrlr", "DisableRemoteAuthorization", BOOLEAN, rw("false"), effect="disable_remote_authorization", spec="RCV 2.3.8"),
        # -- AuthCacheCtrlr (Core option C-49) ------------------------------------------------------------------------------
        variable("AuthCacheCtrlr", "Enabled", BOOLEAN, rw("true"), feature=Feature.AUTHORIZATION_CACHE, effect="auth_cache_enabled", spec="RCV 2.4.1"),
        variable("AuthCacheCtrlr", "Available", BOOLEAN, ro("true"), feature=Feature.AUTHORIZATION_CACHE, spec="RCV 2.4.2"),
        variable("AuthCacheCtrlr", "LifeTime", INTEGER, rw(str(DAY_S)), unit="s", min_limit=1, max_limit=365 * DAY_S, feature=Feature.AUTHORIZATION_CACHE, effect="auth_cache_life_time", spec="RCV 2.4.3"),
        variable("AuthCacheCtrlr", "Storage", INTEGER, live("auth_cache_storage"), unit="B", max_limit=c.auth_cache_bytes, feature=Feature.AUTHORIZATION_CACHE, spec="RCV 2.4.4"),
        variable("AuthCacheCtrlr", "Policy", OPTION_LIST, rw("LRU"), values=("LRU",), max_limit=3, feature=Feature.AUTHORIZATION_CACHE, effect="auth_cache_policy", spec="RCV 2.4.5, part 5 C-54"),
        variable("AuthCacheCtrlr", "DisablePostAuthorize", BOOLEAN, rw("false"), feature=Feature.AUTHORIZATION_CACHE, effect="auth_cache_disable_post_authorize", spec="RCV 2.4.6"),
        # -- LocalAuthListCtrlr ---------------------------------------------------------------------------------------------
        variable("LocalAuthListCtrlr", "Enabled", BOOLEAN, rw("true"), feature=Feature.LOCAL_AUTH_LIST, effect="local_auth_list_enabled", spec="RCV 2.5.1"),
        variable("LocalAuthListCtrlr", "Entries", INTEGER, live("local_auth_list_entries"), max_limit=c.local_list_entries, feature=Feature.LOCAL_AUTH_LIST, spec="RCV 2.5.2, D01.FR.12"),
        variable("LocalAuthListCtrlr", "Available", BOOLEAN, ro("true"), feature=Feature.LOCAL_AUTH_LIST, spec="RCV 2.5.3"),
        variable("LocalAuthListCtrlr", "ItemsPerMessage", INTEGER, ro(str(c.items_per_message)), feature=Feature.LOCAL_AUTH_LIST, spec="RCV 2.5.4, D01.FR.11"),
        variable("LocalAuthListCtrlr", "BytesPerMessage", INTEGER, ro(str(c.bytes_per_message)), feature=Feature.LOCAL_AUTH_LIST, spec="RCV 2.5.5, D01.FR.11"),
        variable("LocalAuthListCtrlr", "Storage", INTEGER, live("local_auth_list_storage"), unit="B", max_limit=c.local_list_bytes, feature=Feature.LOCAL_AUTH_LIST, spec="RCV 2.5.6"),
        variable("LocalAuthListCtrlr", "DisablePostAuthorize", BOOLEAN, rw("false"), feature=Feature.LOCAL_AUTH_LIST, effect="local_auth_list_disable_post_authorize", spec="RCV 2.5.7"),
        # -- TxCtrlr --------------------------------------------------------------------------------------------------------
        variable("TxCtrlr", "EVConnectionTimeOut", INTEGER, rw("120"), unit="s", min_limit=1, max_limit=3600, effect="ev_connection_timeout", spec="RCV 2.6.1"),
        variable("TxCtrlr", "StopTxOnEVSideDisconnect", BOOLEAN, rw("true"), effect="stop_tx_on_ev_side_disconnect", spec="RCV 2.6.2, part 5 C-06"),
        variable("TxCtrlr", "TxBeforeAcceptedEnabled", BOOLEAN, rw("false"), effect="tx_before_accepted", spec="RCV 2.6.3"),
        variable("TxCtrlr", "TxStartPoint", MEMBER_LIST, rw("PowerPathClosed"), values=tx_points, max_limit=_csv(tx_points), allow_empty=False, effect="tx_start_points", spec="RCV 2.6.4, 2.6.6.1, part 5 C-09/C-51"),
        variable("TxCtrlr", "TxStopPoint", MEMBER_LIST, rw("EVConnected,Authorized"), values=tx_points, max_limit=_csv(tx_points), allow_empty=False, effect="tx_stop_points", spec="RCV 2.6.5, 2.6.6.2, errata 2.24, part 5 C-10/C-52"),
        variable("TxCtrlr", "MaxEnergyOnInvalidId", INTEGER, rw("0"), unit="Wh", min_limit=0, max_limit=1_000_000, effect="max_energy_on_invalid_id", spec="RCV 2.6.7, part 5 C-03"),
        variable("TxCtrlr", "StopTxOnInvalidId", BOOLEAN, rw("true"), effect="stop_tx_on_invalid_id", spec="RCV 2.6.8"),
        # -- SampledDataCtrlr -----------------------------------------------------------------------------------------------
        variable("SampledDataCtrlr", "Enabled", BOOLEAN, rw("true"), effect="sampled_data", spec="RCV 2.7.1"),
        variable("SampledDataCtrlr", "Available", BOOLEAN, ro("true"), spec="RCV 2.7.2"),
        variable("SampledDataCtrlr", "TxEndedMeasurands", MEMBER_LIST, rw("Energy.Active.Import.Register"), values=measurands, max_limit=_csv(measurands), effect="sampled_data", spec="RCV 2.7.4, part 5 C-40.3"),
        variable("SampledDataCtrlr", "TxEndedInterval", INTEGER, rw("0"), unit="s", min_limit=0, max_limit=DAY_S, effect="sampled_data", spec="RCV 2.7.5, appendix 3.1.14"),
        variable("SampledDataCtrlr", "TxStartedMeasurands", MEMBER_LIST, rw("Energy.Active.Import.Register"), values=measurands, max_limit=_csv(measurands), effect="sampled_data", spec="RCV 2.7.6, part 5 C-40.1"),
        variable("SampledDataCtrlr", "TxUpdatedMeasurands", MEMBER_LIST, rw("Energy.Active.Import.Register,Power.Active.Import"), values=measurands, max_limit=_csv(measurands), effect="sampled_data", spec="RCV 2.7.7, part 5 C-40.2"),
        variable("SampledDataCtrlr", "TxUpdatedInterval", INTEGER, rw("60"), unit="s", min_limit=0, max_limit=DAY_S, effect="sampled_data", spec="RCV 2.7.8"),
        # -- AlignedDataCtrlr -----------------------------------------------------------------------------------------------
        variable("AlignedDataCtrlr", "Enabled", BOOLEAN, rw("true"), effect="aligned_data", spec="RCV 2.7.9"),
        variable("AlignedDataCtrlr", "Available", BOOLEAN, ro("true"), spec="RCV 2.7.10"),
        variable("AlignedDataCtrlr", "Measurands", MEMBER_LIST, rw("Energy.Active.Import.Register"), values=measurands, max_limit=_csv(measurands), effect="aligned_data", spec="RCV 2.7.11, part 5 C-40.4"),
        variable("AlignedDataCtrlr", "Interval", INTEGER, rw("900"), unit="s", min_limit=0, max_limit=DAY_S, effect="aligned_data", spec="RCV 2.7.12, errata 2.65.1"),
        variable("AlignedDataCtrlr", "SendDuringIdle", BOOLEAN, rw("false"), effect="aligned_data", spec="RCV 2.7.13, part 5 C-28"),
        variable("AlignedDataCtrlr", "TxEndedMeasurands", MEMBER_LIST, rw("Energy.Active.Import.Register"), values=measurands, max_limit=_csv(measurands), effect="aligned_data", spec="RCV 2.7.15, part 5 C-40.5"),
        variable("AlignedDataCtrlr", "TxEndedInterval", INTEGER, rw("0"), unit="s", min_limit=0, max_limit=DAY_S, effect="aligned_data", spec="RCV 2.7.16, errata 2.65.2"),
        # -- ReservationCtrlr -----------------------------------------------------------------------------------------------
        variable("ReservationCtrlr", "Enabled", BOOLEAN, rw("true"), feature=Feature.RESERVATION, effect="reservations_enabled", spec="RCV 2.8.1, part 5 R-3"),
        variable("ReservationCtrlr", "Available", BOOLEAN, ro("true"), feature=Feature.RESERVATION, spec="RCV 2.8.2"),
        variable("ReservationCtrlr", "NonEvseSpecific", BOOLEAN, ro("true"), feature=Feature.RESERVATION, spec="RCV 2.8.3, part 5 R-2"),
        # -- SmartChargingCtrlr ---------------------------------------------------------------------------------------------
        variable("SmartChargingCtrlr", "Enabled", BOOLEAN, rw("true"), feature=Feature.SMART_CHARGING, effect="smart_charging_enabled", spec="RCV 2.9.1"),
        variable("SmartChargingCtrlr", "Available", BOOLEAN, ro("true"), feature=Feature.SMART_CHARGING, spec="RCV 2.9.2"),
        variable("SmartChargingCtrlr", "ProfileStackLevel", INTEGER, ro(str(c.profile_stack_level)), feature=Feature.SMART_CHARGING, spec="RCV 2.9.4"),
        variable("SmartChargingCtrlr", "RateUnit", MEMBER_LIST, ro("A,W"), values=("A", "W"), max_limit=3, feature=Feature.SMART_CHARGING, spec="RCV 2.9.5, part 5 SC-2"),
        variable("SmartChargingCtrlr", "PeriodsPerSchedule", INTEGER, ro(str(c.periods_per_schedule)), feature=Feature.SMART_CHARGING, spec="RCV 2.9.6"),
        variable("SmartChargingCtrlr", "ExternalControlSignalsEnabled", BOOLEAN, live("external_control_signals"), feature=Feature.SMART_CHARGING, spec="RCV 2.9.7 (ReadOnly allowed): energy management configured"),
        variable("SmartChargingCtrlr", "NotifyChargingLimitWithSchedules", BOOLEAN, rw("false"), feature=Feature.SMART_CHARGING, effect="notify_charging_limit_with_schedules", spec="RCV 2.9.8"),
        *((variable("SmartChargingCtrlr", "Phases3to1", BOOLEAN, ro("true"), feature=Feature.SMART_CHARGING, spec="RCV 2.9.9"),) if d.phase_switching else ()),
        variable("SmartChargingCtrlr", "Entries[ChargingProfiles]", INTEGER, live("charging_profile_entries"), max_limit=c.charging_profiles, feature=Feature.SMART_CHARGING, spec="RCV 2.9.10"),
        variable("SmartChargingCtrlr", "LimitChangeSignificance", DECIMAL, rw("1.0"), unit="Percent", min_limit=0, max_limit=100, feature=Feature.SMART_CHARGING, effect="limit_change_significance", spec="RCV 2.9.11"),
        # -- TariffCostCtrlr (needs a display) ------------------------------------------------------------------------------
        variable("TariffCostCtrlr", "Enabled[Tariff]", BOOLEAN, rw("true"), feature=Feature.ADVANCED_USER_INTERFACE, effect="tariff_enabled", spec="RCV 2.10.1"),
        variable("TariffCostCtrlr", "Available[Tariff]", BOOLEAN, ro("true"), feature=Feature.ADVANCED_USER_INTERFACE, spec="RCV 2.10.2"),
        variable("TariffCostCtrlr", "TariffFallbackMessage", STRING, rw(""), max_limit=255, feature=Feature.ADVANCED_USER_INTERFACE, effect="tariff_fallback_message", spec="RCV 2.10.3"),
        variable("TariffCostCtrlr", "Enabled[Cost]", BOOLEAN, rw("true"), feature=Feature.ADVANCED_USER_INTERFACE, effect="cost_enabled", spec="RCV 2.10.4"),
        variable("TariffCostCtrlr", "Available[Cost]", BOOLEAN, ro("true"), feature=Feature.ADVANCED_USER_INTERFACE, spec="RCV 2.10.5"),
        variable("TariffCostCtrlr", "TotalCostFallbackMessage", STRING, rw(""), max_limit=255, feature=Feature.ADVANCED_USER_INTERFACE, effect="total_cost_fallback_message", spec="RCV 2.10.6"),
        variable("TariffCostCtrlr", "Currency", STRING, rw("EUR"), max_limit=3, min_length=3, pattern=r"[A-Z]{3}", feature=Feature.ADVANCED_USER_INTERFACE, effect="currency", spec="RCV 2.10.7 (ISO 4217)"),
        # -- MonitoringCtrlr ------------------------------------------------------------------------------------------------
        variable("MonitoringCtrlr", "Enabled", BOOLEAN, rw("true"), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, effect="monitoring_enabled", spec="RCV 2.11.1"),
        variable("MonitoringCtrlr", "Available", BOOLEAN, ro("true"), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.2"),
        variable("MonitoringCtrlr", "ItemsPerMessage[ClearVariableMonitoring]", INTEGER, ro(str(c.items_per_message)), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.3"),
        variable("MonitoringCtrlr", "ItemsPerMessage[SetVariableMonitoring]", INTEGER, ro(str(c.items_per_message)), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.4"),
        variable("MonitoringCtrlr", "BytesPerMessage[ClearVariableMonitoring]", INTEGER, ro(str(c.bytes_per_message)), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.5"),
        variable("MonitoringCtrlr", "BytesPerMessage[SetVariableMonitoring]", INTEGER, ro(str(c.bytes_per_message)), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.6"),
        variable("MonitoringCtrlr", "OfflineQueuingSeverity", INTEGER, rw("5"), min_limit=0, max_limit=9, feature=Feature.ADVANCED_DEVICE_MANAGEMENT, effect="offline_queuing_severity", spec="RCV 2.11.7, part 5 DM-3"),
        variable("MonitoringCtrlr", "ActiveMonitoringBase", OPTION_LIST, live("monitoring_base"), values=MONITORING_BASES, max_limit=max(map(len, MONITORING_BASES)), feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.8"),
        variable("MonitoringCtrlr", "ActiveMonitoringLevel", INTEGER, live("monitoring_level"), min_limit=0, max_limit=9, feature=Feature.ADVANCED_DEVICE_MANAGEMENT, spec="RCV 2.11.9"),
        # -- DisplayMessageCtrlr (needs a display) --------------------------------------------------------------------------
        variable("DisplayMessageCtrlr", "Enabled", BOOLEAN, rw("true"), feature=Feature.ADVANCED_USER_INTERFACE, effect="display_messages_enabled", spec="RCV 2.12.1"),
        variable("DisplayMessageCtrlr", "Available", BOOLEAN, ro("true"), feature=Feature.ADVANCED_USER_INTERFACE, spec="RCV 2.12.2"),
        variable("DisplayMessageCtrlr", "DisplayMessages", INTEGER, live("display_message_entries"), max_limit=c.display_messages, feature=Feature.ADVANCED_USER_INTERFACE, spec="RCV 2.12.3"),
        variable("DisplayMessageCtrlr", "SupportedFormats", MEMBER_LIST, ro(",".join(formats)), values=tuple(f.value for f in MessageFormatEnumType), max_limit=_csv(tuple(f.value for f in MessageFormatEnumType)), feature=Feature.ADVANCED_USER_INTERFACE, spec="RCV 2.12.4, part 5 UI-2"),
        variable("DisplayMessageCtrlr", "SupportedPriorities", MEMBER_LIST, ro(",".join(priorities)), values=priorities, max_limit=_csv(priorities), feature=Feature.ADVANCED_USER_INTERFACE, spec="RCV 2.12.5, part 5 UI-1"),
    )
    # fmt: on
