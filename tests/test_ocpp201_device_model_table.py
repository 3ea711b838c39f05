"""The OCPP 2.0.1 device model table: every required variable is there with the spec's type and
mutability, names agree with the spec, and the table follows the station description."""

# The spec tables read best one row per line.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import replace

import pytest
from ocpp.v201 import enums
from ocpp.v201.enums import DataEnumType, MutabilityEnumType
from ocpp201_device_model import ALL_FEATURES, minimal_station, two_connector_station

from controller.ocpp.v201.description import FILE_TRANSFER_PROTOCOLS, ConnectorDescription, DisplaySize, EvseDescription
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.values import parse
from controller.ocpp.v201.variables import (
    Actual,
    Attribute,
    ComponentId,
    Feature,
    ReadOnly,
    ReadWrite,
    VariableId,
    WriteOnly,
    setting,
    variable,
)
from controller.transfer import SCHEMES

RO, RW, WO = ReadOnly, ReadWrite, WriteOnly
EITHER = (RO, RW)
D = DataEnumType

# fmt: off
# Every variable the specification requires, written down from the spec text:
# RCV = part 2 "Referenced Components and Variables" section 2 rows with "Required: yes" (or
# "required unless ..." / "when LocalAuthListAvailable is true" / "required for stations
# supporting tariff information", which applies to this station), part 4 chapter 8 (all
# required), the errata 2025-09 (2.57 makes ActiveNetworkProfile required, 2.66 adds
# Connector.AvailabilityState), D01.FR.12/13. ISO 15118 rows are out of scope.
# (feature, component, variable, allowed mutabilities of Actual, data type, where)
REQUIRED: list[tuple[Feature, str, str, tuple[MutabilityEnumType, ...], DataEnumType, str]] = [
    (Feature.CORE, "OCPPCommCtrlr", "ActiveNetworkProfile", (RO,), D.integer, "RCV 2.1.1 + errata 2.57"),
    (Feature.CORE, "OCPPCommCtrlr", "MessageTimeout[Default]", (RO,), D.integer, "RCV 2.1.3"),
    (Feature.CORE, "OCPPCommCtrlr", "FileTransferProtocols", (RO,), D.member_list, "RCV 2.1.4"),
    (Feature.CORE, "OCPPCommCtrlr", "NetworkConfigurationPriority", (RW,), D.sequence_list, "RCV 2.1.6"),
    (Feature.CORE, "OCPPCommCtrlr", "NetworkProfileConnectionAttempts", (RW,), D.integer, "RCV 2.1.7"),
    (Feature.CORE, "OCPPCommCtrlr", "OfflineThreshold", (RW,), D.integer, "RCV 2.1.8"),
    (Feature.CORE, "OCPPCommCtrlr", "MessageAttempts[TransactionEvent]", (RW,), D.integer, "RCV 2.1.10"),
    (Feature.CORE, "OCPPCommCtrlr", "MessageAttemptInterval[TransactionEvent]", (RW,), D.integer, "RCV 2.1.11"),
    (Feature.CORE, "OCPPCommCtrlr", "UnlockOnEVSideDisconnect", EITHER, D.boolean, "RCV 2.1.12"),
    (Feature.CORE, "OCPPCommCtrlr", "ResetRetries", (RW,), D.integer, "RCV 2.1.14"),
    (Feature.CORE, "OCPPCommCtrlr", "RetryBackOffRepeatTimes", (RW,), D.integer, "part 4 8.1"),
    (Feature.CORE, "OCPPCommCtrlr", "RetryBackOffRandomRange", (RW,), D.integer, "part 4 8.2"),
    (Feature.CORE, "OCPPCommCtrlr", "RetryBackOffWaitMinimum", (RW,), D.integer, "part 4 8.3"),
    (Feature.CORE, "OCPPCommCtrlr", "WebSocketPingInterval", (RW,), D.integer, "part 4 8.4"),
    (Feature.CORE, "DeviceDataCtrlr", "ItemsPerMessage[GetReport]", (RO,), D.integer, "RCV 2.1.16"),
    (Feature.CORE, "DeviceDataCtrlr", "ItemsPerMessage[GetVariables]", (RO,), D.integer, "RCV 2.1.17"),
    (Feature.CORE, "DeviceDataCtrlr", "BytesPerMessage[GetReport]", (RO,), D.integer, "RCV 2.1.18"),
    (Feature.CORE, "DeviceDataCtrlr", "BytesPerMessage[GetVariables]", (RO,), D.integer, "RCV 2.1.19"),
    (Feature.CORE, "DeviceDataCtrlr", "ItemsPerMessage[SetVariables]", (RO,), D.integer, "RCV 2.1.22"),
    (Feature.CORE, "DeviceDataCtrlr", "BytesPerMessage[SetVariables]", (RO,), D.integer, "RCV 2.1.23"),
    (Feature.CORE, "ClockCtrlr", "DateTime", (RO,), D.date_time, "RCV 2.1.24"),
    (Feature.CORE, "ClockCtrlr", "TimeSource", (RW,), D.sequence_list, "RCV 2.1.30"),
    (Feature.CORE, "SecurityCtrlr", "BasicAuthPassword", (WO,), D.string, "RCV 2.2.1 (unless only profile 3)"),
    (Feature.CORE, "SecurityCtrlr", "OrganizationName", (RW,), D.string, "RCV 2.2.3"),
    (Feature.CORE, "SecurityCtrlr", "CertificateEntries", (RO,), D.integer, "RCV 2.2.4"),
    (Feature.CORE, "SecurityCtrlr", "SecurityProfile", (RO,), D.integer, "RCV 2.2.5"),
    (Feature.CORE, "SecurityCtrlr", "AdditionalRootCertificateCheck", (RO,), D.boolean, "RCV 2.2.6 (unless only profile 1)"),
    (Feature.CORE, "AuthCtrlr", "AuthorizeRemoteStart", EITHER, D.boolean, "RCV 2.3.4"),
    (Feature.CORE, "AuthCtrlr", "LocalAuthorizationOffline", (RW,), D.boolean, "RCV 2.3.5"),
    (Feature.CORE, "AuthCtrlr", "LocalPreAuthorize", (RW,), D.boolean, "RCV 2.3.6"),
    (Feature.CORE, "TxCtrlr", "EVConnectionTimeOut", (RW,), D.integer, "RCV 2.6.1"),
    (Feature.CORE, "TxCtrlr", "StopTxOnEVSideDisconnect", EITHER, D.boolean, "RCV 2.6.2"),
    (Feature.CORE, "TxCtrlr", "TxStartPoint", EITHER, D.member_list, "RCV 2.6.4"),
    (Feature.CORE, "TxCtrlr", "TxStopPoint", EITHER, D.member_list, "RCV 2.6.5"),
    (Feature.CORE, "TxCtrlr", "StopTxOnInvalidId", (RW,), D.boolean, "RCV 2.6.8"),
    (Feature.CORE, "SampledDataCtrlr", "TxEndedMeasurands", (RW,), D.member_list, "RCV 2.7.4"),
    (Feature.CORE, "SampledDataCtrlr", "TxEndedInterval", (RW,), D.integer, "RCV 2.7.5 / appendix 3.1.14"),
    (Feature.CORE, "SampledDataCtrlr", "TxStartedMeasurands", (RW,), D.member_list, "RCV 2.7.6"),
    (Feature.CORE, "SampledDataCtrlr", "TxUpdatedMeasurands", (RW,), D.member_list, "RCV 2.7.7"),
    (Feature.CORE, "SampledDataCtrlr", "TxUpdatedInterval", (RW,), D.integer, "RCV 2.7.8"),
    (Feature.CORE, "AlignedDataCtrlr", "Measurands", (RW,), D.member_list, "RCV 2.7.11"),
    (Feature.CORE, "AlignedDataCtrlr", "Interval", (RW,), D.integer, "RCV 2.7.12"),
    (Feature.CORE, "AlignedDataCtrlr", "TxEndedMeasurands", (RW,), D.member_list, "RCV 2.7.15"),
    (Feature.CORE, "AlignedDataCtrlr", "TxEndedInterval", (RW,), D.integer, "RCV 2.7.16 / appendix 3.1.1"),
    (Feature.CORE, "ChargingStation", "Available", (RO,), D.boolean, "RCV 2.13.1"),
    (Feature.CORE, "ChargingStation", "AvailabilityState", (RO,), D.option_list, "RCV 2.13.2"),
    (Feature.CORE, "ChargingStation", "SupplyPhases", (RO,), D.integer, "RCV 2.13.6"),
    (Feature.CORE, "EVSE@1", "Available", (RO,), D.boolean, "RCV 2.13.1"),
    (Feature.CORE, "EVSE@2", "Available", (RO,), D.boolean, "RCV 2.13.1"),
    (Feature.CORE, "EVSE@1", "AvailabilityState", (RO,), D.option_list, "RCV 2.13.2"),
    (Feature.CORE, "EVSE@2", "AvailabilityState", (RO,), D.option_list, "RCV 2.13.2"),
    (Feature.CORE, "EVSE@1", "SupplyPhases", (RO,), D.integer, "RCV 2.13.6"),
    (Feature.CORE, "EVSE@2", "SupplyPhases", (RO,), D.integer, "RCV 2.13.6"),
    (Feature.CORE, "EVSE@1", "Power", (RO,), D.decimal, "RCV 2.13.7 (maxLimit)"),
    (Feature.CORE, "EVSE@2", "Power", (RO,), D.decimal, "RCV 2.13.7 (maxLimit)"),
    (Feature.CORE, "Connector@1/1", "Available", (RO,), D.boolean, "RCV 2.13.1"),
    (Feature.CORE, "Connector@2/1", "Available", (RO,), D.boolean, "RCV 2.13.1"),
    (Feature.CORE, "Connector@1/1", "AvailabilityState", (RO,), D.option_list, "errata 2.66"),
    (Feature.CORE, "Connector@2/1", "AvailabilityState", (RO,), D.option_list, "errata 2.66"),
    (Feature.CORE, "Connector@1/1", "ConnectorType", (RO,), D.string, "RCV 2.13.4"),
    (Feature.CORE, "Connector@2/1", "ConnectorType", (RO,), D.string, "RCV 2.13.4"),
    (Feature.CORE, "Connector@1/1", "SupplyPhases", (RO,), D.integer, "RCV 2.13.6"),
    (Feature.CORE, "Connector@2/1", "SupplyPhases", (RO,), D.integer, "RCV 2.13.6"),
    (Feature.LOCAL_AUTH_LIST, "LocalAuthListCtrlr", "Enabled", (RW,), D.boolean, "D01.FR.13"),
    (Feature.LOCAL_AUTH_LIST, "LocalAuthListCtrlr", "Entries", (RO,), D.integer, "RCV 2.5.2, D01.FR.12 (maxLimit)"),
    (Feature.LOCAL_AUTH_LIST, "LocalAuthListCtrlr", "ItemsPerMessage", (RO,), D.integer, "RCV 2.5.4"),
    (Feature.LOCAL_AUTH_LIST, "LocalAuthListCtrlr", "BytesPerMessage", (RO,), D.integer, "RCV 2.5.5"),
    (Feature.SMART_CHARGING, "SmartChargingCtrlr", "ProfileStackLevel", (RO,), D.integer, "RCV 2.9.4"),
    (Feature.SMART_CHARGING, "SmartChargingCtrlr", "RateUnit", (RO,), D.member_list, "RCV 2.9.5"),
    (Feature.SMART_CHARGING, "SmartChargingCtrlr", "PeriodsPerSchedule", (RO,), D.integer, "RCV 2.9.6"),
    (Feature.SMART_CHARGING, "SmartChargingCtrlr", "ExternalControlSignalsEnabled", (RO,), D.boolean, "RCV 2.9.7"),
    (Feature.SMART_CHARGING, "SmartChargingCtrlr", "Entries[ChargingProfiles]", (RO,), D.integer, "RCV 2.9.10 (maxLimit)"),
    (Feature.SMART_CHARGING, "SmartChargingCtrlr", "LimitChangeSignificance", (RW,), D.decimal, "RCV 2.9.11"),
    (Feature.ADVANCED_USER_INTERFACE, "TariffCostCtrlr", "TariffFallbackMessage", (RW,), D.string, "RCV 2.10.3"),
    (Feature.ADVANCED_USER_INTERFACE, "TariffCostCtrlr", "TotalCostFallbackMessage", (RW,), D.string, "RCV 2.10.6"),
    (Feature.ADVANCED_USER_INTERFACE, "TariffCostCtrlr", "Currency", (RW,), D.string, "RCV 2.10.7"),
    (Feature.ADVANCED_DEVICE_MANAGEMENT, "MonitoringCtrlr", "ItemsPerMessage[SetVariableMonitoring]", (RO,), D.integer, "RCV 2.11.4"),
    (Feature.ADVANCED_DEVICE_MANAGEMENT, "MonitoringCtrlr", "BytesPerMessage[SetVariableMonitoring]", (RO,), D.integer, "RCV 2.11.6"),
    (Feature.ADVANCED_USER_INTERFACE, "DisplayMessageCtrlr", "DisplayMessages", (RO,), D.integer, "RCV 2.12.3 (maxLimit)"),
    (Feature.ADVANCED_USER_INTERFACE, "DisplayMessageCtrlr", "SupportedFormats", (RO,), D.member_list, "RCV 2.12.4"),
    (Feature.ADVANCED_USER_INTERFACE, "DisplayMessageCtrlr", "SupportedPriorities", (RO,), D.member_list, "RCV 2.12.5"),
]
# "yes (maxLimit only)" / "the maxLimit of this variable SHALL be provided"
NEEDS_MAX_LIMIT = {"EVSE@1.Power", "EVSE@2.Power", "LocalAuthListCtrlr.Entries", "SmartChargingCtrlr.Entries[ChargingProfiles]",
                   "DisplayMessageCtrlr.DisplayMessages", "SecurityCtrlr.CertificateEntries"}
# Part 5 section 5: controller components mandatory per certification profile.
MANDATORY_CONTROLLERS = {
    Feature.CORE: ("OCPPCommCtrlr", "TxCtrlr", "DeviceDataCtrlr", "ClockCtrlr", "SecurityCtrlr", "SampledDataCtrlr",
                   "AlignedDataCtrlr", "AuthCtrlr"),
    Feature.SMART_CHARGING: ("SmartChargingCtrlr",),
    Feature.ADVANCED_DEVICE_MANAGEMENT: ("MonitoringCtrlr",),
    Feature.LOCAL_AUTH_LIST: ("LocalAuthListCtrlr",),
    Feature.ADVANCED_USER_INTERFACE: ("TariffCostCtrlr", "DisplayMessageCtrlr"),
    Feature.RESERVATION: ("ReservationCtrlr",),
}
# Where the spec (part 2 RCV and part 6) and the ocpp package's name enums disagree, the spec wins.
NAME_DEVIATIONS = {("AuthCtrlr", "LocalAuthorizationOffline"): "RCV 2.3.5 and part 6; the ocpp package says LocalAuthorizeOffline",
                   ("SecurityCtrlr", "AllowCSMSTLSWildcards"): "errata 2025-09 2.62; the ocpp package predates it"}
# fmt: on


@pytest.fixture(scope="module")
def full() -> Inventory:
    return Inventory.build(two_connector_station(), ALL_FEATURES)


@pytest.mark.parametrize(("feature", "component", "name", "mutability", "data_type", "where"), REQUIRED,
                         ids=[f"{r[1]}.{r[2]}" for r in REQUIRED])  # fmt: skip
def test_every_required_variable_is_there_as_the_spec_says(
    full, feature, component, name, mutability, data_type, where
):
    address = f"{component}.{name}"
    assert address in full, f"{address} ({where}) missing"
    row = full[address]
    assert row.characteristics.data_type == data_type, where
    actual = row.attribute(Actual)
    assert actual is not None and actual.mutability in mutability, where
    assert row.feature == feature
    if address in NEEDS_MAX_LIMIT:
        assert row.characteristics.max_limit is not None and row.characteristics.max_limit > 0, where


def test_a_core_station_has_the_core_rows_and_no_optional_controllers():
    core = Inventory.build(minimal_station())
    for feature, component, name, *_ in REQUIRED:
        if feature == Feature.CORE and not component.startswith(("EVSE@2", "Connector@2")):
            assert f"{component}.{name}" in core
    optional = {c for f, names in MANDATORY_CONTROLLERS.items() if f != Feature.CORE for c in names}
    assert not {row.component.name for row in core} & optional


@pytest.mark.parametrize("feature", list(MANDATORY_CONTROLLERS))
def test_each_profile_brings_its_mandatory_controller_components(feature):
    inventory = Inventory.build(two_connector_station(), (feature,))
    present = {row.component.name for row in inventory}
    assert set(MANDATORY_CONTROLLERS[feature]) <= present
    assert set(MANDATORY_CONTROLLERS[Feature.CORE]) <= present


def test_controller_names_agree_with_the_ocpp_package_enumerations(full):
    standard = {v.value for v in enums.StandardizedVariableName}
    for row in full:
        component = row.component.name
        if component.endswith("Ctrlr"):
            assert component in {c.value for c in enums.ControllerComponentName}, component
        else:
            assert component in {c.value for c in enums.PhysicalComponentName}, component
        names = getattr(enums, f"{component}VariableName", None)
        allowed = {v.value for v in names} if names else set()
        shown = f"{row.variable.name}[{row.variable.instance}]" if row.variable.instance else row.variable.name
        if (component, row.variable.name) in NAME_DEVIATIONS:
            assert row.variable.name not in allowed  # still a deviation; drop the entry when the package agrees
            continue
        assert row.variable.name in allowed | standard or shown in allowed, row.address
        instances = getattr(enums, f"{component}InstanceName", None)
        if row.variable.instance is not None and instances is not None:
            assert row.variable.instance in {i.value for i in instances}, row.address


def test_every_writable_variable_is_persistent_and_drives_an_effect(full):
    for row in full:
        for attribute in row.attributes:
            if attribute.writable:
                assert attribute.persistent and attribute.source is None and row.effect, row.address
            if attribute.source is not None:
                assert attribute.mutability == ReadOnly and not attribute.persistent and not attribute.constant


def test_list_variables_have_a_values_list_their_defaults_fit(full):
    for row in full:
        if row.characteristics.data_type in (D.option_list, D.member_list, D.sequence_list):
            assert row.characteristics.values_list, row.address
            assert len(",".join(row.characteristics.values_list)) <= 1000  # valuesList string[0..1000]
        default = row.attribute(Actual).default if row.attribute(Actual) else None
        if default is not None:
            parse(row, default)


def test_tx_points_follow_the_hardware_and_never_offer_data_signed():
    plain = Inventory.build(two_connector_station())
    assert plain["TxCtrlr.TxStartPoint"].characteristics.values_list == (
        "EVConnected",
        "Authorized",
        "PowerPathClosed",
        "EnergyTransfer",
    )
    bay = Inventory.build(two_connector_station(evses=(EvseDescription(bay_sensor=True),)))
    for name in ("TxStartPoint", "TxStopPoint"):
        values = bay[f"TxCtrlr.{name}"].characteristics.values_list
        assert "ParkingBayOccupancy" in values and "DataSigned" not in values
    assert "BayOccupancySensor@1.Active" in bay and "BayOccupancySensor@1.Active" not in plain


def test_physical_components_follow_the_description():
    station = two_connector_station(
        evses=(
            EvseDescription(phases=1, max_current_a=16, connectors=(ConnectorDescription("cType1", fixed_cable=True, lock=False),)),
            EvseDescription(phases=3, max_current_a=32, temperature_sensor=True,
                            connectors=(ConnectorDescription("sType2"), ConnectorDescription("sType3"))),
        ),
        nominal_voltage_v=230.0,
        display=DisplaySize(2, 16),
        phase_switching=True,
    )  # fmt: skip
    inv = Inventory.build(station, ALL_FEATURES)
    assert inv["EVSE@1.Power"].characteristics.max_limit == 1 * 16 * 230.0
    assert inv["EVSE@2.Power"].characteristics.max_limit == 3 * 32 * 230.0
    assert inv["EVSE@1.SupplyPhases"].attribute(Actual).default == "1"
    assert inv["ChargingStation.SupplyPhases"].attribute(Actual).default == "3"
    assert inv["Connector@2/2.ConnectorType"].attribute(Actual).default == "sType3"
    assert inv["Connector@2/2.SupplyPhases"].attribute(Actual).default == "3"
    assert "ConnectorPlugRetentionLock@1/1.Active" not in inv  # fixed cable: no lock
    assert "ConnectorPlugRetentionLock@2/2.Active" in inv
    temperature = inv["TemperatureSensor@2.Temperature"]
    assert [a.type.value for a in temperature.attributes] == ["Actual", "MaxSet"]
    assert temperature.attribute(enums.AttributeEnumType.max_set).default == "80"
    assert "TemperatureSensor@1.Temperature" not in inv
    assert inv["Display.Count[WidthInChars]"].attribute(Actual).default == "16"
    assert inv["SmartChargingCtrlr.Phases3to1"].attribute(Actual).default == "true"
    assert "SmartChargingCtrlr.Phases3to1" not in Inventory.build(two_connector_station(), ALL_FEATURES)
    # a socket with a lock makes UnlockOnEVSideDisconnect a choice; fixed cables only: ReadOnly false
    assert inv["OCPPCommCtrlr.UnlockOnEVSideDisconnect"].attribute(Actual).mutability == ReadWrite
    fixed = Inventory.build(minimal_station())["OCPPCommCtrlr.UnlockOnEVSideDisconnect"].attribute(Actual)
    assert (fixed.mutability, fixed.default) == (ReadOnly, "false")


def test_advanced_user_interface_needs_a_display():
    with pytest.raises(ValueError, match="needs a display"):
        Inventory.build(two_connector_station(display=None), (Feature.ADVANCED_USER_INTERFACE,))
    assert "Display.Available" not in Inventory.build(two_connector_station(display=None))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evses": ()}, "at least one EVSE"),
        ({"evses": (EvseDescription(phases=2),)}, "expected 1 or 3"),
        ({"evses": (EvseDescription(connectors=()),)}, "at least one connector"),
        ({"evses": (EvseDescription(connectors=(ConnectorDescription("Schuko"),)),)}, "'Schuko', expected one of"),
        ({"measurands": ("Energy.Active.Import.Register", "Temperature")}, "Temperature"),
        ({"network_slots": 1}, "at least 2"),
    ],
)
def test_a_bad_description_is_refused_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        replace(two_connector_station(), **change)


def test_a_broken_table_is_a_startup_error():
    cs = ComponentId("ChargingStation")
    good = variable(cs, "Available", D.boolean, setting(ReadOnly, "true"))
    cases = [
        ((good, good), "listed twice"),
        ((variable(cs, "X", D.option_list, setting(ReadOnly, "a")),), "needs a valuesList"),
        ((variable(cs, "X", D.integer, setting(ReadWrite, "1")),), "drives nothing"),
        ((variable(cs, "X", D.integer, setting(ReadOnly, "01")),), "default"),
        ((variable(cs, "X", D.integer, (Attribute(Actual, ReadWrite, None, "src"),), effect="e"),), "live value"),
    ]
    for rows, message in cases:
        with pytest.raises(ValueError, match=message):
            Inventory(rows)


def test_lookups_ignore_case_and_treat_an_empty_instance_as_none(full):
    row = full.find(ComponentId("devicedatactrlr"), VariableId("itemspermessage", "getreport"))
    assert row is not None and row.address == "DeviceDataCtrlr.ItemsPerMessage[GetReport]"
    assert (
        full.find(ComponentId("OCPPCommCtrlr", ""), VariableId("HeartbeatInterval", ""))
        is full["OCPPCommCtrlr.HeartbeatInterval"]
    )
    assert full.find(ComponentId("EVSE", evse=1), VariableId("Power")) is full["EVSE@1.Power"]
    assert full.find(ComponentId("EVSE"), VariableId("Power")) is None  # EVSE lives on its tier
    assert full.has_component(ComponentId("Connector", evse=2, connector=1))
    assert not full.has_component(ComponentId("Connector", evse=2, connector=2))


def test_file_transfer_protocols_are_what_the_transfer_module_speaks():
    assert {s.upper() for s in SCHEMES} == set(FILE_TRANSFER_PROTOCOLS)
    full = Inventory.build(two_connector_station())
    assert full["OCPPCommCtrlr.FileTransferProtocols"].attribute(Actual).default == "FTP,FTPS,HTTP,HTTPS"
