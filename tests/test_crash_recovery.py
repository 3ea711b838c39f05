"""kill -9 during charging, then a restart on the same state directory.

The daemon runs as ``evsed run`` in a subprocess; it is driven over the local API and killed
with SIGKILL while two sessions charge. The restarted daemon must close both with PowerLoss
(controller/core/ledger.py ``recover``) and leave nothing open.

The simulated meter restarts at its initial register (1000 Wh x connector id), unlike a real
meter. ``recover`` keeps the recorded ``last_meter_wh`` when the register read at restart is
lower than it, and takes the register otherwise: connector 1 below shows the first case (its
session started after an earlier one moved the register), connector 2 the second.
"""

from __future__ import annotations

import signal

from conftest import EV, TWO_CONNECTORS, read_transactions, wait_until

CONFIG = TWO_CONNECTORS + '\n[charging]\nauthorize = "any"\n'


def test_sessions_left_open_by_kill_9_are_closed_with_power_loss(evsed_process, tmp_path) -> None:
    state = tmp_path / "state"
    first = evsed_process(CONFIG, state_dir=state)

    def charging(cid: int) -> dict:
        def energy_flowed() -> dict | None:
            c = first.connector(cid)
            return c if c["status"] == "Charging" and c["transaction"]["energy_wh"] > 0.5 else None

        return wait_until(energy_flowed, what=f"energy on connector {cid}")

    # Connector 1: a first session moves the register beyond its initial 1000 Wh ...
    assert first.api("POST", "/api/sim/plug-in", {"connector": 1, **EV}) == (200, {"ok": True})
    charging(1)
    first.api("POST", "/api/sim/unplug", {"connector": 1})
    wait_until(lambda: first.connector(1)["status"] == "Available", what="unplugged")
    # ... and the session that will be cut starts above it.
    first.api("POST", "/api/sim/plug-in", {"connector": 1, **EV})
    first.api("POST", "/api/sim/plug-in", {"connector": 2, **EV})
    c1, c2 = charging(1), charging(2)
    assert c1["transaction"]["meter_start_wh"] > 1000.0
    assert c2["transaction"]["meter_start_wh"] == 2000.0

    assert first.terminate(signal.SIGKILL) == -signal.SIGKILL
    on_disk = {r["id"]: r for r in read_transactions(state / "evsed.db")}
    open_rows = {r["evse"]: r for r in on_disk.values() if r["stopped_at"] is None}
    assert set(open_rows) == {1, 2}, on_disk  # the crash left both open
    assert open_rows[1]["id"] == c1["transaction"]["id"] and open_rows[2]["id"] == c2["transaction"]["id"]
    recorded_1 = open_rows[1]["last_meter_wh"]
    assert recorded_1 >= open_rows[1]["meter_start_wh"] > 1000.0

    second = evsed_process(CONFIG, state_dir=state)
    code, sessions = second.api("GET", "/api/sessions")
    assert code == 200
    by_id = {s["id"]: s for s in sessions}
    assert set(by_id) == set(on_disk)
    assert all(s["stopped_at"] is not None for s in sessions), sessions  # no session is left open

    cut_1, cut_2 = by_id[open_rows[1]["id"]], by_id[open_rows[2]["id"]]
    assert cut_1["stop_cause"] == cut_2["stop_cause"] == "PowerLoss"
    # Connector 1: the register read at restart (1000 Wh) is below the recorded value: it is kept.
    assert second.connector(1)["meter"] is None or second.connector(1)["meter"]["energy_wh"] < recorded_1
    assert cut_1["meter_stop_wh"] == recorded_1
    assert cut_1["meter_stop_wh"] >= cut_1["meter_start_wh"]
    # Connector 2: the register (2000 Wh) is not below the recorded value: it is taken.
    assert cut_2["meter_stop_wh"] == 2000.0 >= cut_2["meter_start_wh"]
    # The earlier, cleanly ended session is untouched.
    [earlier] = [s for s in sessions if s["id"] not in (cut_1["id"], cut_2["id"])]
    assert earlier["stop_cause"] == "EVDisconnected"
    assert earlier["meter_stop_wh"] == on_disk[earlier["id"]]["meter_stop_wh"]

    for cid in (1, 2):
        c = second.connector(cid)
        assert (c["status"], c["transaction"]) == ("Available", None)
    assert "PowerLoss" in second.log()

    # Transaction ids never repeat across the restart (UUIDs).
    second.api("POST", "/api/sim/plug-in", {"connector": 1, **EV})
    new = wait_until(lambda: second.connector(1)["transaction"], what="a new transaction")
    assert new["id"] not in by_id and len(new["id"]) == 36
    assert second.terminate(signal.SIGTERM) == 0
    assert all(r["stopped_at"] is not None for r in read_transactions(state / "evsed.db"))
