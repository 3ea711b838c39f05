"""GetBaseReport and GetReport: which variables a report holds, answered as the response plus
the NotifyReport payloads to send after it.

Rules kept here (part 2 B07 Get Base Report, B08 Get Custom Report, errata 2.10, part 6
TC_B_12/13/14/16-19/53-56):
- FullInventory: every variable with every attribute (B07.FR.08/11). ConfigurationInventory:
  every variable with a writable attribute, with only its writable attributes (TC_B_12 checks
  each reported mutability is ReadWrite or WriteOnly). SummaryInventory: AvailabilityState of
  the station, of every EVSE and of a connector where it differs from its EVSE's, and the
  Problem / Tripped / Overload / Fallback variables that are true (B07.FR.09). Anything else:
  NotSupported (reasonCode UnsupportedParam, TC_B_15).
- GetReport: componentVariable entries select rows (B08.FR.20-25: no variable = all of the
  component, no variable instance = every instance, no evse = every tier including the top
  one, evse without connectorId = the EVSE and all its connectors, no component instance =
  every instance); componentCriteria select whole components (Active / Available / Enabled:
  the variable is true or absent, every instance of it; Problem: it is true; several = any of
  them, B08.FR.07-10/13; TC_B_16 expects each reported Enabled to be true);
  both given = both apply (B08.FR.05). An unknown criterion: NotSupported; nothing selected:
  EmptyResultSet and no NotifyReport (B08.FR.15). More entries than ItemsPerMessage[GetReport]
  or more bytes than BytesPerMessage[GetReport]: ``Refusal``.
- Values are read once, at ``now``, which is also generatedAt; parts follow notify_report.py
  with the station's ItemsPerMessage[GetReport] and BytesPerMessage[GetReport].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.enums import (
    AttributeEnumType,
    ComponentCriterionEnumType,
    GenericDeviceModelStatusEnumType,
    ReportBaseEnumType,
)
from controller.ocpp.v201.framing import check_request, status_info
from controller.ocpp.v201.notify_report import report_entry, split
from controller.ocpp.v201.variables import Actual, ComponentId, Variable

ITEMS_REPORT = "DeviceDataCtrlr.ItemsPerMessage[GetReport]"
BYTES_REPORT = "DeviceDataCtrlr.BytesPerMessage[GetReport]"
ABNORMAL = ("problem", "tripped", "overload", "fallback")
CRITERIA = frozenset(c.value for c in ComponentCriterionEnumType)
Selection = list[tuple[Variable, tuple[AttributeEnumType, ...]]]


@dataclass(frozen=True)
class ReportOutcome:
    response: dict[str, Any]
    notifications: tuple[dict[str, Any], ...]  # NotifyReportRequest payloads, sent after the response


def _status(status: GenericDeviceModelStatusEnumType, reason: str = "", info: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"status": status.value}
    if reason:
        out["statusInfo"] = status_info(reason, info)
    return out


def _report(model: DeviceModel, selection: Selection, request_id: int, now: datetime) -> ReportOutcome:
    if not selection:
        return ReportOutcome(_status(GenericDeviceModelStatusEnumType.empty_result_set), ())
    entries = [report_entry(model, row, kinds, now) for row, kinds in selection]
    parts = split(entries, request_id=request_id, generated_at=now, items=model.limit(ITEMS_REPORT),
                  max_bytes=model.limit(BYTES_REPORT))  # fmt: skip
    return ReportOutcome(_status(GenericDeviceModelStatusEnumType.accepted), tuple(parts))


def _all(rows: Iterable[Variable]) -> Selection:
    return [(row, tuple(a.type for a in row.attributes)) for row in rows]


def _summary(model: DeviceModel, now: datetime) -> Selection:
    evse_states: dict[int | None, str | None] = {}
    selection: Selection = []
    for row in model.inventory:  # an EVSE comes before its connectors
        name = row.variable.name.casefold()
        if name == "availabilitystate":
            state = model.text(row, Actual, now)
            if row.component.name == "EVSE":
                evse_states[row.component.evse] = state
            elif row.component.name == "Connector" and state == evse_states.get(row.component.evse):
                continue  # "if known and different from EVSE"
            selection.append((row, (Actual,)))
        elif name in ABNORMAL and row.attribute(Actual) is not None and model.read(row, Actual, now) is True:
            selection.append((row, (Actual,)))
    return selection


def get_base_report(model: DeviceModel, payload: dict[str, Any], now: datetime) -> ReportOutcome:
    base = payload["reportBase"]
    if base == ReportBaseEnumType.full_inventory.value:
        selection = _all(model.inventory)
    elif base == ReportBaseEnumType.configuration_inventory.value:
        selection = [
            (row, tuple(a.type for a in row.attributes if a.writable)) for row in model.inventory if row.writable
        ]
    elif base == ReportBaseEnumType.summary_inventory.value:
        selection = _summary(model, now)
    else:
        return ReportOutcome(
            _status(GenericDeviceModelStatusEnumType.not_supported, "UnsupportedParam", f"reportBase {base}"), ()
        )
    return _report(model, selection, payload["requestId"], now)


def _folded(text: str | None) -> str:
    return (text or "").casefold()


def matches(row: Variable, wanted: dict[str, Any]) -> bool:
    component, variable = wanted["component"], wanted.get("variable")
    c = row.component
    if _folded(component["name"]) != c.name.casefold():
        return False
    if component.get("instance") and _folded(component["instance"]) != _folded(c.instance):
        return False
    evse = component.get("evse")
    if evse is not None and (evse["id"] != c.evse or ("connectorId" in evse and evse["connectorId"] != c.connector)):
        return False
    if variable is None:
        return True
    if _folded(variable["name"]) != row.variable.name.casefold():
        return False
    return not variable.get("instance") or _folded(variable["instance"]) == _folded(row.variable.instance)


def _flags(model: DeviceModel, component: ComponentId, name: str, now: datetime) -> list[bool]:
    """The component's boolean variables called ``name``, every instance (none: [])."""
    rows = model.inventory.component_rows(component)
    return [model.read(row, Actual, now) is True for row in rows if row.variable.name.casefold() == name]


def _meets(model: DeviceModel, component: ComponentId, criteria: Iterable[str], now: datetime) -> bool:
    for criterion in criteria:
        flags = _flags(model, component, criterion.casefold(), now)
        if criterion == ComponentCriterionEnumType.problem.value:
            if any(flags):
                return True
        elif all(flags):  # true, or no such variable (TariffCostCtrlr: Enabled[Tariff] and Enabled[Cost])
            return True
    return False


def get_report(model: DeviceModel, payload: dict[str, Any], now: datetime) -> ReportOutcome:
    wanted = payload.get("componentVariable") or []
    criteria = payload.get("componentCriteria") or []
    check_request("GetReport", payload, len(wanted), model.limit(ITEMS_REPORT), model.limit(BYTES_REPORT))
    unknown = [c for c in criteria if c not in CRITERIA]
    if unknown:
        return ReportOutcome(
            _status(GenericDeviceModelStatusEnumType.not_supported, "UnsupportedParam", f"componentCriteria {unknown}"),
            (),
        )
    rows = [row for row in model.inventory if not wanted or any(matches(row, w) for w in wanted)]
    if criteria:
        verdicts: dict[ComponentId, bool] = {}
        for row in rows:
            if row.component not in verdicts:
                verdicts[row.component] = _meets(model, row.component, criteria, now)
        rows = [row for row in rows if verdicts[row.component]]
    return _report(model, _all(rows), payload["requestId"], now)
