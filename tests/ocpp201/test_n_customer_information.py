"""Part 6 section 2.13, N Diagnostics: customer information (N09 get, N10 clear).

What the station keeps about a token: the transactions it started or stopped (the ledger), the
authorization cache's entry, an authorization held now; the local list is the CSMS's (neither
reported nor cleared). It keeps no customer identifiers and no customer certificates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from controller.core.vocabulary import Token, TokenType
from ocpp201.harness import MODULE, VALID_TOKEN, Harness, require
from ocpp201.states import authorization_taken, id_token_cached, id_token_local_auth_list

pytestmark = MODULE
NOTIFY = "NotifyCustomerInformation"
ACCEPTED_INFO = {"status": "Accepted"}
CONFIGURATION = {"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True,
                 "AuthCacheCtrlr.Enabled": True}  # fmt: skip
NO_DATA = "No data found for this customer."
CLEARED = "The customer's data was cleared."
TOKEN = Token(VALID_TOKEN["idToken"], TokenType.ISO14443)


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def no_token_left_waiting(cs: Harness) -> AsyncIterator[None]:
    """A token authorized for no EVSE yet would take the next test's EV: an EV takes it now (the
    general preconditions then end that transaction)."""
    yield
    if cs.station.station_view().pending is not None:
        cs.plug_in(1)
        await cs.until(lambda: cs.station.station_view().pending is None, what="the waiting token bound")


async def request(cs: Harness, request_id: int, *, report: bool, clear: bool, **customer: Any
                  ) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """CustomerInformation; the response and, when Accepted, every NotifyCustomerInformation part
    (requestId echoed, seqNo from 0, one generatedAt, tbc on all parts but the last)."""
    since = cs.mark()
    response = await cs.call("CustomerInformation", {"requestId": request_id, "report": report, "clear": clear,
                                                     **customer})  # fmt: skip
    if response["status"] != "Accepted":
        return response, []
    await cs.expect(NOTIFY, lambda p: p["requestId"] == request_id and not p.get("tbc"), since)
    parts = cs.calls(NOTIFY, since, lambda p: p["requestId"] == request_id)
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert len({p["generatedAt"] for p in parts}) == 1
    assert [bool(p.get("tbc")) for p in parts] == [True] * (len(parts) - 1) + [False]
    assert all(len(p["data"]) <= 512 for p in parts)
    return response, parts


def text(parts: list[dict[str, Any]]) -> str:
    return "\n".join(p["data"] for p in parts)


async def customer_with_data(cs: Harness) -> str:
    """Configuration, memory and charging states of TC_N_27 / TC_N_30: the token charged once
    (IdTokenCached), is in the local list, and is Authorized (local) now. Returns that
    transaction's id."""
    await no_data_for(cs, VALID_TOKEN)
    await empty_local_list(cs)  # the token is asked about
    await cs.set_variables(CONFIGURATION)
    await id_token_cached(cs, VALID_TOKEN)
    history = await cs.station.ledger.of_token(TOKEN)
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=2)
    cs.present(VALID_TOKEN)  # Authorized (local): the local list pre-authorizes it
    await authorization_taken(cs, VALID_TOKEN)
    return history[-1].id


async def empty_local_list(cs: Harness) -> None:
    assert (await cs.call("SendLocalList", {"versionNumber": 1, "updateType": "Full"}))["status"] == "Accepted"


async def no_data_for(cs: Harness, token: dict[str, str]) -> None:
    """Memory state of TC_N_28: the CSMS had the station clear the token's customer information."""
    assert (await request(cs, 1, report=False, clear=True, idToken=token))[0]["status"] == "Accepted"


async def test_TC_N_27_CS(cs: Harness) -> None:
    """Get Customer Information - Accepted + data: the token's transaction, its cache entry and its
    authorization now are reported (N09.FR.02/05)."""
    tx = await customer_with_data(cs)
    response, parts = await request(cs, 2701, report=True, clear=False, idToken=VALID_TOKEN)  # step 1
    assert response["status"] == "Accepted"  # step 2
    data = text(parts)  # step 3
    assert tx in data and "Authorization cache: Accepted" in data and "Authorized now" in data, data


async def test_TC_N_28_CS(cs: Harness) -> None:
    """Get Customer Information - Accepted + no data: after a clear, one part saying no data was
    found (N09.FR.06)."""
    await no_data_for(cs, VALID_TOKEN)
    response, parts = await request(cs, 2801, report=True, clear=False, idToken=VALID_TOKEN)  # step 1
    assert response["status"] == "Accepted"  # step 2
    assert parts == [{"data": NO_DATA, "seqNo": 0, "generatedAt": parts[0]["generatedAt"], "requestId": 2801}]


async def test_TC_N_30_CS(cs: Harness) -> None:
    """Clear Customer Information - Clear and report + data: the cleared data is reported
    (N10.FR.03); asked again, the transaction and the cache entry are gone (what is still held
    now stays), the local list keeps the token."""
    tx = await customer_with_data(cs)
    response, parts = await request(cs, 3001, report=True, clear=True, idToken=VALID_TOKEN)  # step 1
    assert response["status"] == "Accepted"  # step 2
    assert tx in text(parts) and "Authorization cache" in text(parts)  # step 3
    response, parts = await request(cs, 3002, report=True, clear=False, idToken=VALID_TOKEN)  # step 5
    assert response["status"] == "Accepted" and not parts[-1].get("tbc")  # steps 6, 8
    assert tx not in text(parts) and "Authorization cache" not in text(parts), text(parts)
    assert cs.frontend.authorizer.engine.local_list.get(TOKEN) is not None
    ended = [t for t in cs.station.ledger.history(20) if t.id == tx]
    assert ended and ended[0].token is None and ended[0].stopped_at is not None


async def cleared_without_data(cs: Harness, request_id: int, report: bool) -> list[str]:
    """No customer information kept (a clear first), then clear (and report): the parts' data."""
    await no_data_for(cs, VALID_TOKEN)
    response, parts = await request(cs, request_id, report=report, clear=True, idToken=VALID_TOKEN)  # step 1
    assert response["status"] == "Accepted"  # step 2
    return [p["data"] for p in parts]


async def test_TC_N_31_CS(cs: Harness) -> None:
    """Clear Customer Information - Clear and report + no data: one part saying no data was found
    (N10.FR.04)."""
    assert await cleared_without_data(cs, 3101, report=True) == [NO_DATA]


async def test_TC_N_32_CS(cs: Harness) -> None:
    """Clear Customer Information - Clear and no report: one part saying the data was cleared
    (N10.FR.06)."""
    assert await cleared_without_data(cs, 3201, report=False) == [CLEARED]


async def test_TC_N_62_CS(cs: Harness) -> None:
    """Clear Customer Information - Clear and report - customerIdentifier: evsed keeps no customer
    identifiers (C-14)."""
    require("C-14")


# ---- beyond part 6 ----------------------------------------------------------------------------


async def test_one_reference_to_the_customer_and_something_to_do(cs: Harness) -> None:
    """None or two of idToken / customerCertificate / customerIdentifier: Invalid (N09.FR.09);
    neither report nor clear: Rejected (N09.FR.07); nothing is sent for them."""
    since = cs.mark()
    assert (await request(cs, 1, report=True, clear=False))[0]["status"] == "Invalid"
    both = {"idToken": VALID_TOKEN, "customerIdentifier": "customer-1"}
    assert (await request(cs, 2, report=True, clear=True, **both))[0]["status"] == "Invalid"
    assert (await request(cs, 3, report=False, clear=False, idToken=VALID_TOKEN))[0]["status"] == "Rejected"
    await cs.barrier()
    assert cs.calls(NOTIFY, since) == []


async def test_no_customer_identifiers_or_certificates_are_kept(cs: Harness) -> None:
    certificate = {"hashAlgorithm": "SHA256", "issuerNameHash": "aa", "issuerKeyHash": "bb", "serialNumber": "01"}
    for customer in ({"customerIdentifier": "customer-1"}, {"customerCertificate": certificate}):
        response, parts = await request(cs, 4, report=True, clear=True, **customer)
        assert response["status"] == "Accepted" and [p["data"] for p in parts] == [NO_DATA]


async def test_a_long_history_comes_in_parts(cs: Harness) -> None:
    """Many transactions of one token: parts of at most 512 characters, a transaction never split
    across two, every one reported."""
    await no_data_for(cs, VALID_TOKEN)
    await empty_local_list(cs)  # the token is asked about at every swipe
    for _ in range(4):
        await id_token_cached(cs, VALID_TOKEN)
    ids = [t.id for t in await cs.station.ledger.of_token(TOKEN)]
    _, parts = await request(cs, 5, report=True, clear=False, idToken=VALID_TOKEN)
    assert len(ids) == 4 and len(parts) >= 2
    assert all(sum(i in p["data"] for p in parts) == 1 for i in ids)
