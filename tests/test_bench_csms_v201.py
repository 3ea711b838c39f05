"""The bench CSMS as an OCPP 2.0.1 CSMS: a bare ``ocpp.v201`` ChargePoint over a real loopback
websocket (boot, authorization, a transaction's ledger, reports in parts, every notification,
CSR signing, CSMS -> station calls through the control API and ``evsed ctl csms``), and the
choice of version by subprotocol."""

import asyncio
import contextlib
import json
from typing import Any

import aiohttp
import pytest
import websockets
from aiohttp.test_utils import TestServer
from conftest import run_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result

from sim import pki
from sim.csms import Csms, CsmsConfig
from sim.csms.ledger import Ledger

CP = "CS201"
T0 = "2025-01-01T00:00:00Z"
GOOD = {"id_token": "GOOD", "type": "ISO14443"}


class Station(ChargePoint):
    """The least a 2.0.1 station needs to be driven: Reset and CertificateSigned answered."""

    def __init__(self, cp_id: str, connection: Any):
        super().__init__(cp_id, connection)
        self.certificates: list[tuple[str, str | None]] = []

    @on("Reset")
    def on_reset(self, type: str, **_: Any) -> call_result.Reset:
        return call_result.Reset(status="Accepted" if type == "Immediate" else "Scheduled")

    @on("CertificateSigned")
    def on_certificate_signed(self, certificate_chain: str, certificate_type: str | None = None, **_: Any):
        self.certificates.append((certificate_chain, certificate_type))
        return call_result.CertificateSigned(status="Accepted")


@contextlib.asynccontextmanager
async def connected(csms: Csms, cp_id: str = CP):
    async with websockets.connect(f"ws://127.0.0.1:{csms.port}/{cp_id}", subprotocols=["ocpp2.0.1"]) as ws:
        station = Station(cp_id, ws)
        serving = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving


@pytest.fixture
async def bench():
    csms = Csms(CsmsConfig(boot_status="Pending", heartbeat_interval=42, id_tags={"GOOD", "MEMBER"},
                           token_types={"GOOD": "ISO14443"}, parents={"MEMBER": "FLEET"}, price_per_kwh=0.3,
                           charging_priority=2, personal_message="0.30 EUR/kWh"))  # fmt: skip
    await csms.start()
    async with connected(csms) as station:
        yield csms, station
    await csms.stop()


def tx_event(
    seq_no: int, event_type: str, trigger: str, wh: float | None = None, **fields: Any
) -> call.TransactionEvent:
    """A TransactionEvent of transaction TX-1; ``wh``: an energy register reading; ``fields``:
    charging_state / stopped_reason (transactionInfo) or any top-level field."""
    info = {"transaction_id": "TX-1", **{k: fields.pop(k) for k in ("charging_state", "stopped_reason") if k in fields}}
    meter = [{"timestamp": T0, "sampled_value": [{"value": wh}]}] if wh is not None else None
    return call.TransactionEvent(event_type=event_type, timestamp=T0, trigger_reason=trigger, seq_no=seq_no,
                                 transaction_info=info, meter_value=meter, **fields)  # fmt: skip


async def test_boot_heartbeat_and_authorization_by_id_and_type(bench):
    csms, station = bench
    boot = await station.call(call.BootNotification(charging_station={"model": "bench", "vendor_name": "evsed"},
                                                    reason="PowerUp"), suppress=False)  # fmt: skip
    assert (boot.status, boot.interval) == ("Pending", 42)
    assert (await station.call(call.Heartbeat(), suppress=False)).current_time.endswith("Z")

    async def authorize(token: str, kind: str) -> dict[str, Any]:
        return (
            await station.call(call.Authorize(id_token={"id_token": token, "type": kind}), suppress=False)
        ).id_token_info

    assert await authorize("GOOD", "ISO14443") == {"status": "Accepted"}
    assert await authorize("GOOD", "KeyCode") == {"status": "Invalid"}  # known id, not with that type
    assert await authorize("NOBODY", "ISO14443") == {"status": "Unknown"}
    fleet = {"id_token": "FLEET", "type": "Central"}
    assert await authorize("MEMBER", "eMAID") == {"status": "Accepted", "group_id_token": fleet}
    assert await authorize("", "NoAuthorization") == {"status": "Accepted"}
    summary = csms.summary()
    assert summary["versions"] == {CP: "2.0.1"}
    assert summary["received"] == {"BootNotification": 1, "Heartbeat": 1, "Authorize": 5}
    assert summary["callerrors"] == 0


async def test_transaction_ledger_orders_events_flags_resends_and_gaps_and_prices_energy(bench):
    csms, station = bench
    csms.fail_next["TransactionEvent"] = 1
    with pytest.raises(InternalError):
        await station.call(tx_event(0, "Started", "Authorized", 1000), suppress=False)
    assert csms.ledger.transaction(CP, "TX-1") is None  # refused, so not recorded

    evse = {"id": 1, "connector_id": 1}
    start = tx_event(0, "Started", "Authorized", 1000, charging_state="EVConnected", id_token=GOOD, evse=evse)
    started = await station.call(start, suppress=False)
    assert started.id_token_info == {"status": "Accepted"}
    assert started.total_cost is None  # no cost before charging
    assert started.charging_priority == 2
    assert started.updated_personal_message == {"format": "UTF8", "content": "0.30 EUR/kWh"}

    charging = tx_event(1, "Updated", "ChargingStateChanged", 1200, charging_state="Charging")
    assert (await station.call(charging, suppress=False)).total_cost == 0.06
    resent = await station.call(charging, suppress=False)  # a resend: same seqNo, not counted again
    assert (resent.total_cost, resent.id_token_info) == (0.06, None)

    late = await station.call(tx_event(3, "Updated", "MeterValuePeriodic", 1400, offline=True), suppress=False)
    assert late.total_cost == 0.12
    tx = csms.ledger.transaction(CP, "TX-1")
    assert (tx.gaps, tx.complete) == ([2], False)
    await station.call(tx_event(2, "Updated", "MeterValuePeriodic", 1300, offline=True), suppress=False)
    ended = await station.call(
        call.TransactionEvent(
            event_type="Ended", timestamp=T0, trigger_reason="StopAuthorized", seq_no=4, id_token=GOOD,
            transaction_info={"transaction_id": "TX-1", "charging_state": "EVConnected", "stopped_reason": "Local"},
            meter_value=[{"timestamp": T0, "sampled_value": [{"value": 2.5, "context": "Transaction.End",
                                                              "unit_of_measure": {"unit": "kWh"}}]}],
        ),
        suppress=False,
    )  # fmt: skip
    assert (ended.total_cost, ended.id_token_info) == (0.45, {"status": "Accepted"})

    summary = csms.summary()["transactions"][CP]["TX-1"]
    assert [(e["seq_no"], e["event_type"], e["trigger_reason"], e["offline"]) for e in summary["events"]] == [
        (0, "Started", "Authorized", False),
        (1, "Updated", "ChargingStateChanged", False),
        (2, "Updated", "MeterValuePeriodic", True),
        (3, "Updated", "MeterValuePeriodic", True),
        (4, "Ended", "StopAuthorized", False),
    ]
    assert [e["charging_state"] for e in summary["events"]] == ["EVConnected", "Charging", None, None, "EVConnected"]
    assert summary["events"][4]["meter_value"][0]["sampled_value"][0]["unit_of_measure"] == {"unit": "kWh"}
    assert summary["evse"] == {"id": 1, "connector_id": 1}
    assert (summary["stopped_reason"], summary["id_token"]) == ("Local", GOOD)
    assert (summary["energy_wh"], summary["cost"]) == (1500.0, 0.45)
    assert (summary["duplicates"], summary["out_of_order"], summary["gaps"]) == ([1], [2], [])
    assert summary["started"] and summary["ended"] and summary["complete"]
    assert csms.received["TransactionEvent"] == 7 and csms.callerrors == 1


async def test_reports_are_collected_per_request_id_until_the_last_part(bench):
    csms, station = bench

    def part(seq_no: int, tbc: bool, *names: str) -> call.NotifyReport:
        data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": name},
                 "variable_attribute": [{"value": "1"}]} for name in names]  # fmt: skip
        return call.NotifyReport(request_id=7, generated_at=T0, seq_no=seq_no, tbc=tbc, report_data=data)

    await station.call(part(0, True, "HeartbeatInterval", "OfflineThreshold"), suppress=False)
    await station.call(part(2, False, "WebSocketPingInterval"), suppress=False)
    report = csms.ledger.report(CP, "NotifyReport", 7)
    assert (report.gaps, report.complete) == ([1], False)  # the last part came, one in the middle did not
    await station.call(part(1, True, "MessageTimeout"), suppress=False)
    assert report.complete
    names = [item["variable"]["name"] for item in report.items]
    assert names == ["HeartbeatInterval", "OfflineThreshold", "MessageTimeout", "WebSocketPingInterval"]

    await station.call(call.NotifyCustomerInformation(data="no data", seq_no=0, generated_at=T0, request_id=8,
                                                      tbc=True), suppress=False)  # fmt: skip
    assert csms.summary()["reports"] == {CP: {
        "NotifyReport": {"7": {"parts": 3, "items": 4, "gaps": [], "complete": True}},
        "NotifyCustomerInformation": {"8": {"parts": 1, "items": 1, "gaps": [], "complete": False}},
    }}  # fmt: skip


async def test_every_other_station_message_gets_its_answer(bench):
    csms, station = bench
    component, variable = {"name": "EVSE", "evse": {"id": 1}}, {"name": "Power"}
    profile = {"id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
               "charging_profile_kind": "Absolute", "charging_schedule": [{
                   "id": 1, "charging_rate_unit": "A", "start_schedule": T0,
                   "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]}]}  # fmt: skip
    messages = [
        call.StatusNotification(timestamp=T0, connector_status="Available", evse_id=1, connector_id=1),
        call.MeterValues(evse_id=1, meter_value=[{"timestamp": T0, "sampled_value": [{"value": 5.0}]}]),
        call.NotifyEvent(
            generated_at=T0,
            seq_no=0,
            event_data=[
                {
                    "event_id": 1,
                    "timestamp": T0,
                    "trigger": "Alerting",
                    "actual_value": "1",
                    "event_notification_type": "HardWiredMonitor",
                    "component": component,
                    "variable": variable,
                }
            ],
        ),
        call.NotifyMonitoringReport(request_id=3, seq_no=0, generated_at=T0),
        call.NotifyDisplayMessages(
            request_id=4,
            message_info=[{"id": 1, "priority": "NormalCycle", "message": {"format": "UTF8", "content": "hi"}}],
        ),
        call.ReportChargingProfiles(request_id=5, charging_limit_source="CSO", evse_id=0, charging_profile=[profile]),
        call.SecurityEventNotification(type="StartupOfTheDevice", timestamp=T0),
        call.FirmwareStatusNotification(status="Downloaded", request_id=1),
        call.LogStatusNotification(status="Uploaded", request_id=2),
        call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}),
        call.ClearedChargingLimit(charging_limit_source="EMS"),
        call.ReservationStatusUpdate(reservation_id=9, reservation_update_status="Expired"),
        call.DataTransfer(vendor_id="evsed"),
    ]
    for message in messages:
        await station.call(message, suppress=False)  # a missing handler or an invalid answer raises
    install = call.Get15118EVCertificate(
        iso15118_schema_version="urn:iso:15118:2:2013:MsgDef", action="Install", exi_request="AAAA"
    )
    ev = await station.call(install, suppress=False)
    assert (ev.status, ev.exi_response) == ("Failed", "")
    ocsp = {"hash_algorithm": "SHA256", "issuer_name_hash": "00", "issuer_key_hash": "00", "serial_number": "01",
            "responder_url": "http://ocsp.example"}  # fmt: skip
    assert (await station.call(call.GetCertificateStatus(ocsp_request_data=ocsp), suppress=False)).status == "Failed"
    assert csms.callerrors == 0 and sum(csms.received.values()) == len(messages) + 2
    reports = csms.summary()["reports"][CP]
    assert {action: set(by_id) for action, by_id in reports.items()} == {
        "NotifyMonitoringReport": {"3"}, "NotifyDisplayMessages": {"4"}, "ReportChargingProfiles": {"5"}}  # fmt: skip
    assert all(report["complete"] for by_id in reports.values() for report in by_id.values())


async def test_sign_certificate_is_followed_by_the_chain_signed_by_the_bench_ca(bench):
    csms, station = bench
    csms.signer = pki.authority()
    key = pki.new_key()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CP),
                                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "evsed bench")]))
           .sign(key, hashes.SHA256()).public_bytes(Encoding.PEM).decode())  # fmt: skip
    answer = await station.call(call.SignCertificate(csr=csr, certificate_type="ChargingStationCertificate"),
                                suppress=False)  # fmt: skip
    assert answer.status == "Accepted"
    async with asyncio.timeout(10):
        await csms.wait_for(lambda _: bool(station.certificates))  # re-checked when the station answers
    [(chain, kind)] = station.certificates
    leaf, ca = x509.load_pem_x509_certificates(chain.encode())
    assert kind == "ChargingStationCertificate"
    assert leaf.public_key() == key.public_key() and leaf.issuer == ca.subject == csms.signer.certificate.subject


async def test_csms_calls_through_the_control_api_and_evsed_ctl_csms(bench):
    csms, station = bench
    await station.call(tx_event(0, "Started", "CablePluggedIn"), suppress=False)
    async with TestServer(csms.http_app()) as server, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{server.port}"
        async with http.post(f"{base}/csms/call", json={"action": "Reset", "payload": {"type": "Immediate"}}) as reply:
            assert (reply.status, await reply.json()) == (200, {"response": {"status": "Accepted"}})
        async with http.post(f"{base}/csms/call", json={"cp": CP, "action": "Reset",
                                                         "payload": {"type": "Hard"}}) as reply:  # fmt: skip
            assert reply.status == 502  # a 1.6 value: the 2.0.1 schema refuses it before it is sent
        async with http.post(f"{base}/csms/call", json={"cp": CP, "action": "GetBaseReport",
                                                         "payload": {"requestId": 1, "reportBase": "FullInventory"}}
                             ) as reply:  # fmt: skip
            assert reply.status == 502 and "NotImplemented" in (await reply.json())["error"]
        async with http.post(f"{base}/csms/call", data=b"{oops") as reply:
            assert reply.status == 400

        done = await asyncio.to_thread(run_cli, "ctl", "--json", "csms", "call", "Reset", '{"type": "OnIdle"}',
                                       "--cp", CP, "--csms-api", base)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"response": {"status": "Scheduled"}}
        summary, messages = await asyncio.gather(  # both read what the call above left
            *(asyncio.to_thread(run_cli, "ctl", "--json", "csms", what, "--csms-api", base)
              for what in ("summary", "messages"))
        )  # fmt: skip
        summary = json.loads(summary.stdout)
        assert summary["sent"] == {"Reset": 2, "GetBaseReport": 1}
        assert summary["transactions"][CP]["TX-1"]["events"][0]["trigger_reason"] == "CablePluggedIn"
        assert any('"OnIdle"' in m["text"] and m["direction"] == "out" for m in json.loads(messages.stdout))


async def test_the_station_s_first_offered_version_wins_and_none_is_closed():
    csms = Csms()
    await csms.start()
    url = f"ws://127.0.0.1:{csms.port}"
    try:
        for offered, chosen in ((["ocpp2.0.1", "ocpp1.6"], "ocpp2.0.1"), (["ocpp1.6", "ocpp2.0.1"], "ocpp1.6")):
            async with websockets.connect(f"{url}/{chosen}", subprotocols=offered) as ws:
                assert ws.subprotocol == chosen
                async with asyncio.timeout(5):
                    await csms.wait_for(lambda c, cp=chosen: cp in c.sessions)
                assert csms.versions[chosen] == chosen.removeprefix("ocpp")
        async with websockets.connect(f"{url}/OLD", subprotocols=["ocpp1.5"]) as ws:
            assert ws.subprotocol is None  # handshake completed without one (OCPP-J 2.0.1 part 4 3.2) ...
            async with asyncio.timeout(5):
                await ws.wait_closed()  # ... and closed at once
            assert ws.close_code == 1002
        assert csms.refused == [("OLD", 1002, "offered no OCPP version this CSMS speaks")]
        assert "OLD" not in csms.versions
    finally:
        await csms.stop()


def _request(seq_no: int, last: int) -> dict[str, Any]:
    kind = "Started" if seq_no == 0 else "Ended" if seq_no == last else "Updated"
    meter = [{"timestamp": T0, "sampled_value": [{"value": 1000 + 10 * seq_no}]}]
    return {"event_type": kind, "timestamp": T0, "trigger_reason": "MeterValuePeriodic", "seq_no": seq_no,
            "transaction_info": {"transaction_id": "T"}, "meter_value": meter}  # fmt: skip


@given(st.integers(1, 12).flatmap(lambda n: st.permutations(range(n + 1))), st.data())
def test_ledger_reads_any_arrival_order_with_resends_as_the_one_transaction(order, data):
    """Whatever the order and the resends, the events read in seqNo order and energy is counted once."""
    resends = data.draw(st.lists(st.sampled_from(order), max_size=4))
    arrivals = order + resends
    last = len(order) - 1
    ledger = Ledger()
    for seq_no in arrivals:
        ledger.record_event("CP", _request(seq_no, last))
    tx = ledger.transaction("CP", "T")
    assert [e.seq_no for e in tx.in_order()] == list(range(last + 1))
    assert tx.complete and tx.gaps == [] and tx.energy_wh == 10 * last
    assert tx.duplicates == sorted(set(resends))
    assert tx.out_of_order == [s for i, s in enumerate(order) if s < max(order[: i + 1])]
    if last > 1:  # one event lost: a gap, no longer complete
        for seq_no in arrivals:
            if seq_no != 1:
                ledger.record_event("LOSSY", _request(seq_no, last))
        lossy = ledger.transaction("LOSSY", "T")
        assert (lossy.gaps, lossy.complete) == ([1], False)
