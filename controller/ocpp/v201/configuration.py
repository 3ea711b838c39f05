"""The device model served to the CSMS: GetVariables, SetVariables, GetBaseReport and GetReport
(part 2 B05-B08), and the station's own writes.

Rules kept here:
- The sans-I/O device model (device_model.py, variable_requests.py, reports.py) decides every
  answer; this module only does the I/O around it: a request too large is the CALLERROR the
  model names (framing.py ``Refusal``), writes are stored (store.py) before they are
  committed, and committed before the response leaves, so the next request already sees them.
- Effects run at commit, before the response is on the wire: an effect that must not act
  before the CSMS has its answer (e.g. one that drops the connection) hands that work to
  ``after_response``; it runs once the SetVariables response was sent.
- A report's NotifyReport parts go out after its response, one CALL at a time, in seqNo
  order; they are not queued: a connection lost mid-report ends that report (the CSMS asks
  again). They may go out while the registration is Pending (B02.FR.02).
- ``write`` is how the station changes a variable itself (the boot interval, B01.FR.04): the
  same checks and storage as a CSMS write.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from controller.ocpp.link import CallFailed, Link, Refuse, Reply
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.framing import Refusal
from controller.ocpp.v201.notify_report import ACTION as NOTIFY_REPORT
from controller.ocpp.v201.reports import ReportOutcome, get_base_report, get_report
from controller.ocpp.v201.store import VariableStore
from controller.ocpp.v201.values import Value
from controller.ocpp.v201.variable_requests import get_variables, set_variables
from controller.ocpp.v201.variables import Actual

log = logging.getLogger(__name__)

Payload = dict[str, Any]


class Configuration:
    def __init__(self, model: DeviceModel, store: VariableStore, link: Link, now: Callable[[], datetime]):
        self.model, self.store, self.link, self.now = model, store, link, now
        self._after: list[Callable[[], Awaitable[None]]] = []  # work the effects of a write left for later

    def handlers(self) -> dict[str, Callable[[Payload], Any]]:
        return {
            "GetVariables": self.get_variables,
            "SetVariables": self.set_variables,
            "GetBaseReport": self.get_base_report,
            "GetReport": self.get_report,
        }

    def value(self, address: str) -> Value | None:
        return self.model.value(address)

    def number(self, address: str) -> int:
        """An integer setting (intervals, counts)."""
        value = self.model.value(address)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{address} is not an integer")
        return value

    async def write(self, address: str, text: str) -> None:
        """The station's own change of a variable, checked, stored and applied like a CSMS write."""
        write = self.model.decide(self.model.inventory[address], Actual, text)
        await self.store.save([write])
        self.model.commit([write])
        work, self._after = self._after, []  # no response to wait for
        for step in work:
            await step()

    # ---- CSMS -> station ----------------------------------------------------------------

    async def get_variables(self, payload: Payload) -> Payload:
        try:
            return get_variables(self.model, payload, self.now())
        except Refusal as exc:
            raise Refuse(exc.code, exc.description) from None

    async def set_variables(self, payload: Payload) -> Payload | Reply:
        try:
            outcome = set_variables(self.model, payload)
        except Refusal as exc:
            raise Refuse(exc.code, exc.description) from None
        await self.store.save(outcome.writes)
        self.model.commit(outcome.writes)
        if not self._after:
            return outcome.response
        work, self._after = self._after, []

        async def run() -> None:
            for step in work:
                await step()

        return Reply(outcome.response, after=run)

    def after_response(self, work: Callable[[], Awaitable[None]]) -> None:
        """An effect's ``work`` to run once the SetVariables response is out (a reconnect)."""
        self._after.append(work)

    async def get_base_report(self, payload: Payload) -> Payload | Reply:
        return self._reported(get_base_report(self.model, payload, self.now()))

    async def get_report(self, payload: Payload) -> Payload | Reply:
        try:
            return self._reported(get_report(self.model, payload, self.now()))
        except Refusal as exc:
            raise Refuse(exc.code, exc.description) from None

    def _reported(self, outcome: ReportOutcome) -> Payload | Reply:
        if not outcome.notifications:
            return outcome.response

        async def send_parts() -> None:
            for part in outcome.notifications:
                try:
                    await self.link.call(NOTIFY_REPORT, part)
                except CallFailed as exc:
                    log.warning("report %s ended at part %s: %s", part["requestId"], part["seqNo"], exc)
                    return

        return Reply(outcome.response, after=send_parts)
