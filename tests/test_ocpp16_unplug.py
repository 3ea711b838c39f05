"""What unplugging means, end to end through the bench CSMS: StopTransactionOnEVSideDisconnect,
UnlockConnectorOnEVSideDisconnect (1.6 sections 4.9 and 4.10), ConnectionTimeOut and UnlockConnector,
on simulated sockets with a cable lock."""

from ocpp_bench import EV, Bench, until, v16_status


async def charging(bench: Bench, tag: str = "TAG1"):
    daemon = await bench.start()
    sim = daemon.board.simulation
    sim.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    sim.swipe(tag)
    await bench.wait_status(1, "Charging")
    return daemon, sim, daemon.board.connector(1).lock


async def test_transaction_outlives_the_unplug_when_configured_and_the_cable_stays_locked(csms, tmp_path):
    bench = Bench(csms, tmp_path, lock=True, keys="StopTransactionOnEVSideDisconnect = false\n")
    try:
        _daemon, sim, lock = await charging(bench)
        assert lock.locked()
        sim.unplug(1)
        await bench.wait_status(1, "SuspendedEV")
        assert csms.received["StopTransaction"] == 0
        assert lock.locked(), "4.9: cables always remain locked when the transaction is kept"
        sim.plug_in(1, **EV)
        await bench.wait_status(1, "Charging")  # energy transfer is allowed again
        sim.swipe("TAG1")
        await bench.wait(lambda c: c.received["StopTransaction"] == 1)
        assert bench.payloads("StopTransaction")[0]["reason"] == "Local"
        await until(lambda: not lock.locked())
    finally:
        await bench.stop()


async def test_stopped_on_unplug_but_locked_until_the_same_tag_returns(csms, tmp_path):
    bench = Bench(csms, tmp_path, lock=True, keys="UnlockConnectorOnEVSideDisconnect = false\n")
    try:
        _daemon, sim, lock = await charging(bench)
        sim.unplug(1)
        await bench.wait(lambda c: c.received["StopTransaction"] == 1)
        assert bench.payloads("StopTransaction")[0]["reason"] == "EVDisconnected"
        await bench.wait_status(1, "Available")
        assert lock.locked()
        sim.swipe("04A2B3C4")  # somebody else's tag: authorized, but not the owner of the cable
        await bench.wait(lambda c: c.received["Authorize"] == 2)
        assert lock.locked()
        sim.swipe("TAG1")
        await until(lambda: not lock.locked())
        assert csms.received["StartTransaction"] == 1, "the owner's tag released the cable, started nothing"
    finally:
        await bench.stop()


async def test_default_unplug_stops_and_unlocks(csms, tmp_path):
    bench = Bench(csms, tmp_path, lock=True)
    try:
        _daemon, sim, lock = await charging(bench)
        sim.unplug(1)
        await bench.wait(lambda c: c.received["StopTransaction"] == 1)
        assert bench.payloads("StopTransaction")[0]["reason"] == "EVDisconnected"
        await until(lambda: not lock.locked())
    finally:
        await bench.stop()


async def test_connection_timeout_key_sends_an_unauthorized_plug_back_to_available(bench):
    daemon = await bench.start()
    await bench.wait_status(1, "Available")
    assert (await bench.call("ChangeConfiguration", {"key": "ConnectionTimeOut", "value": "1"})) == {
        "status": "Accepted"
    }
    assert daemon.station.policy.connection_timeout_s == 1
    daemon.board.simulation.plug_in(1, **EV)
    await bench.wait_status(1, "Preparing")
    await bench.wait_status(1, "Available")  # [charging] connection_timeout_s is 30 s here


async def test_unlock_connector_stops_the_transaction_and_unlocks(csms, tmp_path):
    bench = Bench(csms, tmp_path, lock=True)
    try:
        _daemon, _sim, lock = await charging(bench)
        assert (await bench.call("UnlockConnector", {"connectorId": 1})) == {"status": "Unlocked"}
        assert not lock.locked()
        await bench.wait(lambda c: c.received["StopTransaction"] == 1)
        assert bench.payloads("StopTransaction")[0]["reason"] == "UnlockCommand"
    finally:
        await bench.stop()


async def test_minimum_status_duration_hides_a_short_lived_status(csms, tmp_path):
    bench = Bench(csms, tmp_path, keys="MinimumStatusDuration = 1\n")
    try:
        daemon = await bench.start()
        await bench.wait_status(1, "Available")
        sim = daemon.board.simulation
        sim.plug_in(1, **EV)
        await until(lambda: v16_status(daemon, 1) == "Preparing")
        sim.unplug(1)  # Preparing lasted far less than a second
        await until(lambda: v16_status(daemon, 1) == "Available")
        sim.plug_in(1, **EV)
        await bench.wait_status(1, "Preparing")  # this one held for the whole second
        preparing = [p for p in bench.payloads("StatusNotification") if p["status"] == "Preparing"]
        assert len(preparing) == 1
        assert [p["status"] for p in bench.payloads("StatusNotification") if p["connectorId"] == 1] == [
            "Available",
            "Preparing",
        ]
    finally:
        await bench.stop()


async def test_connector_zero_is_faulted_only_when_every_connector_is(csms, tmp_path):
    bench = Bench(csms, tmp_path, connectors=2)
    try:
        daemon = await bench.start()
        await bench.wait_status(2, "Available")
        sim = daemon.board.simulation
        sim.set_fault(1, "overtemp", True)
        await bench.wait_status(1, "Faulted")
        assert bench.status_of(0) == "Available", "one connector can still charge"
        sim.set_fault(2, "overtemp", True)
        await bench.wait_status(0, "Faulted")
        zero = [p for p in bench.payloads("StatusNotification") if p["connectorId"] == 0][-1]
        assert zero["errorCode"] == "HighTemperature"
        sim.set_fault(1, "overtemp", False)
        await bench.wait_status(0, "Available")
    finally:
        await bench.stop()
