"""OCPP 1.6 local authorization without the wire: the SendLocalList update rule, the offline
decision of 3.5.4, and the Authorization Cache (expiry, eviction, list priority) on a real
SQLite file. The end-to-end behaviour is in test_ocpp16_authorization_e2e.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus
from controller.ocpp.v16.authorization import Authorization, TagInfo, offline_decision
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.local_list import BadList, ListState, LocalList, updated
from controller.storage import Database

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
PAST, FUTURE = "2024-12-31T00:00:00Z", "2025-06-01T00:00:00Z"
EMPTY = ListState(0, {})


def send(version: int, kind: str, *items: tuple[str, dict | None]) -> dict:
    entries = [{"idTag": t, **({"idTagInfo": i} if i is not None else {})} for t, i in items]
    return {"listVersion": version, "updateType": kind, "localAuthorizationList": entries}


def apply(state: ListState, payload: dict, max_send: int = 3, max_length: int = 4) -> tuple[str, ListState]:
    return updated(state, payload, max_send=max_send, max_length=max_length)


ACC = {"status": "Accepted"}


def test_full_replaces_and_differential_adds_updates_and_deletes():
    status, state = apply(EMPTY, send(2, "Full", ("A", ACC), ("B", {"status": "Blocked", "parentIdTag": "P"})))
    assert status == "Accepted" and state.version == 2 and set(state.entries) == {"a", "b"}
    status, state = apply(state, send(3, "Differential", ("b", ACC), ("A", None), ("C", ACC)))
    assert status == "Accepted" and state.version == 3
    assert {k: v[1].status for k, v in state.entries.items()} == {"b": "Accepted", "c": "Accepted"}
    status, state = apply(state, send(4, "Differential", ("B", None), ("C", None)))
    assert status == "Accepted" and state == ListState(0, {})  # 5.10: an empty list is version 0
    status, state = apply(state, send(3, "Differential", ("D", ACC)))
    assert status == "Accepted" and state.version == 3  # above the empty list's 0
    status, state = apply(state, send(1, "Full"))  # a Full update may go back in version; empty clears
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
    state = ListState(3, {"a": ("A", TagInfo("Accepted")), "b": ("B", TagInfo("Accepted"))})
    assert apply(state, payload) == (expected, state)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (send(0, "Full"), "PropertyConstraintViolation"),
        (send(-1, "Differential"), "PropertyConstraintViolation"),
        (send(5, "Full", ("A", ACC), ("a", ACC)), "OccurenceConstraintViolation"),
        (send(5, "Full", ("A", None)), "OccurenceConstraintViolation"),
        (send(5, "Full", ("A", {"status": "Accepted", "expiryDate": "soon"})), "PropertyConstraintViolation"),
    ],
)
def test_requests_the_specification_forbids_are_callerrors(payload, code):
    with pytest.raises(BadList) as caught:
        apply(EMPTY, payload)
    assert caught.value.code == code


ACCEPTED, INVALID = AuthStatus.ACCEPTED, AuthStatus.INVALID
CACHE, OFFLINE = AuthorizedBy.CACHE, AuthorizedBy.OFFLINE


@pytest.mark.parametrize(
    ("known", "offline", "unknown", "expected"),
    [
        (TagInfo("Accepted"), True, False, AuthResult(ACCEPTED, CACHE)),
        (TagInfo("Accepted", parent_id_tag="P"), True, False, AuthResult(ACCEPTED, CACHE, "P")),
        (TagInfo("Accepted", NOW - timedelta(seconds=1)), True, True, AuthResult(AuthStatus.EXPIRED, CACHE)),
        (TagInfo("Blocked"), True, True, AuthResult(AuthStatus.BLOCKED, CACHE)),  # known and not valid: never
        (TagInfo("Accepted"), False, False, AuthResult(INVALID, OFFLINE)),  # LocalAuthorizeOffline off
        (TagInfo("Accepted"), False, True, AuthResult(ACCEPTED, OFFLINE)),
        (None, True, False, AuthResult(INVALID, OFFLINE)),
        (None, True, True, AuthResult(ACCEPTED, OFFLINE)),
    ],
)
def test_offline_decision(known, offline, unknown, expected):
    assert offline_decision(known, NOW, local_authorize_offline=offline, allow_unknown=unknown) == expected


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "evsed.db")
    yield database
    database.close()


PROFILES = ("Core", "LocalAuthListManagement")


async def test_cache_expiry_eviction_and_list_priority(db):
    keys = Configuration(db, PROFILES, overrides={"LocalPreauthorize": "true"})
    local_list = LocalList(db, keys)
    auth = Authorization(db, keys, lambda: NOW, local_list, capacity=3)
    await auth.remember("OLD", {"status": "Accepted", "expiryDate": PAST})
    assert await auth.known("old") == TagInfo("Expired", datetime(2024, 12, 31, tzinfo=UTC))  # stored as Expired
    await auth.remember("V1", {"status": "Accepted", "expiryDate": FUTURE})
    await auth.remember("BLOCKED", {"status": "Blocked"})
    await auth.remember("V2", {"status": "Accepted"})  # full: the NOT-valid ones go first
    assert [await auth.known(t) is not None for t in ("OLD", "V1", "BLOCKED", "V2")] == [False, True, True, True]
    await auth.remember("V3", {"status": "Accepted"})  # BLOCKED goes, though V1 is older
    assert await auth.known("BLOCKED") is None and await auth.known("V1") is not None

    asked: list[str] = []

    async def csms() -> dict:
        asked.append("Authorize")
        return {"idTagInfo": {"status": "Invalid"}}

    assert (await auth.authorize("V1", csms)).accepted  # LocalPreauthorize: the cache decides online
    assert asked == []
    await local_list.send_local_list(send(1, "Full", ("V1", {"status": "Blocked"})))
    assert (await auth.authorize("V1", csms)) == AuthResult(INVALID, AuthorizedBy.BACKEND)  # list entry not Accepted
    conflicts: list[str] = []
    auth.on_conflict = conflicts.append
    await auth.remember("V1", {"status": "Accepted"})  # a listed tag never enters the cache...
    assert conflicts == ["V1"]  # ...and the disagreement is a LocalListConflict
    await keys.change("LocalAuthListEnabled", "false")
    assert await auth.known("V1") == TagInfo("Accepted", datetime(2025, 6, 1, tzinfo=UTC))  # the cache again
    await auth.clear_cache()
    assert await auth.known("V2") is None


async def test_the_list_survives_a_reopen(tmp_path):
    db = Database(tmp_path / "evsed.db")
    keys = Configuration(db, PROFILES)
    first = LocalList(db, keys)
    payload = send(7, "Full", ("Tag", {"status": "Accepted", "expiryDate": FUTURE, "parentIdTag": "P"}))
    assert await first.send_local_list(payload) == {"status": "Accepted"}
    db.close()
    db = Database(tmp_path / "evsed.db")
    again = LocalList(db, Configuration(db, PROFILES))
    assert await again.get_local_list_version({}) == {"listVersion": 7}
    assert again.get("TAG") == TagInfo("Accepted", datetime(2025, 6, 1, tzinfo=UTC), "P")
    db.close()
