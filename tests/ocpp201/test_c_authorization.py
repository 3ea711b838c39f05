"""Part 6 section 2.4, C Authorization: local start with the CSMS's answer, the authorization
cache and the local list online and offline, GroupId, Master Pass; and what no test case
covers: the evseId restriction, the personal message, AuthCtrlr.Enabled and
DisableRemoteAuthorization, a CSMS that cannot answer, tokens of every type and length.

The test CSMS knows VALID_TOKEN and SECOND_TOKEN (Accepted) and answers the idTokenInfo of
``ANSWERS`` for the others; a test that needs another answer changes it for itself. The cache
and the local list are emptied before each test (ClearCache, SendLocalList Full empty)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
import pytest_asyncio

from controller.core.vocabulary import TokenType
from ocpp201.harness import INVALID_TOKEN, MODULE, SECOND_TOKEN, VALID_TOKEN, Harness, require
from ocpp201.states import (
    ACCEPTED_INFO,
    authorized_local,
    connector_status,
    energy_transfer_started,
    ev_connected_post_session,
    ev_connected_pre_session,
    ev_disconnected,
    id_token_cached,
    id_token_local_auth_list,
    presented,
    start_offline_transaction,
    stop_authorized_local,
    transaction_id,
    unavailable,
)

pytestmark = MODULE
# Reconnects at once and always after 1 s, so the offline cases wait for nothing but the link.
PRESETS = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
           "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0}  # fmt: skip

UNKNOWN_TOKEN = {"idToken": "0A0B0C0D", "type": "ISO14443"}
BLOCKED_TOKEN = {"idToken": "B10C0ED1", "type": "ISO14443"}
EXPIRED_TOKEN = {"idToken": "E0A1BED1", "type": "ISO14443"}
MASTER_TOKEN = {"idToken": "0F1CE001", "type": "ISO14443"}
GROUP_TOKEN_A = {"idToken": "FA0117A1", "type": "ISO14443"}
GROUP_TOKEN_B = {"idToken": "FA0117B2", "type": "ISO14443"}
GROUP_TOKEN_INVALID = {"idToken": "FA0117C3", "type": "ISO14443"}
MASTER_GROUP = "MASTERPASS"  # <Configured masterPassGroupId>
FAMILY = {"idToken": "FAMILY-ACCOUNT", "type": "Central"}  # <Configured groupIdToken>
ANSWERS: dict[str, dict[str, Any]] = {
    INVALID_TOKEN["idToken"]: {"status": "Invalid"},
    BLOCKED_TOKEN["idToken"]: {"status": "Blocked"},
    EXPIRED_TOKEN["idToken"]: {"status": "Expired"},
    MASTER_TOKEN["idToken"]: {"status": "Accepted", "groupIdToken": {"idToken": MASTER_GROUP, "type": "Central"}},
    GROUP_TOKEN_A["idToken"]: {"status": "Accepted", "groupIdToken": FAMILY},
    GROUP_TOKEN_B["idToken"]: {"status": "Accepted", "groupIdToken": FAMILY},
    GROUP_TOKEN_INVALID["idToken"]: {"status": "Invalid", "groupIdToken": FAMILY},
}
PRE_AUTHORIZE = {"AuthCacheCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True}
OFFLINE_THRESHOLD = {"OCPPCommCtrlr.OfflineThreshold": 61}  # <Configured RetryBackOffWaitMinimum_duration> + 60


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def known_tokens(cs: Harness) -> None:
    """The test CSMS's answers as ``ANSWERS`` says; the cache and the local list empty."""
    cs.csms.config = dataclasses.replace(cs.csms.config, token_infos=dict(ANSWERS))
    assert (await cs.call("ClearCache", {}))["status"] == "Accepted"
    empty = {"versionNumber": 1, "updateType": "Full"}
    assert (await cs.call("SendLocalList", empty))["status"] == "Accepted"


def csms_answers(cs: Harness, token: dict[str, str], info: dict[str, Any]) -> None:
    """From now on the test CSMS answers ``info`` about ``token`` (Authorize, TransactionEvent)."""
    cs.csms.config.token_infos[token["idToken"]] = info


async def nothing_more(cs: Harness, action: str, since: int) -> None:
    """The station sent no ``action`` from ``since`` until now (a barrier proves it)."""
    await cs.barrier()
    assert cs.calls(action, since) == [], cs.calls(action, since)


def state(payload: dict[str, Any]) -> str | None:
    return payload["transactionInfo"].get("chargingState")


def of(tx: str) -> Any:
    return lambda p: p["transactionInfo"]["transactionId"] == tx


async def charging(cs: Harness, evse: int = 1) -> None:
    await cs.until(lambda: cs.station.view(evse).snapshot.contactor, what=f"EVSE {evse} charging")


# ---- C01 local start: the CSMS refuses ----------------------------------------------------------


async def refused_at_the_reader(cs: Harness, token: dict[str, str]) -> None:
    """EVConnectedPreSession; the token presented is asked about (step 1) and refused: no
    TransactionEvent follows, nothing charges."""
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs, token) == "rejected"
    assert (await cs.expect("Authorize", since=since))["idToken"] == token  # step 1
    await nothing_more(cs, "TransactionEvent", since)
    assert cs.station.view(1).authorization is None and not cs.station.view(1).snapshot.contactor


async def test_TC_C_02_CS(cs: Harness) -> None:
    """Local start transaction - Authorization Invalid."""
    await refused_at_the_reader(cs, INVALID_TOKEN)


async def test_TC_C_06_CS(cs: Harness) -> None:
    """Local start transaction - Authorization Blocked."""
    await refused_at_the_reader(cs, BLOCKED_TOKEN)


async def test_TC_C_07_CS(cs: Harness) -> None:
    """Local start transaction - Authorization Expired."""
    await refused_at_the_reader(cs, EXPIRED_TOKEN)


async def test_TC_C_56_CS(cs: Harness) -> None:
    """Local start transaction - Authorization Unknown."""
    await refused_at_the_reader(cs, UNKNOWN_TOKEN)


async def test_TC_C_05_CS(cs: Harness) -> None:
    """Local start transaction - Authorization invalid - Cable lock."""
    pytest.skip("not applicable: evsed's cable lock locks a plugged-in cable, it does not keep the EV from being "
                "connected before authorization (part 5 AQ-2); TC_C_02 covers the station")  # fmt: skip


async def test_TC_C_04_CS(cs: Harness) -> None:
    """Local Stop Transaction - Different idToken: another accepted token neither stops the
    transaction nor joins it. (The station's one reader serves both EVSEs; EVSE 2 is made
    Unavailable so the reader serves one, as the prerequisite asks.)"""
    await unavailable(cs, 2)
    await authorized_local(cs)
    await energy_transfer_started(cs)
    tx = await transaction_id(cs)
    since = cs.mark()
    assert await presented(cs, SECOND_TOKEN) == "rejected"  # nowhere to charge for a second driver
    assert (await cs.expect("Authorize", since=since))["idToken"] == SECOND_TOKEN  # step 1
    await nothing_more(cs, "TransactionEvent", since)
    assert cs.station.view(1).transaction.id == tx and cs.station.view(1).snapshot.contactor


# ---- C10-C12 the authorization cache ---------------------------------------------------------------


async def test_TC_C_08_CS(cs: Harness) -> None:
    """Authorization through authorization cache - Accepted: no AuthorizeRequest, energy flows."""
    require("C-49")
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs)
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs) == "started"
    started = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == VALID_TOKEN, since)
    assert started["eventType"] == "Started"  # C12.FR.02
    await energy_transfer_started(cs)
    assert cs.calls("Authorize", since) == []


async def cached_then_asked(cs: Harness, token: dict[str, str], now: dict[str, Any] | None = None) -> str:
    """A token cached with a status other than Accepted is asked about again while online
    (C10.FR.03, C12.FR.05); ``now``: what the CSMS answers this time. Returns the outcome."""
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs, token)
    if now is not None:
        csms_answers(cs, token, now)
    await ev_connected_pre_session(cs)
    since = cs.mark()
    outcome = await presented(cs, token)
    assert (await cs.expect("Authorize", since=since))["idToken"] == token  # step 1
    return outcome


async def test_TC_C_09_CS(cs: Harness) -> None:
    """Authorization through authorization cache - Invalid & Not Accepted."""
    require("C-49")
    assert await cached_then_asked(cs, INVALID_TOKEN) == "rejected"


async def test_TC_C_10_CS(cs: Harness) -> None:
    """Authorization through authorization cache - Restricted (Blocked)."""
    require("C-49")
    assert await cached_then_asked(cs, BLOCKED_TOKEN) == "rejected"


async def test_TC_C_11_CS(cs: Harness) -> None:
    """Authorization through authorization cache - Expired."""
    require("C-49")
    assert await cached_then_asked(cs, EXPIRED_TOKEN) == "rejected"


async def test_TC_C_12_CS(cs: Harness) -> None:
    """Authorization through authorization cache - Invalid & Accepted: the CSMS's new answer wins."""
    require("C-49")
    assert await cached_then_asked(cs, INVALID_TOKEN, now=ACCEPTED_INFO) == "started"
    await energy_transfer_started(cs)


async def test_TC_C_13_CS(cs: Harness) -> None:
    """Authorization through authorization cache - Accepted but cable not connected yet: no
    AuthorizeRequest; the transaction starts with the idToken once the EV is there."""
    require("C-49")
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs)
    since = cs.mark()
    assert await presented(cs) == "waiting"  # TxStartPoint PowerPathClosed: step 1 does not apply
    await ev_connected_pre_session(cs, authorized=True)
    started = await cs.expect("TransactionEvent", lambda p: p["eventType"] == "Started", since)
    assert started["idToken"] == VALID_TOKEN
    await energy_transfer_started(cs)
    assert cs.calls("Authorize", since) == []


async def offline_start_then_invalid(cs: Harness, settings: dict[str, Any]) -> tuple[str, int]:
    """C15-C18's common part: Configuration State ``settings``, the valid token cached, the EV
    connected; offline, the token is presented (no AuthorizeRequest can go) and energy flows;
    the CSMS now says Invalid; the link comes back. Returns the transactionId and the mark
    before the reconnect, once the answer about the offline Authorized event was taken."""
    await cs.set_variables({**PRE_AUTHORIZE, "AuthCtrlr.LocalAuthorizationOffline": True, **OFFLINE_THRESHOLD,
                            **settings})  # fmt: skip
    await id_token_cached(cs)
    await ev_connected_pre_session(cs)
    await cs.drop()  # step 1
    assert await presented(cs) == "started"
    await charging(cs)
    tx = cs.station.view(1).transaction.id
    csms_answers(cs, VALID_TOKEN, {"status": "Invalid"})
    reconnect = cs.mark()
    cs.accept()  # step 2
    offline_events = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and "idToken" in p, reconnect)
    assert offline_events["offline"] is True and offline_events["idToken"] == VALID_TOKEN  # step 3
    charged = await cs.expect("TransactionEvent", lambda p: of(tx)(p)
                              and p["transactionInfo"].get("chargingState") == "Charging", reconnect)  # fmt: skip
    assert charged["triggerReason"] == "ChargingStateChanged" and charged["offline"] is True
    return tx, reconnect


async def test_TC_C_15_CS(cs: Harness) -> None:
    """Authorization through authorization cache - StopTxOnInvalidId false, MaxEnergyOnInvalidId
    10 kWh: the CSMS's Invalid caps the energy; no Deauthorized, energy keeps flowing."""
    require("C-49")
    require("C-03")
    tx, reconnect = await offline_start_then_invalid(cs, {"AuthCtrlr.OfflineTxForUnknownIdEnabled": True,
                                                          "TxCtrlr.StopTxOnInvalidId": False,
                                                          "TxCtrlr.MaxEnergyOnInvalidId": 10_000})  # fmt: skip
    await cs.until(lambda: cs.station.view(1).energy_cap_wh == 10_000, what="the energy capped")  # C15.FR.07
    await cs.barrier()
    events = cs.calls("TransactionEvent", reconnect, of(tx))
    assert not [e for e in events if e["triggerReason"] == "Deauthorized"
                or e["transactionInfo"].get("chargingState") == "SuspendedEVSE"], events  # fmt: skip
    assert cs.station.view(1).snapshot.contactor  # energy flows, up to the cap


async def test_TC_C_16_CS(cs: Harness) -> None:
    """Authorization through authorization cache - StopTxOnInvalidId true: Deauthorized, the
    energy stops (TxStopPoint Authorized: the transaction ends DeAuthorized)."""
    require("C-49")
    tx, reconnect = await offline_start_then_invalid(cs, {"TxCtrlr.StopTxOnInvalidId": True,
                                                          "TxCtrlr.MaxEnergyOnInvalidId": 0})  # fmt: skip
    deauthorized = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["triggerReason"] == "Deauthorized",
                                   reconnect)  # fmt: skip  # step 5
    assert deauthorized.get("offline") is not True
    ended = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["eventType"] == "Ended", reconnect)
    assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    await cs.until(lambda: not cs.station.view(1).snapshot.contactor, what="the energy stopped")


async def test_TC_C_17_CS(cs: Harness) -> None:
    """Authorization through authorization cache - StopTxOnInvalidId false, MaxEnergyOnInvalidId
    0: energy stops at once, the transaction goes on (ChargingStateChanged SuspendedEVSE, C15.FR.06)."""
    require("C-49")
    tx, reconnect = await offline_start_then_invalid(cs, {"AuthCtrlr.OfflineTxForUnknownIdEnabled": True,
                                                          "TxCtrlr.StopTxOnInvalidId": False,
                                                          "TxCtrlr.MaxEnergyOnInvalidId": 0})  # fmt: skip
    suspended = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and state(p) == "SuspendedEVSE", reconnect)
    assert suspended["eventType"] == "Updated" and suspended["triggerReason"] == "ChargingStateChanged"
    await cs.until(lambda: not cs.station.view(1).snapshot.contactor, what="the energy stopped")
    assert cs.station.view(1).transaction.id == tx


async def test_TC_C_18_CS(cs: Harness) -> None:
    """Authorization through authorization cache - StopTxOnInvalidId true, MaxEnergyOnInvalidId
    500: stopping wins over the allowance; Deauthorized, sent online."""
    require("C-49")
    require("C-03")
    tx, reconnect = await offline_start_then_invalid(cs, {"AuthCtrlr.OfflineTxForUnknownIdEnabled": True,
                                                          "TxCtrlr.StopTxOnInvalidId": True,
                                                          "TxCtrlr.MaxEnergyOnInvalidId": 500})  # fmt: skip
    deauthorized = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["triggerReason"] == "Deauthorized",
                                   reconnect)  # fmt: skip
    assert deauthorized.get("offline", False) is False  # step 5
    await cs.until(lambda: not cs.station.view(1).snapshot.contactor, what="the energy stopped")


async def test_TC_C_57_CS(cs: Harness) -> None:
    """Authorization through authorization cache - AuthCacheDisablePostAuthorize: an Invalid
    cached token is refused without an AuthorizeRequest."""
    require("C-49")
    require("C-59")
    await cs.set_variables({**PRE_AUTHORIZE, "AuthCacheCtrlr.DisablePostAuthorize": True})
    await id_token_cached(cs, INVALID_TOKEN)
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs, INVALID_TOKEN) == "rejected"
    await nothing_more(cs, "Authorize", since)  # step 1


async def test_TC_C_32_CS(cs: Harness) -> None:
    """Store Authorization Data in the Authorization Cache - Persistent over reboot."""
    require("C-49")
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs)
    await cs.power_cycle()  # Booted
    await cs.booted_and_reported()
    since = cs.mark()
    assert await presented(cs) == "waiting"
    await ev_connected_pre_session(cs, authorized=True)
    started = await cs.expect("TransactionEvent", lambda p: p["eventType"] == "Started", since)
    assert started["idToken"] == VALID_TOKEN
    await energy_transfer_started(cs)
    assert cs.calls("Authorize", since) == []  # C10.FR.02: the cache outlived the reboot


async def test_TC_C_33_CS(cs: Harness) -> None:
    """Store Authorization Data in the Authorization Cache - Update on AuthorizationResponse: the
    first time asked, the second time the cache decides; the TransactionEventResponse's Invalid
    then goes into the cache (and invalidates the transaction)."""
    require("C-49")
    await cs.set_variables({**PRE_AUTHORIZE, "LocalAuthListCtrlr.Enabled": True})
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs) == "started"
    assert (await cs.expect("Authorize", since=since))["idToken"] == VALID_TOKEN  # step 1
    started = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == VALID_TOKEN, since)  # step 3
    assert started["triggerReason"] in ("Authorized", "CablePluggedIn") and started["eventType"] == "Started"
    await energy_transfer_started(cs)
    await stop_authorized_local(cs)
    await ev_connected_post_session(cs)
    await ev_disconnected(cs)
    await ev_connected_pre_session(cs)
    csms_answers(cs, VALID_TOKEN, {"status": "Invalid"})
    again = cs.mark()
    assert await presented(cs) == "started"
    second = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == VALID_TOKEN, again)  # step 12
    assert second["eventType"] == "Started" and cs.calls("Authorize", again) == []
    tx = second["transactionInfo"]["transactionId"]
    await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["eventType"] == "Ended"
                    and p["triggerReason"] == "Deauthorized", again)  # fmt: skip
    await cs.until(lambda: cs.station.view(1).transaction is None, what="the transaction ended")
    ev = cs.mark()
    await ev_disconnected(cs)
    await ev_connected_pre_session(cs)
    assert await presented(cs) == "rejected"  # the cache took the TransactionEventResponse's Invalid
    assert (await cs.expect("Authorize", since=ev))["idToken"] == VALID_TOKEN


async def test_TC_C_34_CS(cs: Harness) -> None:
    """Store Authorization Data in the Authorization Cache - Update on TransactionResponse
    (errata 6.2.28): the cached token starts; the TransactionEventResponse says Invalid
    (Deauthorized); presented again, it is asked about."""
    require("C-49")
    await cs.set_variables({**PRE_AUTHORIZE, "LocalAuthListCtrlr.Enabled": True, "TxCtrlr.StopTxOnInvalidId": True,
                            "TxCtrlr.MaxEnergyOnInvalidId": 0})  # fmt: skip
    await id_token_cached(cs)
    csms_answers(cs, VALID_TOKEN, {"status": "Invalid"})
    since = cs.mark()
    assert await presented(cs) == "waiting"  # step 1: the cache decides
    await ev_connected_pre_session(cs, authorized=True)
    started = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == VALID_TOKEN, since)
    tx = started["transactionInfo"]["transactionId"]
    deauthorized = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["triggerReason"] == "Deauthorized",
                                   since)  # fmt: skip  # step 2
    assert deauthorized["transactionInfo"].get("chargingState") in ("EVConnected", "SuspendedEVSE")
    ended = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["eventType"] == "Ended", since)
    assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    await cs.until(lambda: cs.station.view(1).transaction is None, what="the transaction ended")
    await ev_disconnected(cs)
    await ev_connected_pre_session(cs)
    again = cs.mark()
    assert await presented(cs) == "rejected"  # step 6
    assert (await cs.expect("Authorize", since=again))["idToken"] == VALID_TOKEN  # step 7
    assert cs.calls("Authorize", since, lambda p: p["idToken"] == VALID_TOKEN) == cs.calls("Authorize", again)


async def test_TC_C_36_CS(cs: Harness) -> None:
    """Store Authorization Data in the Authorization Cache - LocalPreAuthorize false: the cached
    token is asked about, and the CSMS's Invalid wins."""
    require("C-49")
    await cs.set_variables({"AuthCacheCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": False})
    await id_token_cached(cs)
    csms_answers(cs, VALID_TOKEN, {"status": "Invalid"})
    since = cs.mark()
    assert await presented(cs) == "rejected"
    assert (await cs.expect("Authorize", since=since))["idToken"] == VALID_TOKEN  # step 1


async def test_TC_C_37_CS(cs: Harness) -> None:
    """Clear Authorization Data in Authorization Cache - Accepted: after ClearCache the token is
    asked about again."""
    require("C-49")
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs)
    assert (await cs.call("ClearCache", {}))["status"] == "Accepted"  # step 2
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs) == "started"
    assert (await cs.expect("Authorize", since=since))["idToken"] == VALID_TOKEN  # step 5
    started = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == VALID_TOKEN, since)  # step 7
    assert started["eventType"] == "Started"
    await energy_transfer_started(cs)


async def test_TC_C_38_CS(cs: Harness) -> None:
    """Clear Authorization Data in Authorization Cache - Rejected while AuthCacheEnabled is false
    (C11.FR.04); the cache keeps its content."""
    require("C-49")
    await cs.set_variables({"AuthCtrlr.LocalPreAuthorize": True})
    await id_token_cached(cs)
    await cs.set_variables({"AuthCacheCtrlr.Enabled": False})
    assert (await cs.call("ClearCache", {}))["status"] == "Rejected"  # step 2
    await cs.set_variables({"AuthCacheCtrlr.Enabled": True})
    since = cs.mark()
    assert await presented(cs) == "waiting"
    assert cs.calls("Authorize", since) == []  # still cached
    await ev_connected_pre_session(cs, authorized=True)


async def test_TC_C_46_CS(cs: Harness) -> None:
    """Store Authorization Data in the Authorization Cache - AuthCacheLifeTime: an entry not
    updated for its lifetime is gone; the token is asked about again."""
    require("C-53")
    lifetime = 2  # <Configured TransactionDuration>
    await cs.set_variables({**PRE_AUTHORIZE, "AuthCacheCtrlr.LifeTime": lifetime})
    await id_token_cached(cs)
    cached_at = time.time()
    await ev_connected_pre_session(cs)
    await cs.until(lambda: time.time() > cached_at + lifetime, within=lifetime + 5, what="the lifetime over")  # step 1
    since = cs.mark()
    assert await presented(cs) == "started"  # step 2: Authorized (local)
    assert (await cs.expect("Authorize", since=since))["idToken"] == VALID_TOKEN


# ---- C13/C14 the local list -----------------------------------------------------------------------


async def test_TC_C_27_CS(cs: Harness) -> None:
    """Online authorization through local authorization list - Accepted: no AuthorizeRequest."""
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True})
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO))
    since = cs.mark()
    assert await presented(cs) == "waiting"  # C14.FR.02
    await ev_connected_pre_session(cs, authorized=True)
    started = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == VALID_TOKEN, since)
    assert started["eventType"] == "Started"
    await energy_transfer_started(cs)
    assert cs.calls("Authorize", since) == []


async def listed_then_asked(cs: Harness, token: dict[str, str], listed: dict[str, Any]) -> str:
    """A listed token that is not Accepted is asked about (C14.FR.03); returns the outcome."""
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True})
    await id_token_local_auth_list(cs, (token, listed))
    await ev_connected_pre_session(cs)
    since = cs.mark()
    outcome = await presented(cs, token)
    assert (await cs.expect("Authorize", since=since))["idToken"] == token  # step 1
    return outcome


async def test_TC_C_28_CS(cs: Harness) -> None:
    """Online authorization through local authorization list - Invalid & Not Accepted."""
    assert await listed_then_asked(cs, INVALID_TOKEN, {"status": "Invalid"}) == "rejected"


async def test_TC_C_29_CS(cs: Harness) -> None:
    """Online authorization through local authorization list - Restricted (Blocked)."""
    assert await listed_then_asked(cs, BLOCKED_TOKEN, {"status": "Blocked"}) == "rejected"


async def test_TC_C_30_CS(cs: Harness) -> None:
    """Online authorization through local authorization list - Expired."""
    assert await listed_then_asked(cs, EXPIRED_TOKEN, {"status": "Expired"}) == "rejected"


async def test_TC_C_31_CS(cs: Harness) -> None:
    """Online authorization through local authorization list - Invalid & Accepted: the CSMS's
    Accepted starts the transaction, energy flows."""
    csms_answers(cs, INVALID_TOKEN, ACCEPTED_INFO)
    assert await listed_then_asked(cs, INVALID_TOKEN, {"status": "Invalid"}) == "started"
    await energy_transfer_started(cs)


async def test_TC_C_58_CS(cs: Harness) -> None:
    """Online authorization through local authorization list - LocalAuthListDisablePostAuthorize:
    a listed Invalid token is refused without an AuthorizeRequest."""
    require("LA-3")
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True,
                            "LocalAuthListCtrlr.DisablePostAuthorize": True})  # fmt: skip
    await id_token_local_auth_list(cs, (INVALID_TOKEN, {"status": "Invalid"}))
    since = cs.mark()
    assert await presented(cs, INVALID_TOKEN) == "rejected"
    await nothing_more(cs, "Authorize", since)  # step 1


OFFLINE_LIST = {"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True,
                "AuthCtrlr.OfflineTxForUnknownIdEnabled": False, "AuthCtrlr.LocalAuthorizationOffline": True,
                **OFFLINE_THRESHOLD}  # fmt: skip


async def test_TC_C_21_CS(cs: Harness) -> None:
    """Offline authorization through local authorization list - Accepted: the transaction starts
    offline; presented again the token stops it; what was queued offline says so."""
    await cs.set_variables(OFFLINE_LIST)
    await id_token_local_auth_list(cs, (VALID_TOKEN, ACCEPTED_INFO))
    since = cs.mark()
    tx = await start_offline_transaction(cs)
    await cs.expect("TransactionEvent", lambda p: of(tx)(p) and "idToken" in p, since)
    await stop_authorized_local(cs)
    await ev_connected_post_session(cs)
    await ev_disconnected(cs)
    events = cs.calls("TransactionEvent", since, of(tx))
    stop = next(i for i, e in enumerate(events) if e["triggerReason"] == "StopAuthorized")  # step 1
    assert all(e.get("offline") is True for e in events[:stop]), events[:stop]
    assert events[0]["eventType"] == "Started" and events[0]["idToken"] == VALID_TOKEN


async def refused_offline_from_the_list(cs: Harness, token: dict[str, str], listed: dict[str, Any]) -> None:
    """C13.FR.02: offline, only a listed Accepted token authorizes; nothing starts, nothing is
    queued (TxStartPoint has no ParkingBayOccupancy: step 5 does not apply)."""
    await cs.set_variables(OFFLINE_LIST)
    await id_token_local_auth_list(cs, (token, listed))
    since = cs.mark()
    await cs.drop()  # step 1
    assert await presented(cs, token) == "rejected"  # step 3
    cs.accept()  # step 4
    await cs.connected()
    await nothing_more(cs, "TransactionEvent", since)
    assert cs.calls("Authorize", since) == []


async def test_TC_C_22_CS(cs: Harness) -> None:
    """Offline authorization through local authorization list - Invalid."""
    await refused_offline_from_the_list(cs, INVALID_TOKEN, {"status": "Invalid"})


async def test_TC_C_23_CS(cs: Harness) -> None:
    """Offline authorization through local authorization list - Restricted (Blocked)."""
    await refused_offline_from_the_list(cs, BLOCKED_TOKEN, {"status": "Blocked"})


async def test_TC_C_24_CS(cs: Harness) -> None:
    """Offline authorization through local authorization list - Expired."""
    await refused_offline_from_the_list(cs, EXPIRED_TOKEN, {"status": "Expired"})


async def test_TC_C_25_CS(cs: Harness) -> None:
    """Offline authorization through local authorization list - Local Authorization List >
    Authorization Cache: cached Accepted but listed Invalid, offline, with unknown tokens
    allowed: no transaction."""
    await cs.set_variables({**OFFLINE_LIST, "AuthCacheCtrlr.Enabled": True, "TxCtrlr.StopTxOnInvalidId": False,
                            "AuthCtrlr.OfflineTxForUnknownIdEnabled": True})  # fmt: skip
    await id_token_cached(cs)
    await id_token_local_auth_list(cs, (VALID_TOKEN, {"status": "Invalid"}))
    await ev_connected_pre_session(cs)
    since = cs.mark()
    await cs.drop()  # step 1
    assert await presented(cs) == "rejected"  # C13.FR.01
    cs.accept()  # step 2
    await cs.connected()
    await nothing_more(cs, "TransactionEvent", since)  # step 3
    assert cs.station.view(1).transaction is None


async def test_TC_C_26_CS(cs: Harness) -> None:
    """Offline Authorization - Unknown Id (errata 6.2.34): an unknown token starts offline
    (C15.FR.08); the CSMS's Invalid suspends the energy (StopTxOnInvalidId false,
    MaxEnergyOnInvalidId 0: C15.FR.06); the token stops the transaction."""
    require("C-02")
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True,
                            "AuthCtrlr.OfflineTxForUnknownIdEnabled": True, "AuthCtrlr.LocalAuthorizationOffline": True,
                            "TxCtrlr.MaxEnergyOnInvalidId": 0, "TxCtrlr.StopTxOnInvalidId": False})  # fmt: skip
    csms_answers(cs, VALID_TOKEN, {"status": "Invalid"})
    since = cs.mark()
    tx = await start_offline_transaction(cs)
    await cs.expect("StatusNotification", connector_status("Occupied", 1), since)  # step 1 (errata)
    queued = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and "idToken" in p, since)
    assert queued["offline"] is True
    suspended = await cs.expect("TransactionEvent", lambda p: of(tx)(p)
                                and p["transactionInfo"].get("chargingState") == "SuspendedEVSE", since)  # fmt: skip
    assert suspended["triggerReason"] == "ChargingStateChanged"
    await stop_authorized_local(cs)  # step 3
    await ev_connected_post_session(cs)
    await ev_disconnected(cs)
    offline = [e for e in cs.calls("TransactionEvent", since, of(tx)) if e.get("offline")]
    assert offline and offline[0]["eventType"] == "Started"


# ---- C09 GroupId -------------------------------------------------------------------------------


async def group_member_stops(cs: Harness, asked: bool) -> None:
    """GROUP_TOKEN_A starts and charges; GROUP_TOKEN_B (same group) stops it (StopAuthorized with
    its idToken), asked about only when the station does not know it (C09.FR.05/07)."""
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs, GROUP_TOKEN_A) == "started"
    started = await cs.expect("TransactionEvent", lambda p: p.get("idToken") == GROUP_TOKEN_A, since)  # step 1/3
    tx = started["transactionInfo"]["transactionId"]
    await energy_transfer_started(cs)
    stop = cs.mark()
    assert await presented(cs, GROUP_TOKEN_B) == "stopped"
    assert [a["idToken"] for a in cs.calls("Authorize", stop)] == ([GROUP_TOKEN_B] if asked else [])
    stopped = await cs.expect("TransactionEvent", lambda p: of(tx)(p) and p["triggerReason"] == "StopAuthorized", stop)
    assert stopped["idToken"] == GROUP_TOKEN_B  # E07.FR.02: the token that stopped it
    await ev_connected_post_session(cs)
    await ev_disconnected(cs)


async def test_TC_C_39_CS(cs: Harness) -> None:
    """Authorization by GroupId - Success: both tokens asked about, the second stops."""
    await group_member_stops(cs, asked=True)
    assert len(cs.calls("Authorize", where=lambda p: p["idToken"] == GROUP_TOKEN_A)) >= 1


async def test_TC_C_40_CS(cs: Harness) -> None:
    """Authorization by GroupId - Success with Local Authorization List: nobody asked."""
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True})
    group = ANSWERS[GROUP_TOKEN_A["idToken"]]
    await id_token_local_auth_list(cs, (GROUP_TOKEN_A, group), (GROUP_TOKEN_B, group))
    since = cs.mark()
    await group_member_stops(cs, asked=False)
    assert cs.calls("Authorize", since) == []


async def test_TC_C_41_CS(cs: Harness) -> None:
    """Authorization by GroupId - Success with Authorization Cache: nobody asked."""
    require("C-49")
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs, GROUP_TOKEN_A)
    await id_token_cached(cs, GROUP_TOKEN_B)
    since = cs.mark()
    await group_member_stops(cs, asked=False)
    assert cs.calls("Authorize", since) == []


async def group_member_not_accepted(cs: Harness, asked_first: bool) -> None:
    """GROUP_TOKEN_A charges; GROUP_TOKEN_INVALID (same group, Invalid) is asked about and stops
    nothing (C09.FR.11)."""
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await presented(cs, GROUP_TOKEN_A) == "started"
    assert bool(cs.calls("Authorize", since)) is asked_first
    await energy_transfer_started(cs)
    tx = await transaction_id(cs)
    stop = cs.mark()
    assert await presented(cs, GROUP_TOKEN_INVALID) == "rejected"
    assert (await cs.expect("Authorize", since=stop))["idToken"] == GROUP_TOKEN_INVALID
    await nothing_more(cs, "TransactionEvent", stop)
    assert cs.station.view(1).transaction.id == tx and cs.station.view(1).snapshot.contactor


async def test_TC_C_42_CS(cs: Harness) -> None:
    """Authorization by GroupId - Not stopped by GroupId (an Invalid member)."""
    await group_member_not_accepted(cs, asked_first=True)


async def test_TC_C_43_CS(cs: Harness) -> None:
    """Authorization by GroupId - Invalid status with Local Authorization List."""
    await cs.set_variables({"LocalAuthListCtrlr.Enabled": True, "AuthCtrlr.LocalPreAuthorize": True})
    await id_token_local_auth_list(cs, (GROUP_TOKEN_A, ANSWERS[GROUP_TOKEN_A["idToken"]]),
                                   (GROUP_TOKEN_INVALID, ANSWERS[GROUP_TOKEN_INVALID["idToken"]]))  # fmt: skip
    await group_member_not_accepted(cs, asked_first=False)


async def test_TC_C_44_CS(cs: Harness) -> None:
    """Authorization by GroupId - Invalid status with Authorization Cache."""
    require("C-49")
    await cs.set_variables({**PRE_AUTHORIZE, "AuthCacheCtrlr.DisablePostAuthorize": False})
    await id_token_cached(cs, GROUP_TOKEN_A)
    await id_token_cached(cs, GROUP_TOKEN_INVALID)
    await group_member_not_accepted(cs, asked_first=False)


# ---- C16 Master Pass -------------------------------------------------------------------------------


async def test_TC_C_45_CS(cs: Harness) -> None:
    """Authorization by GroupId - Master pass - Not able to start transaction (C16.FR.03)."""
    require("C-08")
    await cs.set_variables({"AuthCtrlr.MasterPassGroupId": MASTER_GROUP})
    since = cs.mark()
    assert await presented(cs, MASTER_TOKEN) == "rejected"
    assert (await cs.expect("Authorize", since=since))["idToken"] == MASTER_TOKEN  # step 1
    await ev_connected_pre_session(cs)  # step 3
    await nothing_more(cs, "TransactionEvent", since)  # step 4
    assert cs.station.view(1).authorization is None


async def test_TC_C_49_CS(cs: Harness) -> None:
    """Stop Transaction with a Master Pass - Without UI: every transaction ends, MasterPass."""
    require("C-08")
    await cs.set_variables({"AuthCtrlr.MasterPassGroupId": MASTER_GROUP})
    await authorized_local(cs, VALID_TOKEN)
    await energy_transfer_started(cs, 1)
    await authorized_local(cs, SECOND_TOKEN)
    await energy_transfer_started(cs, 2)
    transactions = [await transaction_id(cs, evse) for evse in (1, 2)]
    since = cs.mark()
    assert await presented(cs, MASTER_TOKEN) == "stopped"
    assert (await cs.expect("Authorize", since=since))["idToken"] == MASTER_TOKEN  # step 1
    for tx in transactions:  # step 3
        ended = await cs.expect("TransactionEvent", lambda p, t=tx: of(t)(p) and p["eventType"] == "Ended", since)
        assert ended["transactionInfo"]["stoppedReason"] == "MasterPass"
        told = [e for e in cs.calls("TransactionEvent", since, of(tx)) if "idToken" in e]
        assert all(e["idToken"] == MASTER_TOKEN for e in told), told
    for evse in (1, 2):
        await ev_disconnected(cs, evse)


async def test_TC_C_47_CS(cs: Harness) -> None:
    """Stop Transaction with a Master Pass - With UI - All transactions (no UI: TC_C_49 instead)."""
    require("C-07")


async def test_TC_C_48_CS(cs: Harness) -> None:
    """Stop Transaction with a Master Pass - With UI - Specific transactions (no UI: TC_C_49 instead)."""
    require("C-07")


# ---- beyond the test cases ----------------------------------------------------------------------


async def test_an_evse_restriction_keeps_the_token_to_its_evses(cs: Harness) -> None:
    """idTokenInfo.evseId [2] (C01.FR.21): an EV waits on EVSE 1, yet the token charges on EVSE 2 only."""
    csms_answers(cs, VALID_TOKEN, {"status": "Accepted", "evseId": [2]})
    await ev_connected_pre_session(cs, 1)
    assert await presented(cs) == "waiting"
    assert cs.station.view(1).authorization is None and cs.station.view(2).authorization is not None
    cs.plug_in(2)
    await charging(cs, 2)
    assert cs.station.view(1).transaction is None


async def test_the_personal_message_and_the_priority_go_with_the_authorization(cs: Harness) -> None:
    message = {"format": "UTF8", "content": "Guten Tag, noch 12 EUR Guthaben"}
    csms_answers(cs, VALID_TOKEN, {"status": "Accepted", "language1": "de", "personalMessage": message,
                                   "chargingPriority": 5})  # fmt: skip
    await ev_connected_pre_session(cs)
    assert await presented(cs) == "started"
    auth = cs.station.view(1).authorization
    assert (auth.message.content, auth.message.format, auth.message.language) == (message["content"], "UTF8", "de")
    assert auth.priority == 5


async def test_authorization_disabled_charges_without_asking(cs: Harness) -> None:
    """AuthCtrlr.Enabled false: a plug-in alone charges (NoAuthorization), a token is taken as
    it is; nobody is asked."""
    await cs.set_variables({"AuthCtrlr.Enabled": False})
    since = cs.mark()
    await ev_connected_pre_session(cs)
    started = await cs.expect("TransactionEvent", lambda p: p["eventType"] == "Started", since)
    assert started["idToken"] == {"idToken": "", "type": "NoAuthorization"}
    await charging(cs)
    assert await presented(cs, UNKNOWN_TOKEN) == "waiting"  # for an EV on EVSE 2
    cs.plug_in(2)
    await cs.until(lambda: cs.station.view(2).transaction is not None, what="its transaction on EVSE 2")
    assert cs.station.view(2).transaction.token.id == UNKNOWN_TOKEN["idToken"]
    assert cs.calls("Authorize", since) == []


async def test_remote_authorization_disabled_asks_nobody(cs: Harness) -> None:
    """DisableRemoteAuthorization: a cached token decides even without LocalPreAuthorize; an
    unknown one is refused; no AuthorizeRequest goes."""
    await cs.set_variables(PRE_AUTHORIZE)
    await id_token_cached(cs)
    await cs.set_variables({"AuthCtrlr.DisableRemoteAuthorization": True, "AuthCtrlr.LocalPreAuthorize": False})
    since = cs.mark()
    assert await presented(cs, UNKNOWN_TOKEN) == "rejected"
    assert await presented(cs) == "waiting"
    await nothing_more(cs, "Authorize", since)
    await ev_connected_pre_session(cs, authorized=True)


async def test_a_csms_that_cannot_answer_leaves_the_offline_rules(cs: Harness) -> None:
    """An AuthorizeRequest answered with a CALLERROR is a question that failed: the offline rules
    decide (unknown token: OfflineTxForUnknownIdEnabled)."""
    cs.csms.fail_next["Authorize"] = 1
    assert await presented(cs, UNKNOWN_TOKEN) == "rejected"
    await cs.set_variables({"AuthCtrlr.OfflineTxForUnknownIdEnabled": True})
    csms_answers(cs, UNKNOWN_TOKEN, ACCEPTED_INFO)  # what it says about the transaction's token later
    cs.csms.fail_next["Authorize"] = 1
    assert await presented(cs, UNKNOWN_TOKEN) == "waiting"
    assert cs.station.station_view().pending is not None
    cs.plug_in(1)  # the waiting token takes the EV and is the transaction's
    await charging(cs)


@pytest.mark.parametrize("kind", [t for t in TokenType if t not in (TokenType.CENTRAL, TokenType.NO_AUTHORIZATION)])
async def test_a_remote_start_asks_about_a_token_of_any_type_with_the_longest_id(cs: Harness, kind) -> None:
    token = {"idToken": "R" * 36, "type": kind.value}
    csms_answers(cs, token, ACCEPTED_INFO)
    since = cs.mark()
    request = {"idToken": token, "remoteStartId": 7, "evseId": 1}
    assert (await cs.call("RequestStartTransaction", request))["status"] == "Accepted"
    assert (await cs.expect("Authorize", since=since))["idToken"] == token
    await cs.until(lambda: cs.station.view(1).authorization is not None, what="authorized")
    started = await ev_connected_pre_session(cs, authorized=True)
    assert started is not None and started["idToken"] == token


async def test_a_central_token_is_never_asked_about(cs: Harness) -> None:
    """C05.FR.01/02: a remote start with a Central token needs no AuthorizeRequest, and its
    idTokenInfo never enters the cache."""
    token = {"idToken": "CENTRAL-ACCOUNT-1", "type": "Central"}
    since = cs.mark()
    assert (await cs.call("RequestStartTransaction", {"idToken": token, "remoteStartId": 8, "evseId": 1}))[
        "status"
    ] == "Accepted"
    await cs.until(lambda: cs.station.view(1).authorization is not None, what="authorized")
    await ev_connected_pre_session(cs, authorized=True)
    await nothing_more(cs, "Authorize", since)
    assert cs.frontend.authorizer.engine.cache.count == 0
