"""GetVariables and SetVariables: request payload in, response payload out (plus, for
SetVariables, the decided writes the caller persists and then commits).

Rules kept here (part 2 B05 Set Variables, B06 Get Variables, errata 2.10):
- One result per request item, in order, echoing its component and variable as sent and its
  attributeType, or "Actual" when it had none (B05.FR.01-03/12, B06.FR.01-03/11).
- Status order: UnknownComponent (no row has that component on that tier), UnknownVariable,
  NotSupportedAttributeType, then for GetVariables WriteOnly -> Rejected (reasonCode
  WriteOnly), else Accepted with the value ("" when there is none, B06.FR.13);
  for SetVariables read-only -> Rejected (ReadOnly), a value that does not parse or fit ->
  Rejected (InvalidValue / ValueOutOfRange, with a sentence), a guard's refusal -> Rejected,
  else Accepted, or RebootRequired for rows that take effect at the next boot.
- An attributeValue is only present when the status is Accepted (B06.FR.06-08).
- Too many items or bytes: ``Refusal`` (framing.py). Items of one SetVariables are decided
  independently against the state before the request; a repeated item (B05.FR.13 forbids it)
  is decided twice and the later write wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.ocpp.v201.device_model import DeviceModel, Write
from controller.ocpp.v201.enums import AttributeEnumType, GetVariableStatusEnumType, SetVariableStatusEnumType
from controller.ocpp.v201.framing import check_request, status_info
from controller.ocpp.v201.values import BadValue
from controller.ocpp.v201.variables import ComponentId, Variable, VariableId, WriteOnly

ITEMS_GET = "DeviceDataCtrlr.ItemsPerMessage[GetVariables]"
BYTES_GET = "DeviceDataCtrlr.BytesPerMessage[GetVariables]"
ITEMS_SET = "DeviceDataCtrlr.ItemsPerMessage[SetVariables]"
BYTES_SET = "DeviceDataCtrlr.BytesPerMessage[SetVariables]"


@dataclass(frozen=True)
class SetVariablesOutcome:
    response: dict[str, Any]
    writes: tuple[Write, ...]  # persist, then ``model.commit(writes)``, then send ``response``


def _lookup(model: DeviceModel, item: dict[str, Any]) -> tuple[str | None, Variable | None, AttributeEnumType]:
    """(failure status or None, row, attribute type) for a Get/SetVariableData item."""
    component = ComponentId.from_json(item["component"])
    kind = AttributeEnumType(item.get("attributeType", AttributeEnumType.actual.value))
    row = model.inventory.find(component, VariableId.from_json(item["variable"]))
    if row is None:
        return ("UnknownComponent" if not model.inventory.has_component(component) else "UnknownVariable", None, kind)
    if row.attribute(kind) is None:
        return ("NotSupportedAttributeType", row, kind)
    return (None, row, kind)


def _echo(item: dict[str, Any], kind: AttributeEnumType, status: str) -> dict[str, Any]:
    return {
        "attributeStatus": status,
        "attributeType": kind.value,
        "component": item["component"],
        "variable": item["variable"],
    }


def get_variables(model: DeviceModel, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    items = payload["getVariableData"]
    check_request("GetVariables", payload, len(items), model.limit(ITEMS_GET), model.limit(BYTES_GET))
    results = []
    for item in items:
        failure, row, kind = _lookup(model, item)
        if failure is not None or row is None:
            results.append(_echo(item, kind, GetVariableStatusEnumType(failure).value))
            continue
        spec = row.attribute(kind)
        if spec is not None and spec.mutability == WriteOnly:
            result = _echo(item, kind, GetVariableStatusEnumType.rejected.value)
            result["attributeStatusInfo"] = status_info("WriteOnly", f"{row.address} is write-only")
        else:
            result = _echo(item, kind, GetVariableStatusEnumType.accepted.value)
            result["attributeValue"] = model.text(row, kind, now) or ""
        results.append(result)
    return {"getVariableResult": results}


def set_variables(model: DeviceModel, payload: dict[str, Any]) -> SetVariablesOutcome:
    items = payload["setVariableData"]
    check_request("SetVariables", payload, len(items), model.limit(ITEMS_SET), model.limit(BYTES_SET))
    results, writes = [], []
    for item in items:
        failure, row, kind = _lookup(model, item)
        if failure is not None or row is None:
            results.append(_echo(item, kind, SetVariableStatusEnumType(failure).value))
            continue
        try:
            write = model.decide(row, kind, item["attributeValue"])
        except BadValue as exc:
            result = _echo(item, kind, SetVariableStatusEnumType.rejected.value)
            result["attributeStatusInfo"] = status_info(exc.reason_code, exc.info)
            results.append(result)
            continue
        writes.append(write)
        status = SetVariableStatusEnumType.reboot_required if row.reboot else SetVariableStatusEnumType.accepted
        results.append(_echo(item, kind, status.value))
    return SetVariablesOutcome({"setVariableResult": results}, tuple(writes))
