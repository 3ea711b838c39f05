"""Reset of the station or of one EVSE (part 2 B11, B12; errata 2.14-2.16), through the core's
reset command.

Rules kept here:
- Immediate: Accepted; transactions in scope end with ImmediateReset (B12.FR.04 / FR.08),
  their TransactionEvent Ended queued before the restart. OnIdle: Accepted when nothing runs
  in scope, else Scheduled and done when the last transaction there ended by itself
  (B12.FR.01/03/07). An EVSE this station does not have: Rejected.
- Resetting one EVSE is supported (EVSE.AllowReset true, part 5 C-13): its transaction ends,
  its session is forgotten, the station keeps running.
- A station reset restarts evsed (or reboots the board when ``[station] reboot_command`` is
  set). Right before that the next boot's reason is stored (B01.FR.09): RemoteReset when the
  reset was done at once, ScheduledReset when it waited for idle; the security event
  ResetOrReboot is queued, so it is delivered after the restart at the latest; the queue is
  given a moment to deliver what the reset ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.core.commands import ResetOutcome, ResetWhen
from controller.core.vocabulary import RestartKind, StopCause
from controller.ocpp.journal import Journal
from controller.ocpp.link import Reply
from controller.ocpp.v201.enums import BootReasonEnumType as BootReason
from controller.ocpp.v201.enums import ResetEnumType, ResetStatusEnumType
from controller.ocpp.v201.registration import BootReasons

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
DRAIN_S = 10.0  # how long a station reset waits for the queue to deliver what it ended
STATUS = {ResetOutcome.ACCEPTED: ResetStatusEnumType.accepted, ResetOutcome.SCHEDULED: ResetStatusEnumType.scheduled,
          ResetOutcome.REJECTED: ResetStatusEnumType.rejected}  # fmt: skip


async def drain(journal: Journal) -> None:
    """Give the queue ``DRAIN_S`` to deliver what is in it before a restart."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_S):
            await journal.wait_empty()


class Reset:
    def __init__(
        self,
        station: Station,
        journal: Journal,
        reasons: BootReasons,
        security_event: Callable[[str, str], Awaitable[None]],
    ):
        self.station, self.journal, self.reasons = station, journal, reasons
        self.security_event = security_event

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"Reset": self.reset}

    async def reset(self, payload: Payload) -> Payload | Reply:
        evse: int | None = payload.get("evseId")
        when = ResetWhen.IMMEDIATE if payload["type"] == ResetEnumType.immediate.value else ResetWhen.ON_IDLE
        outcome = self.station.reset_check(evse, when)
        if outcome is ResetOutcome.REJECTED:
            return {"status": ResetStatusEnumType.rejected.value}
        reason = BootReason.scheduled_reset if outcome is ResetOutcome.SCHEDULED else BootReason.remote_reset

        async def settle() -> None:  # the station ended its transactions and is about to restart
            await self.reasons.set(reason)
            await self.security_event("ResetOrReboot", f"Reset {payload['type']} requested by the CSMS")
            await drain(self.journal)

        async def run() -> None:
            log.warning(
                "Reset %s of %s requested by the CSMS", payload["type"], f"EVSE {evse}" if evse else "the station"
            )
            await self.station.reset(evse, when, StopCause.IMMEDIATE_RESET, kind=RestartKind.HARD,
                                     settle=settle if evse is None else None)  # fmt: skip

        return Reply({"status": STATUS[outcome].value}, after=run)
