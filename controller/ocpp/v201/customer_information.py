"""Customer information (part 2 N09 get, N10 clear): what the station keeps about one customer,
reported to the CSMS and, when asked, erased.

Rules kept here:
- The customer is named by exactly one of idToken, customerCertificate, customerIdentifier;
  none or more than one: Invalid (N09.FR.09). Neither report nor clear: Rejected (N09.FR.07,
  N10.FR.07). Otherwise Accepted (N09.FR.02, N10.FR.01), and the work runs after the answer.
- What the station keeps about an idToken: the transactions it started or stopped (the core's
  ledger), the authorization cache's entry, an authorization waiting or charging at an EVSE
  now. The local list is the CSMS's own data, not reported (the CSMS has it) and not cleared
  (N10.FR.02/03: only the CSMS changes it). evsed keeps no customer identifiers and no
  customer (contract) certificates (no ISO 15118): for those there is never data.
- Report: one line per item, the lines packed into NotifyCustomerInformation parts of at most
  ``DATA_CHARS`` characters, seqNo from 0, the same generatedAt, tbc on all but the last
  (N09.FR.05); no data: one part saying so (N09.FR.06, N10.FR.04).
- Clear: the cache entry and the token in every ended transaction are removed (what is
  reported with it is what was cleared, N10.FR.03); a running transaction or authorization
  keeps its token until it ends.
  Clear without report: one part saying the data was cleared (N10.FR.06).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.authorization.cache import AuthCache
from controller.authorization.rules import TokenInfo
from controller.clock import iso
from controller.core.ledger import Ledger, Transaction
from controller.core.vocabulary import Token
from controller.ocpp.link import CallFailed, Link, Reply
from controller.ocpp.v201.enums import CustomerInformationStatusEnumType as Status
from controller.ocpp.v201.tokens import token_of

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ACTION = "NotifyCustomerInformation"
DATA_CHARS = 512  # NotifyCustomerInformationRequest.data maxLength
REFERENCES = ("idToken", "customerCertificate", "customerIdentifier")
ONE_REFERENCE = {
    "reasonCode": "InvalidValue",
    "additionalInfo": "name the customer by one of idToken, customerCertificate, customerIdentifier",
}
NO_DATA = "No data found for this customer."
CLEARED = "The customer's data was cleared."


def transaction_line(tx: Transaction, token: Token) -> str:
    role = "started" if tx.token is not None and tx.token.same(token) else "stopped"
    cause = tx.stop_cause.value if tx.stop_cause else "?"
    end = f"ended {iso(tx.stopped_at)} ({cause})" if tx.stopped_at else "running"
    return (f"Transaction {tx.id} {role} with this token: EVSE {tx.evse}, started {iso(tx.started_at)}, {end}, "
            f"{tx.energy_wh:.0f} Wh")  # fmt: skip


def cache_line(info: TokenInfo) -> str:
    details = [info.status.value]
    if info.expires_at is not None:
        details.append(f"valid until {iso(info.expires_at)}")
    if info.group:
        details.append(f"group {info.group}")
    return f"Authorization cache: {', '.join(details)}"


def parts(lines: Iterable[str], limit: int = DATA_CHARS) -> list[str]:
    """``lines`` joined by newlines into texts of at most ``limit`` characters, a line never split
    unless it is longer than a part on its own. Pure."""
    texts: list[str] = []
    for line in lines:
        for piece in (line[i : i + limit] for i in range(0, max(len(line), 1), limit)):
            if texts and len(texts[-1]) + 1 + len(piece) <= limit:
                texts[-1] += "\n" + piece
            else:
                texts.append(piece)
    return texts


def notifications(texts: list[str], request_id: int, generated_at: datetime) -> list[Payload]:
    stamp = iso(generated_at)
    return [{"data": text, "seqNo": n, "generatedAt": stamp, "requestId": request_id}
            | ({"tbc": True} if n < len(texts) - 1 else {}) for n, text in enumerate(texts)]  # fmt: skip


class CustomerInformation:
    def __init__(self, ledger: Ledger, cache: AuthCache, station: Station, link: Link, now: Callable[[], datetime]):
        self.ledger, self.cache, self.station, self.link, self.now = ledger, cache, station, link, now

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {"CustomerInformation": self.customer_information}

    async def customer_information(self, payload: Payload) -> Payload | Reply:
        named = [r for r in REFERENCES if r in payload]
        if len(named) != 1:
            return {"status": Status.invalid.value, "statusInfo": ONE_REFERENCE}
        report, clear = payload["report"], payload["clear"]
        if not (report or clear):
            return {"status": Status.rejected.value}
        token = token_of(payload["idToken"]) if named == ["idToken"] else None

        async def work() -> None:
            found = await self._lines(token) if report else []
            if clear and token is not None:
                await self.ledger.forget(token)
                await self.cache.remove(token)
            log.info("CustomerInformation %s by %s: %s items%s", payload["requestId"], named[0], len(found),
                     ", cleared" if clear else "")  # fmt: skip
            texts = parts(found or [NO_DATA]) if report else [CLEARED]
            for part in notifications(texts, payload["requestId"], self.now()):
                try:
                    await self.link.call(ACTION, part)
                except CallFailed as exc:
                    log.warning("customer information %s ended at part %s: %s", part["requestId"], part["seqNo"], exc)
                    return

        return Reply({"status": Status.accepted.value}, after=work)

    async def _lines(self, token: Token | None) -> list[str]:
        if token is None:
            return []  # no customer identifiers, no customer certificates are kept
        lines = [transaction_line(tx, token) for tx in await self.ledger.of_token(token)]
        cached = await self.cache.get(token)
        if cached is not None:
            lines.append(cache_line(cached))
        station = self.station.station_view()
        waiting = [("a waiting EV", station.pending)] if station.pending is not None else []
        for where, held in [*waiting, *((f"EVSE {v.id}", v.authorization) for v in station.evses)]:
            if held is not None and held.token.same(token):
                lines.append(f"Authorized now at {where}, since {iso(held.at)}")
        return lines
