"""``evsed sim --ocpp 2.0.1``: every scenario of the bench over OCPP 2.0.1 (and the basic one over
wss with security profile 2), run side by side as real processes; the JSON summary as for 1.6,
with every transaction complete at the bench CSMS (Started, Ended, no seqNo missing or twice)
and the energy it counted equal to the station's ledger."""

from __future__ import annotations

import json
import subprocess

from conftest import EVSED, REPO

RUNS = {
    "basic": ("--scenario", "basic"),
    "two-connectors": ("--scenario", "two-connectors"),
    "faults": ("--scenario", "faults"),
    "basic-tls": ("--scenario", "basic", "--tls"),
}


def test_evsed_sim_every_scenario_over_ocpp_2_0_1() -> None:
    procs = {
        name: subprocess.Popen(
            [EVSED, "sim", *args, "--ocpp", "2.0.1", "--headless", "--json"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in RUNS.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{out}\n{err}"
        results[name] = json.loads(out)
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
