"""Deciding about a token: local list, cache and backend in the order the rules say.

Rules kept here (OCPP 1.6 sections 3.5, 4.1, 4.8, 5.4; 2.0.1 C01, C05, C09-C16):
- What the station knows of a token: its local list entry while the list is on, else its cache
  entry while the cache is on (within the cache's lifetime). The list has priority, and a
  token in the (enabled) list never enters the cache.
- Tokens nobody needs to be asked about (authorization not required, or a type the backend
  vouches for itself) are accepted as they are. Online the pure rules (rules.py) say whether
  the station decides by itself or asks the backend, whose answer updates the cache; a
  question that fails (time-out, link lost) falls back to the offline rules.
- Every answer the backend gives about a token (to a question, or to a transaction message) is
  remembered: into the cache, or compared with the token's list entry; an answer that disagrees
  with the list (Accepted vs not) is a conflict, reported through ``on_conflict``. An answer a
  front end could not read completely (``cacheable=False``), or about a type the policy keeps
  out of the cache, is compared, never cached.
- A token's group: the list's or cache's, else the backend's answer to a question. An accepted
  token of the master pass group is marked a master pass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from controller.authorization.cache import AuthCache
from controller.authorization.local_list import LocalList
from controller.authorization.rules import (
    AuthorizationPolicy,
    TokenInfo,
    master_pass,
    offline_decision,
    online_decision,
)
from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus, Token

log = logging.getLogger(__name__)

Ask = Callable[[], Awaitable[TokenInfo | None]]  # asks the backend; None when the question failed


class Authorization:
    def __init__(
        self,
        local_list: LocalList | None,
        cache: AuthCache,
        policy: Callable[[], AuthorizationPolicy],
        now: Callable[[], datetime],
    ):
        self.local_list, self.cache, self.policy, self.now = local_list, cache, policy, now
        self.on_conflict: Callable[[Token], None] | None = None

    def listed(self, token: Token) -> TokenInfo | None:
        """The token's local list entry, while the list is in use."""
        if self.local_list is None or not self.policy().local_list:
            return None
        return self.local_list.get(token)

    async def known(self, token: Token) -> TokenInfo | None:
        listed = self.listed(token)
        policy = self.policy()
        if listed is not None or not policy.cache:
            return listed
        return await self.cache.get(token, policy.cache_lifetime_s)

    async def authorize(self, token: Token, ask: Ask | None, stop_groups: frozenset[str] = frozenset()) -> AuthResult:
        """Decide for ``token``; ``ask`` asks the backend (None: it cannot be asked now);
        ``stop_groups``: the groups of the transactions the token could end."""
        policy = self.policy()
        if not policy.required or token.type in policy.unasked:
            return AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.NOBODY, token.group)
        known = await self.known(token)
        by = AuthorizedBy.LOCAL_LIST if self.listed(token) is not None else AuthorizedBy.CACHE
        now = self.now()
        if ask is not None:
            decided = online_decision(known, by, now, policy, stop_groups)
            if decided is None:
                answer = await self._asked(token, ask)
                if answer is not None:  # as answered: an expiry only limits how long it is kept
                    result = AuthResult(answer.status, AuthorizedBy.BACKEND, answer.group, answer.evses,
                                        answer.priority, answer.message)  # fmt: skip
                    return master_pass(result, policy)
            else:
                return master_pass(await self._used(token, decided), policy)
        return master_pass(await self._used(token, offline_decision(known, now, policy, by)), policy)

    async def _used(self, token: Token, decided: AuthResult) -> AuthResult:
        if decided.by is AuthorizedBy.CACHE:
            await self.cache.touch(token)
        return decided

    async def group_of(self, token: Token, ask: Ask | None) -> str | None:
        """The token's group as the list or cache knows it, else as the backend answers."""
        known = await self.known(token)
        answer = await self._asked(token, ask) if known is None and ask is not None else None
        if answer is not None:
            return answer.group
        return known.group if known is not None else None

    async def _asked(self, token: Token, ask: Ask) -> TokenInfo | None:
        answer = await ask()
        if answer is not None:
            await self.remember(token, answer)
        return answer

    async def remember(self, token: Token, info: TokenInfo, *, cacheable: bool = True) -> None:
        """An answer of the backend about ``token``: into the cache, or compared with its list entry."""
        listed = self.listed(token)
        if listed is not None:
            accepted = info.status is AuthStatus.ACCEPTED
            if (listed.status_at(self.now()) is AuthStatus.ACCEPTED) != accepted and self.on_conflict:
                log.warning("%s: the backend says %s, the local list %s", token.id, info.status, listed.status)
                self.on_conflict(token)
            return
        policy = self.policy()
        if cacheable and policy.cache and token.type not in policy.uncached:
            await self.cache.put(token, info)

    async def clear_cache(self) -> None:
        await self.cache.clear()
