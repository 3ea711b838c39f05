"""Who may charge: the question the station asks, and its answer without a backend.

Rules kept here:
- The station asks its ``Authorizer`` about every presented token (``authorize(token)``); a
  front end replaces it with its own (backend, local list, cache: controller/authorization/).
- ``free_vend``: a plug-in with no token starts charging under ``FREE_VEND``.
- ``ConfiguredAuthorizer``: ``authorize = "any"`` accepts every token and is free vend;
  ``"local"`` accepts the configured ids (in any letter case, of any token type).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from controller.core.vocabulary import AuthorizedBy, AuthStatus, Token


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    by: AuthorizedBy
    group: str | None = None  # the token's group, when the answer names it

    @property
    def accepted(self) -> bool:
        return self.status is AuthStatus.ACCEPTED


class Authorizer(Protocol):
    @property
    def free_vend(self) -> bool: ...

    async def authorize(self, token: Token) -> AuthResult: ...


class ConfiguredAuthorizer:
    def __init__(self, mode: str, ids: tuple[str, ...]):
        self._free_vend = mode == "any"
        self._ids = frozenset(i.casefold() for i in ids)

    @property
    def free_vend(self) -> bool:
        return self._free_vend

    async def authorize(self, token: Token) -> AuthResult:
        if self._free_vend or token.id.casefold() in self._ids:
            return AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.CONFIGURED)
        return AuthResult(AuthStatus.INVALID, AuthorizedBy.CONFIGURED)
