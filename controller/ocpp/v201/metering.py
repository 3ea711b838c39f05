"""When OCPP 2.0.1 meter values are taken: sampled during each transaction, clock-aligned for every
EVSE, and on the CSMS's request (part 2 J01, J02, F06.FR.06).

Rules kept here (what is sampled: meter_values.py; how it is queued: transactions.py):
- Sampled, per transaction, counted from its start: every TxUpdatedInterval an Updated event
  (MeterValuePeriodic, Sample.Periodic, TxUpdatedMeasurands); every TxEndedInterval a sample
  of TxEndedMeasurands kept in SQLite for the Ended event. A transaction not bound to an EVSE
  yet has nothing to sample.
- Clock-aligned, at every multiple of AlignedDataCtrlr.Interval from midnight (UTC), stamped
  with that instant (Sample.Clock, Measurands): an EVSE with a transaction gets an Updated
  event (MeterValueClock), an idle one a MeterValues (evseId) sent at once when the CSMS has
  accepted the station and the link is up, else dropped: only transaction messages are
  queued. With SendDuringIdle nothing clock-aligned is sent while any transaction runs
  (J01.FR.20). At every multiple of AlignedDataCtrlr.TxEndedInterval each transaction keeps a
  Sample.Clock of AlignedDataCtrlr.TxEndedMeasurands for its Ended event.
- A change of any of these variables takes effect at once: the waits are recomputed. Waits are
  monotonic (sampled) or recomputed from the wall clock at every wake-up (aligned), so a clock
  that is set moves the next aligned instant instead of firing a burst.
- TriggerMessage MeterValues: one MeterValues per EVSE asked (every EVSE without one), context
  Trigger, AlignedDataCtrlr.Measurands now; Rejected when nothing of them is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.aligned import next_aligned
from controller.clock import WallClock
from controller.core.events import Event, EventKind
from controller.core.view import EvseView
from controller.ocpp.link import CallFailed, Link
from controller.ocpp.v201.enums import ReadingContextEnumType as Context
from controller.ocpp.v201.enums import TriggerReasonEnumType as TriggerReason
from controller.ocpp.v201.meter_values import MeterSettings, meter_value
from controller.ocpp.v201.transactions import Transactions
from controller.tasks import Tasks

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
FollowUp = Callable[[], Awaitable[None]]


def next_due(start: float, interval: float, now: float) -> float:
    """The first ``start + k * interval`` (k >= 1) after ``now``."""
    return start + interval * (math.floor((now - start) / interval) + 1)


class Metering:
    def __init__(
        self,
        station: Station,
        transactions: Transactions,
        link: Link,
        accepted: asyncio.Event,
        clock: WallClock,
        settings: Callable[[], MeterSettings],
    ):
        self.station, self.transactions, self.link, self.accepted = station, transactions, link, accepted
        self.clock, self.settings = clock, settings
        self._tasks = Tasks("ocpp 2.0.1 metering")
        self._samplers: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()

    def changed(self, _write: object = None) -> None:
        """A meter-value variable changed: every wait is recomputed."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, seconds: float | None) -> bool:
        """Sleep ``seconds`` (None: until a change); True if the settings changed meanwhile."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()
                return True
        return False

    def start(self) -> None:
        self._tasks.spawn(self._clock_aligned(), "ocpp201-clock-aligned")

    async def stop(self) -> None:
        await self._tasks.cancel()

    def _running(self, transaction_id: str) -> EvseView | None:
        return next((v for v in self.station.views() if v.transaction is not None
                     and v.transaction.id == transaction_id and not v.stopping), None)  # fmt: skip

    # ---- sampled, per transaction -----------------------------------------------------

    def on_event(self, event: Event) -> None:
        tx = event.transaction
        if event.kind is EventKind.TRANSACTION_STARTED and tx is not None:
            self._samplers[tx.id] = self._tasks.spawn(self._sample(tx.id, event.mono), f"ocpp201-sample-{tx.id}")
        elif event.kind is EventKind.TRANSACTION_ENDED and tx is not None:
            task = self._samplers.pop(tx.id, None)
            if task is not None:
                task.cancel()

    async def _sample(self, transaction_id: str, started: float) -> None:
        while True:
            s, now = self.settings(), time.monotonic()
            dues = {what: next_due(started, interval, now)
                    for what, interval in (("updated", s.tx_updated_interval_s), ("ended", s.tx_ended_interval_s))
                    if interval > 0}  # fmt: skip
            due = min(dues.values(), default=None)
            if await self._wait(None if due is None else due - now) or due is None:
                continue
            view = self._running(transaction_id)
            if view is None or view.transaction is None:
                continue
            at = self.clock.now()
            if dues.get("updated") == due:
                value = meter_value(at, Context.sample_periodic.value, s.tx_updated, view.meter, view.snapshot)
                if value is not None:
                    self.transactions.updated(view.transaction, TriggerReason.meter_value_periodic, at,
                                              meter_values=[value])  # fmt: skip
            if dues.get("ended") == due:
                value = meter_value(at, Context.sample_periodic.value, s.tx_ended, view.meter, view.snapshot)
                if value is not None:
                    self.transactions.end_sample(transaction_id, value)

    # ---- clock-aligned ----------------------------------------------------------------

    async def _clock_aligned(self) -> None:
        while True:
            s = self.settings()
            now = self.clock.now()
            dues = {what: next_aligned(now, interval)
                    for what, interval in (("aligned", s.aligned_interval_s),
                                           ("ended", s.aligned_tx_ended_interval_s)) if interval > 0}  # fmt: skip
            due = min(dues.values(), default=None)
            if due is None:
                await self._wait(None)
                continue
            while (wait := (due - self.clock.now()).total_seconds()) > 0:
                if await self._wait(wait):
                    break
            else:
                if dues.get("aligned") == due:
                    await self._aligned_values(s, due)
                if dues.get("ended") == due:
                    self._aligned_end_samples(s, due)

    async def _aligned_values(self, s: MeterSettings, due: datetime) -> None:
        views = self.station.views()
        if s.send_during_idle and any(v.transaction is not None for v in views):
            return
        for view in views:
            value = meter_value(due, Context.sample_clock.value, s.aligned, view.meter, view.snapshot)
            if value is None:
                continue
            if view.transaction is not None and not view.stopping:
                self.transactions.updated(view.transaction, TriggerReason.meter_value_clock, due, meter_values=[value])
            else:
                await self._send(view.id, value)

    def _aligned_end_samples(self, s: MeterSettings, due: datetime) -> None:
        for view in self.station.views():
            if view.transaction is None or view.stopping:
                continue
            value = meter_value(due, Context.sample_clock.value, s.aligned_tx_ended, view.meter, view.snapshot)
            if value is not None:
                self.transactions.end_sample(view.transaction.id, value)

    async def _send(self, evse: int, value: Payload, *, asked: bool = False) -> None:
        """MeterValues now; unasked only once the CSMS accepted the station (B01.FR.08)."""
        if not self.link.connected.is_set() or not (asked or self.accepted.is_set()):
            return
        try:
            await self.link.call("MeterValues", {"evseId": evse, "meterValue": [value]})
        except CallFailed as exc:
            log.info("MeterValues of EVSE %s not delivered: %s", evse, exc)

    # ---- on request ------------------------------------------------------------------

    def triggered(self, evse: Payload | None) -> FollowUp | None:
        """TriggerMessage MeterValues for ``evse`` (None: every EVSE); None: nothing to send."""
        s, now = self.settings(), self.clock.now()
        views = [self.station.view(evse["id"])] if evse is not None else list(self.station.views())
        values = [
            (v.id, value)
            for v in views
            if (value := meter_value(now, Context.trigger.value, s.aligned, v.meter, v.snapshot)) is not None
        ]
        if not values:
            return None

        async def send() -> None:
            for evse_id, value in values:
                await self._send(evse_id, value, asked=True)

        return send
