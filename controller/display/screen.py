"""The box's display, kept up to date: the notices and prices the front end gives, the session from
the core's views, rendered by render.py and written to the HAL display.

Rules kept here:
- One writer: what to show is worked out on the event loop (at each core event, each change a
  front end makes and every ``TICK_S``); the display is written from a worker thread, the newest
  lines only (a slow I2C write never queues stale pictures, nor holds the event loop).
- The turn advances every ``TURN_S``: InFront notices, and NormalCycle ones with the station's
  page, are shown in turn (notices.on_screen).
- Prices follow the session: a transaction's start clears the last running and final cost, its
  end the tariff and the running cost (the front end gives the final total after it), a
  session that ends without a transaction its tariff.
- A display that fails is logged once per failure and tried again at the next change; the
  station charges on without it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from decimal import Decimal

from controller.clock import WallClock
from controller.core.events import Event, EventKind
from controller.core.station import Station
from controller.display.notices import Notice, on_screen
from controller.display.render import notice_page, station_page
from controller.display.session import Prices, Rules, session_lines
from hal.errors import HardwareError
from hal.interfaces import Display

log = logging.getLogger(__name__)

TICK_S = 1.0
TURN_S = 5.0
SESSION_ENDED = frozenset({EventKind.DEAUTHORIZED, EventKind.TOKEN_TIMED_OUT, EventKind.EV_UNPLUGGED})


class Screen:
    def __init__(self, display: Display, station: Station, clock: WallClock) -> None:
        self.display, self.station, self.clock = display, station, clock
        self.size = display.size()
        self.rules = Rules()
        self._notices: dict[int, Notice] = {}
        self._prices: dict[int, Prices] = {}
        self._lines: tuple[str, ...] | None = None  # what the display was last given
        self._wanted: tuple[str, ...] = ()
        self._changed = asyncio.Event()
        self._failing = False

    # ---- what the front ends give -----------------------------------------------------------

    def put(self, notice: Notice) -> None:
        """Show ``notice`` by its rules (replacing one with its id)."""
        self._notices[notice.id] = dataclasses.replace(notice, at=time.monotonic())
        self.refresh()

    def remove(self, notice_id: int) -> None:
        if self._notices.pop(notice_id, None) is not None:
            self.refresh()

    def notices(self) -> list[Notice]:
        return sorted(self._notices.values(), key=lambda n: n.id)

    def set_rules(self, rules: Rules) -> None:
        self.rules = rules
        self.refresh()

    def tariff(self, evse: int, text: str | None) -> None:
        self._price(evse, tariff=text)

    def running_cost(self, evse: int, amount: Decimal) -> None:
        self._price(evse, running=amount)

    def final_cost(self, evse: int, total: Decimal | str) -> None:
        self._price(evse, final=total, final_at=time.monotonic())

    def _price(self, evse: int, **changes: object) -> None:
        self._prices[evse] = dataclasses.replace(self._prices.get(evse, Prices()), **changes)  # type: ignore[arg-type]
        self.refresh()

    # ---- the core ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        evse = event.evse
        if evse is not None and event.kind is EventKind.TRANSACTION_STARTED:
            self._prices[evse] = dataclasses.replace(self._prices.get(evse, Prices()), running=None, final=None)
        elif evse is not None and event.kind is EventKind.TRANSACTION_ENDED:
            self._prices[evse] = dataclasses.replace(self._prices.get(evse, Prices()), tariff=None, running=None)
        elif evse is not None and event.kind in SESSION_ENDED and event.view is not None \
                and event.view.transaction is None and event.view.authorization is None:  # fmt: skip
            self._prices[evse] = dataclasses.replace(self._prices.get(evse, Prices()), tariff=None)
        self.refresh()

    # ---- drawing ----------------------------------------------------------------------------

    @property
    def lines(self) -> tuple[str, ...]:
        """What the display shows now (or is about to)."""
        return self._wanted

    def status_json(self) -> dict[str, object]:
        return {"display": {"columns": self.size.columns, "rows": self.size.rows, "lines": list(self._wanted)}}

    def refresh(self) -> None:
        views = self.station.views()
        turn = int(time.monotonic() // TURN_S)
        notice = on_screen(self._notices.values(), self.clock.now(), views, turn)
        if notice is not None:
            wanted = notice_page(notice.text, self.size)
        else:
            now = time.monotonic()
            sessions = [(v.id, session_lines(v, self._prices.get(v.id, Prices()), self.rules, now)) for v in views]
            wanted = station_page(sessions, self.size)
        if wanted != self._wanted or self._lines is None:
            self._wanted = wanted
            self._changed.set()

    async def run(self) -> None:
        self.refresh()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._tick(), name="display-tick")
            group.create_task(self._write(), name="display-write")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)  # a clock: windows open and close, turns advance
            self.refresh()

    async def _write(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            lines = self._wanted
            if lines == self._lines:
                continue
            try:
                await asyncio.to_thread(self.display.show, lines)
            except HardwareError as exc:
                if not self._failing:
                    log.warning("display: %s", exc)
                self._failing, self._lines = True, None
                continue
            if self._failing:
                log.info("display works again")
            self._failing, self._lines = False, lines
