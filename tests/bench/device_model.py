"""OCPP 2.0.1 device model at the sans-I/O level: what a FullInventory report and a 100-variable
SetVariables cost the station (the end-to-end version over the daemon comes with the 2.0.1
front end).

- FullInventory of a two-connector station with every feature declared (display, locks):
  GetBaseReport request -> every NotifyReport payload built; wall time per report and the
  peak of Python allocations while building one (tracemalloc).
- SetVariables of 100 distinct variables (every writable one with a new valid value, the rest
  read-only ones, which are Rejected): the decision alone, and the round trip the front end
  will make (decide, one SQLite transaction on a real file with synchronous=FULL, commit).

Run: python tests/bench/device_model.py [--reports 200] [--sets 200]
Last line: {"variables":..,"parts":..,"report_bytes":..,"full_inventory_p50_ms":..,"full_inventory_p99_ms":..,
            "full_inventory_peak_kib":..,"set100_p50_ms":..,"set100_persisted_p50_ms":..,"set100_persisted_p99_ms":..}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ocpp201_device_model import ALL_FEATURES, NOW, build_model  # noqa: E402

from controller.ocpp.v201.device_model import DeviceModel  # noqa: E402
from controller.ocpp.v201.framing import frame_bytes  # noqa: E402
from controller.ocpp.v201.reports import get_base_report  # noqa: E402
from controller.ocpp.v201.store import VariableStore  # noqa: E402
from controller.ocpp.v201.values import parse  # noqa: E402
from controller.ocpp.v201.variable_requests import set_variables  # noqa: E402
from controller.ocpp.v201.variables import Actual, Variable  # noqa: E402
from controller.storage import Database  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def new_value(model: DeviceModel, row: Variable) -> str:
    """A valid value of ``row`` other than its current one (the current one when there is none)."""
    current = model.read(row, Actual, NOW)
    kind = row.characteristics.data_type.value
    candidates: list[str] = []
    if kind == "boolean":
        candidates = [str(not current).lower()]
    elif kind in ("integer", "decimal"):
        candidates = [str(int(current) + 1), str(int(current) - 1)]
    elif kind in ("MemberList", "SequenceList", "OptionList"):
        candidates = list(reversed(row.characteristics.values_list))
    elif kind == "string":
        candidates = ["0123456789abcdef-bench", "EUR", "bench"]
    for text in candidates:
        try:
            parse(row, text)
        except ValueError:
            continue
        return text
    return str(current)


def hundred_items(model: DeviceModel) -> list[dict[str, Any]]:
    writable = [row for row in model.inventory if row.writable]
    read_only = [row for row in model.inventory if not row.writable and row.attribute(Actual) is not None]
    rows = (writable + read_only)[:100]
    return [
        {
            "component": row.component.to_json(),
            "variable": row.variable.to_json(),
            "attributeValue": new_value(model, row),
        }
        for row in rows
    ]


def bench_reports(model: DeviceModel, runs: int) -> dict[str, float]:
    request = {"requestId": 1, "reportBase": "FullInventory"}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        outcome = get_base_report(model, request, NOW)
        times.append((time.perf_counter() - t0) * 1000)
    tracemalloc.start()
    outcome = get_base_report(model, request, NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    parts = outcome.notifications
    return {
        "variables": sum(len(p["reportData"]) for p in parts),
        "parts": len(parts),
        "report_bytes": sum(frame_bytes("NotifyReport", p) for p in parts),
        "full_inventory_p50_ms": round(statistics.median(times), 3),
        "full_inventory_p99_ms": round(percentile(times, 0.99), 3),
        "full_inventory_peak_kib": round(peak / 1024, 1),
    }


async def bench_sets(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as state:
        db = Database(Path(state) / "evsed.sqlite")
        store = VariableStore(db, Path(state) / "secrets")
        model = build_model(features=ALL_FEATURES)
        decide_ms, round_trip_ms = [], []
        statuses: dict[str, int] = {}
        for _ in range(runs):
            request = {"setVariableData": hundred_items(model)}
            t0 = time.perf_counter()
            outcome = set_variables(model, request)
            t1 = time.perf_counter()
            await store.save(outcome.writes)
            model.commit(outcome.writes)
            t2 = time.perf_counter()
            decide_ms.append((t1 - t0) * 1000)
            round_trip_ms.append((t2 - t0) * 1000)
            for result in outcome.response["setVariableResult"]:
                statuses[result["attributeStatus"]] = statuses.get(result["attributeStatus"], 0) + 1
        db.close()
    print(f"SetVariables x 100 statuses over {runs} runs: {statuses}")
    return {
        "set100_p50_ms": round(statistics.median(decide_ms), 3),
        "set100_persisted_p50_ms": round(statistics.median(round_trip_ms), 3),
        "set100_persisted_p99_ms": round(percentile(round_trip_ms, 0.99), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--sets", type=int, default=200)
    args = parser.parse_args()
    model = build_model(features=ALL_FEATURES)
    report = bench_reports(model, args.reports)
    print(f"FullInventory: {report['variables']} variables in {report['parts']} NotifyReport parts, "
          f"{report['report_bytes']} bytes")  # fmt: skip
    print(f"  build p50 {report['full_inventory_p50_ms']} ms, p99 {report['full_inventory_p99_ms']} ms, "
          f"peak allocations {report['full_inventory_peak_kib']} KiB")  # fmt: skip
    sets = asyncio.run(bench_sets(args.sets))
    print(f"SetVariables of 100 variables: decide p50 {sets['set100_p50_ms']} ms; with the SQLite transaction and "
          f"commit p50 {sets['set100_persisted_p50_ms']} ms, p99 {sets['set100_persisted_p99_ms']} ms")  # fmt: skip
    print(json.dumps({**report, **sets}))


if __name__ == "__main__":
    main()
