"""RequestStartTransaction and RequestStopTransaction (part 2 F01, F02; B02.FR.05), through the
core's remote start and remote stop.

Rules kept here:
- While the registration is not Accepted both are Rejected (B02.FR.05): the transaction's
  messages could not be sent.
- RequestStartTransaction: Rejected for an EVSE the station does not have and where the core
  would not start (busy with an authorized transaction, inoperative, faulted, reserved for
  another token: F01.FR.21-24); else Accepted, with the transactionId of a transaction that
  runs there unauthorized (F01.FR.13). The start itself follows the answer: authorized first
  when AuthCtrlr.AuthorizeRemoteStart is true (F01.FR.01/02), the remoteStartId goes with the
  transaction (F01.FR.25). A chargingProfile is judged by the smart-charging block
  (``profile_of``): one it would not accept makes the request Rejected, an accepted one travels
  with the remote start to the transaction it begins or authorizes (F01.FR.10).
- RequestStopTransaction: Accepted for a transaction that runs here, and the core ends its
  authorization (Remote); else Rejected (F02).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.core.commands import RemoteStartOutcome
from controller.core.vocabulary import Token, TokenType
from controller.ocpp.link import Reply
from controller.ocpp.v201.configuration import Configuration
from controller.ocpp.v201.enums import RequestStartStopStatusEnumType as StartStopStatus

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
AUTHORIZE_REMOTE_START = "AuthCtrlr.AuthorizeRemoteStart"
# RequestStartTransaction's chargingProfile -> (the profile to install, or None and the Rejected answer).
ProfileOf = Callable[[int | None, Payload], tuple[object | None, Payload]]


def token(id_token: Payload, group: Payload | None = None) -> Token:
    return Token(id_token["idToken"], TokenType(id_token["type"]), group["idToken"] if group else None)


class RemoteControl:
    def __init__(self, station: Station, configuration: Configuration, accepted: asyncio.Event, profile_of: ProfileOf):
        self.station, self.configuration, self.accepted = station, configuration, accepted
        self.profile_of = profile_of

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"RequestStartTransaction": self.request_start, "RequestStopTransaction": self.request_stop}

    async def request_start(self, payload: Payload) -> Payload | Reply:
        rejected = {"status": StartStopStatus.rejected.value}
        evse: int | None = payload.get("evseId")
        who = token(payload["idToken"], payload.get("groupIdToken"))
        if not self.accepted.is_set() or (evse is not None and evse not in self.station.evse_ids):
            return rejected
        if self.station.remote_start_check(who, evse) is RemoteStartOutcome.REJECTED:
            return rejected
        profile = None
        if payload.get("chargingProfile") is not None:
            profile, refused = self.profile_of(evse, payload["chargingProfile"])
            if profile is None:
                return refused
        answer: Payload = {"status": StartStopStatus.accepted.value}
        running = self.station.view(evse).transaction if evse is not None else None
        if running is not None:
            answer["transactionId"] = running.id
        authorize = self.configuration.value(AUTHORIZE_REMOTE_START) is True

        async def start() -> None:
            outcome = await self.station.remote_start(who, evse, remote_start_id=payload["remoteStartId"],
                                                      profile=profile, authorize=authorize)  # fmt: skip
            log.info("RequestStartTransaction %s on %s: %s", who.id, evse or "any EVSE", outcome.value)

        return Reply(answer, after=start)

    async def request_stop(self, payload: Payload) -> Payload | Reply:
        transaction_id = payload["transactionId"]
        if not self.accepted.is_set() or self.station.transaction(transaction_id) is None:
            return {"status": StartStopStatus.rejected.value}

        async def stop() -> None:
            await self.station.remote_stop(transaction_id)

        return Reply({"status": StartStopStatus.accepted.value}, after=stop)
