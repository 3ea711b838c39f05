"""NotifyReport payloads: one reportData entry per reported variable, split into parts.

Rules kept here (part 2 B07.FR.03/04/10/11, B08.FR.03/04/12/14, errata 2.10; 2.38
ReportDataType, 2.50 VariableAttributeType):
- An entry carries the component (with its evse tier), the variable, every attribute asked
  for (type, value, mutability, persistent, constant) and the characteristics. A WriteOnly
  attribute has no value; an unset one has "" (the schema lets only WriteOnly omit it).
- Parts are filled in order, each with at most ``items`` entries and at most ``max_bytes``
  bytes as a CALL frame (framing.py); every part carries the request's requestId and the
  same generatedAt, seqNo counts from 0, and every part but the last has tbc = true.
- An entry too large for a part on its own is a ValueError: the station description keeps
  BytesPerMessage[GetReport] above the largest entry the model can produce (description.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from controller.clock import iso
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.enums import AttributeEnumType
from controller.ocpp.v201.framing import encoded_size, frame_bytes
from controller.ocpp.v201.variables import Variable

ACTION = "NotifyReport"


def report_entry(
    model: DeviceModel, row: Variable, kinds: Iterable[AttributeEnumType], now: datetime
) -> dict[str, Any]:
    attributes = []
    for kind in kinds:
        spec = row.attribute(kind)
        if spec is None:
            continue
        attribute: dict[str, Any] = {"type": kind.value}
        text = model.text(row, kind, now)
        if text is not None:
            attribute["value"] = text
        attribute.update(mutability=spec.mutability.value, persistent=spec.persistent, constant=spec.constant)
        attributes.append(attribute)
    return {
        "component": row.component.to_json(),
        "variable": row.variable.to_json(),
        "variableAttribute": attributes,
        "variableCharacteristics": row.characteristics.to_json(),
    }


def _header(request_id: int, generated_at: str, seq_no: int, key: str) -> dict[str, Any]:
    # tbc written out as false: the longest form, so a part measured with it fits either way.
    return {"requestId": request_id, "generatedAt": generated_at, "tbc": False, "seqNo": seq_no, key: []}


def split(entries: Sequence[dict[str, Any]], *, request_id: int, generated_at: datetime, items: int,
          max_bytes: int, action: str = ACTION, key: str = "reportData") -> list[dict[str, Any]]:  # fmt: skip
    """NotifyReportRequest payloads carrying ``entries`` in order (NotifyMonitoringReport: ``action``
    and ``key`` "monitor")."""
    stamp = iso(generated_at)
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    used = frame_bytes(action, _header(request_id, stamp, 0, key))
    for entry in entries:
        size = encoded_size(entry)
        if current and (len(current) >= items or used + 1 + size > max_bytes):
            parts.append(current)
            current = []
            used = frame_bytes(action, _header(request_id, stamp, len(parts), key))
        grown = used + size + (1 if current else 0)
        if grown > max_bytes:
            raise ValueError(f"a report entry of {size} bytes does not fit a part of {max_bytes} bytes")
        current.append(entry)
        used = grown
    if current:
        parts.append(current)
    payloads = []
    for seq_no, data in enumerate(parts):
        payload: dict[str, Any] = {"requestId": request_id, "generatedAt": stamp, "seqNo": seq_no, key: data}
        if seq_no < len(parts) - 1:
            payload["tbc"] = True
        payloads.append(payload)
    return payloads
