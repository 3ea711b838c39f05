"""Part 6 N (Advanced Device Management): device monitoring, N02-N08 (TC_N_01-24, 37-56).

Every test starts from the factory monitors (SetMonitoringBase FactoryDefault, monitoring level
9): the hard-wired Problem monitors of each EVSE and plug lock, the preconfigured Delta monitor
on ChargingStation.AvailabilityState. <Configured threshold monitor component variable> is
EVSE.Power of EVSE 1, <Configured numeric delta component variable> EVSE.ACCurrent.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from controller.ocpp.v201.variables import Actual
from ocpp201.harness import MODULE, Harness, require
from ocpp201.states import connector_status, energy_transfer_started, stop_authorized_local

pytestmark = MODULE
# Reconnects always after 1 s, so the offline cases (TC_N_22, 23) wait for nothing but the link.
PRESETS = {"OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
           "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0}  # fmt: skip
Payload = dict[str, Any]
EVSE_STATE = ("EVSE", "AvailabilityState", 1)
STATION_STATE = ("ChargingStation", "AvailabilityState", None)
POWER = ("EVSE", "Power", 1)
CURRENT = ("EVSE", "ACCurrent", 1)
CONNECTOR_STATE = ("Connector", "AvailabilityState", 1)


def component(name: str, evse: int | None, connector: int | None = None) -> Payload:
    out: Payload = {"name": name}
    if evse is not None:
        out["evse"] = {"id": evse} if connector is None else {"id": evse, "connectorId": connector}
    return out


def data(where: tuple[str, str, int | None], kind: str, value: float, severity: int = 5, **more: Any) -> Payload:
    name, variable, evse = where
    connector = 1 if name == "Connector" else None
    return {"value": value, "type": kind, "severity": severity, "component": component(name, evse, connector),
            "variable": {"name": variable}, **more}  # fmt: skip


def wanted(where: tuple[str, str | None, int | None]) -> Payload:
    name, variable, evse = where
    out: Payload = {"component": component(name, evse)}
    if variable is not None:
        out["variable"] = {"name": variable}
    return out


async def set_monitors(cs: Harness, *items: Payload) -> list[Payload]:
    results: list[Payload] = (await cs.call("SetVariableMonitoring", {"setMonitoringData": list(items)}))[
        "setMonitoringResult"
    ]
    assert len(results) == len(items)  # N04.FR.01
    return results


async def installed(cs: Harness, *items: Payload) -> list[int]:
    """Memory state: monitors set by the CSMS; their ids."""
    results = await set_monitors(cs, *items)
    assert [r["status"] for r in results] == ["Accepted"] * len(items), results
    return [r["id"] for r in results]


async def monitoring_report(cs: Harness, request_id: int, **payload: Any) -> tuple[Payload, list[Payload]]:
    """GetMonitoringReport: the response and, when Accepted, the monitor entries of every part
    (requestId echoed, seqNo from 0, tbc on every part but the last)."""
    since = cs.mark()
    response = await cs.call("GetMonitoringReport", {"requestId": request_id, **payload})
    if response["status"] != "Accepted":
        return response, []
    await cs.expect("NotifyMonitoringReport", lambda p: p["requestId"] == request_id and not p.get("tbc"), since)
    parts = cs.calls("NotifyMonitoringReport", since, lambda p: p["requestId"] == request_id)
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert [bool(p.get("tbc")) for p in parts] == [True] * (len(parts) - 1) + [False]
    return response, [m for p in parts for m in p["monitor"]]


def monitors_of(entries: list[Payload], name: str, variable: str) -> list[Payload]:
    return [vm for e in entries if e["component"]["name"] == name and e["variable"]["name"] == variable
            for vm in e["variableMonitoring"]]  # fmt: skip


def event_of(monitor_id: int, **fields: Any) -> Any:
    def match(p: Payload) -> bool:
        return any(d.get("variableMonitoringId") == monitor_id and all(d.get(k) == v for k, v in fields.items())
                   for d in p["eventData"])  # fmt: skip

    return match


def datum(payload: Payload, monitor_id: int) -> Payload:
    return next(d for d in payload["eventData"] if d.get("variableMonitoringId") == monitor_id)


async def factory(cs: Harness) -> None:
    assert (await cs.call("SetMonitoringBase", {"monitoringBase": "FactoryDefault"}))["status"] == "Accepted"
    assert (await cs.call("SetMonitoringLevel", {"severity": 9}))["status"] == "Accepted"


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def factory_monitors(cs: Harness) -> None:
    await factory(cs)


async def preconfigured_id(cs: Harness) -> int:
    _, entries = await monitoring_report(cs, 900, componentVariable=[wanted(STATION_STATE)])
    (monitor,) = monitors_of(entries, "ChargingStation", "AvailabilityState")
    return int(monitor["id"])


# ---- N02 Get Monitoring Report ------------------------------------------------------------------


async def test_TC_N_01_CS(cs: Harness) -> None:
    """Get Monitoring Report with monitoringCriteria: thresholds and a Periodic on EVSE.Power, a
    Delta and a PeriodicClockAligned on EVSE.ACCurrent (errata 6.2.86); Threshold, then
    Threshold + Delta, then Delta + Periodic select just those types."""
    await installed(
        cs,
        data(POWER, "LowerThreshold", 10),
        data(POWER, "UpperThreshold", 1000),
        data(POWER, "Periodic", 900),
        data(CURRENT, "Delta", 2),
        data(CURRENT, "PeriodicClockAligned", 900),
    )
    for n, criteria, types in (
        (1, ["ThresholdMonitoring"], {"UpperThreshold", "LowerThreshold"}),
        (2, ["ThresholdMonitoring", "DeltaMonitoring"], {"UpperThreshold", "LowerThreshold", "Delta"}),
        (3, ["DeltaMonitoring", "PeriodicMonitoring"], {"Delta", "Periodic", "PeriodicClockAligned"}),
    ):
        response, entries = await monitoring_report(cs, n, monitoringCriteria=criteria)
        assert response["status"] == "Accepted"
        seen = {vm["type"] for e in entries for vm in e["variableMonitoring"]}
        assert seen == types, (criteria, seen)


async def test_TC_N_02_CS(cs: Harness) -> None:
    """With component/variable: ChargingStation.AvailabilityState and everything of EVSE 1; the
    preconfigured Delta on the station and the one set on EVSE 1 (memory state) are reported."""
    await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    response, entries = await monitoring_report(cs, 2, componentVariable=[wanted(STATION_STATE),
                                                                          wanted(("EVSE", None, 1))])  # fmt: skip
    assert response["status"] == "Accepted"
    assert [m["type"] for m in monitors_of(entries, "ChargingStation", "AvailabilityState")] == ["Delta"]
    assert [m["type"] for m in monitors_of(entries, "EVSE", "AvailabilityState")] == ["Delta"]
    assert {e["component"]["name"] for e in entries} == {"ChargingStation", "EVSE"}
    assert all(e["component"].get("evse", {}).get("id", 1) == 1 for e in entries)


async def test_TC_N_03_CS(cs: Harness) -> None:
    """Criteria and component/variable: ThresholdMonitoring on the two AvailabilityStates is an
    EmptyResultSet (no NotifyMonitoringReport), DeltaMonitoring reports both Deltas."""
    await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    cvs = [wanted(STATION_STATE), wanted(EVSE_STATE)]
    since = cs.mark()
    response, _ = await monitoring_report(cs, 31, monitoringCriteria=["ThresholdMonitoring"], componentVariable=cvs)
    assert response["status"] == "EmptyResultSet"  # step 2
    response, entries = await monitoring_report(cs, 32, monitoringCriteria=["DeltaMonitoring"], componentVariable=cvs)
    assert response["status"] == "Accepted"  # step 4
    assert {(e["component"]["name"], vm["type"]) for e in entries for vm in e["variableMonitoring"]} == {
        ("ChargingStation", "Delta"), ("EVSE", "Delta")}  # fmt: skip
    assert cs.calls("NotifyMonitoringReport", since, lambda p: p["requestId"] == 31) == []


async def test_TC_N_47_CS(cs: Harness) -> None:
    """Report all: no criteria, no componentVariable; both AvailabilityState Deltas among them,
    and the hard-wired Problem monitors."""
    await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    response, entries = await monitoring_report(cs, 47)
    assert response["status"] == "Accepted"
    assert monitors_of(entries, "ChargingStation", "AvailabilityState")[0]["type"] == "Delta"
    assert monitors_of(entries, "EVSE", "AvailabilityState")[0]["type"] == "Delta"
    assert monitors_of(entries, "EVSE", "Problem")


# ---- N03 Set Monitoring Base --------------------------------------------------------------------


async def test_TC_N_05_CS(cs: Harness) -> None:
    """All, FactoryDefault and HardWiredOnly are Accepted, and each does what N03 says: All keeps
    a custom monitor, FactoryDefault removes it, HardWiredOnly leaves only hard-wired ones."""
    (custom,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    for base in ("All", "FactoryDefault", "HardWiredOnly"):
        response = await cs.call("SetMonitoringBase", {"monitoringBase": base})
        assert response["status"] == "Accepted" and "statusInfo" not in response
        _, entries = await monitoring_report(cs, 5)
        ids = {vm["id"] for e in entries for vm in e["variableMonitoring"]}
        assert (custom in ids) is (base == "All")
        assert bool(monitors_of(entries, "ChargingStation", "AvailabilityState")) is (base != "HardWiredOnly")
        assert monitors_of(entries, "EVSE", "Problem")  # hard-wired: always
        assert live(cs, "MonitoringCtrlr.ActiveMonitoringBase") == base


async def test_TC_N_06_CS(cs: Harness) -> None:
    """HardWiredOnly removes the preconfigured Delta on ChargingStation.AvailabilityState."""
    response, entries = await monitoring_report(cs, 61, componentVariable=[wanted(STATION_STATE)])
    assert response["status"] == "Accepted"  # step 2
    assert [m["type"] for m in monitors_of(entries, "ChargingStation", "AvailabilityState")] == ["Delta"]  # step 3
    assert (await cs.call("SetMonitoringBase", {"monitoringBase": "HardWiredOnly"}))["status"] == "Accepted"
    response, _ = await monitoring_report(cs, 62, componentVariable=[wanted(STATION_STATE)])
    assert response["status"] == "EmptyResultSet"  # step 8


# ---- N04 Set Variable Monitoring ----------------------------------------------------------------


async def test_TC_N_08_CS(cs: Harness) -> None:
    """One setMonitoringData: a Delta, severity 8, on EVSE 1 AvailabilityState gets an id and is
    reported."""
    (result,) = await set_monitors(cs, data(EVSE_STATE, "Delta", 1, 8))
    assert result["status"] == "Accepted" and result["type"] == "Delta" and result["severity"] == 8
    assert result["component"] == {"name": "EVSE", "evse": {"id": 1}} and "statusInfo" not in result
    _, entries = await monitoring_report(cs, 8, componentVariable=[wanted(EVSE_STATE)])
    assert [(m["id"], m["type"]) for m in monitors_of(entries, "EVSE", "AvailabilityState")] == [
        (result["id"], "Delta")
    ]


async def test_TC_N_09_CS(cs: Harness) -> None:
    """Two monitors on different components: both Accepted with their own ids, both reported."""
    results = await set_monitors(cs, data(EVSE_STATE, "Delta", 1, 8), data(STATION_STATE, "Delta", 1, 8))
    assert [r["status"] for r in results] == ["Accepted", "Accepted"] and results[0]["id"] != results[1]["id"]
    _, entries = await monitoring_report(cs, 9, componentVariable=[wanted(EVSE_STATE), wanted(STATION_STATE)])
    ids = {vm["id"] for e in entries for vm in e["variableMonitoring"]}
    assert {r["id"] for r in results} <= ids


async def test_TC_N_10_CS(cs: Harness) -> None:
    """Two Deltas on one variable with severities 8 and 7: both Accepted."""
    results = await set_monitors(cs, data(EVSE_STATE, "Delta", 1, 8), data(EVSE_STATE, "Delta", 1, 7))
    assert [(r["status"], r["severity"]) for r in results] == [("Accepted", 8), ("Accepted", 7)]


async def test_TC_N_11_CS(cs: Harness) -> None:
    """EVSE 99 and a component NonExistent: UnknownComponent, no id."""
    results = await set_monitors(cs, data(("EVSE", "AvailabilityState", 99), "Delta", 1),
                                 data(("NonExistent", "Power", None), "UpperThreshold", 1234.0))  # fmt: skip
    assert [r["status"] for r in results] == ["UnknownComponent", "UnknownComponent"]
    assert all("id" not in r for r in results)
    assert results[0]["component"] == {"name": "EVSE", "evse": {"id": 99}}


async def test_TC_N_12_CS(cs: Harness) -> None:
    """A Delta of -1 (on EVSE.AvailabilityState and on the numeric EVSE.ACCurrent): Rejected."""
    results = await set_monitors(cs, data(EVSE_STATE, "Delta", -1), data(CURRENT, "Delta", -1))
    assert [(r["status"], r["statusInfo"]["reasonCode"]) for r in results] == [("Rejected", "ValuePositiveOnly")] * 2
    assert all("id" not in r for r in results)


async def test_TC_N_13_CS(cs: Harness) -> None:
    """An UpperThreshold above EVSE.Power's maxLimit: Rejected (ValueOutOfRange)."""
    limit = cs.model.inventory["EVSE@1.Power"].characteristics.max_limit
    (result,) = await set_monitors(cs, data(POWER, "UpperThreshold", limit + 1))
    assert result["status"] == "Rejected" and result["statusInfo"]["reasonCode"] == "ValueOutOfRange"


async def test_TC_N_15_CS(cs: Harness) -> None:
    """Two Deltas with the same severity on one variable: the second is a Duplicate."""
    results = await set_monitors(cs, data(EVSE_STATE, "Delta", 1, 6), data(EVSE_STATE, "Delta", 1, 6))
    assert [r["status"] for r in results] == ["Accepted", "Duplicate"] and "id" not in results[1]


async def test_TC_N_37_CS(cs: Harness) -> None:
    """A variable EVSE does not have: UnknownVariable."""
    (result,) = await set_monitors(cs, data(("EVSE", "unknownVariable", 1), "Delta", 1))
    assert result["status"] == "UnknownVariable" and result["variable"] == {"name": "unknownVariable"}


async def test_TC_N_39_CS(cs: Harness) -> None:
    """The id of the EVSE AvailabilityState monitor with another component/variable (EVSE.Power):
    Rejected, and the monitor stays as it was (N04.FR.16)."""
    (monitor,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    (result,) = await set_monitors(cs, data(POWER, "UpperThreshold", 1000, id=monitor))
    assert result["status"] == "Rejected"  # step 2
    response, entries = await monitoring_report(cs, 39)
    assert response["status"] == "Accepted"
    assert [(m["id"], m["type"]) for m in monitors_of(entries, "EVSE", "AvailabilityState")] == [(monitor, "Delta")]
    assert all(m["id"] != monitor for m in monitors_of(entries, "EVSE", "Power"))


async def test_TC_N_40_CS(cs: Harness) -> None:
    """Replace a monitor: the Delta of severity 5 set again by its id with severity 4."""
    (monitor,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 5))
    (result,) = await set_monitors(cs, data(EVSE_STATE, "Delta", 1, 4, id=monitor))
    assert result["status"] == "Accepted" and result["id"] == monitor
    _, entries = await monitoring_report(cs, 40, componentVariable=[wanted(EVSE_STATE)],
                                         monitoringCriteria=["DeltaMonitoring"])  # fmt: skip
    assert [(m["id"], m["severity"]) for m in monitors_of(entries, "EVSE", "AvailabilityState")] == [(monitor, 4)]


async def test_TC_N_41_CS(cs: Harness) -> None:
    """A preconfigured monitor overruled (severity + 1, same id), then FactoryDefault brings the
    preconfigured one back (N04.FR.15, N03.FR.04)."""
    monitor = await preconfigured_id(cs)
    (result,) = await set_monitors(cs, data(STATION_STATE, "Delta", 1, 6, id=monitor))
    assert result["status"] == "Accepted"
    _, entries = await monitoring_report(cs, 41, componentVariable=[wanted(STATION_STATE)])
    assert [(m["id"], m["severity"]) for m in monitors_of(entries, "ChargingStation", "AvailabilityState")] == [
        (monitor, 6)]  # fmt: skip
    assert (await cs.call("SetMonitoringBase", {"monitoringBase": "FactoryDefault"}))["status"] == "Accepted"
    _, entries = await monitoring_report(cs, 42, componentVariable=[wanted(STATION_STATE)])
    assert [(m["id"], m["severity"]) for m in monitors_of(entries, "ChargingStation", "AvailabilityState")] == [
        (monitor, 5)]  # fmt: skip


async def test_TC_N_43_CS(cs: Harness) -> None:
    """Three items, the second a Delta of -1: Accepted, Rejected, Accepted."""
    results = await set_monitors(cs, data(POWER, "UpperThreshold", 1000), data(POWER, "Delta", -1.0),
                                 data(POWER, "LowerThreshold", 10))  # fmt: skip
    assert [r["status"] for r in results] == ["Accepted", "Rejected", "Accepted"]


# ---- N05 Set Monitoring Level -------------------------------------------------------------------


async def test_TC_N_16_CS(cs: Harness) -> None:
    """Level 7 keeps the severity-8 Delta on EVSE 1 AvailabilityState quiet when an EV plugs in."""
    (monitor,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    response = await cs.call("SetMonitoringLevel", {"severity": 7})
    assert response["status"] == "Accepted" and live(cs, "MonitoringCtrlr.ActiveMonitoringLevel") == 7
    since = cs.mark()
    cs.plug_in(1)
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)  # the same station event
    await cs.barrier()
    assert cs.calls("NotifyEvent", since, event_of(monitor)) == []


async def test_TC_N_17_CS(cs: Harness) -> None:
    """Levels 10 and -1: Rejected."""
    high = await cs.call("SetMonitoringLevel", {"severity": 10})
    low = await cs.call("SetMonitoringLevel", {"severity": -1})
    assert (high["status"], high["statusInfo"]["reasonCode"]) == ("Rejected", "ValueTooHigh")
    assert (low["status"], low["statusInfo"]["reasonCode"]) == ("Rejected", "ValueTooLow")
    assert live(cs, "MonitoringCtrlr.ActiveMonitoringLevel") == 9


# ---- N06 Clear Monitoring -----------------------------------------------------------------------


async def test_TC_N_18_CS(cs: Harness) -> None:
    """Clear the monitors on ChargingStation (preconfigured) and EVSE AvailabilityState: both
    Accepted, then nothing is reported for them."""
    station = await preconfigured_id(cs)
    (evse,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 8))
    results = (await cs.call("ClearVariableMonitoring", {"id": [station, evse]}))["clearMonitoringResult"]
    assert [(r["id"], r["status"]) for r in results] == [(station, "Accepted"), (evse, "Accepted")]
    response, _ = await monitoring_report(cs, 18, componentVariable=[wanted(STATION_STATE), wanted(EVSE_STATE)])
    assert response["status"] == "EmptyResultSet"


async def test_TC_N_19_CS(cs: Harness) -> None:
    """An id above every reported one: NotFound."""
    _, entries = await monitoring_report(cs, 19)
    unknown = max(vm["id"] for e in entries for vm in e["variableMonitoring"]) + 1
    (result,) = (await cs.call("ClearVariableMonitoring", {"id": [unknown]}))["clearMonitoringResult"]
    assert (result["id"], result["status"]) == (unknown, "NotFound")


async def test_TC_N_44_CS(cs: Harness) -> None:
    """A hard-wired monitor cannot be cleared: Rejected, and it is still reported."""
    _, entries = await monitoring_report(cs, 44, componentVariable=[wanted(("EVSE", "Problem", 1))])
    hard_wired = monitors_of(entries, "EVSE", "Problem")[0]["id"]
    (result,) = (await cs.call("ClearVariableMonitoring", {"id": [hard_wired]}))["clearMonitoringResult"]
    assert result["status"] == "Rejected"
    _, entries = await monitoring_report(cs, 45, componentVariable=[wanted(("EVSE", "Problem", 1))])
    assert monitors_of(entries, "EVSE", "Problem")[0]["id"] == hard_wired


# ---- N07 / N08 events ---------------------------------------------------------------------------


async def test_TC_N_20_CS(cs: Harness) -> None:
    """Base All, level 8; an UpperThreshold of 1000 W on EVSE.Power fires (Alerting, the
    transaction, CustomMonitor) when energy flows; a LowerThreshold of 10 W set then, and the
    stop brings the upper one's cleared event and the lower one's alert."""
    assert (await cs.call("SetMonitoringBase", {"monitoringBase": "All"}))["status"] == "Accepted"
    assert (await cs.call("SetMonitoringLevel", {"severity": 8}))["status"] == "Accepted"
    (upper,) = await installed(cs, data(POWER, "UpperThreshold", 1000, 5))
    since = cs.mark()
    cs.present()
    await energy_transfer_started(cs)  # step 1
    event = await cs.expect("NotifyEvent", event_of(upper, trigger="Alerting"), since)  # step 2
    tx = cs.station.view(1).transaction.id
    d = datum(event, upper)
    assert float(d["actualValue"]) > 1000 and not d.get("cleared") and d["transactionId"] == tx
    assert d["eventNotificationType"] == "CustomMonitor" and event["seqNo"] == 0
    (lower,) = await installed(cs, data(POWER, "LowerThreshold", 10, 5))  # steps 4, 5
    since = cs.mark()
    await stop_authorized_local(cs)  # step 6
    cleared = datum(await cs.expect("NotifyEvent", event_of(upper, cleared=True), since), upper)  # step 7
    below = datum(await cs.expect("NotifyEvent", event_of(lower, trigger="Alerting"), since), lower)
    assert float(cleared["actualValue"]) <= 1000 and float(below["actualValue"]) < 10 and not below.get("cleared")


async def test_TC_N_21_CS(cs: Harness) -> None:
    """A hard-wired notification: a fault on EVSE 1 raises ChargingStation.Problem, told as
    HardWiredNotification."""
    since = cs.mark()
    cs.sim.set_fault(1, "rcd", True)
    event = await cs.expect("NotifyEvent", lambda p: any(d["eventNotificationType"] == "HardWiredNotification"
                                                         for d in p["eventData"]), since)  # fmt: skip
    assert event["seqNo"] == 0
    (d,) = [d for d in event["eventData"] if d["eventNotificationType"] == "HardWiredNotification"]
    assert (d["component"]["name"], d["variable"]["name"], d["actualValue"]) == ("ChargingStation", "Problem", "true")


async def test_TC_N_22_CS(cs: Harness) -> None:
    """OfflineQueuingSeverity 5 and a severity-5 monitor on EVSE 1 AvailabilityState: the event of
    a plug-in while offline is queued and sent once back online."""
    await cs.set_variables({"MonitoringCtrlr.OfflineQueuingSeverity": 5})
    (monitor,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 5))
    await cs.drop()
    since = cs.mark()
    cs.plug_in(1)  # step 1
    await cs.until(lambda: queued_events(cs) == 1, what="the event queued")
    cs.accept()
    event = await cs.expect("NotifyEvent", event_of(monitor, trigger="Delta"), since)  # step 3
    d = datum(event, monitor)
    assert (d["actualValue"], d["component"]) == ("Occupied", {"name": "EVSE", "evse": {"id": 1}})


async def test_TC_N_23_CS(cs: Harness) -> None:
    """OfflineQueuingSeverity 5, monitors of severity 6 on EVSE 1 and its connector: told online,
    dropped while offline (unplug and plug in again)."""
    await cs.set_variables({"MonitoringCtrlr.OfflineQueuingSeverity": 5})
    evse, connector = await installed(cs, data(EVSE_STATE, "Delta", 1, 6), data(CONNECTOR_STATE, "Delta", 1, 6))
    since = cs.mark()
    cs.plug_in(1)
    await cs.expect("NotifyEvent", event_of(evse, actualValue="Occupied"), since)  # step 1
    await cs.expect("NotifyEvent", event_of(connector, actualValue="Occupied"), since)
    await cs.drop()
    offline = cs.mark()
    cs.unplug(1)
    await cs.until(lambda: not cs.station.view(1).ev_connected, what="the EV gone")
    cs.plug_in(1)
    await cs.until(lambda: cs.station.view(1).ev_connected, what="the EV back")
    cs.accept()
    await cs.connected()
    await cs.booted_and_reported()
    await cs.barrier()
    assert cs.calls("NotifyEvent", offline, lambda p: event_of(evse)(p) or event_of(connector)(p)) == []


async def test_TC_N_24_CS(cs: Harness) -> None:
    """A Periodic monitor of 1 s on EVSE 1 AvailabilityState: NotifyEvents with trigger Periodic,
    about a second apart."""
    (result,) = await set_monitors(cs, data(EVSE_STATE, "Periodic", 1))
    assert result["status"] == "Accepted"
    since = cs.mark()
    first = await cs.expect("NotifyEvent", event_of(result["id"], trigger="Periodic"), since)
    after = cs.mark()
    second = await cs.expect("NotifyEvent", event_of(result["id"], trigger="Periodic"), after)
    assert datum(second, result["id"])["actualValue"] == datum(first, result["id"])["actualValue"] == "Available"


async def test_TC_N_45_CS(cs: Harness) -> None:
    """A Delta of 100 W on EVSE.Power fires when energy flows (trigger Delta, its id)."""
    assert (await cs.call("SetMonitoringLevel", {"severity": 8}))["status"] == "Accepted"
    (monitor,) = await installed(cs, data(POWER, "Delta", 100, 5))
    since = cs.mark()
    cs.present()
    await energy_transfer_started(cs)
    d = datum(await cs.expect("NotifyEvent", event_of(monitor, trigger="Delta"), since), monitor)
    assert d["component"] == {"name": "EVSE", "evse": {"id": 1}} and d["variable"] == {"name": "Power"}


async def test_TC_N_48_CS(cs: Harness) -> None:
    """A Delta on the write-only SecurityCtrlr.BasicAuthPassword: its NotifyEvent has an empty
    actualValue (N07.FR.10)."""
    require("AQ-10")
    (monitor,) = await installed(cs, data(("SecurityCtrlr", "BasicAuthPassword", None), "Delta", 1))
    since = cs.mark()
    await cs.set_variables({"SecurityCtrlr.BasicAuthPassword": "another-password-0123"})
    event = await cs.expect("NotifyEvent", event_of(monitor), since)
    assert datum(event, monitor)["actualValue"] == ""
    await cs.connected()


async def test_TC_N_51_CS(cs: Harness) -> None:
    """An UpperThreshold at maxLimit - 1 does not fire while charging; replaced by one at 1000 W
    it fires at once, the value checked against the new threshold (N07.FR.11)."""
    limit = cs.model.inventory["EVSE@1.Power"].characteristics.max_limit
    (monitor,) = await installed(cs, data(POWER, "UpperThreshold", limit - 1))
    cs.present()
    await energy_transfer_started(cs)  # step 1
    since = cs.mark()
    (result,) = await set_monitors(cs, data(POWER, "UpperThreshold", 1000, id=monitor))
    assert result["status"] == "Accepted"  # step 3
    d = datum(await cs.expect("NotifyEvent", event_of(monitor, trigger="Alerting"), since), monitor)  # step 4
    assert float(d["actualValue"]) > 1000


async def test_TC_N_52_CS(cs: Harness) -> None:
    """An exceeded UpperThreshold of 0 W cleared while charging: no cleared event after the stop
    (N07.FR.12), and no report of it."""
    (monitor,) = await installed(cs, data(POWER, "UpperThreshold", 0.0))
    since = cs.mark()
    cs.present()
    await energy_transfer_started(cs)
    await cs.expect("NotifyEvent", event_of(monitor, trigger="Alerting"), since)
    (result,) = (await cs.call("ClearVariableMonitoring", {"id": [monitor]}))["clearMonitoringResult"]
    assert (result["id"], result["status"]) == (monitor, "Accepted")  # step 2
    response, _ = await monitoring_report(cs, 52, componentVariable=[wanted(POWER)],
                                          monitoringCriteria=["ThresholdMonitoring"])  # fmt: skip
    assert response["status"] == "EmptyResultSet"  # step 4
    after = cs.mark()
    await stop_authorized_local(cs)  # step 5
    await cs.barrier()
    assert cs.calls("NotifyEvent", after, event_of(monitor)) == []  # step 6


async def test_TC_N_53_CS(cs: Harness) -> None:
    """A monitor outlives a reboot (N07.FR.13): after Booted, charging fires it with its id."""
    (monitor,) = await installed(cs, data(POWER, "UpperThreshold", 1000))
    await cs.power_cycle()
    await cs.booted_and_reported()
    since = cs.mark()
    cs.present()
    await energy_transfer_started(cs)
    await cs.expect("NotifyEvent", event_of(monitor, trigger="Alerting"), since)


async def test_TC_N_56_CS(cs: Harness) -> None:
    """A Delta on the non-numeric EVSE 1 AvailabilityState fires at a plug-in (level 8)."""
    assert (await cs.call("SetMonitoringLevel", {"severity": 8}))["status"] == "Accepted"
    (monitor,) = await installed(cs, data(EVSE_STATE, "Delta", 1, 5))
    since = cs.mark()
    cs.plug_in(1)
    d = datum(await cs.expect("NotifyEvent", event_of(monitor, trigger="Delta"), since), monitor)
    assert (d["actualValue"], d["eventNotificationType"]) == ("Occupied", "CustomMonitor")


# ---- beyond part 6 ------------------------------------------------------------------------------


async def test_requests_beyond_items_per_message_are_refused(cs: Harness) -> None:
    """More setMonitoringData than ItemsPerMessage[SetVariableMonitoring]: a CALLERROR, nothing set."""
    limit = cs.variable("MonitoringCtrlr.ItemsPerMessage[SetVariableMonitoring]")
    items = [data(EVSE_STATE, "Delta", 1, n % 10) for n in range(limit + 1)]
    try:
        await cs.call("SetVariableMonitoring", {"setMonitoringData": items})
    except Exception as exc:  # CallErrorFrom
        assert "OccurrenceConstraintViolation" in str(getattr(exc, "code", exc))
    else:
        raise AssertionError("accepted more items than ItemsPerMessage")
    _, entries = await monitoring_report(cs, 99, componentVariable=[wanted(EVSE_STATE)])
    assert monitors_of(entries, "EVSE", "AvailabilityState") == []


def live(cs: Harness, address: str) -> Any:
    return cs.model.read(cs.model.inventory[address], Actual, datetime.now(UTC))


def queued_events(cs: Harness) -> int:
    rows = cs.frontend.journal.db.run_sync(
        lambda c: c.execute("SELECT COUNT(*) FROM ocpp_journal WHERE action = 'NotifyEvent'").fetchone()
    )
    return int(rows[0])
