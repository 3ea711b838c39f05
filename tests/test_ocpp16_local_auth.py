"""OCPP 1.6 local authorization without the wire: the SendLocalList update rule, the offline
decision of 3.5.4, and the station's authorization engine with the 1.6 keys (cache expiry,
eviction, list priority) on a real SQLite file. The end-to-end behaviour is in
test_ocpp16_authorization_e2e.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.authorization.local_list import ListState, LocalList
from controller.authorization.rules import AuthorizationPolicy, TokenInfo, offline_decision
from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus
from controller.ocpp.v16 import authorization
from controller.ocpp.v16.authorization import tag_info
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.idtag import token
from controller.ocpp.v16.local_list import BadList, LocalListProfile, apply
from controller.storage import Database

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
PAST, FUTURE = "2024-12-31T00:00:00Z", "2025-06-01T00:00:00Z"
EMPTY = ListState(0, {})


def send(version: int, kind: str, *items: tuple[str, dict | None]) -> dict:
    entries = [{"idTag": t, **({"idTagInfo": i} if i is not None else {})} for t, i in items]
    return {"listVersion": version, "updateType": kind, "localAuthorizationList": entries}


def update(state: ListState, payload: dict, max_send: int = 3, max_length: int = 4) -> tuple[str, ListState]:
    return apply(state, payload, max_send=max_send, max_length=max_length)


def ids(state: ListState) -> set[str]:
    return {k[0] for k in state.entries}


def entry(tag: str, info: TokenInfo) -> tuple:
    return (tag.casefold(), token(tag).type), (token(tag), info)


ACC = {"status": "Accepted"}
ACCEPTED = TokenInfo(AuthStatus.ACCEPTED)


def test_full_replaces_and_differential_adds_updates_and_deletes():
    status, state = update(EMPTY, send(2, "Full", ("A", ACC), ("B", {"status": "Blocked", "parentIdTag": "P"})))
    assert status == "Accepted" and state.version == 2 and ids(state) == {"a", "b"}
    status, state = update(state, send(3, "Differential", ("b", ACC), ("A", None), ("C", ACC)))
    assert status == "Accepted" and state.version == 3
    assert {k[0]: v[1].status for k, v in state.entries.items()} == {"b": "Accepted", "c": "Accepted"}
    status, state = update(state, send(4, "Differential", ("B", None), ("C", None)))
    assert status == "Accepted" and state == ListState(0, {})  # 5.10: an empty list is version 0
    status, state = update(state, send(3, "Differential", ("D", ACC)))
    assert status == "Accepted" and state.version == 3  # above the empty list's 0
    status, state = update(state, send(1, "Full"))  # a Full update may go back in version; empty clears
    assert status == "Accepted" and state == ListState(0, {})


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (send(3, "Differential", ("D", ACC)), "VersionMismatch"),  # not above the current 3
        (send(2, "Differential", ("D", ACC)), "VersionMismatch"),
        (send(4, "Full", ("1", ACC), ("2", ACC), ("3", ACC), ("4", ACC)), "Failed"),  # > SendLocalListMaxLength
        (send(4, "Differential", ("D", ACC), ("E", ACC), ("F", ACC)), "Failed"),  # list would exceed 4
    ],
)
def test_refusals_change_nothing(payload, expected):
    state = ListState(3, dict([entry("A", ACCEPTED), entry("B", ACCEPTED)]))
    assert update(state, payload) == (expected, state)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (send(0, "Full"), "PropertyConstraintViolation"),
        (send(-1, "Differential"), "PropertyConstraintViolation"),
        (send(5, "Full", ("A", ACC), ("a", ACC)), "OccurenceConstraintViolation"),
        (send(5, "Full", ("A", None)), "OccurenceConstraintViolation"),
    ],
)
def test_requests_the_specification_forbids_are_callerrors(payload, code):
    with pytest.raises(BadList) as caught:
        update(EMPTY, payload)
    assert caught.value.code == code


INVALID = AuthStatus.INVALID
CACHE, OFFLINE = AuthorizedBy.CACHE, AuthorizedBy.OFFLINE
OK = AuthStatus.ACCEPTED


@pytest.mark.parametrize(
    ("known", "offline", "unknown", "expected"),
    [
        (ACCEPTED, True, False, AuthResult(OK, CACHE)),
        (TokenInfo(OK, group="P"), True, False, AuthResult(OK, CACHE, "P")),
        (TokenInfo(OK, NOW - timedelta(seconds=1)), True, True, AuthResult(AuthStatus.EXPIRED, CACHE)),
        (TokenInfo(AuthStatus.BLOCKED), True, True, AuthResult(AuthStatus.BLOCKED, CACHE)),  # known, not valid: never
        (ACCEPTED, False, False, AuthResult(INVALID, OFFLINE)),  # LocalAuthorizeOffline off
        (ACCEPTED, False, True, AuthResult(OK, OFFLINE)),
        (None, True, False, AuthResult(INVALID, OFFLINE)),
        (None, True, True, AuthResult(OK, OFFLINE)),
    ],
)
def test_offline_decision(known, offline, unknown, expected):
    rules = AuthorizationPolicy(local_authorize_offline=offline, offline_unknown=unknown)
    assert offline_decision(known, NOW, rules, CACHE) == expected


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "evsed.db")
    yield database
    database.close()


PROFILES = ("Core", "LocalAuthListManagement")


async def test_cache_expiry_eviction_and_list_priority(db):
    keys = Configuration(db, PROFILES, overrides={"LocalPreauthorize": "true"})
    local_list = LocalList(db)
    profile = LocalListProfile(db, local_list, keys)
    auth = authorization.build(db, keys, lambda: NOW, local_list, capacity=3)

    async def remember(tag: str, info: dict) -> None:
        await auth.remember(token(tag), tag_info(info))

    async def known(tag: str) -> TokenInfo | None:
        return await auth.known(token(tag))

    await remember("OLD", {"status": "Accepted", "expiryDate": PAST})
    assert await known("old") == TokenInfo(AuthStatus.EXPIRED, datetime(2024, 12, 31, tzinfo=UTC))  # stored Expired
    await remember("V1", {"status": "Accepted", "expiryDate": FUTURE})
    await remember("BLOCKED", {"status": "Blocked"})
    await remember("V2", {"status": "Accepted"})  # full: the NOT-valid ones go first
    assert [await known(t) is not None for t in ("OLD", "V1", "BLOCKED", "V2")] == [False, True, True, True]
    await remember("V3", {"status": "Accepted"})  # BLOCKED goes, though V1 is older
    assert await known("BLOCKED") is None and await known("V1") is not None

    asked: list[str] = []

    async def csms() -> TokenInfo:
        asked.append("Authorize")
        answer = TokenInfo(INVALID)
        await auth.remember(token("V1"), answer)  # as the front end does with every answer
        return answer

    assert (await auth.authorize(token("V1"), csms)).accepted  # LocalPreauthorize: the cache decides online
    assert asked == []
    await profile.send_local_list(send(1, "Full", ("V1", {"status": "Blocked"})))
    assert (await auth.authorize(token("V1"), csms)) == AuthResult(INVALID, AuthorizedBy.BACKEND)  # list: asked
    conflicts: list[str] = []
    auth.on_conflict = lambda t: conflicts.append(t.id)
    await remember("V1", {"status": "Accepted"})  # a listed tag never enters the cache...
    assert conflicts == ["V1"]  # ...and the disagreement is a LocalListConflict
    await keys.change("LocalAuthListEnabled", "false")
    assert await known("V1") == TokenInfo(OK, datetime(2025, 6, 1, tzinfo=UTC))  # the cache again
    await auth.clear_cache()
    assert await known("V2") is None


async def test_the_list_survives_a_reopen(tmp_path):
    db = Database(tmp_path / "evsed.db")
    keys = Configuration(db, PROFILES)
    first = LocalListProfile(db, LocalList(db), keys)
    payload = send(7, "Full", ("Tag", {"status": "Accepted", "expiryDate": FUTURE, "parentIdTag": "P"}))
    assert await first.send_local_list(payload) == {"status": "Accepted"}
    db.close()
    db = Database(tmp_path / "evsed.db")
    again = LocalListProfile(db, LocalList(db), Configuration(db, PROFILES))
    assert await again.get_local_list_version({}) == {"listVersion": 7}
    assert again.list.get(token("TAG")) == TokenInfo(OK, datetime(2025, 6, 1, tzinfo=UTC), "P")
    db.close()
