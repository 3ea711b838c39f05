"""Deciding about a token: local list, cache and backend in the order the rules say.

Rules kept here (OCPP 1.6 sections 3.5, 4.1, 4.8, 5.4; 2.0.1 C01, C10-C15):
- What the station knows of a token: its local list entry while the list is on, else its cache
  entry while the cache is on. The list has priority, and a token in the (enabled) list never
  enters the cache.
- Online: with local pre-authorization a known Accepted token is accepted without asking; else
  the backend decides and its answer updates the cache. A question that fails (time-out, link
  lost) falls back to the offline rules (controller/authorization/rules.py).
- Every answer the backend gives about a token (to a question, or to a transaction message) is
  remembered: into the cache, or compared with the token's list entry; an answer that disagrees
  with the list (Accepted vs not) is a conflict, reported through ``on_conflict``. An answer a
  front end could not read completely (``cacheable=False``) is compared, never cached.
- A token's group: the list's or cache's, else the backend's answer to a question.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from controller.authorization.cache import AuthCache
from controller.authorization.local_list import LocalList
from controller.authorization.rules import AuthorizationPolicy, TokenInfo, offline_decision
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
        if listed is not None or not self.policy().cache:
            return listed
        return await self.cache.get(token)

    async def authorize(self, token: Token, ask: Ask | None) -> AuthResult:
        """Decide for ``token``; ``ask`` asks the backend (None: it cannot be asked now)."""
        known = await self.known(token)
        by = AuthorizedBy.LOCAL_LIST if self.listed(token) is not None else AuthorizedBy.CACHE
        now, policy = self.now(), self.policy()
        if ask is not None:
            if known is not None and known.status_at(now) is AuthStatus.ACCEPTED and policy.local_preauthorize:
                return known.result(now, by)
            answer = await self._asked(token, ask)
            if answer is not None:
                return AuthResult(answer.status, AuthorizedBy.BACKEND, answer.group)
        return offline_decision(known, now, policy, by)

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
        if cacheable and self.policy().cache:
            await self.cache.put(token, info)

    async def clear_cache(self) -> None:
        await self.cache.clear()
