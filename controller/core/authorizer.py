"""Who may charge: the question the station asks, and its answer without a backend.

Rules kept here:
- The station asks its ``Authorizer`` about every presented token (``authorize(token)``); a
  front end replaces it with its own (backend, local list, cache: controller/authorization/).
  ``stop_groups`` are the groups of the transactions the token could end: a token the station
  knows (valid) to be in one of them needs nobody's answer.
- An answer may restrict where the token charges (``evses``, empty: anywhere), carry a charging
  priority and a message for the driver, and say the token is a master pass (it ends every
  transaction and starts none).
- ``free_vend``: a plug-in with no token starts charging under ``FREE_VEND``.
- ``ConfiguredAuthorizer``: ``authorize = "any"`` accepts every token and is free vend;
  ``"local"`` accepts the configured ids (in any letter case, of any token type).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from controller.core.vocabulary import AuthorizedBy, AuthStatus, DriverMessage, Token


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    by: AuthorizedBy
    group: str | None = None  # the token's group, when the answer names it
    evses: frozenset[int] = frozenset()  # the EVSEs it may charge at; empty: any
    priority: int | None = None  # its charging priority, when the answer names one
    message: DriverMessage | None = None
    master_pass: bool = False  # its group is the master pass group: it stops, never starts

    @property
    def accepted(self) -> bool:
        return self.status is AuthStatus.ACCEPTED


class Authorizer(Protocol):
    @property
    def free_vend(self) -> bool: ...

    async def authorize(self, token: Token, *, stop_groups: frozenset[str] = frozenset()) -> AuthResult: ...


class ConfiguredAuthorizer:
    def __init__(self, mode: str, ids: tuple[str, ...]):
        self._free_vend = mode == "any"
        self._ids = frozenset(i.casefold() for i in ids)

    @property
    def free_vend(self) -> bool:
        return self._free_vend

    async def authorize(self, token: Token, *, stop_groups: frozenset[str] = frozenset()) -> AuthResult:
        if self._free_vend or token.id.casefold() in self._ids:
            return AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.CONFIGURED)
        return AuthResult(AuthStatus.INVALID, AuthorizedBy.CONFIGURED)
