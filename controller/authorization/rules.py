"""What is known of a token and the pure decisions over it.

Rules kept here (OCPP 1.6 sections 3.5, 3.5.4; 2.0.1 C01, C10-C16 say the same with other key names):
- ``TokenInfo``: the backend's (or the list's) answer about a token: its status, an optional
  expiry, an optional group, the EVSEs it may charge at (none named: any), a charging
  priority and a message for the driver. An Accepted answer past its expiry counts as Expired.
- Online (the backend can be asked), what the station decides by itself (``online_decision``):
  a known Accepted token is accepted when ``local_preauthorize`` is on, or when it may end a
  transaction of its group (``stop_groups``); a known token of any other status is asked about
  again unless its store's ``recheck`` is off (2.0.1 DisablePostAuthorize), then it is refused
  as known; an unknown one is asked about. With ``ask_backend`` off (2.0.1
  DisableRemoteAuthorization) nothing is asked: known tokens decide, unknown ones are Unknown.
- Offline, a known Accepted token is accepted while ``local_authorize_offline``; a known token
  with any other status is rejected; an unknown token (or a known Accepted one while
  ``local_authorize_offline`` is off) is accepted only while ``offline_unknown``.
- An accepted token whose group is ``master_pass_group`` is a master pass.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthorizedBy, AuthStatus, DriverMessage, TokenType


@dataclass(frozen=True)
class TokenInfo:
    status: AuthStatus
    expires_at: datetime | None = None
    group: str | None = None
    evses: frozenset[int] = frozenset()  # where it may charge; empty: anywhere
    priority: int | None = None
    message: DriverMessage | None = None  # answered, never stored: it may be stale by the next use

    def status_at(self, now: datetime) -> AuthStatus:
        past = self.expires_at is not None and self.expires_at <= now
        return AuthStatus.EXPIRED if self.status is AuthStatus.ACCEPTED and past else self.status

    def result(self, now: datetime, by: AuthorizedBy) -> AuthResult:
        return AuthResult(self.status_at(now), by, self.group, self.evses, self.priority, self.message)


@dataclass(frozen=True)
class AuthorizationPolicy:
    """Which rules are on (a front end's keys): all off is "always ask the backend"."""

    local_list: bool = False  # the local list is used
    cache: bool = False  # answers are cached and used
    local_preauthorize: bool = False  # online, a known Accepted token needs no question
    local_authorize_offline: bool = False  # offline, a known Accepted token is accepted
    offline_unknown: bool = False  # offline, an unknown token is accepted
    required: bool = True  # False: nobody is asked, every token (and a plug-in alone) charges
    ask_backend: bool = True  # False: never ask, the list and the cache alone decide
    recheck_listed: bool = True  # online, a listed token that is not Accepted is asked about again
    recheck_cached: bool = True  # ... a cached one
    cache_lifetime_s: float | None = None  # a cache entry not updated for this long is forgotten
    master_pass_group: str | None = None
    unasked: frozenset[TokenType] = frozenset()  # types the backend vouches for itself: accepted as they are
    uncached: frozenset[TokenType] = frozenset()  # types whose answers never enter the cache


def online_decision(
    known: TokenInfo | None, by: AuthorizedBy, now: datetime, policy: AuthorizationPolicy, stop_groups: frozenset[str]
) -> AuthResult | None:
    """What the station decides without asking while it could ask; None: ask the backend.
    ``by``: where ``known`` came from (the list or the cache)."""
    if known is None:
        return None if policy.ask_backend else AuthResult(AuthStatus.UNKNOWN, AuthorizedBy.NOBODY)
    if known.status_at(now) is AuthStatus.ACCEPTED:
        stops = known.group is not None and known.group.casefold() in {g.casefold() for g in stop_groups}
        return known.result(now, by) if policy.local_preauthorize or stops or not policy.ask_backend else None
    recheck = policy.recheck_listed if by is AuthorizedBy.LOCAL_LIST else policy.recheck_cached
    return None if recheck and policy.ask_backend else known.result(now, by)


def offline_decision(
    known: TokenInfo | None, now: datetime, policy: AuthorizationPolicy, by: AuthorizedBy
) -> AuthResult:
    """The decision while the backend cannot be asked; ``by``: where ``known`` came from."""
    if known is not None:
        if known.status_at(now) is not AuthStatus.ACCEPTED:
            return known.result(now, by)
        if policy.local_authorize_offline:
            return known.result(now, by)
    if policy.offline_unknown:
        return (
            known.result(now, AuthorizedBy.OFFLINE) if known else AuthResult(AuthStatus.ACCEPTED, AuthorizedBy.OFFLINE)
        )
    return AuthResult(AuthStatus.INVALID, AuthorizedBy.OFFLINE)


def master_pass(result: AuthResult, policy: AuthorizationPolicy) -> AuthResult:
    """``result``, marked a master pass when it accepts a token of the master pass group."""
    group, master = result.group, policy.master_pass_group
    if result.accepted and group and master and group.casefold() == master.casefold():
        return replace(result, master_pass=True)
    return result
