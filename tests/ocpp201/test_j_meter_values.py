"""Part 6 section 2.11, J MeterValues: clock-aligned (J01) and sampled (J02) meter values, in
MeterValues and in TransactionEvents (errata 6.2.58, 6.2.63-6.2.65).

Intervals are 1 s so a case takes a few seconds; clock-aligned instants are whole seconds."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from ocpp201.harness import MODULE, Harness, require
from ocpp201.states import (
    authorized_local,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    ev_connected_pre_session,
    ev_disconnected,
    in_sequence,
    stop_authorized_local,
    transaction_id,
)

pytestmark = MODULE
ENERGY = "Energy.Active.Import.Register"
INTERVAL = 1  # <Configured ... interval> of every case here
Payload = dict[str, Any]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def contexts(meter_value: Payload) -> set[str]:
    return {v["context"] for v in meter_value["sampledValue"]}


def measurands(meter_value: Payload) -> set[str]:
    return {v.get("measurand", ENERGY) for v in meter_value["sampledValue"]}


def no_ev_location(payloads: list[Payload]) -> None:
    """Errata 6.2.58: no sampledValue with location EV (no SoC here)."""
    for payload in payloads:
        for mv in payload.get("meterValue", ()):
            assert all(v.get("location") != "EV" for v in mv["sampledValue"]), mv


def aligned(stamps: list[str], interval: int) -> None:
    """Clock-aligned: whole multiples of ``interval`` s from midnight, one interval apart."""
    times = [when(s) for s in stamps]
    assert all(t.microsecond == 0 and (t.hour * 3600 + t.minute * 60 + t.second) % interval == 0 for t in times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(g == interval for g in gaps), gaps


def every_interval(stamps: list[str], interval: int) -> None:
    """Sampled: the k-th sample falls in the k-th interval after the first (none missed, none twice)."""
    times = [when(s) for s in stamps]
    steps = [round((t - times[0]).total_seconds() / interval) for t in times]
    assert steps == list(range(len(times))), steps


async def meter_values(cs: Harness, evse: int, count: int, since: int) -> list[Payload]:
    await cs.expect("MeterValues", lambda p: p["evseId"] == evse and len(cs.calls(
        "MeterValues", since, lambda q: q["evseId"] == evse)) >= count, since)  # fmt: skip
    return cs.calls("MeterValues", since, lambda p: p["evseId"] == evse)[:count]


async def test_TC_J_01_CS(cs: Harness) -> None:
    """Clock-aligned Meter Values - No transaction ongoing: three MeterValues per EVSE, Sample.Clock,
    the configured measurands, at aligned instants one interval apart, the same for every EVSE."""
    await cs.set_variables({"AlignedDataCtrlr.Interval": INTERVAL,
                            "AlignedDataCtrlr.Measurands": [ENERGY, "Power.Active.Import"]})  # fmt: skip
    since = cs.mark()
    per_evse = {evse: await meter_values(cs, evse, 3, since) for evse in cs.evse_ids}  # step 1
    for sent in per_evse.values():
        for payload in sent:
            [mv] = payload["meterValue"]
            assert contexts(mv) == {"Sample.Clock"} and measurands(mv) == {ENERGY, "Power.Active.Import"}
        aligned([p["meterValue"][0]["timestamp"] for p in sent], INTERVAL)
        no_ev_location(sent)
    stamps = [{p["meterValue"][0]["timestamp"] for p in sent} for sent in per_evse.values()]
    assert stamps[0] & stamps[1]  # post scenario: the same instants for every EVSE


async def test_TC_J_02_CS(cs: Harness) -> None:
    """Clock-aligned Meter Values - Transaction ongoing (errata 6.2.63): the EVSE with the transaction
    reports in TransactionEvents (MeterValueClock, Sample.Clock, per phase), the idle one in
    MeterValues, both at aligned instants."""
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    wanted = [ENERGY, "Current.Import", "Voltage"]
    since = cs.mark()
    await cs.set_variables({"AlignedDataCtrlr.Interval": INTERVAL, "AlignedDataCtrlr.Measurands": wanted,
                            "AlignedDataCtrlr.SendDuringIdle": False})  # fmt: skip
    idle = await meter_values(cs, 2, 2, since)  # step 1
    await cs.expect("TransactionEvent", lambda p: len(cs.calls("TransactionEvent", since, lambda q: q[
        "triggerReason"] == "MeterValueClock")) >= 2, since)  # fmt: skip  # step 3
    clock = cs.calls("TransactionEvent", since, lambda p: p["triggerReason"] == "MeterValueClock")
    for event in clock:
        assert event["transactionInfo"]["transactionId"] == tx and event["eventType"] == "Updated"
        [mv] = event["meterValue"]
        assert contexts(mv) == {"Sample.Clock"} and measurands(mv) == set(wanted)
        phases = {v.get("phase") for v in mv["sampledValue"] if v["measurand"] == "Current.Import"}
        assert phases == {"L1", "L2", "L3"}  # the meter measures each phase: each is reported
    aligned([e["meterValue"][0]["timestamp"] for e in clock], INTERVAL)
    aligned([p["meterValue"][0]["timestamp"] for p in idle], INTERVAL)
    assert cs.calls("MeterValues", since, lambda p: p["evseId"] == 1) == []  # its transaction reports them
    no_ev_location(clock + idle)
    in_sequence(cs, tx)


async def test_TC_J_03_CS(cs: Harness) -> None:
    """Clock-aligned Meter Values - EventType Ended: AlignedDataCtrlr.TxEndedMeasurands at every
    aligned TxEndedInterval during the transaction, all in its Ended event (Sample.Clock)."""
    await cs.set_variables({"AlignedDataCtrlr.TxEndedInterval": INTERVAL, "SampledDataCtrlr.TxEndedMeasurands": [],
                            "AlignedDataCtrlr.TxEndedMeasurands": [ENERGY, "Power.Active.Import"]})  # fmt: skip
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await cs.until(lambda: cs.station.view(1).energy_wh > 0.5, what="some energy")
    start = cs.station.view(1).transaction.started_at
    await cs.until(lambda: (datetime.now(start.tzinfo) - start).total_seconds() > 3 * INTERVAL, what="3 intervals")
    ended = await stop_authorized_local(cs)
    await ev_disconnected(cs)  # ParkingBayUnoccupied: no bay sensor, the EV leaving is the end of it
    assert ended["eventType"] == "Ended"
    values = ended["meterValue"]
    assert len(values) >= 3 and all(contexts(mv) == {"Sample.Clock"} for mv in values)
    assert all(measurands(mv) == {ENERGY, "Power.Active.Import"} for mv in values)
    aligned([mv["timestamp"] for mv in values], INTERVAL)
    registers = [next(v["value"] for v in mv["sampledValue"] if v["measurand"] == ENERGY) for mv in values]
    assert registers == sorted(registers)  # J02.FR.16
    in_sequence(cs, tx)


async def test_TC_J_04_CS(cs: Harness) -> None:
    """Clock-aligned Meter Values - Signed."""
    require("C-42")


async def test_TC_J_06_CS(cs: Harness) -> None:
    """Clock-aligned Meter Values - No Meter Values during transaction: with SendDuringIdle, clock-aligned
    MeterValues while idle, none (in MeterValues or TransactionEvents) while a transaction runs,
    again once it ended."""
    require("C-28")
    await cs.set_variables({"AlignedDataCtrlr.Interval": INTERVAL, "AlignedDataCtrlr.SendDuringIdle": True})
    since = cs.mark()
    await meter_values(cs, 1, 1, since)  # step 1
    await energy_transfer_started_from_idle(cs)  # step 3
    tx = await transaction_id(cs)
    during = cs.mark()
    started = cs.station.view(1).transaction.started_at
    await cs.until(lambda: (datetime.now(started.tzinfo) - started).total_seconds() > INTERVAL + 1,
                   what="the interval + 1 s")  # fmt: skip
    await stop_authorized_local(cs)
    await ev_disconnected(cs)  # step 6
    ended = cs.mark()
    assert cs.calls("MeterValues", during, lambda p: when(p["meterValue"][0]["timestamp"]) > started) == []
    assert cs.calls("TransactionEvent", during, lambda p: p["triggerReason"] == "MeterValueClock") == []
    await meter_values(cs, 1, 1, ended)  # step 7
    in_sequence(cs, tx)


async def test_TC_J_07_CS(cs: Harness) -> None:
    """Sampled Meter Values - EventType Started - EVSE known: the Started of an EVConnected start has
    TxStartedMeasurands with Transaction.Begin."""
    wanted = [ENERGY, "Power.Active.Import", "Current.Offered"]
    await cs.set_variables({"TxCtrlr.TxStartPoint": "EVConnected", "SampledDataCtrlr.TxStartedMeasurands": wanted})
    started = await ev_connected_pre_session(cs)  # step 1
    assert started is not None and started["eventType"] == "Started"
    [begin] = started["meterValue"]
    assert contexts(begin) == {"Transaction.Begin"} and measurands(begin) == set(wanted)
    register = next(v for v in begin["sampledValue"] if v["measurand"] == ENERGY)
    assert register["value"] == round(cs.station.view(1).transaction.meter_start_wh, 3)  # what the ledger bills from
    assert register["unitOfMeasure"] == {"unit": "Wh"} and register["location"] == "Outlet"
    await authorized_local(cs, ev_connected=True)
    await energy_transfer_started(cs)  # step 2


async def test_TC_J_08_CS(cs: Harness) -> None:
    """Sampled Meter Values - Context Transaction.Begin - EVSE not known: started at the token on this
    two-EVSE station (no EVSE yet), the first event with evse carries the Transaction.Begin values."""
    await cs.set_variables({"TxCtrlr.TxStartPoint": "Authorized"})
    started = await energy_transfer_started_from_idle(cs)  # step 1
    events = in_sequence(cs, started["transactionInfo"]["transactionId"])
    assert "evse" not in events[0] and "meterValue" not in events[0]
    first = next(e for e in events if "evse" in e)
    [begin] = first["meterValue"]
    assert contexts(begin) == {"Transaction.Begin"} and measurands(begin) == {ENERGY}


async def test_TC_J_09_CS(cs: Harness) -> None:
    """Sampled Meter Values - EventType Updated: MeterValuePeriodic every TxUpdatedInterval with
    TxUpdatedMeasurands (Sample.Periodic)."""
    wanted = [ENERGY, "Power.Active.Import", "Current.Import", "Voltage"]
    await cs.set_variables({"SampledDataCtrlr.TxUpdatedInterval": INTERVAL,
                            "SampledDataCtrlr.TxUpdatedMeasurands": wanted})  # fmt: skip
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    await cs.expect("TransactionEvent", lambda p: len(cs.calls("TransactionEvent", 0, lambda q: q[
        "triggerReason"] == "MeterValuePeriodic" and q["transactionInfo"]["transactionId"] == tx)) >= 3)  # fmt: skip
    periodic = [e for e in in_sequence(cs, tx) if e["triggerReason"] == "MeterValuePeriodic"]  # step 1
    for event in periodic:
        [mv] = event["meterValue"]
        assert contexts(mv) == {"Sample.Periodic"} and measurands(mv) == set(wanted)
        assert mv["timestamp"] <= event["timestamp"]  # J02.FR.10
    every_interval([e["meterValue"][0]["timestamp"] for e in periodic], INTERVAL)
    no_ev_location(periodic)


async def test_periodic_updated_events_while_online_are_written_without_an_fsync(cs: Harness) -> None:
    """evsed's own rule (journal.py): a MeterValuePeriodic event that finds nothing queued goes out
    at once and is committed without waiting for the disk; were each one fsynced, the database's
    durable commits would grow by one per event."""
    await cs.set_variables({"SampledDataCtrlr.TxUpdatedInterval": INTERVAL})
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)

    def periodic() -> int:
        return len(cs.calls("TransactionEvent", 0, lambda q: q["triggerReason"] == "MeterValuePeriodic"
                            and q["transactionInfo"]["transactionId"] == tx))  # fmt: skip

    await cs.expect("TransactionEvent", lambda p: periodic() >= 1)
    db = cs.frontend.journal.db
    events, durable = periodic(), db.durable_commits
    await cs.expect("TransactionEvent", lambda p: periodic() >= events + 4)
    assert db.durable_commits - durable < periodic() - events


async def test_TC_J_10_CS(cs: Harness) -> None:
    """Sampled Meter Values - EventType Ended: TxEndedMeasurands every TxEndedInterval from the start
    (Sample.Periodic) and at the end (Transaction.End), all in the Ended event; the register
    values are the ledger's at start and stop."""
    await cs.set_variables({"SampledDataCtrlr.TxEndedInterval": INTERVAL, "AlignedDataCtrlr.TxEndedMeasurands": []})
    await energy_transfer_started_from_idle(cs)
    tx = await transaction_id(cs)
    start = cs.station.view(1).transaction.started_at
    await cs.until(lambda: (datetime.now(start.tzinfo) - start).total_seconds() > 3 * INTERVAL, what="3 intervals")
    ended = await stop_authorized_local(cs)
    await ev_disconnected(cs)  # step 1
    values = ended["meterValue"]
    assert [contexts(mv) for mv in values[:-1]] == [{"Sample.Periodic"}] * (len(values) - 1)
    assert contexts(values[-1]) == {"Transaction.End"} and len(values) >= 4
    every_interval([mv["timestamp"] for mv in values[:-1]], INTERVAL)
    first, last = (next(v["value"] for v in mv["sampledValue"] if v["measurand"] == ENERGY)
                   for mv in (values[0], values[-1]))  # fmt: skip
    row = next(r for r in cs.station.ledger.history() if r.id == tx)
    assert (first, last) == (round(row.meter_start_wh, 3), round(row.meter_stop_wh, 3))


async def test_TC_J_11_CS(cs: Harness) -> None:
    """Sampled Meter Values - Signed."""
    require("C-42")
