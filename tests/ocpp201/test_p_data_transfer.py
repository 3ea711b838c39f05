"""Part 6 section 2.15, P DataTransfer: vendor-specific messages (P01) and custom data in any
message (TC_P_03)."""

from __future__ import annotations

from typing import Any

from ocpp201.harness import MODULE, Harness

pytestmark = MODULE
OCTT = "org.openchargealliance.octt"
VENDOR = "evsed"  # the harness station's [station] vendor (BootNotification's vendorName)


def custom(**fields: Any) -> dict[str, Any]:
    return {"customData": {"vendorId": OCTT, **fields}}


async def test_TC_P_01_CS(cs: Harness) -> None:
    """Data Transfer to the Charging Station - Unknown VendorId: evsed implements no vendor
    extension (P01.FR.05)."""
    answer = await cs.call("DataTransfer", {"vendorId": OCTT, "messageId": "octt-message"})  # step 1
    assert answer["status"] == "UnknownVendorId"  # step 2


async def test_TC_P_03_CS(cs: Harness) -> None:
    """CustomData - Receive custom data: customData (with fields of its own) in the request, its
    entries, component and variable is ignored; OfflineThreshold is set and read back as 200."""
    address = {"component": {"name": "OCPPCommCtrlr", **custom(note="c")},
               "variable": {"name": "OfflineThreshold", **custom(note="v")}}  # fmt: skip
    request = {"setVariableData": [{**address, "attributeValue": "200", "attributeType": "Actual", **custom(n=1)}],
               **custom(note="request")}  # fmt: skip
    result = (await cs.call("SetVariables", request))["setVariableResult"][0]  # step 1
    assert result["attributeStatus"] == "Accepted"  # step 2
    request = {"getVariableData": [{**address, "attributeType": "Actual", **custom()}], **custom()}
    result = (await cs.call("GetVariables", request))["getVariableResult"][0]  # step 3
    assert result["attributeStatus"] == "Accepted" and result.get("attributeType", "Actual") == "Actual"  # step 4
    assert result["attributeValue"] == "200"


# ---- beyond part 6 ----------------------------------------------------------------------------


async def test_the_station_s_own_vendor_id_knows_no_message(cs: Harness) -> None:
    """P01.FR.06: the station's own vendorId (in any letter case) with any messageId, or none:
    UnknownMessageId; the data is never interpreted, whatever its JSON type."""
    for payload in ({"vendorId": VENDOR, "messageId": "Reboot"}, {"vendorId": VENDOR.upper(), "data": [1, {"a": None}]},
                    {"vendorId": VENDOR, "data": "x" * 10_000}):  # fmt: skip
        assert (await cs.call("DataTransfer", payload))["status"] == "UnknownMessageId"
    assert cs.calls("DataTransfer") == []  # the station sends none of its own (P02.FR.02)
