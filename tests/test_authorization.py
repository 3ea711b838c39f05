"""controller.authorization on a real SQLite file: entries keyed by token id (any letter case)
and type, the list before the cache, and the rules switched by the policy a front end gives."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.authorization.cache import AuthCache
from controller.authorization.engine import Authorization
from controller.authorization.local_list import ListState, LocalList, UpdateOutcome, updated
from controller.authorization.rules import AuthorizationPolicy, TokenInfo
from controller.core.vocabulary import AuthorizedBy, AuthStatus, Token, TokenType
from controller.storage import Database

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CARD = Token("ABC", TokenType.ISO14443)
CODE = Token("abc", TokenType.KEY_CODE)  # the same letters, another kind of token
OK, BLOCKED = TokenInfo(AuthStatus.ACCEPTED), TokenInfo(AuthStatus.BLOCKED, group="FLEET")


async def test_tokens_are_keyed_by_id_ignoring_case_and_by_type(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    cache = AuthCache(db, lambda: NOW)
    await cache.put(CARD, OK)
    assert await cache.get(Token("abc", TokenType.ISO14443)) == OK
    assert await cache.get(CODE) is None
    await cache.put(CODE, BLOCKED)
    assert (await cache.get(CARD), await cache.get(CODE)) == (OK, BLOCKED)
    outcome, state = updated(ListState(0, {}), 4, [(CARD, BLOCKED), (CODE, OK)], full=True, max_send=5, max_length=5)
    assert outcome is UpdateOutcome.ACCEPTED and len(state.entries) == 2
    db.close()


async def test_the_policy_switches_the_list_the_cache_and_the_offline_rules(tmp_path) -> None:
    db = Database(tmp_path / "evsed.db")
    local_list, cache = LocalList(db), AuthCache(db, lambda: NOW)
    _, state = updated(ListState(0, {}), 1, [(CARD, BLOCKED)], full=True, max_send=5, max_length=5)
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
