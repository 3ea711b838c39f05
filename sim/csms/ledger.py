"""What the bench CSMS keeps of OCPP 2.0.1 transactions and multi-part reports: pure data.

Rules kept here:
- A transaction is known by the station's transactionId (unique per station, E01.FR.08) and
  outlives the connection: a station that reconnects and resends lands in the same record.
- Its events are held once per seqNo; a resend of a seqNo already held is counted in
  ``duplicates`` and changes nothing (no energy or cost counted twice). Whatever order they
  arrive in, events are read in seqNo order; ``out_of_order`` lists the seqNos that arrived after
  a higher one.
- Completeness is the spec's test (part 2 E, "Sequence numbers"): a Started event with seqNo a,
  an Ended event with seqNo o > a, and every seqNo between; ``gaps`` lists the missing ones.
- Energy is the rise of Energy.Active.Import.Register (the measurand when none is named) over
  the held events, in Wh after unit (Wh / kWh) and multiplier; cost is that energy times a
  price per kWh, rounded to cents.
- A report collects its parts per (action, requestId) until a part with tbc false; parts carry a
  seqNo from 0 where the message has one (NotifyReport, NotifyMonitoringReport,
  NotifyCustomerInformation), else they count in arrival order. Complete: the last part came
  and no seqNo is missing.
- Payloads are taken as the ``ocpp`` package hands them to handlers (snake_case keys), and the
  summaries use those keys too.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ENERGY = "Energy.Active.Import.Register"

# Multi-part reports: action -> the request field holding the part's items.
REPORT_ITEMS = {
    "NotifyReport": "report_data",
    "NotifyMonitoringReport": "monitor",
    "NotifyCustomerInformation": "data",
    "NotifyDisplayMessages": "message_info",
    "ReportChargingProfiles": "charging_profile",
}


@dataclass(frozen=True, slots=True)
class TxEvent:
    seq_no: int
    event_type: str  # Started / Updated / Ended
    trigger_reason: str
    timestamp: str
    offline: bool
    charging_state: str | None
    stopped_reason: str | None
    id_token: dict[str, Any] | None
    meter_value: tuple[dict[str, Any], ...]

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> TxEvent:
        info = request["transaction_info"]
        return cls(
            seq_no=request["seq_no"],
            event_type=request["event_type"],
            trigger_reason=request["trigger_reason"],
            timestamp=request["timestamp"],
            offline=bool(request.get("offline", False)),
            charging_state=info.get("charging_state"),
            stopped_reason=info.get("stopped_reason"),
            id_token=request.get("id_token"),
            meter_value=tuple(request.get("meter_value") or ()),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "seq_no": self.seq_no,
            "event_type": self.event_type,
            "trigger_reason": self.trigger_reason,
            "timestamp": self.timestamp,
            "offline": self.offline,
            "charging_state": self.charging_state,
            "stopped_reason": self.stopped_reason,
            "id_token": self.id_token,
            "meter_value": list(self.meter_value),
        }


def energy_readings_wh(meter_values: Iterable[dict[str, Any]]) -> list[float]:
    """Every total (phase-less) Energy.Active.Import.Register reading, in Wh, in the given order."""
    readings = []
    for meter_value in meter_values:
        for sample in meter_value.get("sampled_value", ()):
            if sample.get("measurand", ENERGY) != ENERGY or sample.get("phase"):
                continue
            unit = sample.get("unit_of_measure") or {}
            scale = 10 ** unit.get("multiplier", 0) * (1000 if unit.get("unit") == "kWh" else 1)
            readings.append(float(sample["value"]) * scale)
    return readings


@dataclass
class Transaction:
    transaction_id: str
    evse: dict[str, Any] | None = None  # the first evse the station named
    events: dict[int, TxEvent] = field(default_factory=dict)  # seqNo -> the event first received
    arrivals: list[int] = field(default_factory=list)  # every seqNo as it came, resends included

    def add(self, event: TxEvent, evse: dict[str, Any] | None = None) -> bool:
        """Hold ``event``; False (and nothing held) when its seqNo was already received."""
        self.arrivals.append(event.seq_no)
        if event.seq_no in self.events:
            return False
        self.events[event.seq_no] = event
        self.evse = self.evse or evse
        return True

    def in_order(self) -> list[TxEvent]:
        return [self.events[seq_no] for seq_no in sorted(self.events)]

    @property
    def duplicates(self) -> list[int]:
        return sorted(seq_no for seq_no, n in collections.Counter(self.arrivals).items() if n > 1)

    @property
    def out_of_order(self) -> list[int]:
        late, highest, seen = [], -1, set()
        for seq_no in self.arrivals:
            if seq_no in seen:
                continue
            seen.add(seq_no)
            if seq_no < highest:
                late.append(seq_no)
            highest = max(highest, seq_no)
        return late

    @property
    def gaps(self) -> list[int]:
        return sorted(set(range(min(self.events), max(self.events) + 1)) - set(self.events)) if self.events else []

    def _first(self, event_type: str) -> TxEvent | None:
        return next((e for e in self.in_order() if e.event_type == event_type), None)

    @property
    def complete(self) -> bool:
        started, ended = self._first("Started"), self._first("Ended")
        return (
            started is not None
            and ended is not None
            and started.seq_no == min(self.events) < ended.seq_no == max(self.events)
            and not self.gaps
        )

    @property
    def energy_wh(self) -> float:
        readings = energy_readings_wh(mv for e in self.in_order() for mv in e.meter_value)
        return readings[-1] - readings[0] if readings else 0.0

    def cost(self, price_per_kwh: float) -> float:
        return round(self.energy_wh / 1000 * price_per_kwh, 2)

    def summary(self, price_per_kwh: float | None = None) -> dict[str, Any]:
        """The events in seqNo order, the latest charging state / stopped reason / idToken any of
        them named, energy, cost (None without a price) and the completeness verdicts."""
        events = self.in_order()
        last = {key: next((v for e in reversed(events) if (v := getattr(e, key)) is not None), None)
                for key in ("charging_state", "stopped_reason", "id_token")}  # fmt: skip
        return {
            "evse": self.evse,
            **last,
            "events": [e.as_json() for e in events],
            "energy_wh": self.energy_wh,
            "cost": self.cost(price_per_kwh) if price_per_kwh is not None else None,
            "started": self._first("Started") is not None,
            "ended": self._first("Ended") is not None,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "complete": self.complete,
        }


@dataclass(frozen=True, slots=True)
class ReportPart:
    seq_no: int | None
    tbc: bool
    items: tuple[Any, ...]


@dataclass
class Report:
    action: str
    request_id: int
    parts: list[ReportPart] = field(default_factory=list)  # in arrival order

    def add(self, request: Mapping[str, Any]) -> None:
        items = request.get(REPORT_ITEMS[self.action])
        items = () if items is None else (items,) if isinstance(items, str) else tuple(items)
        self.parts.append(ReportPart(request.get("seq_no"), bool(request.get("tbc", False)), items))

    def _ordered(self) -> list[ReportPart]:
        if any(p.seq_no is None for p in self.parts):
            return self.parts
        return sorted(self.parts, key=lambda p: p.seq_no or 0)

    @property
    def gaps(self) -> list[int]:
        seq_nos = {p.seq_no for p in self.parts if p.seq_no is not None}
        return sorted(set(range(max(seq_nos) + 1)) - seq_nos) if seq_nos else []

    @property
    def complete(self) -> bool:
        ordered = self._ordered()
        return bool(ordered) and not ordered[-1].tbc and not self.gaps

    @property
    def items(self) -> list[Any]:
        return [item for part in self._ordered() for item in part.items]

    def summary(self) -> dict[str, Any]:
        return {"parts": len(self.parts), "items": len(self.items), "gaps": self.gaps, "complete": self.complete}


@dataclass
class Ledger:
    """The 2.0.1 records of every station, by charge point id."""

    transactions: dict[str, dict[str, Transaction]] = field(default_factory=dict)
    reports: dict[str, dict[tuple[str, int], Report]] = field(default_factory=dict)

    def record_event(self, cp_id: str, request: Mapping[str, Any]) -> Transaction:
        transaction_id = request["transaction_info"]["transaction_id"]
        by_id = self.transactions.setdefault(cp_id, {})
        transaction = by_id.setdefault(transaction_id, Transaction(transaction_id))
        transaction.add(TxEvent.from_request(request), request.get("evse"))
        return transaction

    def record_part(self, cp_id: str, action: str, request: Mapping[str, Any]) -> Report:
        key = (action, request["request_id"])
        report = self.reports.setdefault(cp_id, {}).setdefault(key, Report(*key))
        report.add(request)
        return report

    def transaction(self, cp_id: str, transaction_id: str) -> Transaction | None:
        return self.transactions.get(cp_id, {}).get(transaction_id)

    def report(self, cp_id: str, action: str, request_id: int) -> Report | None:
        return self.reports.get(cp_id, {}).get((action, request_id))

    def summary(self, price_per_kwh: float | None = None) -> dict[str, Any]:
        return {
            "transactions": {
                cp: {tx_id: tx.summary(price_per_kwh) for tx_id, tx in by_id.items()}
                for cp, by_id in self.transactions.items()
            },
            "reports": {cp: self._reports_json(by_key) for cp, by_key in self.reports.items()},
        }

    @staticmethod
    def _reports_json(by_key: dict[tuple[str, int], Report]) -> dict[str, dict[str, Any]]:
        """{action: {requestId (a JSON key, so a string): report summary}}."""
        out: dict[str, dict[str, Any]] = {}
        for (action, request_id), report in by_key.items():
            out.setdefault(action, {})[str(request_id)] = report.summary()
        return out
