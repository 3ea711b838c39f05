"""IdTokenType and IdTokenInfoType on the wire, as the core's tokens and the authorization
engine's token information (part 2 2.27 IdTokenType, 2.28 IdTokenInfoType, C01.FR.25).

Rules kept here:
- An idToken is the core's ``Token``: its id and its type (IdTokenEnumType values are the
  core's ``TokenType`` values); two are the same when both match, the id ignoring case;
  ``additionalInfo`` takes no part (C01.FR.25). A groupIdToken is the token's group (its id).
- idTokenInfo: status, cacheExpiryDateTime (the expiry), groupIdToken, evseId (where it may
  charge), chargingPriority, personalMessage (its language, else language1). The schema has
  checked the shapes; a cacheExpiryDateTime that is not a date-time (the CSMS's responses are
  not format-checked) leaves the answer readable but not cacheable.
"""

from __future__ import annotations

import logging
from typing import Any

from controller.authorization.rules import TokenInfo
from controller.clock import parse_time
from controller.core.vocabulary import AuthStatus, DriverMessage, Token, TokenType

log = logging.getLogger(__name__)

Payload = dict[str, Any]


def token_of(id_token: Payload, group: Payload | None = None) -> Token:
    return Token(id_token["idToken"], TokenType(id_token["type"]), group["idToken"] if group else None)


def id_token(token: Token) -> Payload:
    return {"idToken": token.id, "type": token.type.value}


def token_info(info: Payload) -> tuple[TokenInfo, bool]:
    """An idTokenInfo as the engine's ``TokenInfo``, and whether it may be cached."""
    expiry, cacheable = info.get("cacheExpiryDateTime"), True
    try:
        expires_at = parse_time(expiry, assume_utc=True) if expiry else None
    except ValueError as exc:
        log.warning("idTokenInfo not cacheable: %s", exc)
        expires_at, cacheable = None, False
    group = info.get("groupIdToken")
    message = info.get("personalMessage")
    shown = None
    if message is not None:
        shown = DriverMessage(message["content"], message["format"], message.get("language") or info.get("language1"))
    evses = frozenset(info.get("evseId") or ())
    parsed = TokenInfo(AuthStatus(info["status"]), expires_at, group["idToken"] if group else None, evses,
                       info.get("chargingPriority"), shown)  # fmt: skip
    return parsed, cacheable
