"""Part 6 section 2.3, B Provisioning: statuses after an offline period (B04) and reconnecting
after a lost connection (part 4 section 5.3)."""

from __future__ import annotations

import time

from ocpp201.harness import CP_ID, MODULE, Harness
from ocpp201.states import connector_status

pytestmark = MODULE
WAIT_MINIMUM = 1  # <Configured RetryBackOffWaitMinimum>, seconds


def handshakes_since(cs: Harness, since: float) -> list[float]:
    return [at for cp, at in cs.csms.handshakes if cp == CP_ID and at > since]


async def offline_with_ev_plugged(cs: Harness) -> int:
    """Close the link and refuse reconnects; connect the EV; let the station back in."""
    await cs.drop()  # step 1
    cs.plug_in(1)  # step 2
    await cs.until(lambda: cs.station.view(1).ev_connected, what="the EV seen")
    since = cs.mark()
    cs.accept()  # step 3
    await cs.connected()
    return since


async def test_TC_B_51_CS(cs: Harness) -> None:
    """Status change during offline period - > Offline Threshold: after the reconnect every
    connector's status (the EV's Occupied, the other Available)."""
    await cs.set_variables({"OCPPCommCtrlr.OfflineThreshold": 0, "OCPPCommCtrlr.RetryBackOffWaitMinimum": 2,
                            "OCPPCommCtrlr.RetryBackOffRandomRange": 0})  # fmt: skip
    since = await offline_with_ev_plugged(cs)
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)  # step 4
    await cs.expect("StatusNotification", connector_status("Available", 2, 1), since)
    assert cs.calls("BootNotification", since) == []  # part 4 5.3: no boot for a reconnect


async def test_TC_B_52_CS(cs: Harness) -> None:
    """Status change during offline period - < Offline Threshold: after the reconnect only the
    connector whose status changed."""
    await cs.set_variables({"OCPPCommCtrlr.OfflineThreshold": 3, "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1,
                            "OCPPCommCtrlr.RetryBackOffRandomRange": 0})  # fmt: skip
    since = await offline_with_ev_plugged(cs)
    await cs.expect("StatusNotification", connector_status("Occupied", 1, 1), since)  # step 4
    await cs.barrier()
    assert [p["evseId"] for p in cs.calls("StatusNotification", since)] == [1]


async def test_TC_B_57_CS(cs: Harness) -> None:
    """Network Reconnection - After connection loss: the first reconnection after
    RetryBackOffWaitMinimum; after a refused attempt the wait doubles (RandomRange 0)."""
    await cs.set_variables({"OCPPCommCtrlr.NetworkProfileConnectionAttempts": 3,
                            "OCPPCommCtrlr.RetryBackOffRepeatTimes": 2, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
                            "OCPPCommCtrlr.RetryBackOffWaitMinimum": WAIT_MINIMUM})  # fmt: skip
    closed = time.monotonic()
    await cs.csms.close(CP_ID)  # step 1
    await cs.until(lambda: bool(handshakes_since(cs, closed)), what="a reconnection")
    await cs.connected()
    assert handshakes_since(cs, closed)[0] - closed >= WAIT_MINIMUM  # step 2
    cs.csms.refusing = True
    closed = time.monotonic()
    await cs.csms.close(CP_ID)  # step 4
    await cs.until(lambda: len(handshakes_since(cs, closed)) == 1, what="the refused attempt")
    refused = handshakes_since(cs, closed)[0]
    assert refused - closed >= WAIT_MINIMUM  # step 5
    cs.accept()
    await cs.until(lambda: len(handshakes_since(cs, closed)) == 2, what="the next attempt")
    await cs.connected()
    assert handshakes_since(cs, closed)[1] - refused >= 2 * WAIT_MINIMUM  # step 7: the wait doubled
