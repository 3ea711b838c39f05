"""controller.authorization on a real SQLite file: entries keyed by token id (any letter case)
and type, the list before the cache, the rules switched by the policy a front end gives (the
online decision table of 2.0.1 C01/C09-C16), the cache's lifetime and LRU eviction, the list's
version and byte rules and its delta writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.authorization.cache import AuthCache
from controller.authorization.engine import Authorization
from controller.authorization.local_list import Limits, ListState, LocalList, UpdateOutcome, entry_bytes, updated
from controller.authorization.rules import AuthorizationPolicy, TokenInfo, master_pass, online_decision
from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus, Token, TokenType
from controller.storage import Database

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CARD = Token("ABC", TokenType.ISO14443)
CODE = Token("abc", TokenType.KEY_CODE)  # the same letters, another kind of token
LIMITS = Limits(max_send=5, max_length=5)
OK, BLOCKED = TokenInfo(AuthStatus.ACCEPTED), TokenInfo(AuthStatus.BLOCKED, group="FLEET")


async def test_tokens_are_keyed_by_id_ignoring_case_and_by_type(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    cache = AuthCache(db, lambda: NOW)
    await cache.put(CARD, OK)
    assert await cache.get(Token("abc", TokenType.ISO14443)) == OK
    assert await cache.get(CODE) is None
    await cache.put(CODE, BLOCKED)
    assert (await cache.get(CARD), await cache.get(CODE)) == (OK, BLOCKED)
    outcome, state = updated(ListState(0, {}), 4, [(CARD, BLOCKED), (CODE, OK)], full=True, limits=LIMITS)
    assert outcome is UpdateOutcome.ACCEPTED and len(state.entries) == 2
    db.close()


async def test_the_policy_switches_the_list_the_cache_and_the_offline_rules(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    local_list, cache = LocalList(db), AuthCache(db, lambda: NOW)
    _, state = updated(ListState(0, {}), 1, [(CARD, BLOCKED)], full=True, limits=LIMITS)
    await local_list.store(state)
    await cache.put(CARD, OK)
    rules = AuthorizationPolicy(local_list=True, cache=True, local_authorize_offline=True)
    engine = Authorization(local_list, cache, lambda: rules, lambda: NOW)
    assert (await engine.authorize(CARD, None)).status is AuthStatus.BLOCKED  # the list wins over the cache
    assert (await engine.authorize(CARD, None)).by is AuthorizedBy.LOCAL_LIST
    assert await engine.group_of(CARD, None) == "FLEET"
    rules = AuthorizationPolicy(cache=True, local_authorize_offline=True)
    decided = await engine.authorize(CARD, None)
    assert (decided.status, decided.by) == (AuthStatus.ACCEPTED, AuthorizedBy.CACHE)
    rules = AuthorizationPolicy()  # nothing known is used, nothing unknown accepted offline
    assert (await engine.authorize(CARD, None)).status is AuthStatus.INVALID
    asked: list[Token] = []

    async def backend() -> TokenInfo:
        asked.append(CODE)
        return TokenInfo(AuthStatus.ACCEPTED, group="HOME")

    answer = await engine.authorize(CODE, backend)
    assert (answer.status, answer.by, answer.group, asked) == (
        AuthStatus.ACCEPTED,
        AuthorizedBy.BACKEND,
        "HOME",
        [CODE],
    )
    db.close()


ONLINE = AuthorizationPolicy(local_list=True, cache=True)
PRE = replace(ONLINE, local_preauthorize=True)
LIST, CACHED, BACKEND, NOBODY = AuthorizedBy.LOCAL_LIST, AuthorizedBy.CACHE, AuthorizedBy.BACKEND, AuthorizedBy.NOBODY
EXPIRED = TokenInfo(AuthStatus.ACCEPTED, NOW - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("known", "by", "rules", "groups", "expected"),
    [
        (None, CACHED, PRE, (), None),  # unknown: ask (C01.FR.02)
        (OK, CACHED, PRE, (), AuthResult(AuthStatus.ACCEPTED, CACHED)),  # LocalPreAuthorize (C12.FR.02, C14.FR.02)
        (OK, CACHED, ONLINE, (), None),  # ... off: ask (TC_C_36)
        (OK, LIST, ONLINE, (), None),
        (
            TokenInfo(AuthStatus.ACCEPTED, group="fam"),
            CACHED,
            ONLINE,
            ("FAM",),
            AuthResult(AuthStatus.ACCEPTED, CACHED, "fam"),
        ),  # C01.FR.03b
        (TokenInfo(AuthStatus.INVALID, group="FAM"), CACHED, PRE, ("FAM",), None),  # not valid: asked (C09.FR.11)
        (BLOCKED, LIST, PRE, (), None),  # not Accepted: asked again (C10.FR.03, C14.FR.03)
        (EXPIRED, LIST, PRE, (), None),  # expired in the list: asked (C14.FR.05)
        (
            BLOCKED,
            LIST,
            replace(PRE, recheck_listed=False),
            (),
            AuthResult(AuthStatus.BLOCKED, LIST, "FLEET"),
        ),  # TC_C_58
        (BLOCKED, CACHED, replace(PRE, recheck_listed=False), (), None),  # the list's switch only
        (
            BLOCKED,
            CACHED,
            replace(PRE, recheck_cached=False),
            (),
            AuthResult(AuthStatus.BLOCKED, CACHED, "FLEET"),
        ),  # TC_C_57
        (
            None,
            CACHED,
            replace(ONLINE, ask_backend=False),
            (),
            AuthResult(AuthStatus.UNKNOWN, NOBODY),
        ),  # DisableRemoteAuthorization
        (OK, CACHED, replace(ONLINE, ask_backend=False), (), AuthResult(AuthStatus.ACCEPTED, CACHED)),
        (BLOCKED, CACHED, replace(PRE, ask_backend=False), (), AuthResult(AuthStatus.BLOCKED, CACHED, "FLEET")),
    ],
)
def test_online_decision(known, by, rules, groups, expected) -> None:
    assert online_decision(known, by, NOW, rules, frozenset(groups)) == expected


def test_a_master_pass_is_an_accepted_token_of_the_master_pass_group() -> None:
    rules = AuthorizationPolicy(master_pass_group="Police")
    assert master_pass(AuthResult(AuthStatus.ACCEPTED, BACKEND, "POLICE"), rules).master_pass
    assert not master_pass(AuthResult(AuthStatus.BLOCKED, BACKEND, "POLICE"), rules).master_pass
    assert not master_pass(AuthResult(AuthStatus.ACCEPTED, BACKEND, "FLEET"), rules).master_pass
    assert not master_pass(AuthResult(AuthStatus.ACCEPTED, BACKEND, "POLICE"), AuthorizationPolicy()).master_pass


async def test_the_cache_forgets_after_its_lifetime_and_evicts_the_least_recently_used(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    clock = [NOW]
    cache = AuthCache(db, lambda: clock[0], capacity=2)
    restricted = TokenInfo(AuthStatus.ACCEPTED, group="FLEET", evses=frozenset({2}), priority=3)
    await cache.put(CARD, restricted)
    assert await cache.get(CARD, lifetime_s=60) == restricted  # evses and priority kept
    assert cache.count == 1 and cache.storage > 0
    clock[0] = NOW + timedelta(seconds=60)
    assert await cache.get(CARD, lifetime_s=60) is None  # not updated for its lifetime: gone (C10.FR.08)
    assert cache.count == 0 and cache.storage == 0
    first, second, third = (Token(f"T{n}", TokenType.ISO14443) for n in range(3))
    await cache.put(first, OK)
    clock[0] += timedelta(seconds=1)
    await cache.put(second, OK)
    clock[0] += timedelta(seconds=1)
    await cache.touch(first)  # used: now the most recent
    await cache.put(third, OK)
    assert [await cache.get(t) is not None for t in (first, second, third)] == [True, False, True]  # LRU
    db.close()
    reopened = AuthCache(Database(tmp_path / "evsed.db"), lambda: clock[0], capacity=2)
    assert (reopened.count, reopened.storage) == (cache.count, cache.storage)  # counted again at start
    reopened.db.close()


async def test_the_engine_asks_only_when_the_rules_say_and_never_caches_vouched_types(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    cache = AuthCache(db, lambda: NOW)
    rules = replace(PRE, uncached=frozenset({TokenType.CENTRAL}), unasked=frozenset({TokenType.CENTRAL}),
                    master_pass_group="POLICE")  # fmt: skip
    engine = Authorization(None, cache, lambda: rules, lambda: NOW)
    asked: list[str] = []

    def backend(answer: TokenInfo):  # type: ignore[no-untyped-def]
        async def ask() -> TokenInfo:
            asked.append("Authorize")
            return answer

        return ask

    central = Token("ACCOUNT-1", TokenType.CENTRAL)
    assert (await engine.authorize(central, backend(TokenInfo(AuthStatus.INVALID)))).accepted  # C05.FR.01
    await engine.remember(central, OK)
    assert asked == [] and cache.count == 0  # C05.FR.02
    answer = await engine.authorize(CARD, backend(TokenInfo(AuthStatus.ACCEPTED, NOW, "POLICE")))
    assert (
        answer.accepted and answer.master_pass and answer.by is BACKEND
    )  # as answered: its expiry only limits caching
    assert (await cache.get(CARD)).status is AuthStatus.EXPIRED  # cached as it stood: expired
    assert (await engine.authorize(CARD, backend(OK))).by is BACKEND  # not Accepted in the cache: asked again
    assert asked == ["Authorize", "Authorize"]
    required = replace(rules, required=False)
    engine.policy = lambda: required
    assert (await engine.authorize(CODE, None)) == AuthResult(AuthStatus.ACCEPTED, NOBODY)  # AuthCtrlr.Enabled false
    db.close()


def test_an_emptied_list_keeps_its_version_where_the_protocol_says_so() -> None:
    outcome, state = updated(ListState(3, {}), 5, [], full=True, limits=LIMITS, empty_resets_version=False)
    assert outcome is UpdateOutcome.ACCEPTED and state.version == 5  # 2.0.1 D01.FR.04
    assert updated(ListState(3, {}), 5, [], full=True, limits=LIMITS)[1].version == 0  # 1.6 5.10


def test_the_list_counts_its_bytes_and_refuses_an_update_beyond_them() -> None:
    big = Limits(max_send=5, max_length=5, max_bytes=2 * entry_bytes(CARD, OK))
    outcome, state = updated(ListState(1, {}), 2, [(CARD, OK)], full=False, limits=big)
    assert outcome is UpdateOutcome.ACCEPTED and state.storage == entry_bytes(CARD, OK)
    assert updated(state, 3, [(CODE, BLOCKED)], full=False, limits=big) == (UpdateOutcome.FAILED, state)
    outcome, smaller = updated(state, 3, [(CARD, None)], full=False, limits=big, empty_resets_version=False)
    assert outcome is UpdateOutcome.ACCEPTED and smaller.storage == 0 and smaller == ListState(3, {})


async def test_a_differential_update_writes_only_what_changed_and_survives_a_reopen(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    local_list = LocalList(db)
    tokens = [Token(f"CARD-{n:05d}", TokenType.ISO14443) for n in range(300)]
    _, state = updated(local_list.state, 1, [(t, OK) for t in tokens], full=True, limits=Limits(300, 300))
    await local_list.store(state)
    writes: list[str] = []
    db.run_sync(lambda c: c.set_trace_callback(writes.append))
    _, state = updated(state, 2, [(tokens[0], None), (tokens[1], BLOCKED)], full=False, limits=Limits(300, 300))
    await local_list.store(state)
    db.run_sync(lambda c: c.set_trace_callback(None))
    assert sum(w.startswith(("INSERT", "DELETE")) for w in writes) == 3  # one delete, one upsert, the version
    db.close()
    again = LocalList(Database(tmp_path / "evsed.db"))
    assert again.state.version == 2 and len(again.state.entries) == 299 and again.get(tokens[1]) == BLOCKED
    assert again.state.storage == state.storage
    again.db.close()
