"""OCPP 2.0.1 meter values: the MeterValue elements built from the station's samples
(controller/measurands.py), and what the device model says to sample, as one value.

Rules kept here (part 2 J, 2.12 SampledValueType / MeterValueType, RCV 2.7, errata 6.2.58):
- A SampledValue carries its value as a number, its context, measurand, location, phase (per
  phase where the meter measures per phase) and unitOfMeasure; no location is ever EV (there
  is no SoC here). What the meter cannot tell now is left out, never given as 0.
- A MeterValue needs at least one SampledValue: with nothing measured there is none.
- The settings are read when they are used (``settings``): SampledDataCtrlr for the values in
  TransactionEvents (Started / Updated every TxUpdatedInterval / Ended with samples every
  TxEndedInterval), AlignedDataCtrlr for clock-aligned values (Measurands every Interval,
  TxEndedMeasurands every TxEndedInterval into the Ended event, SendDuringIdle). A controller
  that is not Enabled contributes nothing; an interval of 0 means none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.clock import iso
from controller.measurands import samples
from controller.ocpp.v201.values import Value
from controller.realtime import ConnectorSnapshot
from hal.types import MeterReading

Payload = dict[str, Any]


@dataclass(frozen=True)
class MeterSettings:
    tx_started: tuple[str, ...] = ()
    tx_updated: tuple[str, ...] = ()
    tx_updated_interval_s: int = 0
    tx_ended: tuple[str, ...] = ()
    tx_ended_interval_s: int = 0
    aligned: tuple[str, ...] = ()
    aligned_interval_s: int = 0
    aligned_tx_ended: tuple[str, ...] = ()
    aligned_tx_ended_interval_s: int = 0
    send_during_idle: bool = False


# MeterSettings field -> the variable it is read from; a controller not Enabled gives nothing.
VARIABLES = {
    "tx_started": "SampledDataCtrlr.TxStartedMeasurands",
    "tx_updated": "SampledDataCtrlr.TxUpdatedMeasurands",
    "tx_updated_interval_s": "SampledDataCtrlr.TxUpdatedInterval",
    "tx_ended": "SampledDataCtrlr.TxEndedMeasurands",
    "tx_ended_interval_s": "SampledDataCtrlr.TxEndedInterval",
    "aligned": "AlignedDataCtrlr.Measurands",
    "aligned_interval_s": "AlignedDataCtrlr.Interval",
    "aligned_tx_ended": "AlignedDataCtrlr.TxEndedMeasurands",
    "aligned_tx_ended_interval_s": "AlignedDataCtrlr.TxEndedInterval",
}


def settings(value: Callable[[str], Value | None]) -> MeterSettings:
    fields: dict[str, Any] = {"send_during_idle": value("AlignedDataCtrlr.SendDuringIdle") is True}
    for field, address in VARIABLES.items():
        if value(address.split(".")[0] + ".Enabled") is not True:
            continue
        found = value(address)
        if field.endswith("_s"):
            fields[field] = found if isinstance(found, int) and not isinstance(found, bool) else 0
        else:
            fields[field] = tuple(found) if isinstance(found, tuple) else ()
    return MeterSettings(**fields)


def sampled_values(
    measurands: Iterable[str], reading: MeterReading | None, snapshot: ConnectorSnapshot | None, context: str
) -> list[Payload]:
    out: list[Payload] = []
    for s in samples(measurands, reading, snapshot):
        value: Payload = {"value": round(s.value, 3), "context": context, "measurand": s.measurand,
                          "location": s.location, "unitOfMeasure": {"unit": s.unit}}  # fmt: skip
        if s.phase is not None:
            value["phase"] = s.phase
        out.append(value)
    return out


def meter_value(
    at: datetime,
    context: str,
    measurands: Iterable[str],
    reading: MeterReading | None,
    snapshot: ConnectorSnapshot | None,
) -> Payload | None:
    """One MeterValue of ``measurands`` at ``at``, or None when nothing of them was measured."""
    values = sampled_values(measurands, reading, snapshot, context)
    return {"timestamp": iso(at), "sampledValue": values} if values else None
