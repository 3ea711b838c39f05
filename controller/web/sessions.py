"""Sessions for the page and for spreadsheets: one transaction's curve, the history as CSV.

Rules kept here:
- The history is the ledger's (controller/core/ledger.py), newest first, the same rows as
  ``GET /api/sessions``; the CSV adds the stop cause in words (controller/web/words.py).
- CSV cells a spreadsheet would run as a formula (starting with = + - @ or a tab / CR) get a
  leading apostrophe: a token id from a card or a backend is not trusted.
- A curve is columns (seconds since the start, W, A per phase, offered A), the shape the
  page's chart draws; a transaction without samples has empty columns.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable
from typing import Any

from controller.api import BadRequest, query_int
from controller.core.ledger import Transaction
from controller.curves import Sample
from controller.httpd.messages import Request, Response, bytes_response, json_response
from controller.web import WEB
from controller.web.words import stop_words

CSV_COLUMNS = ("id", "connector", "token", "started_at", "stopped_at", "energy_kwh", "stop_cause", "stop_reason",
               "max_current_a", "meter_start_wh", "meter_stop_wh")  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def sample_json(s: Sample) -> dict[str, Any]:
    return {"t": s.t, "power_w": s.power_w, "current_a": list(s.current_a), "offered_a": s.offered_a}


def curve_json(transaction_id: str, samples: list[Sample]) -> dict[str, Any]:
    return {
        "transaction": transaction_id,
        "t": [s.t for s in samples],
        "power_w": [s.power_w for s in samples],
        "current_a": [list(s.current_a) for s in samples],
        "offered_a": [s.offered_a for s in samples],
    }


def _cell(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def history_csv(transactions: Iterable[Transaction]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for tx in transactions:
        cause = tx.stop_cause.value if tx.stop_cause else ""
        row = (tx.id, tx.evse if tx.evse is not None else "", tx.token.id if tx.token else "",
               tx.started_at.isoformat(), tx.stopped_at.isoformat() if tx.stopped_at else "",
               f"{tx.energy_wh / 1000:.3f}", cause, stop_words(cause or None), f"{tx.max_current_a:.1f}",
               f"{tx.meter_start_wh:.1f}", "" if tx.meter_stop_wh is None else f"{tx.meter_stop_wh:.1f}")  # fmt: skip
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


async def export(request: Request) -> Response:
    limit = query_int(request.query.get("limit", "10000"), "limit", 1, 100000)
    daemon = request[WEB].api.daemon
    rows = await asyncio.to_thread(daemon.ledger.history, limit)  # a big read, off the event loop
    name = f"evsed-{daemon.config.station.charge_point_id}-sessions.csv"
    return bytes_response(
        history_csv(rows).encode(),
        "text/csv; charset=utf-8",
        {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


async def curve(request: Request) -> Response:
    transaction_id = request.params["id"]
    if not (0 < len(transaction_id) <= 64 and transaction_id.isascii() and transaction_id.isprintable()):
        raise BadRequest("a transaction id is 1..64 printable ASCII characters")
    samples = await request[WEB].api.daemon.curves.curve(transaction_id)
    return json_response(curve_json(transaction_id, samples))
