"""``evsed sim``: the bench's scenarios as real processes, over OCPP 1.6J and 2.0.1, over ws and wss,
and the firmware update into a release built from this checkout (sim/firmware_demo.py).

Every run of this module is started side by side by one module fixture before its first test;
each test then waits for the runs it checks (conftest.SimRun). A run lasts as long as its
scenario's pace (the holds), not as long as its work: one after the other, in tests of their
own, they took well over a minute. The fuse scenario runs beside the tests of
test_energy_fuse_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import SimRun

from controller import __version__

RUNS: dict[str, tuple[str, ...]] = {
    "basic": ("--scenario", "basic", "--headless", "--json"),
    "faults": ("--scenario", "faults", "--headless", "--json"),
    "two-connectors": ("--scenario", "two-connectors", "--headless", "--json"),
    "human": (),  # the demo as people run it (not a terminal here: plain lines, no control codes)
    "tls": ("--tls", "--headless", "--json"),
    "2.0.1 basic": ("--scenario", "basic", "--ocpp", "2.0.1", "--headless", "--json"),
    "2.0.1 two-connectors": ("--scenario", "two-connectors", "--ocpp", "2.0.1", "--headless", "--json"),
    "2.0.1 faults": ("--scenario", "faults", "--ocpp", "2.0.1", "--headless", "--json"),
    "2.0.1 basic-tls": ("--scenario", "basic", "--tls", "--ocpp", "2.0.1", "--headless", "--json"),
    "firmware 1.6": ("--ocpp", "1.6", "--scenario", "firmware-update", "--headless", "--json"),
    "firmware 2.0.1": ("--ocpp", "2.0.1", "--scenario", "firmware-update", "--headless", "--json"),
    "firmware frames": ("--scenario", "firmware-update", "--frames"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SimRun]]:
    where = tmp_path_factory.mktemp("sim")
    started = {name: SimRun.start(name, args, where) for name, args in RUNS.items()}
    yield started
    for run in started.values():
        run.kill()


def test_evsed_sim_scenarios_print_one_json_summary(runs: dict[str, SimRun]) -> None:
    """``evsed sim --headless --json`` for the basic, faults and two-connectors scenarios, and the
    human demo. Every transaction a scenario started is ended by its end (the summary reads the
    ledger as soon as the last status is seen: a stop made visible before it was durable showed
    as an open transaction with 0 Wh)."""
    basic = runs["basic"].summary()
    assert (basic["scenario"], basic["ok"], basic["error"]) == ("basic", True, None)
    [s] = basic["transactions"]
    assert (s["evse"], s["token"], s["stop_cause"]) == (1, "DEMO-TAG-1", "Local")
    assert s["energy_wh"] > 0
    assert abs(s["max_current_a"] - 32.0) <= 0.5
    assert abs(s["meter_stop_wh"] - s["meter_start_wh"] - s["energy_wh"]) <= 0.11
    assert basic["faults"] == []
    # The bench CSMS sampled the session (MeterValueSampleInterval 5 s) and the station told it.
    assert basic["ocpp"]["received"]["MeterValues"] >= 2, basic["ocpp"]

    faults = runs["faults"].summary()
    assert faults["ok"] is True, faults["error"]
    assert [f["kind"] for f in faults["faults"]] == ["meter_offline", "overtemp", "rcd", "diode"]
    assert {f["connector"] for f in faults["faults"]} == {1}
    first = faults["transactions"][0]
    assert (first["token"], first["stop_cause"]) == ("DEMO-TAG-1", "GroundFault")  # ended by the RCD trip
    assert first["energy_wh"] > 0

    two = runs["two-connectors"].summary()
    assert two["ok"] is True, two["error"]
    assert [(s["evse"], s["token"], s["stop_cause"]) for s in two["transactions"]] == [
        (1, "DEMO-TAG-1", "EVDisconnected"),
        (2, "DEMO-TAG-2", "EVDisconnected"),
    ]
    assert all(s["energy_wh"] > 0 and s["meter_stop_wh"] is not None for s in two["transactions"])

    out, err = runs["human"].finish()
    lines = out.splitlines()
    assert lines[-2].startswith("scenario basic: done in ") and lines[-1].startswith("  connector 1: DEMO-TAG-1 ")
    assert any(line.startswith("#1 Charging      C2 offered 32.0 A") for line in out.splitlines()), out
    assert "connector 1: EV plugged in (32 A x 3 phase(s), 60 kWh battery, 20 % charged)" in err
    for noise in ("receive message", "send [", "EvParams(", "websockets", "{'", "\033"):
        assert noise not in out + err, f"{noise!r} reached the user"


@pytest.mark.slow
def test_bench_over_tls_with_security_profile_2(runs: dict[str, SimRun]) -> None:
    """``evsed sim --tls``: the whole bench over wss with a CA generated for the run."""
    summary = runs["tls"].summary()
    assert summary["ok"], summary["error"]
    ocpp = summary["ocpp"]
    assert ocpp["security_profiles"] == {"EVSED-BENCH-1": 2}  # Basic auth over TLS, verified by the bench CA
    assert ocpp["received"]["StartTransaction"] == ocpp["received"]["StopTransaction"] == 1
    assert ocpp["received"]["SecurityEventNotification"] >= 1  # StartupOfTheDevice, guaranteed delivery
    assert ocpp["callerrors"] == 0


def test_evsed_sim_every_scenario_over_ocpp_2_0_1(runs: dict[str, SimRun]) -> None:
    """``evsed sim --ocpp 2.0.1``: every scenario of the bench over OCPP 2.0.1 (and the basic one
    over wss with security profile 2); the JSON summary as for 1.6, with every transaction complete
    at the bench CSMS (Started, Ended, no seqNo missing or twice) and the energy it counted equal to
    the station's ledger."""
    results = {name.removeprefix("2.0.1 "): runs[name].summary() for name in RUNS if name.startswith("2.0.1 ")}
    assert set(results) == {"basic", "two-connectors", "faults", "basic-tls"}
    for name, summary in results.items():
        assert summary["ok"] is True, (name, summary["error"])
        ocpp = summary["ocpp"]
        [(station, version)] = ocpp["versions"].items()
        assert version == "2.0.1", name
        assert ocpp["received"]["BootNotification"] == 1 and ocpp["callerrors"] == 0, (name, ocpp)
        at_csms = list(ocpp["transactions"][station].values())
        assert len(at_csms) == len(summary["transactions"]), name
        for tx in at_csms:
            assert tx["complete"] and not tx["gaps"] and not tx["duplicates"], (name, tx)
        assert sorted(round(t["energy_wh"], 1) for t in at_csms) == sorted(
            t["energy_wh"] for t in summary["transactions"]
        ), name
    [basic] = results["basic"]["ocpp"]["transactions"]["EVSED-BENCH-1"].values()
    assert basic["id_token"] == {"id_token": "DEMO-TAG-1", "type": "ISO14443"}
    assert basic["stopped_reason"] == "Local" and basic["charging_state"] in ("EVConnected", "Idle")
    # the bench CSMS set TxUpdatedInterval to 5 s after the boot: the session shows its meter values
    periodic = [e for e in basic["events"] if e["trigger_reason"] == "MeterValuePeriodic" and e["meter_value"]]
    assert periodic, basic["events"]
    reasons = [t["stopped_reason"] for t in results["faults"]["ocpp"]["transactions"]["EVSED-BENCH-1"].values()]
    assert reasons[0] == "GroundFault"  # the RCD trip ended the first one
    assert results["basic-tls"]["ocpp"]["security_profiles"] == {"EVSED-BENCH-1": 2}


@pytest.mark.slow
@pytest.mark.parametrize(("version", "request_sent"), [("1.6", "SignedUpdateFirmware"), ("2.0.1", "UpdateFirmware")])
def test_sim_scenario_firmware_update_reports_the_versions_and_statuses(
    runs: dict[str, SimRun], version: str, request_sent: str
) -> None:
    summary = runs[f"firmware {version}"].summary()
    assert summary["ok"] is True and summary["firmware"]["from"] == __version__
    assert summary["firmware"]["to"] == f"{__version__}+bench1"
    assert summary["firmware"]["statuses"] == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                               "InstallRebooting", "Installed"]  # fmt: skip
    assert summary["ocpp"]["versions"] == {"EVSED-BENCH-1": version}
    assert summary["ocpp"]["sent"] == {request_sent: 1}
    assert summary["ocpp"]["received"]["BootNotification"] == 2


@pytest.mark.slow
def test_sim_scenario_firmware_update_shows_its_statuses_without_json_and_frames_on_request(
    runs: dict[str, SimRun],
) -> None:
    out, err = runs["firmware frames"].finish()
    assert out.splitlines()[-1] == (
        f"  firmware {__version__} -> {__version__}+bench1: "
        "Downloading -> Downloaded -> SignatureVerified -> Installing -> InstallRebooting -> Installed"
    )
    frames = [line for line in err.splitlines() if "receive message [2," in line]
    assert any('"BootNotification"' in line for line in frames), err[-2000:]
