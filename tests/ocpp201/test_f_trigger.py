"""Part 6 section 2.7, F Remote control: TriggerMessage (F06) for every message it names, each
case applying where evsed declares the message (part 5 C-29.1-.6; the harness's FEATURES must
match what the station offers)."""

from __future__ import annotations

import asyncio
from typing import Any

from firmware_bench import FileServer

from ocpp201.harness import FEATURES, MODULE, SECOND_TOKEN, VALID_TOKEN, Harness, require
from ocpp201.states import (
    authorized_local,
    connector_status,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    ev_connected_pre_session,
    transaction_id,
)

pytestmark = MODULE
TRIGGER_FEATURES = {  # part 5 section 3.1
    "C-29.1": "MeterValues",
    "C-29.2": "TransactionEvent",
    "C-29.3": "LogStatusNotification",
    "C-29.4": "FirmwareStatusNotification",
    "C-29.5": "StatusNotification",
    "C-29.6": "BootNotification",
}


async def trigger(cs: Harness, message: str, evse: dict[str, int] | None = None) -> str:
    payload: dict[str, Any] = {"requestedMessage": message} | ({"evse": evse} if evse is not None else {})
    return str((await cs.call("TriggerMessage", payload))["status"])


def triggered_context(payload: dict[str, Any]) -> str:
    return str(payload["meterValue"][0]["sampledValue"][0].get("context"))


async def test_declared_features_are_the_offered_messages(cs: Harness) -> None:
    """What the harness declares (and the README lists) is what the station answers Accepted."""
    offered = cs.frontend.triggers.offered
    for feature, message in TRIGGER_FEATURES.items():
        assert FEATURES[feature] is (message in offered), (
            f"TriggerMessage {message}: {'offered' if message in offered else 'not offered'}, so "
            f"{feature} must be {'declared' if message in offered else 'undeclared'} in FEATURES and the README"
        )


async def test_TC_F_11_CS(cs: Harness) -> None:
    """Trigger message - MeterValues - Specific EVSE: Accepted; MeterValues of that EVSE, context
    Trigger (F06.FR.06)."""
    require("C-29.1")
    since = cs.mark()
    assert await trigger(cs, "MeterValues", {"id": 1}) == "Accepted"  # step 2
    values = await cs.expect("MeterValues", since=since)  # step 3
    assert values["evseId"] == 1 and triggered_context(values) == "Trigger"


async def test_TC_F_12_CS(cs: Harness) -> None:
    """Trigger message - MeterValues - All EVSE: Accepted; MeterValues of every EVSE (F06.FR.11)."""
    require("C-29.1")
    since = cs.mark()
    assert await trigger(cs, "MeterValues") == "Accepted"  # step 2
    for evse in cs.evse_ids:  # step 3, for every EVSE
        values = await cs.expect("MeterValues", lambda p, e=evse: p["evseId"] == e, since)
        assert triggered_context(values) == "Trigger"


async def test_TC_F_13_CS(cs: Harness) -> None:
    """Trigger message - TransactionEvent - Specific EVSE: during EnergyTransferStarted, a
    TransactionEvent with triggerReason Trigger, chargingState Charging and meter values
    (context Trigger), evse omitted or this one (F06.FR.07)."""
    require("C-29.2")
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    since = cs.mark()
    assert await trigger(cs, "TransactionEvent", {"id": 1}) == "Accepted"  # step 2
    event = await cs.expect("TransactionEvent", lambda p: p["triggerReason"] == "Trigger", since)  # step 3
    assert event["transactionInfo"]["transactionId"] == tx and event.get("evse", {"id": 1})["id"] == 1
    assert event["transactionInfo"]["chargingState"] == "Charging" and triggered_context(event) == "Trigger"


async def test_TC_F_14_CS(cs: Harness) -> None:
    """Trigger message - TransactionEvent - All EVSE: both EVSEs charging; one TransactionEvent
    Trigger per EVSE, with its evse."""
    require("C-29.2")
    await authorized_local(cs, VALID_TOKEN)
    await energy_transfer_started(cs, 1)
    await authorized_local(cs, SECOND_TOKEN)
    await energy_transfer_started(cs, 2)
    running = {evse: await transaction_id(cs, evse) for evse in cs.evse_ids}
    since = cs.mark()
    assert await trigger(cs, "TransactionEvent") == "Accepted"  # step 2
    for evse, tx in running.items():  # step 3, for every EVSE
        event = await cs.expect("TransactionEvent", lambda p, t=tx: p["triggerReason"] == "Trigger"
                                and p["transactionInfo"]["transactionId"] == t, since)  # fmt: skip
        assert event.get("evse", {"id": evse})["id"] == evse
        assert event["transactionInfo"]["chargingState"] == "Charging" and triggered_context(event) == "Trigger"


async def test_TC_F_15_CS(cs: Harness) -> None:
    """Trigger message - LogStatusNotification - Idle: Accepted; LogStatusNotification Idle
    (F06.FR.15)."""
    require("C-29.3")
    since = cs.mark()
    assert await trigger(cs, "LogStatusNotification") == "Accepted"  # step 2
    assert (await cs.expect("LogStatusNotification", since=since))["status"] == "Idle"  # step 3


async def test_TC_F_16_CS(cs: Harness, files: FileServer) -> None:
    """Trigger message - LogStatusNotification - Uploading: while a GetLog's upload is under way
    (held by the server), the triggered LogStatusNotification is Uploading with its requestId
    (F06.FR.14)."""
    require("C-29.3")
    files.held["f16.tar.gz"] = gate = asyncio.Event()
    since = cs.mark()
    request = {"logType": "DiagnosticsLog", "requestId": 16, "log": {"remoteLocation": files.url("/up/f16.tar.gz")}}
    try:
        assert (await cs.call("GetLog", request))["status"] == "Accepted"  # step 2
        await cs.expect("LogStatusNotification", lambda p: p["status"] == "Uploading", since)  # step 3
        triggered = cs.mark()
        assert await trigger(cs, "LogStatusNotification") == "Accepted"  # step 6
        status = await cs.expect("LogStatusNotification", since=triggered)  # step 7
        assert status == {"status": "Uploading", "requestId": 16}
    finally:
        gate.set()
    await cs.expect("LogStatusNotification", lambda p: p["status"] == "Uploaded", since)


async def test_TC_F_17_CS(cs: Harness) -> None:
    """Trigger message - FirmwareStatusNotification - Specific EVSE not relevant: the evse is
    ignored, the message still sent (F06.FR.03): Idle."""
    require("C-29.4")
    since = cs.mark()
    assert await trigger(cs, "FirmwareStatusNotification", {"id": 1}) == "Accepted"  # step 2
    assert (await cs.expect("FirmwareStatusNotification", since=since))["status"] == "Idle"  # step 3


async def test_TC_F_18_CS(cs: Harness) -> None:
    """Trigger message - FirmwareStatusNotification - Idle (F06.FR.16)."""
    require("C-29.4")
    since = cs.mark()
    assert await trigger(cs, "FirmwareStatusNotification") == "Accepted"  # step 2
    assert (await cs.expect("FirmwareStatusNotification", since=since))["status"] == "Idle"  # step 3


async def test_TC_F_20_CS(cs: Harness) -> None:
    """Trigger message - Heartbeat: Accepted, then the Heartbeat (F06.FR.04: answer first)."""
    since = cs.mark()
    assert await trigger(cs, "Heartbeat") == "Accepted"  # step 2
    heartbeat = await cs.expect_frame("Heartbeat", since=since)  # step 3
    answer = next(f for f in cs.frames[since:] if f.direction == "in" and f.message[0] == 3)
    assert answer.index < heartbeat.index


async def test_TC_F_23_CS(cs: Harness) -> None:
    """Trigger message - StatusNotification - Specific EVSE - Available: the connector's status
    though it did not change."""
    require("C-29.5")
    since = cs.mark()
    assert await trigger(cs, "StatusNotification", {"id": 1, "connectorId": 1}) == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Available", 1, 1), since)  # step 3


async def test_TC_F_24_CS(cs: Harness) -> None:
    """Trigger message - StatusNotification - Specific EVSE - Occupied: EVConnectedPreSession, then
    the connector's status again."""
    require("C-29.5")
    await ev_connected_pre_session(cs)
    since = cs.mark()
    assert await trigger(cs, "StatusNotification", {"id": 1, "connectorId": 1}) == "Accepted"  # step 2
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)  # step 3


async def test_TC_F_26_CS(cs: Harness) -> None:
    """Trigger message - BootNotification - Rejected: the last BootNotification was Accepted
    (F06.FR.17); no BootNotification follows."""
    require("C-29.6")
    since = cs.mark()
    assert await trigger(cs, "BootNotification") == "Rejected"  # step 2
    await cs.barrier()
    assert cs.calls("BootNotification", since) == []


async def test_TC_F_27_CS(cs: Harness) -> None:
    """Trigger message - NotImplemented: SignCombinedCertificate (ISO 15118) is not offered (F06.FR.08)."""
    assert await trigger(cs, "SignCombinedCertificate") == "NotImplemented"  # step 2


# ---- beyond part 6 ----------------------------------------------------------------------------


async def test_status_notification_only_for_a_connector_the_station_has(cs: Harness) -> None:
    """F06.FR.12: without connectorId Rejected; an EVSE or connector the station does not have:
    Rejected. Nothing is sent for them."""
    since = cs.mark()
    assert await trigger(cs, "StatusNotification") == "Rejected"
    assert await trigger(cs, "StatusNotification", {"id": 1}) == "Rejected"
    assert await trigger(cs, "StatusNotification", {"id": 9, "connectorId": 1}) == "Rejected"
    assert await trigger(cs, "StatusNotification", {"id": 1, "connectorId": 2}) == "Rejected"
    await cs.barrier()
    assert cs.calls("StatusNotification", since) == []


async def test_an_evse_a_message_does_not_need_is_ignored(cs: Harness) -> None:
    """F06.FR.03: a Heartbeat asked for with an EVSE, even one the station does not have, is sent."""
    since = cs.mark()
    assert await trigger(cs, "Heartbeat", {"id": 9}) == "Accepted"
    await cs.expect("Heartbeat", since=since)
