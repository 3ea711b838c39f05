"""Part 6 section 2.3, B Provisioning: Get / Set Variables (B05, B06), Get Base Report (B07) and
Get Custom Report (B08) against the running station."""

from __future__ import annotations

from typing import Any

from test_ocpp201_device_model_table import REQUIRED

from controller.ocpp.v201.variables import Feature
from ocpp201.harness import MODULE, Harness, address, require

pytestmark = MODULE
LIST_TYPES = ("OptionList", "SequenceList", "MemberList")
OFFLINE_THRESHOLD = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
LOCAL_AUTHORIZATION_OFFLINE = {"component": {"name": "AuthCtrlr"}, "variable": {"name": "LocalAuthorizationOffline"}}
REQUIRED_CORE = {f"{component}.{variable}": mutability for feature, component, variable, mutability, _t, _w
                 in REQUIRED if feature is Feature.CORE}  # fmt: skip


async def get(cs: Harness, *items: dict[str, Any]) -> list[dict[str, Any]]:
    """GetVariables for ``items``, in as many requests as ItemsPerMessage[GetVariables] asks for."""
    per_message = cs.variable("DeviceDataCtrlr.ItemsPerMessage[GetVariables]")
    results: list[dict[str, Any]] = []
    for start in range(0, len(items), per_message):
        request = {"getVariableData": list(items[start : start + per_message])}
        results += (await cs.call("GetVariables", request))["getVariableResult"]
    return results


async def set_(cs: Harness, *items: dict[str, Any]) -> list[dict[str, Any]]:
    return (await cs.call("SetVariables", {"setVariableData": list(items)}))["setVariableResult"]


def no_error(result: dict[str, Any]) -> bool:
    """attributeStatusInfo is absent or its reasonCode is NoError."""
    return result.get("attributeStatusInfo", {"reasonCode": "NoError"})["reasonCode"] == "NoError"


def characteristics_sound(entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        chars = entry.get("variableCharacteristics")
        assert chars is not None, address(entry)
        if chars["dataType"] in LIST_TYPES:
            assert chars.get("valuesList"), address(entry)


# ---- B06 Get Variables -----------------------------------------------------------------------


async def test_TC_B_06_CS(cs: Harness) -> None:
    """Get Variables - single value: OfflineThreshold (configured to 300) with attributeType Actual."""
    await cs.set_variables({"OCPPCommCtrlr.OfflineThreshold": 300})
    [result] = await get(cs, {**OFFLINE_THRESHOLD, "attributeType": "Actual"})
    assert result["attributeStatus"] == "Accepted" and result["attributeType"] == "Actual"
    assert result["attributeValue"] == "300" and no_error(result)
    assert result["component"]["name"] == "OCPPCommCtrlr" and result["variable"]["name"] == "OfflineThreshold"


async def test_TC_B_07_CS(cs: Harness) -> None:
    """Get Variables - multiple values: OfflineThreshold 300 and LocalAuthorizationOffline true."""
    await cs.set_variables({"OCPPCommCtrlr.OfflineThreshold": 300, "AuthCtrlr.LocalAuthorizationOffline": True})
    results = await get(cs, {**OFFLINE_THRESHOLD, "attributeType": "Actual"},
                        {**LOCAL_AUTHORIZATION_OFFLINE, "attributeType": "Actual"})  # fmt: skip
    by_name = {r["variable"]["name"]: r for r in results}
    assert by_name["OfflineThreshold"]["attributeValue"] == "300"
    assert by_name["LocalAuthorizationOffline"]["attributeValue"] == "true"
    assert all(r["attributeStatus"] == "Accepted" and r["attributeType"] == "Actual" and no_error(r) for r in results)


async def test_TC_B_32_CS(cs: Harness) -> None:
    """Get Variables - Unknown component."""
    [result] = await get(cs, {"component": {"name": "UnknownComponent"}, "variable": {"name": "OfflineThreshold"}})
    assert result["attributeStatus"] == "UnknownComponent"
    assert (result["component"]["name"], result["variable"]["name"]) == ("UnknownComponent", "OfflineThreshold")


async def test_TC_B_33_CS(cs: Harness) -> None:
    """Get Variables - Unknown variable."""
    [result] = await get(cs, {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "UnknownVariable"}})
    assert result["attributeStatus"] == "UnknownVariable"
    assert (result["component"]["name"], result["variable"]["name"]) == ("OCPPCommCtrlr", "UnknownVariable")


async def test_TC_B_34_CS(cs: Harness) -> None:
    """Get Variables - Not supported attribute type: OfflineThreshold has no Target."""
    [result] = await get(cs, {**OFFLINE_THRESHOLD, "attributeType": "Target"})
    assert result["attributeStatus"] == "NotSupportedAttributeType" and result["attributeType"] == "Target"
    assert "attributeValue" not in result


# ---- B05 Set Variables -----------------------------------------------------------------------


async def test_TC_B_09_CS(cs: Harness) -> None:
    """Set Variables - single value: OfflineThreshold 300, then read back."""
    [result] = await set_(cs, {**OFFLINE_THRESHOLD, "attributeValue": "300", "attributeType": "Actual"})
    assert result["attributeStatus"] == "Accepted" and result["attributeType"] == "Actual" and no_error(result)
    assert result["component"]["name"] == "OCPPCommCtrlr" and result["variable"]["name"] == "OfflineThreshold"
    assert cs.variable("OCPPCommCtrlr.OfflineThreshold") == 300


async def test_TC_B_10_CS(cs: Harness) -> None:
    """Set Variables - multiple values: OfflineThreshold 300 and LocalAuthorizationOffline true."""
    await cs.set_variables({"AuthCtrlr.LocalAuthorizationOffline": False})
    results = await set_(
        cs,
        {**OFFLINE_THRESHOLD, "attributeValue": "300", "attributeType": "Actual"},
        {**LOCAL_AUTHORIZATION_OFFLINE, "attributeValue": "true", "attributeType": "Actual"},
    )
    assert [r["attributeStatus"] for r in results] == ["Accepted", "Accepted"]
    assert all(r["attributeType"] == "Actual" and no_error(r) for r in results)
    assert cs.variable("AuthCtrlr.LocalAuthorizationOffline") is True


async def test_TC_B_35_CS(cs: Harness) -> None:
    """Set Variables - Unknown component."""
    [result] = await set_(cs, {"component": {"name": "UnknownComponent"}, "variable": {"name": "OfflineThreshold"},
                               "attributeValue": "300"})  # fmt: skip
    assert result["attributeStatus"] == "UnknownComponent"
    assert (result["component"]["name"], result["variable"]["name"]) == ("UnknownComponent", "OfflineThreshold")


async def test_TC_B_36_CS(cs: Harness) -> None:
    """Set Variables - Unknown variable."""
    [result] = await set_(cs, {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "UnknownVariable"},
                               "attributeValue": "300"})  # fmt: skip
    assert result["attributeStatus"] == "UnknownVariable"
    assert (result["component"]["name"], result["variable"]["name"]) == ("OCPPCommCtrlr", "UnknownVariable")


async def test_TC_B_37_CS(cs: Harness) -> None:
    """Set Variables - Not supported attribute type."""
    [result] = await set_(cs, {**OFFLINE_THRESHOLD, "attributeValue": "300", "attributeType": "Target"})
    assert result["attributeStatus"] == "NotSupportedAttributeType" and result["attributeType"] == "Target"


async def test_TC_B_11_CS(cs: Harness) -> None:
    """Set Variables - invalidly formatted values: OfflineThreshold (integer), LimitChangeSignificance
    (decimal, 0-100 percent) and AuthorizeRemoteStart (boolean) with a threshold, the threshold + 0.1,
    true, a date-time and "abc". NextTimeOffsetTransitionDateTime is not on this station (steps 7-8
    do not apply)."""
    now = "2025-01-01T12:00:00.000Z"
    # 300 and 300.1 are decimals, but above LimitChangeSignificance's maxLimit of 100 percent.
    valid = {"OfflineThreshold": {"300"}, "LimitChangeSignificance": set(), "AuthorizeRemoteStart": {"true"}}
    for component, variable in (("OCPPCommCtrlr", "OfflineThreshold"),
                                ("SmartChargingCtrlr", "LimitChangeSignificance"),
                                ("AuthCtrlr", "AuthorizeRemoteStart")):  # fmt: skip
        for value in ("300", "300.1", "true", now, "abc"):
            [result] = await set_(cs, {"component": {"name": component}, "variable": {"name": variable},
                                       "attributeValue": value})  # fmt: skip
            assert result["attributeType"] == "Actual", result
            if value in valid[variable]:
                assert result["attributeStatus"] == "Accepted", (variable, value, result)
            else:
                assert result["attributeStatus"] == "Rejected", (variable, value, result)
    assert cs.variable("SmartChargingCtrlr.LimitChangeSignificance") == 1.0


async def test_TC_B_39_CS(cs: Harness) -> None:
    """Set Variables - Read-only: MessageTimeout[Default]."""
    [result] = await set_(
        cs,
        {
            "component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": "MessageTimeout", "instance": "Default"},
            "attributeValue": "10",
        },
    )
    assert result["attributeStatus"] == "Rejected"
    assert result["variable"] == {"name": "MessageTimeout", "instance": "Default"}
    assert cs.variable("OCPPCommCtrlr.MessageTimeout[Default]") == 5  # [ocpp] call_timeout_s, unchanged


# ---- B07 Get Base Report ---------------------------------------------------------------------


async def test_TC_B_12_CS(cs: Harness) -> None:
    """Get Base Report - ConfigurationInventory: only writable variables, each with its
    characteristics; at least every required writable variable of Core."""
    response, entries = await cs.report("GetBaseReport", {"requestId": 12, "reportBase": "ConfigurationInventory"})
    assert response["status"] == "Accepted" and "statusInfo" not in response
    characteristics_sound(entries)
    for entry in entries:
        assert {a["mutability"] for a in entry["variableAttribute"]} <= {"ReadWrite", "WriteOnly"}, address(entry)
    writable = {a for a, mutability in REQUIRED_CORE.items() if set(mutability) & {"ReadWrite", "WriteOnly"}
                and not {"ReadOnly"} & set(mutability)}  # fmt: skip
    assert writable <= {address(e) for e in entries}, writable - {address(e) for e in entries}


async def test_TC_B_13_CS(cs: Harness) -> None:
    """Get Base Report - FullInventory: every variable with its characteristics; at least the
    required ones of Core and of the charging infrastructure (station, EVSEs, connectors)."""
    response, entries = await cs.report("GetBaseReport", {"requestId": 13, "reportBase": "FullInventory"})
    assert response["status"] == "Accepted"
    characteristics_sound(entries)
    reported = {address(e) for e in entries}
    assert set(REQUIRED_CORE) <= reported, set(REQUIRED_CORE) - reported
    assert len(reported) == len(entries) == len(cs.model.inventory)


async def test_TC_B_14_CS(cs: Harness) -> None:
    """Get Base Report - SummaryInventory: AvailabilityState of the station and of each EVSE
    (connectors only where they differ), Problem variables only where set."""
    response, entries = await cs.report("GetBaseReport", {"requestId": 14, "reportBase": "SummaryInventory"})
    assert response["status"] == "Accepted"
    characteristics_sound(entries)
    reported = {address(e): e["variableAttribute"][0]["value"] for e in entries}
    assert reported == {"ChargingStation.AvailabilityState": "Available", "EVSE@1.AvailabilityState": "Available",
                        "EVSE@2.AvailabilityState": "Available"}  # fmt: skip


async def test_TC_B_15_CS(cs: Harness) -> None:
    """Get Base Report - Not Supported base report: only for stations without SummaryInventory."""
    require("C-56", declared=False)


# ---- B08 Get Custom Report -------------------------------------------------------------------


async def test_TC_B_16_CS(cs: Harness) -> None:
    """Get Custom Report - with component criteria Enabled: every Enabled variable reported is
    true, GetVariables agrees (WriteOnly ones Rejected, errata 6.2.12), and every Enabled that is
    true in the FullInventory is in the custom report."""
    response, entries = await cs.report("GetReport", {"requestId": 16, "componentCriteria": ["Enabled"]})
    assert response["status"] == "Accepted"
    characteristics_sound(entries)
    enabled = [e for e in entries if e["variable"]["name"] == "Enabled"]
    assert enabled and all(e["variableAttribute"][0]["value"] == "true" for e in enabled)
    results = await get(cs, *({"component": e["component"], "variable": e["variable"]} for e in entries))
    for entry, result in zip(entries, results, strict=True):
        if entry["variableAttribute"][0]["mutability"] == "WriteOnly":
            assert result["attributeStatus"] == "Rejected" and "attributeValue" not in result
        else:
            assert result["attributeStatus"] == "Accepted", result
    _full, inventory = await cs.report("GetBaseReport", {"requestId": 160, "reportBase": "FullInventory"})
    true_enabled = {address(e) for e in inventory if e["variable"]["name"] == "Enabled"
                    and e["variableAttribute"][0].get("value") == "true"}  # fmt: skip
    assert true_enabled == {address(e) for e in enabled}


EVSE1_AVAILABILITY = {"component": {"name": "EVSE", "evse": {"id": 1}}, "variable": {"name": "AvailabilityState"}}


def availability_state_of_evse1(entries: list[dict[str, Any]]) -> None:
    [entry] = entries
    assert entry["component"] == {"name": "EVSE", "evse": {"id": 1}}
    assert entry["variable"] == {"name": "AvailabilityState"}
    chars = entry["variableCharacteristics"]
    assert chars["dataType"] == "OptionList"
    assert chars["valuesList"].split(",") == ["Available", "Occupied", "Reserved", "Unavailable", "Faulted"]
    [attribute] = entry["variableAttribute"]
    assert (attribute["mutability"], attribute["type"], attribute["value"]) == ("ReadOnly", "Actual", "Available")


async def test_TC_B_17_CS(cs: Harness) -> None:
    """Get Custom Report - with component/variable: AvailabilityState of EVSE 1."""
    response, entries = await cs.report("GetReport", {"requestId": 17, "componentVariable": [EVSE1_AVAILABILITY]})
    assert response["status"] == "Accepted"
    availability_state_of_evse1(entries)


async def test_TC_B_18_CS(cs: Harness) -> None:
    """Get Custom Report - with component criteria and component/variable: Available selects EVSE 1's
    AvailabilityState, Problem selects nothing (EmptyResultSet, no NotifyReport)."""
    response, entries = await cs.report("GetReport", {"requestId": 18, "componentCriteria": ["Available"],
                                                      "componentVariable": [EVSE1_AVAILABILITY]})  # fmt: skip
    assert response["status"] == "Accepted"
    availability_state_of_evse1(entries)
    since = cs.mark()
    response, entries = await cs.report("GetReport", {"requestId": 180, "componentCriteria": ["Problem"],
                                                      "componentVariable": [EVSE1_AVAILABILITY]})  # fmt: skip
    assert response["status"] == "EmptyResultSet"
    assert response.get("statusInfo", {"reasonCode": "NotFound"})["reasonCode"] == "NotFound"
    await cs.barrier()
    assert cs.calls("NotifyReport", since) == []


async def test_TC_B_53_CS(cs: Harness) -> None:
    """Get Base Report - Test mandatory DM variables via FullInventory (errata 6.2.19): the
    required variables, valuesLists not empty and the values in them, WriteOnly values omitted,
    every other value present."""
    response, entries = await cs.report("GetBaseReport", {"requestId": 53, "reportBase": "FullInventory"})
    assert response["status"] == "Accepted"
    assert set(REQUIRED_CORE) <= {address(e) for e in entries}
    for entry in entries:
        chars = entry["variableCharacteristics"]
        for attribute in entry["variableAttribute"]:
            if attribute["mutability"] == "WriteOnly":
                assert "value" not in attribute, address(entry)
                continue
            assert "value" in attribute, address(entry)
            if chars["dataType"] in LIST_TYPES and attribute["value"]:
                allowed = set(chars["valuesList"].split(","))
                assert set(attribute["value"].split(",")) <= allowed, (address(entry), attribute["value"])


async def test_TC_B_54_CS(cs: Harness) -> None:
    """Get Custom Report - with component/variable, but no instance: every ItemsPerMessage instance."""
    response, entries = await cs.report("GetReport", {"requestId": 54, "componentVariable": [
        {"component": {"name": "DeviceDataCtrlr"}, "variable": {"name": "ItemsPerMessage"}}]})  # fmt: skip
    assert response["status"] == "Accepted"
    assert {address(e) for e in entries} == {"DeviceDataCtrlr.ItemsPerMessage[GetReport]",
                                             "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
                                             "DeviceDataCtrlr.ItemsPerMessage[SetVariables]"}  # fmt: skip


async def test_TC_B_55_CS(cs: Harness) -> None:
    """Get Custom Report - with component/variable/instance: ItemsPerMessage[GetReport] only."""
    response, entries = await cs.report(
        "GetReport",
        {
            "requestId": 55,
            "componentVariable": [
                {
                    "component": {"name": "DeviceDataCtrlr"},
                    "variable": {"name": "ItemsPerMessage", "instance": "GetReport"},
                }
            ],
        },
    )
    assert response["status"] == "Accepted"
    assert [address(e) for e in entries] == ["DeviceDataCtrlr.ItemsPerMessage[GetReport]"]


async def test_TC_B_56_CS(cs: Harness) -> None:
    """Get Custom Report - with component/variable, but no evseId: AvailabilityState of every EVSE."""
    response, entries = await cs.report("GetReport", {"requestId": 56, "componentVariable": [
        {"component": {"name": "EVSE"}, "variable": {"name": "AvailabilityState"}}]})  # fmt: skip
    assert response["status"] == "Accepted"
    assert sorted(address(e) for e in entries) == [f"EVSE@{e}.AvailabilityState" for e in cs.evse_ids]


async def test_written_variables_survive_a_restart(cs: Harness) -> None:
    """Writable variables persist (RCV: persistence true): a CSMS write is read back after a
    power cycle, and the write-only BasicAuthPassword stays unreadable."""
    await cs.set_variables({"OCPPCommCtrlr.OfflineThreshold": 77})
    await cs.power_cycle()
    await cs.booted_and_reported()
    [result] = await get(cs, OFFLINE_THRESHOLD)
    assert result["attributeValue"] == "77"
    [secret] = await get(cs, {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}})
    assert secret["attributeStatus"] == "Rejected" and "attributeValue" not in secret
