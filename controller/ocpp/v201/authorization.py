"""Who may charge when the CSMS decides (``[charging] authorize = "ocpp"``): the station's
authorization engine (controller/authorization/) with the device model's rules, Authorize
(part 2 C01), ClearCache (C11) and the idTokenInfo of TransactionEventResponses (C10, C12, C15).

Rules kept here:
- The engine's policy is read from the device model at every decision: AuthCtrlr.Enabled
  (false: nobody is asked, a plug-in alone charges), LocalPreAuthorize,
  LocalAuthorizationOffline, OfflineTxForUnknownIdEnabled, DisableRemoteAuthorization,
  MasterPassGroupId; AuthCacheCtrlr Enabled, LifeTime, DisablePostAuthorize;
  LocalAuthListCtrlr Enabled, DisablePostAuthorize. A controller the station does not declare
  counts as off.
- Central and NoAuthorization tokens are accepted as they are and never cached (C05.FR.01/02).
- The CSMS is asked with AuthorizeRequest only while the registration is Accepted and the
  link is up; a question that fails (no answer, a CALLERROR, an answer the schema refuses)
  falls back to the offline rules. Every answer is remembered (cache, or compared with the
  local list).
- ClearCache: Rejected while AuthCacheCtrlr.Enabled is false (C11.FR.04), else the cache is
  emptied and Accepted.
- A TransactionEventResponse's idTokenInfo is remembered like an Authorize answer (C10.FR.05).
  When it is about the token of the transaction, which still runs: its group joins the
  transaction; not Accepted, the core invalidates the token (it stops or caps the transaction
  as StopTxOnInvalidId / MaxEnergyOnInvalidId say: C12, C15.FR.03-07), unless nobody is
  authorized here (AuthCtrlr.Enabled false) or the token is NoAuthorization, which the CSMS
  cannot reject (C02).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.authorization.engine import Ask, Authorization
from controller.authorization.rules import AuthorizationPolicy, TokenInfo
from controller.core.authorizer import AuthResult
from controller.core.vocabulary import AuthStatus, Token, TokenType
from controller.ocpp.link import CallFailed, Link
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.tokens import id_token, token_info, token_of

if TYPE_CHECKING:
    from controller.core.station import Station

log = logging.getLogger(__name__)

Payload = dict[str, Any]
VOUCHED = frozenset({TokenType.CENTRAL, TokenType.NO_AUTHORIZATION})  # the CSMS's own: never asked, never cached
# The effects the policy reads at every decision (the device model's rows that drive them).
EFFECTS = frozenset({
    "authorization_enabled", "offline_tx_for_unknown_id", "local_authorize_offline", "local_pre_authorize",
    "master_pass_group_id", "disable_remote_authorization", "auth_cache_enabled", "auth_cache_life_time",
    "auth_cache_policy", "auth_cache_disable_post_authorize", "local_auth_list_enabled",
    "local_auth_list_disable_post_authorize",
})  # fmt: skip


def policy(model: DeviceModel) -> AuthorizationPolicy:
    def on(address: str, absent: bool = False) -> bool:
        return model.value(address) is True if address in model.inventory else absent

    lifetime = model.value("AuthCacheCtrlr.LifeTime") if "AuthCacheCtrlr.LifeTime" in model.inventory else None
    master = model.value("AuthCtrlr.MasterPassGroupId")
    return AuthorizationPolicy(
        local_list=on("LocalAuthListCtrlr.Enabled"),
        cache=on("AuthCacheCtrlr.Enabled"),
        local_preauthorize=on("AuthCtrlr.LocalPreAuthorize"),
        local_authorize_offline=on("AuthCtrlr.LocalAuthorizationOffline"),
        offline_unknown=on("AuthCtrlr.OfflineTxForUnknownIdEnabled"),
        required=on("AuthCtrlr.Enabled", absent=True),
        ask_backend=not on("AuthCtrlr.DisableRemoteAuthorization"),
        recheck_listed=not on("LocalAuthListCtrlr.DisablePostAuthorize"),
        recheck_cached=not on("AuthCacheCtrlr.DisablePostAuthorize"),
        cache_lifetime_s=float(lifetime) if isinstance(lifetime, int) else None,
        master_pass_group=master if isinstance(master, str) and master else None,
        unasked=VOUCHED,
        uncached=VOUCHED,
    )


class CsmsAuthorizer:
    """The station's authorizer and the C block's handlers."""

    def __init__(self, engine: Authorization, link: Link, accepted: asyncio.Event, station: Station):
        self.engine, self.link, self.accepted, self.station = engine, link, accepted, station

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload]]]:
        return {"ClearCache": self.clear_cache}

    @property
    def free_vend(self) -> bool:
        return not self.engine.policy().required

    async def authorize(self, token: Token, *, stop_groups: frozenset[str] = frozenset()) -> AuthResult:
        return await self.engine.authorize(token, self._asker(token), stop_groups)

    def _asker(self, token: Token) -> Ask | None:
        """Asks the CSMS about ``token`` (AuthorizeRequest); None while it cannot be asked."""

        async def ask() -> TokenInfo | None:
            try:
                response = await self.link.call("Authorize", {"idToken": id_token(token)})
            except CallFailed as exc:
                log.info("Authorize %s failed: %s", token.id, exc)
                return None
            info, cacheable = token_info(response["idTokenInfo"])
            await self.engine.remember(token, info, cacheable=cacheable)
            return info

        return ask if self.accepted.is_set() and self.link.connected.is_set() else None

    async def clear_cache(self, _payload: Payload) -> Payload:
        if not self.engine.policy().cache:
            return {"status": "Rejected"}
        await self.engine.clear_cache()
        log.info("authorization cache cleared")
        return {"status": "Accepted"}

    async def answered(self, transaction_id: str, presented: Payload, answer: Payload) -> None:
        """A TransactionEventResponse's idTokenInfo about the idToken its request carried."""
        token = token_of(presented)
        info, cacheable = token_info(answer)
        await self.engine.remember(token, info, cacheable=cacheable)
        tx = self.station.transaction(transaction_id)
        if tx is None or tx.token is None or not tx.token.same(token):
            return
        policy = self.engine.policy()
        if info.status is not AuthStatus.ACCEPTED and policy.required and token.type is not TokenType.NO_AUTHORIZATION:
            log.info("transaction %s: idTokenInfo %s", transaction_id, info.status.value)
            self.station.invalidate_token(transaction_id)
        elif info.group:
            await self.station.set_group(transaction_id, info.group)
