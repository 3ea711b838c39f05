"""Who may charge when the CSMS decides (``[charging] authorize = "ocpp"``): Authorize (part 2
C01) as the station's authorizer.

Rules kept here:
- A token is asked about with AuthorizeRequest (idToken with its type; NoAuthorization tokens
  need nobody's answer and are Accepted); idTokenInfo.status is the answer, its groupIdToken
  the token's group.
- While the CSMS cannot be asked (not Accepted, not connected, no answer) the token is
  Invalid: the offline rules (local list, cache, LocalAuthorizeOffline,
  OfflineTxForUnknownIdEnabled) are the authorization block's to add.
- Nobody charges unasked: no free vend.
"""

from __future__ import annotations

import asyncio
import logging

from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus, Token, TokenType
from controller.ocpp.link import CallFailed, Link

log = logging.getLogger(__name__)


class CsmsAuthorizer:
    def __init__(self, link: Link, accepted: asyncio.Event):
        self.link, self.accepted = link, accepted

    @property
    def free_vend(self) -> bool:
        return False

    async def authorize(self, token: Token, *, stop_groups: frozenset[str] = frozenset()) -> AuthResult:
        if token.type is TokenType.NO_AUTHORIZATION:
            return AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.NOBODY)
        if not (self.accepted.is_set() and self.link.connected.is_set()):
            return AuthResult(AuthStatus.INVALID, AuthorizedBy.OFFLINE)
        try:
            response = await self.link.call("Authorize", {"idToken": {"idToken": token.id, "type": token.type.value}})
        except CallFailed as exc:
            log.info("Authorize %s failed: %s", token.id, exc)
            return AuthResult(AuthStatus.INVALID, AuthorizedBy.OFFLINE)
        info = response["idTokenInfo"]
        group = (info.get("groupIdToken") or {}).get("idToken")
        return AuthResult(AuthStatus(info["status"]), AuthorizedBy.BACKEND, group)
