"""Part 6 section 2.3, B Provisioning: network connection profiles (B09) and the migration to
another one with its fallbacks (B10; errata 6.2.17/18), on security profile 1 between two
endpoints of the test CSMS ("the same CSMS root": no TLS here)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ocpp201.harness import CP_ID, MODULE, Harness, Secured, require
from ocpp201.states import booted_through, connection_data, migrating, network_profile_set

pytestmark = MODULE
SECURITY = Secured()
WAIT_MINIMUM = 1  # <Configured RetryBackOffWaitMinimum>, seconds


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def attempts_on(cs: Harness, port: int, since: int) -> list[float]:
    return [u.at for u in cs.csms.upgrades[since:] if u.cp == CP_ID and u.port == port]


async def test_TC_B_43_CS(cs: Harness) -> None:
    """Set new NetworkConnectionProfile - Rejected: configurationSlot 999 is not in the valuesList."""
    payload = {"configurationSlot": 999, "connectionData": connection_data("ws://127.0.0.1:1/ocpp", 1)}
    response = await cs.call("SetNetworkProfile", payload)
    assert response["status"] == "Rejected"  # step 2
    assert response["statusInfo"]["reasonCode"] == "InvalidConfSlot"  # errata 2.11


async def test_TC_B_45_CS(cs: Harness) -> None:
    """Migrate to new ConnectionProfile - Success - Same CSMS Root: the other endpoint into the
    free slot, NetworkConfigurationPriority new,old, Reset OnIdle; Booted over the new one."""
    url = await cs.endpoint()
    old = cs.frontend.connectivity.active
    slot = await network_profile_set(cs, url, 1)  # step 2
    since = cs.mark()
    await migrating(cs, slot, old)  # steps 4, 6
    await booted_through(cs, since, port_of(url))  # step 7
    assert cs.frontend.connectivity.active == slot


async def test_TC_B_46_CS(cs: Harness) -> None:
    """Migrate to new ConnectionProfile - Fallback mechanism - Same CSMS Root: the new endpoint
    does not take the station (it refuses the upgrade: a failed attempt, as the silence of step 7
    is); after NetworkProfileConnectionAttempts (2) attempts there the station connects with the
    next slot of the priority."""
    await cs.set_variables({"OCPPCommCtrlr.NetworkProfileConnectionAttempts": 2,
                            "OCPPCommCtrlr.RetryBackOffWaitMinimum": WAIT_MINIMUM,
                            "OCPPCommCtrlr.RetryBackOffRandomRange": 0})  # fmt: skip
    url = await cs.endpoint()
    cs.csms.refusing_ports.add(port_of(url))
    old_port = cs.csms.upgrades[-1].port
    old = cs.frontend.connectivity.active
    slot = await network_profile_set(cs, url, 1)  # step 2
    since, upgrades = cs.mark(), len(cs.csms.upgrades)
    await migrating(cs, slot, old)  # steps 4, 6
    await booted_through(cs, since, old_port)  # steps 7-9
    assert len(attempts_on(cs, port_of(url), upgrades)) == 2
    assert cs.frontend.connectivity.active == old


async def test_TC_B_49_CS(cs: Harness) -> None:
    """Migrate to new ConnectionProfile - Fallback after NetworkProfileConnectionAttempts per
    NetworkConfigurationPriority failed - Same CSMS Root (C-47): both slots refuse their one
    attempt; the station goes back to the slot of its last connection and, RetryBackOffWaitMinimum
    later, connects there."""
    require("C-47")
    await cs.set_variables({"OCPPCommCtrlr.NetworkProfileConnectionAttempts": 1,
                            "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
                            "OCPPCommCtrlr.RetryBackOffWaitMinimum": WAIT_MINIMUM})  # fmt: skip
    url = await cs.endpoint()
    old_port = cs.csms.upgrades[-1].port
    old = cs.frontend.connectivity.active
    cs.csms.refusing_ports.update({port_of(url), old_port})
    slot = await network_profile_set(cs, url, 1)  # step 2
    since, upgrades = cs.mark(), len(cs.csms.upgrades)
    await migrating(cs, slot, old)  # steps 4, 6
    await cs.until(lambda: len(attempts_on(cs, old_port, upgrades)) == 1, what="the attempt on the old slot")
    cs.csms.refusing_ports.clear()  # step 12: the next one is taken
    await booted_through(cs, since, old_port)  # step 13
    new, back = attempts_on(cs, port_of(url), upgrades), attempts_on(cs, old_port, upgrades)
    assert len(new) == 1 and len(back) == 2  # steps 7-12
    assert back[0] > new[0] and back[1] - back[0] >= WAIT_MINIMUM  # step 11
