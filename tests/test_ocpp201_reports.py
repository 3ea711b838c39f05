"""GetBaseReport / GetReport on the OCPP 2.0.1 device model and the NotifyReport parts they
produce: contents per report base and criteria, splitting by items and bytes, schema validity."""

# The selection tables read best one case per line.

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp201_device_model import ALL_FEATURES, NOW, Live, assert_valid, build_model, two_connector_station

from controller.clock import iso
from controller.ocpp.v201.description import MIN_REPORT_BYTES, Capacities, EvseDescription
from controller.ocpp.v201.framing import Refusal, encoded_size, frame_bytes
from controller.ocpp.v201.notify_report import report_entry, split
from controller.ocpp.v201.reports import get_base_report, get_report
from controller.ocpp.v201.variable_requests import set_variables
from controller.ocpp.v201.variables import LIST_TYPES, Feature


def address(entry: dict[str, Any]) -> str:
    c, v = entry["component"], entry["variable"]
    text = c["name"] + (f"[{c['instance']}]" if "instance" in c else "")
    if "evse" in c:
        text += f"@{c['evse']['id']}" + (f"/{c['evse']['connectorId']}" if "connectorId" in c["evse"] else "")
    return f"{text}.{v['name']}" + (f"[{v['instance']}]" if "instance" in v else "")


def check_parts(parts: tuple[dict[str, Any], ...], request_id: int, items: int, max_bytes: int) -> list[dict[str, Any]]:
    """The NotifyReport rules every report keeps; returns all entries in order."""
    assert parts, "an Accepted report sends at least one NotifyReport"
    entries = []
    for seq_no, part in enumerate(parts):
        assert_valid("NotifyReport", part)
        assert part["requestId"] == request_id and part["seqNo"] == seq_no  # B07.FR.04/10
        assert part["generatedAt"] == iso(NOW)
        assert part.get("tbc", False) is (seq_no < len(parts) - 1)
        assert 1 <= len(part["reportData"]) <= items
        assert frame_bytes("NotifyReport", part) <= max_bytes
        entries += part["reportData"]
    return entries


def base_report(model, base: str, request_id: int = 7) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    request = {"requestId": request_id, "reportBase": base}
    assert_valid("GetBaseReport", request)
    outcome = get_base_report(model, request, NOW)
    assert_valid("GetBaseReport", outcome.response, response=True)
    if outcome.response["status"] != "Accepted":
        assert outcome.notifications == ()  # B07.FR.05
        return outcome.response, []
    items, max_bytes = (
        model.limit("DeviceDataCtrlr.ItemsPerMessage[GetReport]"),
        model.limit("DeviceDataCtrlr.BytesPerMessage[GetReport]"),
    )
    return outcome.response, check_parts(outcome.notifications, request_id, items, max_bytes)


def custom_report(model, request: dict[str, Any]) -> tuple[str, list[str], list[dict[str, Any]]]:
    request = {"requestId": 3, **request}
    assert_valid("GetReport", request)
    outcome = get_report(model, request, NOW)
    assert_valid("GetReport", outcome.response, response=True)
    status = outcome.response["status"]
    if status != "Accepted":
        assert outcome.notifications == ()
        return status, [], []
    entries = check_parts(outcome.notifications, 3, 100, 65536)
    return status, [address(e) for e in entries], entries


def test_full_inventory_reports_every_variable_once_with_every_attribute():
    model = build_model()
    response, entries = base_report(model, "FullInventory")
    assert response == {"status": "Accepted"}
    assert [address(e) for e in entries] == [row.address for row in model.inventory]
    for entry, row in zip(entries, model.inventory, strict=True):
        assert [a["type"] for a in entry["variableAttribute"]] == [a.type.value for a in row.attributes]  # B07.FR.11
        characteristics = entry["variableCharacteristics"]  # TC_B_53 post-scenario validations
        if characteristics["dataType"] in {t.value for t in LIST_TYPES}:
            allowed = characteristics["valuesList"].split(",")
            for attribute in entry["variableAttribute"]:
                value = attribute["value"]
                members = [value] if characteristics["dataType"] == "OptionList" else [m for m in value.split(",") if m]
                assert set(members) <= set(allowed), entry
        for attribute in entry["variableAttribute"]:
            assert ("value" in attribute) is (attribute["mutability"] != "WriteOnly"), entry
    by_address = {address(e): e for e in entries}
    power = by_address["EVSE@1.Power"]
    assert power["variableCharacteristics"]["maxLimit"] == 3 * 32 * 230.0
    assert power["variableAttribute"] == [
        {"type": "Actual", "value": "0", "mutability": "ReadOnly", "persistent": False, "constant": False}
    ]
    heartbeat = by_address["OCPPCommCtrlr.HeartbeatInterval"]["variableAttribute"][0]
    assert heartbeat == {
        "type": "Actual",
        "value": "300",
        "mutability": "ReadWrite",
        "persistent": True,
        "constant": False,
    }
    assert by_address["SecurityCtrlr.BasicAuthPassword"]["variableAttribute"] == [
        {"type": "Actual", "mutability": "WriteOnly", "persistent": True, "constant": False}
    ]
    assert by_address["Connector@2/1.ConnectorType"]["component"] == {
        "name": "Connector",
        "evse": {"id": 2, "connectorId": 1},
    }


def test_configuration_inventory_holds_only_what_the_operator_can_set():
    model = build_model()
    _, entries = base_report(model, "ConfigurationInventory")
    assert {address(e) for e in entries} == {row.address for row in model.inventory if row.writable}
    assert "OCPPCommCtrlr.NetworkConfigurationPriority" in {address(e) for e in entries}
    for entry in entries:  # TC_B_12
        assert entry["variableCharacteristics"]
        assert {a["mutability"] for a in entry["variableAttribute"]} <= {"ReadWrite", "WriteOnly"}


def test_summary_inventory_holds_availability_and_what_is_wrong():
    live = Live()
    live[("availability_state", "EVSE@2")] = "Faulted"
    live[("availability_state", "Connector@2/1")] = "Faulted"  # same as its EVSE: left out
    live[("availability_state", "Connector@1/1")] = "Unavailable"  # differs from EVSE 1: reported
    live[("problem", "EVSE@2")] = True
    _, entries = base_report(build_model(live=live), "SummaryInventory")
    shown = {address(e): e["variableAttribute"][0]["value"] for e in entries}
    assert shown == {
        "ChargingStation.AvailabilityState": "Available",
        "EVSE@1.AvailabilityState": "Available",
        "Connector@1/1.AvailabilityState": "Unavailable",
        "EVSE@2.AvailabilityState": "Faulted",
        "EVSE@2.Problem": "true",
    }


def test_an_unknown_report_base_is_not_supported_and_sends_nothing():  # B07.FR.02/05
    outcome = get_base_report(build_model(), {"requestId": 1, "reportBase": "EverythingInventory"}, NOW)
    assert outcome.response == {
        "status": "NotSupported",
        "statusInfo": {"reasonCode": "UnsupportedParam", "additionalInfo": "reportBase EverythingInventory"},
    }
    assert outcome.notifications == ()


def cv(component: str, variable: str | None = None, *, evse: int | None = None, connector: int | None = None,
       instance: str | None = None, var_instance: str | None = None) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"component": {"name": component}}
    if instance is not None:
        out["component"]["instance"] = instance
    if evse is not None:
        out["component"]["evse"] = {"id": evse} if connector is None else {"id": evse, "connectorId": connector}
    if variable is not None:
        out["variable"] = {"name": variable} if var_instance is None else {"name": variable, "instance": var_instance}
    return out


CUSTOM_CASES = [
    # (componentVariable list, expected addresses in order)
    ([cv("EVSE", "AvailabilityState", evse=1)], ["EVSE@1.AvailabilityState"]),  # TC_B_17
    (
        [cv("DeviceDataCtrlr", "ItemsPerMessage")],
        [
            "DeviceDataCtrlr.ItemsPerMessage[GetReport]",
            "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
            "DeviceDataCtrlr.ItemsPerMessage[SetVariables]",
        ],
    ),  # TC_B_54, B08.FR.21
    (
        [cv("DeviceDataCtrlr", "ItemsPerMessage", var_instance="GetReport")],
        ["DeviceDataCtrlr.ItemsPerMessage[GetReport]"],
    ),  # TC_B_55
    ([cv("EVSE", "AvailabilityState")], ["EVSE@1.AvailabilityState", "EVSE@2.AvailabilityState"]),  # TC_B_56, B08.FR.23
    ([cv("evse", "availabilitystate", evse=2)], ["EVSE@2.AvailabilityState"]),  # case-insensitive
    (
        [cv("Connector", evse=2)],
        [
            "Connector@2/1.Available",
            "Connector@2/1.AvailabilityState",
            "Connector@2/1.ConnectorType",
            "Connector@2/1.SupplyPhases",
        ],
    ),  # B08.FR.20/22
    ([cv("Connector", "ConnectorType", evse=2, connector=1)], ["Connector@2/1.ConnectorType"]),
    ([cv("Connector", "ConnectorType")], ["Connector@1/1.ConnectorType", "Connector@2/1.ConnectorType"]),
    ([cv("TariffCostCtrlr", "Enabled")], ["TariffCostCtrlr.Enabled[Tariff]", "TariffCostCtrlr.Enabled[Cost]"]),
    (
        [
            cv("OCPPCommCtrlr", "HeartbeatInterval"),
            cv("OCPPCommCtrlr", "HeartbeatInterval"),
            cv("ChargingStation", "SupplyPhases"),
        ],
        ["ChargingStation.SupplyPhases", "OCPPCommCtrlr.HeartbeatInterval"],
    ),  # once, table order
    ([cv("EVSE", "AvailabilityState", evse=1, connector=1)], []),
    ([cv("NoSuchCtrlr")], []),
    ([cv("OCPPCommCtrlr", "NoSuchVariable")], []),
]


@pytest.mark.parametrize(("wanted", "expected"), CUSTOM_CASES, ids=[str(i) for i in range(len(CUSTOM_CASES))])
def test_get_report_by_component_variable(wanted, expected):
    status, addresses, _ = custom_report(build_model(), {"componentVariable": wanted})
    assert status == ("Accepted" if expected else "EmptyResultSet")  # B08.FR.15
    assert addresses == expected


def test_criterion_enabled_reports_components_enabled_or_without_enabled():  # TC_B_16
    model = build_model()
    set_outcome = set_variables(
        model,
        {
            "setVariableData": [
                {"component": {"name": "AuthCacheCtrlr"}, "variable": {"name": "Enabled"}, "attributeValue": "false"}
            ]
        },
    )
    model.commit(set_outcome.writes)
    _, addresses, entries = custom_report(model, {"componentCriteria": ["Enabled"]})
    components = {a.split(".")[0] for a in addresses}
    assert "AuthCacheCtrlr" not in components
    assert {
        "AuthCtrlr",
        "ReservationCtrlr",
        "OCPPCommCtrlr",
        "ChargingStation",
        "EVSE@1",
        "Connector@2/1",
    } <= components
    for entry in entries:
        if entry["variable"]["name"] == "Enabled":
            assert entry["variableAttribute"][0]["value"] == "true"


def test_criterion_problem_reports_only_components_with_a_problem():  # TC_B_18
    live = Live()
    status, _, _ = custom_report(
        build_model(live=live),
        {"componentCriteria": ["Problem"], "componentVariable": [cv("EVSE", "AvailabilityState", evse=1)]},
    )
    assert status == "EmptyResultSet"
    status, addresses, _ = custom_report(
        build_model(live=live),
        {"componentCriteria": ["Available"], "componentVariable": [cv("EVSE", "AvailabilityState", evse=1)]},
    )
    assert addresses == ["EVSE@1.AvailabilityState"]
    live[("problem", "EVSE@2")] = True
    _, addresses, _ = custom_report(build_model(live=live), {"componentCriteria": ["Problem"]})
    assert addresses and {a.split(".")[0] for a in addresses} == {"EVSE@2"}


def test_criteria_are_or_ed_and_active_follows_the_live_value():
    live = Live()
    live[("lock_active", "ConnectorPlugRetentionLock@2/1")] = True
    _, addresses, _ = custom_report(
        build_model(live=live),
        {"componentCriteria": ["Active"], "componentVariable": [cv("ConnectorPlugRetentionLock")]},
    )
    lock = [f"ConnectorPlugRetentionLock@2/1.{v}" for v in ("Available", "Active", "Problem")]
    assert addresses == lock
    live[("problem", "ChargingStation")] = True
    _, addresses, _ = custom_report(
        build_model(live=live),
        {
            "componentCriteria": ["Problem", "Active"],
            "componentVariable": [cv("ConnectorPlugRetentionLock"), cv("ChargingStation", "Problem")],
        },
    )
    assert addresses == ["ChargingStation.Problem", *lock]


def test_an_unknown_criterion_is_not_supported():  # TC_B_19 (the schema already refuses it on the wire)
    outcome = get_report(build_model(), {"requestId": 1, "componentCriteria": ["Available", "Charming"]}, NOW)
    assert (
        outcome.response["status"] == "NotSupported"
        and outcome.response["statusInfo"]["reasonCode"] == "UnsupportedParam"
    )
    assert outcome.notifications == ()


def test_get_report_limits_are_refused_with_the_right_call_error():
    model = build_model(two_connector_station(capacities=Capacities(report_items=2)))
    with pytest.raises(Refusal) as refused:
        get_report(model, {"requestId": 1, "componentVariable": [cv("EVSE")] * 3}, NOW)
    assert refused.value.code == "OccurrenceConstraintViolation"
    padded = {
        "requestId": 1,
        "customData": {"vendorId": "v", "padding": "x" * MIN_REPORT_BYTES},
        "componentVariable": [cv("EVSE")],
    }
    with pytest.raises(Refusal) as refused:
        get_report(
            build_model(two_connector_station(capacities=Capacities(report_bytes=MIN_REPORT_BYTES))), padded, NOW
        )
    assert refused.value.code == "FormatViolation"


def test_a_full_inventory_is_split_by_items_with_tbc_on_all_but_the_last():
    model = build_model(two_connector_station(capacities=Capacities(report_items=10)))
    _, entries = base_report(model, "FullInventory", request_id=99)
    assert len(entries) == len(model.inventory)  # check_parts verified <= 10 per part, seqNo, tbc


stations = st.builds(
    lambda evses, display, items, extra: two_connector_station(
        evses=tuple(EvseDescription(phases=p, temperature_sensor=t, bay_sensor=b) for p, t, b in evses),
        display=display,
        capacities=Capacities(report_items=items, report_bytes=MIN_REPORT_BYTES + extra),
    ),
    st.lists(st.tuples(st.sampled_from((1, 3)), st.booleans(), st.booleans()), min_size=1, max_size=4),
    st.just(None) | st.just(two_connector_station().display),
    st.integers(1, 200),
    st.integers(0, 60000),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stations, st.sets(st.sampled_from([f for f in Feature if f != Feature.ADVANCED_USER_INTERFACE])))
def test_every_variable_is_reported_exactly_once_within_every_limit(station, features):
    model = build_model(station, tuple(features))
    _, entries = base_report(model, "FullInventory")
    assert [address(e) for e in entries] == [row.address for row in model.inventory]


@cache
def full_entries() -> list[dict[str, Any]]:
    model = build_model(two_connector_station(), ALL_FEATURES)
    return [report_entry(model, row, [a.type for a in row.attributes], NOW) for row in model.inventory]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(0, 4000), st.integers(0, 2**31 - 1))
def test_split_keeps_order_and_every_limit_for_any_budget(items, slack, request_id):
    entries = full_entries()
    header = frame_bytes(
        "NotifyReport",
        {"requestId": request_id, "generatedAt": iso(NOW), "tbc": False, "seqNo": 10**4, "reportData": []},
    )
    max_bytes = header + max(map(encoded_size, entries)) + slack
    parts = split(entries, request_id=request_id, generated_at=NOW, items=items, max_bytes=max_bytes)
    assert check_parts(tuple(parts), request_id, items, max_bytes) == entries
    # greedy: a part ends only because the next entry would not fit
    for part, following in itertools.pairwise(parts):
        fuller = {**part, "tbc": False, "reportData": [*part["reportData"], following["reportData"][0]]}
        assert len(fuller["reportData"]) > items or frame_bytes("NotifyReport", fuller) > max_bytes


def test_an_entry_too_large_for_any_part_is_an_error_not_a_broken_message():
    model = build_model()
    entry = report_entry(model, model.inventory["OCPPCommCtrlr.HeartbeatInterval"], [], NOW)
    with pytest.raises(ValueError, match="does not fit"):
        split([entry], request_id=1, generated_at=NOW, items=10, max_bytes=100)
    assert split([], request_id=1, generated_at=NOW, items=10, max_bytes=100) == []


def test_reported_values_are_cut_to_reporting_value_size():
    live = Live()
    live[("display_text", "Display")] = "x" * 3000
    _, _, entries = custom_report(build_model(live=live), {"componentVariable": [cv("Display", "DataText")]})
    assert len(entries[0]["variableAttribute"][0]["value"]) == 2500


def test_criterion_enabled_needs_every_instance_enabled():
    model = build_model()
    outcome = set_variables(
        model,
        {
            "setVariableData": [
                {
                    "component": {"name": "TariffCostCtrlr"},
                    "variable": {"name": "Enabled", "instance": "Cost"},
                    "attributeValue": "false",
                }
            ]
        },
    )
    model.commit(outcome.writes)
    _, addresses, _ = custom_report(
        model,
        {
            "componentCriteria": ["Enabled"],
            "componentVariable": [cv("TariffCostCtrlr"), cv("ReservationCtrlr", "Enabled")],
        },
    )
    assert addresses == ["ReservationCtrlr.Enabled"]
