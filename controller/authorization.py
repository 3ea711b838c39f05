"""Who may charge: the station-side decision, before any protocol is involved.

Rules kept here:
- ``authorize = "any"``: every presented token is accepted, and a plug-in with no
  token starts a free-vend session under ``FREE_VEND_ID_TAG``.
- ``authorize = "local"``: only the configured tokens are accepted.
- Id tags compare case-insensitively (OCPP 1.6 IdToken and 2.0.1 idToken are CiStrings).
- Protocol front ends replace the ``Authorizer`` of the station with their own
  (CSMS, local list, cache); the station only asks ``authorize(id_tag)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

FREE_VEND_ID_TAG = "FreeVend"


def same_token(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


@dataclass(frozen=True)
class AuthResult:
    accepted: bool
    status: str = "Accepted"  # OCPP AuthorizationStatus wording
    parent_id_tag: str | None = None


class Authorizer(Protocol):
    free_vend: bool

    async def authorize(self, id_tag: str) -> AuthResult: ...


class ConfiguredAuthorizer:
    def __init__(self, mode: str, tokens: tuple[str, ...]):
        self.free_vend = mode == "any"
        self._tokens = frozenset(t.casefold() for t in tokens)

    async def authorize(self, id_tag: str) -> AuthResult:
        if self.free_vend or id_tag.casefold() in self._tokens:
            return AuthResult(True)
        return AuthResult(False, "Invalid")
