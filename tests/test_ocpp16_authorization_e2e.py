"""OCPP 1.6 local authorization end to end: SendLocalList / GetLocalListVersion from the bench CSMS
over a real websocket, offline starts from the list with the CSMS link dropped through the local
API, LocalPreauthorize, the cache filled by StartTransaction.conf, MaxEnergyOnInvalidId, and a
group member's token stopping a session. Tokens are swiped on the simulated reader."""

from __future__ import annotations

import aiohttp
import pytest
from ocpp.exceptions import OccurenceConstraintViolationError, PropertyConstraintViolationError
from ocpp_bench import EV, until, v16_status

from controller.core.vocabulary import TokenSource
from controller.ocpp.v16.idtag import token

ACCEPTED = {"status": "Accepted"}


def entry(tag: str, status: str | None = "Accepted", **info: str) -> dict:
    return {"idTag": tag, **({"idTagInfo": {"status": status, **info}} if status else {})}


def send(version: int, kind: str, *entries: dict) -> dict:
    return {"listVersion": version, "updateType": kind, "localAuthorizationList": list(entries)}


async def link(daemon, action: str) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{daemon.api.port}/api/ocpp/{action}"
    async with aiohttp.ClientSession() as http, http.post(url) as r:
        assert r.status == 200
    await until(lambda: daemon.ocpp.link.connected.is_set() == (action == "connect"))


async def test_send_local_list_versions_and_refusals(bench):
    await bench.start()
    await bench.wait_status(1, "Available")
    assert await bench.call("GetLocalListVersion", {}) == {"listVersion": 0}
    assert await bench.call("SendLocalList", send(4, "Full", entry("A"), entry("B", "Blocked"))) == ACCEPTED
    assert await bench.call("GetLocalListVersion", {}) == {"listVersion": 4}
    assert await bench.call("SendLocalList", send(4, "Differential", entry("C"))) == {"status": "VersionMismatch"}
    assert await bench.call("SendLocalList", send(5, "Differential", entry("C"), entry("A", None))) == ACCEPTED
    too_many = [entry(f"T{i}") for i in range(101)]  # SendLocalListMaxLength = 100
    assert await bench.call("SendLocalList", send(6, "Full", *too_many)) == {"status": "Failed"}
    with pytest.raises(OccurenceConstraintViolationError):
        await bench.call("SendLocalList", send(6, "Differential", entry("D"), entry("d")))
    with pytest.raises(PropertyConstraintViolationError):
        await bench.call("SendLocalList", send(0, "Full"))
    assert await bench.call("GetLocalListVersion", {}) == {"listVersion": 5}  # refusals changed nothing
    assert bench.daemon.ocpp.authorization.local_list.get(token("c")) is not None
    assert await bench.call("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"}) == ACCEPTED
    assert await bench.call("SendLocalList", send(7, "Full")) == {"status": "NotSupported"}
    assert await bench.call("GetLocalListVersion", {}) == {"listVersion": 5}
    # 5.10: an empty list answers 0, however it got empty.
    assert await bench.call("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "true"}) == ACCEPTED
    assert await bench.call("SendLocalList", send(6, "Differential", entry("B", None), entry("C", None))) == ACCEPTED
    assert await bench.call("GetLocalListVersion", {}) == {"listVersion": 0}
    assert await bench.call("SendLocalList", send(9, "Full", entry("E"))) == ACCEPTED
    assert await bench.call("SendLocalList", send(10, "Full")) == ACCEPTED
    assert await bench.call("GetLocalListVersion", {}) == {"listVersion": 0}
    assert bench.csms.callerrors == 2


async def test_offline_start_from_the_list_then_the_csms_disagrees(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    # LISTED is unknown to the CSMS; the list says Accepted. BLOCKED is listed as Blocked.
    payload = send(1, "Full", entry("LISTED", parentIdTag="FLEET"), entry("BLOCKED", "Blocked"))
    assert await bench.call("SendLocalList", payload) == ACCEPTED
    assert await bench.call("ChangeConfiguration", {"key": "AllowOfflineTxForUnknownId", "value": "true"}) == ACCEPTED
    await link(daemon, "disconnect")
    sim.plug_in(1, **EV)
    # Listed and not Accepted: refused even with AllowOfflineTxForUnknownId.
    assert (await daemon.station.present_token(token("BLOCKED"), TokenSource.API)).outcome == "rejected"
    sim.swipe("listed")  # case-insensitive
    await until(lambda: daemon.station.view(1).transaction is not None)
    assert daemon.station.view(1).transaction.token.group == "FLEET"
    await link(daemon, "connect")
    await bench.wait(lambda c: c.received["StartTransaction"] >= 1)
    assert bench.payloads("StartTransaction")[0]["idTag"] == "listed"
    # The CSMS answers Invalid: a LocalListConflict on connector 0, and the session ends DeAuthorized.
    await bench.wait(
        lambda _c: any(p["errorCode"] == "LocalListConflict" for p in bench.payloads("StatusNotification"))
    )
    conflict = next(p for p in bench.payloads("StatusNotification") if p["errorCode"] == "LocalListConflict")
    assert conflict["connectorId"] == 0
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    assert bench.payloads("StopTransaction")[0]["reason"] == "DeAuthorized"
    assert bench.payloads("Authorize") == []  # the list decided, nothing was asked


async def test_preauthorized_start_kept_with_max_energy_on_invalid_id(bench):
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    for key, value in [("LocalPreauthorize", "true"), ("StopTransactionOnInvalidId", "false"),
                       ("MaxEnergyOnInvalidId", "5")]:  # fmt: skip
        assert await bench.call("ChangeConfiguration", {"key": key, "value": value}) == ACCEPTED
    assert await bench.call("SendLocalList", send(1, "Full", entry("LISTED"))) == ACCEPTED
    sim.plug_in(1, **EV)
    sim.swipe("LISTED")
    await bench.wait_status(1, "Charging")
    assert bench.payloads("Authorize") == []  # LocalPreauthorize: no waiting for the CSMS
    # StartTransaction.conf says Invalid; the session stays, 5 Wh in all, then nothing is offered.
    await bench.wait_status(1, "SuspendedEVSE")
    session = daemon.station.view(1).transaction
    assert session is not None and session.energy_wh >= 5.0
    assert bench.csms.received["StopTransaction"] == 0
    sim.swipe("LISTED")
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    assert bench.payloads("StopTransaction")[0]["reason"] == "Local"


async def test_cache_from_start_transaction_and_a_group_member_stops(bench):
    bench.csms.config.parents = {"TAG1": "FAMILY", "04A2B3C4": "FAMILY"}
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    sim.plug_in(1, **EV)
    sim.swipe("TAG1")
    await bench.wait_status(1, "Charging")
    sim.swipe("04A2B3C4")  # same parent: asks the CSMS, then stops TAG1's session
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    stop = bench.payloads("StopTransaction")[0]
    assert stop["idTag"] == "04A2B3C4" and stop["reason"] == "Local"
    assert bench.payloads("Authorize") == [{"idTag": "TAG1"}, {"idTag": "04A2B3C4"}]
    sim.unplug(1)
    await bench.wait_status(1, "Available")

    # A tag never sent in an Authorize enters the cache from its StartTransaction.conf ...
    assert await bench.call("ClearCache", {}) == ACCEPTED
    assert await bench.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"}) == ACCEPTED
    sim.plug_in(1, **EV)
    assert await bench.call("RemoteStartTransaction", {"idTag": "04A2B3C4", "connectorId": 1}) == ACCEPTED
    await bench.wait(lambda c: c.received["StartTransaction"] >= 2)
    await daemon.ocpp.journal.wait_empty()  # confirmed and committed
    cached = await daemon.ocpp.authorization.known(token("04A2B3C4"))
    assert cached is not None and (cached.status, cached.group) == ("Accepted", "FAMILY")
    sim.swipe("04A2B3C4")
    await bench.wait(lambda c: c.received["StopTransaction"] >= 2)
    # ... so it starts offline (LocalAuthorizeOffline), where an unknown tag does not.
    await link(daemon, "disconnect")
    sim.unplug(1)
    await until(lambda: v16_status(daemon, 1) == "Available")
    sim.plug_in(1, **EV)
    assert (await daemon.station.present_token(token("STRANGER"), TokenSource.API)).outcome == "rejected"
    sim.swipe("04A2B3C4")
    await until(lambda: daemon.station.view(1).transaction is not None)
    assert daemon.station.view(1).transaction.token.id == "04A2B3C4"
    assert daemon.station.view(1).transaction.token.group == "FAMILY"  # the cached parent
    assert len(bench.payloads("Authorize")) == 2


async def test_the_group_named_in_start_transaction_conf_lets_a_member_stop(bench):
    # 4.8 / 3.10: nothing was asked before the start, so only StartTransaction.conf names the group.
    bench.csms.config.parents = {"TAG1": "FAMILY", "04A2B3C4": "FAMILY"}
    daemon = await bench.start()
    sim = daemon.board.simulation
    await bench.wait_status(1, "Available")
    assert await bench.call("ChangeConfiguration", {"key": "AuthorizeRemoteTxRequests", "value": "false"}) == ACCEPTED
    sim.plug_in(1, **EV)
    assert await bench.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1}) == ACCEPTED
    await bench.wait_status(1, "Charging")
    await until(lambda: daemon.station.view(1).transaction.token.group == "FAMILY")
    assert bench.payloads("Authorize") == []
    sim.swipe("04A2B3C4")  # another card of the family
    await bench.wait(lambda c: c.received["StopTransaction"] >= 1)
    stop = bench.payloads("StopTransaction")[0]
    assert stop["idTag"] == "04A2B3C4" and stop["reason"] == "Local"
    assert bench.csms.received["StartTransaction"] == 1  # it stopped the session, started none
    assert daemon.station.ledger.history()[0].token.group == "FAMILY"  # on disk too
