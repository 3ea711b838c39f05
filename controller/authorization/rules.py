"""What is known of a token and the pure decisions over it.

Rules kept here (OCPP 1.6 sections 3.5, 3.5.4; 2.0.1 C10-C15 say the same with other key names):
- ``TokenInfo``: the backend's (or the list's) answer about a token: its status, an optional
  expiry and an optional group. An Accepted answer past its expiry counts as Expired.
- Offline, a known Accepted token is accepted while ``local_authorize_offline``; a known token
  with any other status is rejected; an unknown token (or a known Accepted one while
  ``local_authorize_offline`` is off) is accepted only while ``offline_unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus


@dataclass(frozen=True)
class TokenInfo:
    status: AuthStatus
    expires_at: datetime | None = None
    group: str | None = None

    def status_at(self, now: datetime) -> AuthStatus:
        past = self.expires_at is not None and self.expires_at <= now
        return AuthStatus.EXPIRED if self.status is AuthStatus.ACCEPTED and past else self.status

    def result(self, now: datetime, by: AuthorizedBy) -> AuthResult:
        return AuthResult(self.status_at(now), by, self.group)


@dataclass(frozen=True)
class AuthorizationPolicy:
    """Which rules are on (a front end's keys): all off is "always ask the backend"."""

    local_list: bool = False  # the local list is used
    cache: bool = False  # answers are cached and used
    local_preauthorize: bool = False  # online, a known Accepted token needs no question
    local_authorize_offline: bool = False  # offline, a known Accepted token is accepted
    offline_unknown: bool = False  # offline, an unknown token is accepted


def offline_decision(
    known: TokenInfo | None, now: datetime, policy: AuthorizationPolicy, by: AuthorizedBy
) -> AuthResult:
    """The decision while the backend cannot be asked; ``by``: where ``known`` came from."""
    if known is not None:
        status = known.status_at(now)
        if status is not AuthStatus.ACCEPTED:
            return AuthResult(status, by, known.group)
        if policy.local_authorize_offline:
            return AuthResult(AuthStatus.ACCEPTED, by, known.group)
    if policy.offline_unknown:
        return AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.OFFLINE, known.group if known else None)
    return AuthResult(AuthStatus.INVALID, AuthorizedBy.OFFLINE)
