"""Part 6 section 2.5, D Local Authorization List Management (SendLocalList, GetLocalListVersion),
and the bad input a list may bring: more entries than one message may carry, a list of 10,000
tokens sent in parts, tokens of every type and length, a token twice."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_asyncio

from controller.core.vocabulary import TokenType
from ocpp201.harness import MODULE, SECOND_TOKEN, VALID_TOKEN, CallErrorFrom, Harness, unique_id
from ocpp201.states import ACCEPTED_INFO, booted, id_token_local_auth_list

pytestmark = MODULE
VERSION = 5  # <Configured versionNumber> (> 1 for TC_D_06)
ENTRIES = {"component": {"name": "LocalAuthListCtrlr"}, "variable": {"name": "Entries"}}


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def empty_list(cs: Harness) -> None:
    """Every test starts from a list of known content: empty, version 1."""
    await send(cs, 1, "Full")


async def send(cs: Harness, version: int, kind: str, *entries: tuple[dict[str, str], dict[str, Any] | None]) -> dict:
    items = [{"idToken": t, **({"idTokenInfo": i} if i is not None else {})} for t, i in entries]
    request: dict[str, Any] = {"versionNumber": version, "updateType": kind}
    if items:
        request["localAuthorizationList"] = items
    return await cs.call("SendLocalList", request)


async def version(cs: Harness) -> int:
    return int((await cs.call("GetLocalListVersion", {}))["versionNumber"])


async def entries(cs: Harness) -> int:
    """LocalAuthListCtrlr.Entries, as GetVariables reports it."""
    [result] = (await cs.call("GetVariables", {"getVariableData": [ENTRIES]}))["getVariableResult"]
    return int(result["attributeValue"])


async def test_TC_D_01_CS(cs: Harness) -> None:
    """Send Local Authorization List - Full: the list is replaced and takes the version."""
    await send(cs, 1, "Full", (SECOND_TOKEN, ACCEPTED_INFO))
    assert await send(cs, VERSION, "Full", (VALID_TOKEN, ACCEPTED_INFO)) == {"status": "Accepted"}  # step 2
    assert await version(cs) == VERSION  # step 4
    assert await entries(cs) == 1  # the earlier token is gone (D01.FR.15)


async def test_TC_D_02_CS(cs: Harness) -> None:
    """Send Local Authorization List - Differential Update: a second token is added."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION)
    assert await send(cs, VERSION + 1, "Differential", (SECOND_TOKEN, ACCEPTED_INFO)) == {"status": "Accepted"}
    assert await version(cs) == VERSION + 1
    assert await entries(cs) == 2  # D01.FR.16: added to the list, not replacing it


async def test_TC_D_03_CS(cs: Harness) -> None:
    """Send Local Authorization List - Differential Remove: entries without idTokenInfo are removed."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), (SECOND_TOKEN, ACCEPTED_INFO), version=VERSION)
    assert await send(cs, VERSION + 1, "Differential", (VALID_TOKEN, None)) == {"status": "Accepted"}
    assert await version(cs) == VERSION + 1
    assert await entries(cs) == 1  # D01.FR.17


async def test_TC_D_04_CS(cs: Harness) -> None:
    """Send Local Authorization List - Full with empty list: every token goes, the version stays."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION - 1)
    assert await send(cs, VERSION, "Full") == {"status": "Accepted"}
    assert await version(cs) == VERSION  # D01.FR.04: an emptied list has a version > 0
    assert await entries(cs) == 0


async def test_TC_D_05_CS(cs: Harness) -> None:
    """Send Local Authorization List - Differential with empty list: no effect but the version."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION)
    assert await send(cs, VERSION + 1, "Differential") == {"status": "Accepted"}
    assert await version(cs) == VERSION + 1  # D01.FR.05
    assert await entries(cs) == 1


async def test_TC_D_06_CS(cs: Harness) -> None:
    """Send Local Authorization List - VersionMismatch: a Differential with a lower version."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION)
    assert await send(cs, VERSION - 1, "Differential", (SECOND_TOKEN, ACCEPTED_INFO)) == {"status": "VersionMismatch"}
    assert await send(cs, VERSION, "Differential", (SECOND_TOKEN, ACCEPTED_INFO)) == {"status": "VersionMismatch"}
    assert await version(cs) == VERSION  # D01.FR.19: nothing changed
    assert await entries(cs) == 1


async def test_TC_D_07_CS(cs: Harness) -> None:
    """Send Local Authorization List - Persistent over reboot: Booted, then the version is the same."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION)
    await booted(cs)
    assert await version(cs) == VERSION  # D01.FR.10
    assert await entries(cs) == 1


async def test_TC_D_08_CS(cs: Harness) -> None:
    """Get Local List Version - Success."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION)
    assert await version(cs) == VERSION  # D02.FR.01


async def test_TC_D_10_CS(cs: Harness) -> None:
    """Get Local List Version - Function disabled: LocalAuthListEnabled false answers 0, and a
    SendLocalList is Failed, the list kept for when it is enabled again."""
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO), version=VERSION)
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": False})
    assert await version(cs) == 0  # D02.FR.03
    refused = await send(cs, VERSION + 1, "Full")
    assert refused["status"] == "Failed" and refused["statusInfo"]["reasonCode"] == "Disabled"
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True})
    assert await version(cs) == VERSION and await entries(cs) == 1


# ---- bad input ----------------------------------------------------------------------------------


def card(n: int) -> dict[str, str]:
    return {"idToken": f"CARD-{n:08d}", "type": "ISO14443"}


async def test_a_list_of_ten_thousand_tokens_goes_in_parts_and_no_further(cs: Harness) -> None:
    """10,000 tokens: one message may carry ItemsPerMessage of them (more is the CALLERROR of the
    message limits, nothing changes); sent as a Full part and Differential parts they all land,
    up to the Entries maxLimit; one more is Failed, and the list stays as it was."""
    per_message = cs.variable("LocalAuthListCtrlr.ItemsPerMessage")
    limit = int(cs.model.inventory["LocalAuthListCtrlr.Entries"].characteristics.max_limit)
    assert limit >= 10_000
    with pytest.raises(CallErrorFrom) as refused:
        await send(cs, 2, "Full", *((card(n), ACCEPTED_INFO) for n in range(per_message + 1)))
    assert refused.value.code == "OccurrenceConstraintViolation"
    assert await version(cs) == 1 and await entries(cs) == 0
    parts = [range(start, min(start + per_message, limit)) for start in range(0, limit, per_message)]
    for number, part in enumerate(parts):
        kind = "Full" if number == 0 else "Differential"
        assert (await send(cs, number + 2, kind, *((card(n), ACCEPTED_INFO) for n in part)))["status"] == "Accepted"
    assert await entries(cs) == limit and await version(cs) == len(parts) + 1
    full = await send(cs, len(parts) + 2, "Differential", (card(limit), ACCEPTED_INFO))
    assert full["status"] == "Failed" and full["statusInfo"]["reasonCode"] == "NoCapacity"
    assert await entries(cs) == limit and await version(cs) == len(parts) + 1
    storage = {"component": {"name": "LocalAuthListCtrlr"}, "variable": {"name": "Storage"}}
    [used] = (await cs.call("GetVariables", {"getVariableData": [storage]}))["getVariableResult"]
    assert 0 < int(used["attributeValue"]) <= cs.model.inventory["LocalAuthListCtrlr.Storage"].characteristics.max_limit


async def test_a_request_larger_than_bytes_per_message_is_refused(cs: Harness) -> None:
    limit = cs.variable("LocalAuthListCtrlr.BytesPerMessage")
    long_group = {"idToken": "G" * 36, "type": "Central"}
    info = {
        "status": "Accepted",
        "groupIdToken": long_group,
        "personalMessage": {"format": "UTF8", "content": "x" * 512},
    }
    per_message = cs.variable("LocalAuthListCtrlr.ItemsPerMessage")
    with pytest.raises(CallErrorFrom) as refused:
        await send(cs, 2, "Full", *((card(n), info) for n in range(per_message)))
    assert refused.value.code == "FormatViolation" and str(limit) in refused.value.description
    assert await version(cs) == 1


@pytest.mark.parametrize(
    ("request_entries", "reason"),
    [
        ([(VALID_TOKEN, ACCEPTED_INFO), ({"idToken": "04a2b3c4", "type": "ISO14443"}, ACCEPTED_INFO)], "appears twice"),
        ([(VALID_TOKEN, None)], "no idTokenInfo"),
    ],
)
async def test_a_full_list_the_specification_forbids_is_failed_and_changes_nothing(cs, request_entries, reason) -> None:
    await id_token_local_auth_list(cs, (SECOND_TOKEN, ACCEPTED_INFO), version=VERSION)
    answer = await send(cs, VERSION + 1, "Full", *request_entries)
    assert answer["status"] == "Failed" and reason in answer["statusInfo"]["additionalInfo"]  # D01.FR.06
    assert await version(cs) == VERSION and await entries(cs) == 1


async def test_version_zero_is_failed(cs: Harness) -> None:
    answer = await send(cs, 0, "Full", (VALID_TOKEN, ACCEPTED_INFO))
    assert answer["status"] == "Failed" and "D01.FR.18" in answer["statusInfo"]["additionalInfo"]
    assert await version(cs) == 1


async def test_tokens_of_every_type_and_the_longest_id_are_kept_apart(cs: Harness) -> None:
    """One id in every IdTokenEnumType is eight entries (the type is part of the key); a 36-character
    id is an id; 37 characters or an unknown type is the schema's CALLERROR."""
    same_id = [({"idToken": "ID-1", "type": kind.value}, ACCEPTED_INFO) for kind in TokenType]
    longest = ({"idToken": "L" * 36, "type": "eMAID"}, ACCEPTED_INFO)
    assert (await send(cs, 2, "Full", *same_id, longest))["status"] == "Accepted"
    assert await entries(cs) == len(TokenType) + 1
    for bad in ({"idToken": "L" * 37, "type": "eMAID"}, {"idToken": "ID-1", "type": "Passport"}):
        request = {"versionNumber": 3, "updateType": "Differential",
                   "localAuthorizationList": [{"idToken": bad, "idTokenInfo": ACCEPTED_INFO}]}  # fmt: skip
        message_id = unique_id()  # the test CSMS's library would not send it: sent as it is
        answer = await cs.call_raw(json.dumps([2, message_id, "SendLocalList", request]), message_id)
        assert answer[:3] == [4, message_id, "PropertyConstraintViolation"], answer
    assert await version(cs) == 2 and await entries(cs) == len(TokenType) + 1


async def test_get_local_list_version_with_a_payload_the_schema_refuses(cs: Harness) -> None:
    """An unexpected property is the schema's CALLERROR; the list is untouched."""
    message_id = unique_id()
    answer = await cs.call_raw(f'[2,"{message_id}","GetLocalListVersion",{{"bogus":1}}]', message_id)
    assert answer[0] == 4 and answer[2] in ("FormatViolation", "PropertyConstraintViolation")
    assert await version(cs) == 1
