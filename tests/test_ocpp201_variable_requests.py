"""GetVariables and SetVariables on the OCPP 2.0.1 device model: every status, the WriteOnly and
ReadOnly rules, message limits, effects and guards; every payload checked against the schemas."""

# The status tables read best one case per line.
# ruff: noqa: E501

from __future__ import annotations

import logging
from typing import Any

import pytest
from ocpp201_device_model import NOW, Live, assert_valid, build_model, two_connector_station

from controller.clock import iso
from controller.ocpp.v201.description import Capacities, EvseDescription
from controller.ocpp.v201.device_model import DeviceModel, Write
from controller.ocpp.v201.framing import Refusal
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.values import BadValue
from controller.ocpp.v201.variable_requests import get_variables, set_variables


def item(component: str, variable: str, *, instance: str | None = None, evse: int | None = None,
         connector: int | None = None, attribute: str | None = None, value: str | None = None) -> dict[str, Any]:  # fmt: skip
    name, _, var_instance = variable.partition("[")
    out: dict[str, Any] = {"component": {"name": component}, "variable": {"name": name}}
    if instance is not None:
        out["component"]["instance"] = instance
    if evse is not None:
        out["component"]["evse"] = {"id": evse} if connector is None else {"id": evse, "connectorId": connector}
    if var_instance:
        out["variable"]["instance"] = var_instance.rstrip("]")
    if attribute is not None:
        out["attributeType"] = attribute
    if value is not None:
        out["attributeValue"] = value
    return out


def get_one(model, data: dict[str, Any]) -> dict[str, Any]:
    request = {"getVariableData": [data]}
    assert_valid("GetVariables", request)
    response = get_variables(model, request, NOW)
    assert_valid("GetVariables", response, response=True)
    (result,) = response["getVariableResult"]
    assert result["component"] == data["component"] and result["variable"] == data["variable"]  # B06.FR.02
    assert result["attributeType"] == data.get("attributeType", "Actual")  # B06.FR.03 / FR.11
    return result


def set_many(model, *data: dict[str, Any]) -> tuple[list[dict[str, Any]], tuple[Write, ...]]:
    request = {"setVariableData": list(data)}
    assert_valid("SetVariables", request)
    outcome = set_variables(model, request)
    assert_valid("SetVariables", outcome.response, response=True)
    results = outcome.response["setVariableResult"]
    assert len(results) == len(data)  # B05.FR.01
    for result, sent in zip(results, data, strict=True):
        assert result["component"] == sent["component"] and result["variable"] == sent["variable"]  # B05.FR.02
        assert result["attributeType"] == sent.get("attributeType", "Actual")  # B05.FR.03 / FR.12
    return results, outcome.writes


def case_ids(cases: list[tuple[Any, ...]]) -> list[str]:
    return [f"{c[0]['component']['name']}.{c[0]['variable']['name']}:{c[1]}" for c in cases]


GET_CASES = [
    # (request item, status, value or None when absent, reasonCode or None)
    (item("OCPPCommCtrlr", "OfflineThreshold", attribute="Actual"), "Accepted", "60", None),  # TC_B_06
    (item("ocppcommctrlr", "offlinethreshold"), "Accepted", "60", None),  # names compare case-insensitively
    (item("DeviceDataCtrlr", "ItemsPerMessage[GetReport]"), "Accepted", "100", None),
    (item("DeviceDataCtrlr", "ItemsPerMessage"), "UnknownVariable", None, None),  # B06.FR.15: no instance given
    (item("OCPPCommCtrlr", "HeartbeatInterval", instance=""), "Accepted", "300", None),  # "" instance = none
    (item("NoSuchCtrlr", "Enabled"), "UnknownComponent", None, None),  # B06.FR.06, TC_B_32
    (item("OCPPCommCtrlr", "NoSuchVariable"), "UnknownVariable", None, None),  # B06.FR.07, TC_B_33
    (
        item("OCPPCommCtrlr", "OfflineThreshold", attribute="Target"),
        "NotSupportedAttributeType",
        None,
        None,
    ),  # B06.FR.08, TC_B_34
    (item("SecurityCtrlr", "BasicAuthPassword"), "Rejected", None, "WriteOnly"),  # B06.FR.09, errata 6.2.12
    (item("EVSE", "Power"), "UnknownComponent", None, None),  # an EVSE lives on its tier
    (item("EVSE", "Power", evse=3), "UnknownComponent", None, None),
    (item("EVSE", "AvailabilityState", evse=1), "Accepted", "Occupied", None),  # live
    (item("Connector", "ConnectorType", evse=2, connector=1), "Accepted", "sType2", None),
    (item("Connector", "ConnectorType", evse=2, connector=2), "UnknownComponent", None, None),
    (item("EVSE", "Power", evse=2), "Accepted", "", None),  # live, no reading: B06.FR.13
    (item("EVSE", "Power", evse=1), "Accepted", "7360.5", None),
    (item("ClockCtrlr", "DateTime"), "Accepted", iso(NOW), None),
    (item("SecurityCtrlr", "OrganizationName"), "Accepted", "", None),  # unset string
    (item("TxCtrlr", "TxStartPoint"), "Accepted", "PowerPathClosed", None),
    (item("MonitoringCtrlr", "ActiveMonitoringBase"), "Accepted", "All", None),
    (item("ChargingStation", "Problem"), "Accepted", "false", None),
]


@pytest.mark.parametrize(
    ("data", "status", "value", "reason"),
    GET_CASES,
    ids=case_ids(GET_CASES),
)
def test_get_variables_status(data, status, value, reason):
    live = Live()
    live[("availability_state", "EVSE@1")] = "Occupied"
    live[("power", "EVSE@1")] = 7360.5
    live[("power", "EVSE@2")] = None
    result = get_one(build_model(live=live), data)
    assert result["attributeStatus"] == status
    assert result.get("attributeValue") == value  # present only when Accepted (B06.FR.06-08)
    assert (result.get("attributeStatusInfo") or {}).get("reasonCode") == reason


def test_a_second_attribute_is_read_as_its_own_and_a_missing_one_is_not_supported():
    model = build_model(two_connector_station(evses=(EvseDescription(temperature_sensor=True),)))
    assert get_one(model, item("TemperatureSensor", "Temperature", evse=1))["attributeValue"] == "25.5"
    assert (
        get_one(model, item("TemperatureSensor", "Temperature", evse=1, attribute="MaxSet"))["attributeValue"] == "80"
    )
    assert (
        get_one(model, item("TemperatureSensor", "Temperature", evse=1, attribute="MinSet"))["attributeStatus"]
        == "NotSupportedAttributeType"
    )


def test_a_failing_reader_gives_an_empty_value_not_a_crash(caplog):
    live = Live()
    readers = live.readers()

    def broken(_row, _now):
        raise RuntimeError("meter gone")

    readers["power"] = broken
    model = DeviceModel(Inventory.build(two_connector_station()), readers)
    with caplog.at_level(logging.ERROR):
        result = get_one(model, item("EVSE", "Power", evse=1))
    assert (result["attributeStatus"], result["attributeValue"]) == ("Accepted", "")
    assert "EVSE@1.Power" in caplog.text


SET_CASES = [
    # (request item, status, reasonCode or None, value read back afterwards or None when unchanged/unreadable)
    (item("OCPPCommCtrlr", "OfflineThreshold", value="300", attribute="Actual"), "Accepted", None, "300"),  # TC_B_09
    (item("ocppcommctrlr", "heartbeatinterval", value="45"), "Accepted", None, "45"),
    (
        item("OCPPCommCtrlr", "OfflineThreshold", value="300", attribute="Target"),
        "NotSupportedAttributeType",
        None,
        None,
    ),  # TC_B_37
    (item("OCPPCommCtrlr", "MessageTimeout[Default]", value="10"), "Rejected", "ReadOnly", None),  # TC_B_39, B05.FR.09
    (item("NoSuchCtrlr", "Enabled", value="true"), "UnknownComponent", None, None),  # TC_B_35
    (item("OCPPCommCtrlr", "NoSuchVariable", value="1"), "UnknownVariable", None, None),  # TC_B_36
    (item("OCPPCommCtrlr", "HeartbeatInterval", value="0"), "Rejected", "ValueOutOfRange", None),  # B05.FR.08
    (item("OCPPCommCtrlr", "HeartbeatInterval", value="ten"), "Rejected", "InvalidValue", None),  # B05.FR.07
    (item("OCPPCommCtrlr", "WebSocketPingInterval", value="-1"), "Rejected", "ValueOutOfRange", None),  # part 4 8.4
    (item("TxCtrlr", "TxStopPoint", value="DataSigned"), "Rejected", "InvalidValue", None),  # errata 2.24
    (item("TxCtrlr", "TxStartPoint", value="EVConnected,Authorized"), "Accepted", None, "EVConnected,Authorized"),
    (item("TxCtrlr", "TxStartPoint", value=""), "Rejected", "InvalidValue", None),
    (item("AuthCtrlr", "LocalAuthorizationOffline", value="false"), "Accepted", None, "false"),  # TC_B_10
    (item("AuthCtrlr", "MasterPassGroupId", value="POLICE-01"), "Accepted", None, "POLICE-01"),
    (item("AuthCtrlr", "MasterPassGroupId", value="x" * 37), "Rejected", "InvalidValue", None),
    (item("OCPPCommCtrlr", "NetworkConfigurationPriority", value="2,1"), "RebootRequired", None, "2,1"),  # B10.FR.01
    (item("OCPPCommCtrlr", "NetworkConfigurationPriority", value="3"), "Rejected", "InvalidValue", None),  # not a slot
    (item("SecurityCtrlr", "BasicAuthPassword", value="0123456789abcdef"), "Accepted", None, None),
    (item("SecurityCtrlr", "BasicAuthPassword", value="too-short"), "Rejected", "InvalidValue", None),
    (item("TariffCostCtrlr", "Currency", value="usd"), "Rejected", "InvalidValue", None),
    (item("SmartChargingCtrlr", "LimitChangeSignificance", value="2.5"), "Accepted", None, "2.5"),
    (item("EVSE", "Power", evse=1, value="1000"), "Rejected", "ReadOnly", None),  # a live value
    (item("TariffCostCtrlr", "Enabled[Cost]", value="false"), "Accepted", None, "false"),
]


@pytest.mark.parametrize(
    ("data", "status", "reason", "after"),
    SET_CASES,
    ids=case_ids(SET_CASES),
)
def test_set_variables_status(data, status, reason, after):
    model = build_model()
    (result,), writes = set_many(model, data)
    assert result["attributeStatus"] == status
    info = result.get("attributeStatusInfo")
    assert (info or {}).get("reasonCode") == reason
    if reason is not None:
        assert info["additionalInfo"]  # says why
    assert len(writes) == (status in ("Accepted", "RebootRequired"))
    model.commit(writes)
    if after is not None:
        back = {k: v for k, v in data.items() if k != "attributeValue"}
        assert get_one(model, back)["attributeValue"] == after


def test_a_refused_write_changes_nothing():
    model = build_model()
    _, writes = set_many(model, item("OCPPCommCtrlr", "HeartbeatInterval", value="0"))
    model.commit(writes)
    assert model.value("OCPPCommCtrlr.HeartbeatInterval") == 300


def test_the_write_only_password_is_kept_for_the_station_and_never_shown():
    model = build_model()
    _, writes = set_many(model, item("SecurityCtrlr", "BasicAuthPassword", value="s3cret-Pässword-16"))
    model.commit(writes)
    assert model.value("SecurityCtrlr.BasicAuthPassword") == "s3cret-Pässword-16"
    result = get_one(model, item("SecurityCtrlr", "BasicAuthPassword"))
    assert result["attributeStatus"] == "Rejected" and "attributeValue" not in result
    assert "s3cret" not in repr(result)


def test_each_item_is_decided_on_its_own_and_the_later_of_two_writes_wins():
    model = build_model()
    results, writes = set_many(
        model,
        item("OCPPCommCtrlr", "HeartbeatInterval", value="100"),
        item("OCPPCommCtrlr", "MessageTimeout[Default]", value="5"),
        item("OCPPCommCtrlr", "HeartbeatInterval", value="200"),
    )
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Rejected", "Accepted"]
    model.commit(writes)
    assert model.value("OCPPCommCtrlr.HeartbeatInterval") == 200


def test_effects_run_after_commit_with_the_typed_value_and_survive_a_failing_listener(caplog):
    model = build_model()
    seen: list[tuple[str, object]] = []

    def broken(_write: Write) -> None:
        raise RuntimeError("listener bug")

    model.on_change("heartbeat_interval", broken)
    model.on_change("heartbeat_interval", lambda w: seen.append((w.row.address, w.value)))
    model.on_change("retry_backoff", lambda w: seen.append((w.row.address, w.value)))
    model.on_change("network_configuration_priority", lambda w: seen.append((w.row.address, w.value)))
    _, writes = set_many(
        model,
        item("OCPPCommCtrlr", "HeartbeatInterval", value="42"),
        item("OCPPCommCtrlr", "RetryBackOffWaitMinimum", value="7"),
        item("OCPPCommCtrlr", "NetworkConfigurationPriority", value="2,1"),
    )
    assert seen == []  # deciding does nothing
    with caplog.at_level(logging.ERROR):
        model.commit(writes)
    # RebootRequired rows take effect at the next boot: no listener call
    assert seen == [("OCPPCommCtrlr.HeartbeatInterval", 42), ("OCPPCommCtrlr.RetryBackOffWaitMinimum", 7)]
    assert model.value("OCPPCommCtrlr.NetworkConfigurationPriority") == ("2", "1")
    assert "listener bug" in caplog.text and model.value("OCPPCommCtrlr.HeartbeatInterval") == 42


def test_a_guard_refuses_with_its_reason_and_nothing_changes():
    model = build_model()
    configured = {"1"}

    def slots_configured(value):  # B10.FR.02: every slot in the priority must hold a profile
        missing = [s for s in value if s not in configured]
        if missing:
            raise BadValue("InvalidValue", f"no network profile in slot {','.join(missing)}")

    model.guard("network_configuration_priority", slots_configured)
    (result,), writes = set_many(model, item("OCPPCommCtrlr", "NetworkConfigurationPriority", value="2,1"))
    assert result["attributeStatus"] == "Rejected"
    assert result["attributeStatusInfo"] == {
        "reasonCode": "InvalidValue",
        "additionalInfo": "no network profile in slot 2",
    }
    assert writes == ()
    configured.add("2")
    (result,), _ = set_many(model, item("OCPPCommCtrlr", "NetworkConfigurationPriority", value="2,1"))
    assert result["attributeStatus"] == "RebootRequired"


def test_binding_an_effect_the_station_does_not_have_is_an_error():
    model = build_model(features=())
    with pytest.raises(KeyError, match="reservations_enabled"):
        model.on_change("reservations_enabled", lambda w: None)
    with pytest.raises(KeyError):
        model.guard("no_such_effect", lambda v: None)
    model.on_change("heartbeat_interval", lambda w: None)
    assert "heartbeat_interval" not in model.unbound_effects()
    assert "tx_start_points" in model.unbound_effects()


def test_the_model_refuses_to_start_with_a_live_value_unbound():
    readers = Live().readers()
    del readers["power"], readers["problem"]
    with pytest.raises(ValueError, match=r"\['power', 'problem'\]"):
        DeviceModel(Inventory.build(two_connector_station()), readers)


def small_limits_model():
    return build_model(two_connector_station(capacities=Capacities(items_per_message=2, bytes_per_message=1024)))


@pytest.mark.parametrize("action", ["GetVariables", "SetVariables"])
def test_more_items_than_items_per_message_is_an_occurrence_constraint_violation(action):
    model = small_limits_model()
    data = [item("OCPPCommCtrlr", "HeartbeatInterval", value="60" if action == "SetVariables" else None)] * 3
    key = "getVariableData" if action == "GetVariables" else "setVariableData"
    with pytest.raises(Refusal) as refused:
        (get_variables(model, {key: data}, NOW) if action == "GetVariables" else set_variables(model, {key: data}))
    assert refused.value.code == "OccurrenceConstraintViolation"
    assert "3 items" in refused.value.description and "at most 2" in refused.value.description
    assert model.value("OCPPCommCtrlr.HeartbeatInterval") == 300
    # exactly the limit is fine
    ok = {key: data[:2]}
    assert get_variables(model, ok, NOW) if action == "GetVariables" else set_variables(model, ok)


@pytest.mark.parametrize("action", ["GetVariables", "SetVariables"])
def test_a_request_larger_than_bytes_per_message_is_a_format_violation(action):
    model = small_limits_model()
    key = "getVariableData" if action == "GetVariables" else "setVariableData"
    data = [item("OCPPCommCtrlr", "HeartbeatInterval", value="60" if action == "SetVariables" else None)]
    padded = {"customData": {"vendorId": "v" * 255, "padding": "y" * 800}, key: data}
    assert_valid(action, padded)
    handle = (
        (lambda p: get_variables(model, p, NOW)) if action == "GetVariables" else (lambda p: set_variables(model, p))
    )
    with pytest.raises(Refusal) as refused:
        handle(padded)
    assert refused.value.code == "FormatViolation" and "at most 1024" in refused.value.description
    assert handle({key: data})  # the same items without the padding fit
