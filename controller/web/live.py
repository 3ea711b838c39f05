"""The live view: every connector's state on the feed as it changes, and the station's summary.

Rules kept here:
- Sources: the station's events, the meter readings and the session curves' new samples,
  subscribed when the first browser connects and dropped when the last one leaves
  (controller/web/feed.py). A change marks its connector; one flush per turn of the event
  loop publishes the marked connectors, so a burst of events costs one frame, however many
  browsers listen.
- A connector's frame is the API's connector JSON (``GET /api/status``) plus the words the
  page shows (controller/web/words.py): the page and the API never disagree.
- The station summary (backend link, time, a firmware update's progress) has no events of its own: while browsers are
  connected it is rebuilt every ``STATION_EVERY_S`` and sent only when it changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from controller.api import connector_status_json
from controller.core.events import Event
from controller.curves import Sample
from controller.faults import Fault
from controller.httpd.messages import Request, Response
from controller.web import WEB, Web
from controller.web.feed import Feed
from controller.web.firmware import progress as firmware_progress
from controller.web.sessions import sample_json
from controller.web.words import describe, link_error_words, link_words
from hal.types import MeterReading

if TYPE_CHECKING:
    from controller.daemon import Daemon

STATION_EVERY_S = 2.0


class Live:
    def __init__(self, daemon: Daemon, station_summary: Callable[[], dict[str, Any]]):
        self.daemon = daemon
        self.station_summary = station_summary
        self.feed = Feed(self._start)
        self._marked: set[int] = set()
        self._flush_soon: asyncio.Handle | None = None
        self._station_task: asyncio.Task[None] | None = None

    def close(self) -> None:
        self.feed.close()

    def _start(self) -> Callable[[], None]:
        daemon = self.daemon
        sinks = daemon.poller.sinks
        unsubscribe = (daemon.station.subscribe(self._on_event), daemon.curves.subscribe(self._on_sample))
        sinks.append(self._on_meter)
        self._marked.update(daemon.station.evse_ids)
        self._flush()
        self._station_task = asyncio.get_running_loop().create_task(self._station(), name="web station summary")

        def stop() -> None:
            for undo in unsubscribe:
                undo()
            sinks.remove(self._on_meter)
            if self._flush_soon is not None:
                self._flush_soon.cancel()
                self._flush_soon = None
            if self._station_task is not None:
                self._station_task.cancel()
                self._station_task = None

        return stop

    def _on_event(self, event: Event) -> None:
        # A change on one EVSE may change what the others show (a reservation, the station's availability).
        self._mark(self.daemon.station.evse_ids if event.evse is None else (event.evse,))

    def _on_meter(self, evse_id: int, reading: MeterReading | None) -> None:
        self._mark((evse_id,))

    def _on_sample(self, evse_id: int, transaction_id: str, points: int, sample: Sample) -> None:
        self._mark((evse_id,))

    def _mark(self, evse_ids: Iterable[int]) -> None:
        self._marked.update(evse_ids)
        if self._flush_soon is None:
            self._flush_soon = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = None
        marked, self._marked = sorted(self._marked), set()
        for evse_id in marked:
            self.feed.publish(f"evse:{evse_id}", "evse", evse_frame(self.daemon, evse_id))

    async def _station(self) -> None:
        while True:
            self.feed.publish("station", "station", self.station_summary())
            await asyncio.sleep(STATION_EVERY_S)


def evse_frame(daemon: Daemon, evse_id: int) -> dict[str, Any]:
    """The API's connector JSON plus what the page says about it (words, curve so far)."""
    out = connector_status_json(daemon, evse_id)
    view = daemon.station.view(evse_id)
    meter = view.meter
    offline = meter is None or time.monotonic() - meter.at > daemon.config.loop.meter_timeout_s
    page = describe(view, daemon.owner_limits.amps.get(evse_id), offline or Fault.METER_OFFLINE in view.faults)
    tx = view.transaction
    if tx is not None:
        points, last = daemon.curves.points(tx.id)
        page["curve"] = {"transaction": tx.id, "points": points, "last": None if last is None else sample_json(last)}
    else:
        page["curve"] = None
    page["energy"] = None if daemon.site is None else {"mode": daemon.site.modes[evse_id].value}
    out["page"] = page
    return out


def _station_summary(shared: Web) -> Callable[[], dict[str, Any]]:
    daemon = shared.api.daemon
    name = daemon.config.station.charge_point_id

    def summary() -> dict[str, Any]:
        link = None
        if daemon.ocpp is not None:
            ocpp = daemon.ocpp.status_json()["ocpp"]
            words = link_words(ocpp["state"], ocpp.get("registration"))
            link = {"state": ocpp["state"], "words": words.title, "tone": words.tone,
                    "last_error": link_error_words(ocpp.get("last_error") or "")}  # fmt: skip
        now = daemon.clock.now().isoformat(timespec="seconds")
        return {"name": name, "now": now, "link": link, "firmware": firmware_progress(shared)}

    return summary


async def stream(request: Request) -> Response:
    shared = request[WEB]
    live = shared.made.get("live")
    if live is None:
        daemon = shared.api.daemon
        live = shared.made["live"] = Live(daemon, _station_summary(shared))
    return live.feed.stream()
