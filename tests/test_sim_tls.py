"""``evsed sim --tls``: the whole bench over wss with a CA generated for the run."""

import json

import pytest
from conftest import run_cli


@pytest.mark.slow
def test_bench_over_tls_with_security_profile_2():
    done = run_cli("sim", "--tls", "--headless", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["ok"], summary["error"]
    ocpp = summary["ocpp"]
    assert ocpp["security_profiles"] == {"EVSED-BENCH-1": 2}  # Basic auth over TLS, verified by the bench CA
    assert ocpp["received"]["StartTransaction"] == ocpp["received"]["StopTransaction"] == 1
    assert ocpp["received"]["SecurityEventNotification"] >= 1  # StartupOfTheDevice, guaranteed delivery
    assert ocpp["callerrors"] == 0
