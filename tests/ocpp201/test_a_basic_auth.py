"""Part 6 section 2.2, A Security, on security profile 1 (Basic auth over ws): the password in the
HTTP upgrade (A00), changing it (A01), and an upgrade refused for want of a CSMS root (A05)."""

from __future__ import annotations

import base64
import json

from controller.ocpp.certificates import hash_data
from controller.ocpp.v201.credentials import PASSWORD as PASSWORD_VARIABLE
from ocpp201.harness import CP_ID, MODULE, PASSWORD, Harness, Secured
from ocpp201.pki import ORGANIZATION
from ocpp201.states import booted, connection_data
from sim import pki

pytestmark = MODULE
SECURITY = Secured()
PRESETS = {"SecurityCtrlr.OrganizationName": ORGANIZATION}
PRIORITY = "OCPPCommCtrlr.NetworkConfigurationPriority"
NEW_PASSWORD = "a-New-password:with spaces-9876"  # passwordString: any printable character (errata 2.1)


def basic(password: str) -> str:
    return "Basic " + base64.b64encode(f"{CP_ID}:{password}".encode()).decode()


async def test_TC_A_01_CS(cs: Harness) -> None:
    """Basic Authentication - Valid username/password combination: reusable state Booted; the
    upgrade request carries Basic <ChargingStationId>:<BasicAuthPassword>, the id the one at the
    end of the URL, the password 16-40 characters."""
    since = len(cs.csms.upgrades)
    await booted(cs)  # step 1
    upgrade = cs.csms.upgrades[since]
    assert upgrade.cp == CP_ID and upgrade.authorization == basic(PASSWORD)
    assert 16 <= len(PASSWORD) <= 40
    assert cs.csms.profiles[CP_ID] == 1


async def test_TC_A_09_CS(cs: Harness) -> None:
    """Update Charging Station Password for HTTP Basic Authentication - Accepted: SetVariables
    BasicAuthPassword; the station reconnects with the new password (A01.FR.11/12: the change is
    in the security log, the password in no log)."""
    cs.csms.config.passwords[CP_ID] = NEW_PASSWORD  # A01.FR.03: the CSMS takes the new one at once
    since = len(cs.csms.upgrades)
    result = (await cs.set_variables({PASSWORD_VARIABLE: NEW_PASSWORD}))[0]
    assert result["attributeStatus"] == "Accepted"  # step 2
    await cs.until(lambda: len(cs.csms.upgrades) > since, what="the reconnection")
    assert cs.csms.upgrades[since].authorization == basic(NEW_PASSWORD)  # step 3
    await cs.connected()
    log = (cs.state_dir / "security.log").read_text()
    assert NEW_PASSWORD not in log and PASSWORD not in log
    events = [json.loads(line) for line in log.splitlines()]
    assert any(e["type"] == "ReconfigurationOfSecurityParameters" and "BasicAuthPassword" in e["techInfo"]
               for e in events)  # fmt: skip
    reported = await cs.call("GetVariables", {"getVariableData": [
        {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}]})  # fmt: skip
    assert "attributeValue" not in reported["getVariableResult"][0]  # WriteOnly


async def test_TC_A_10_CS(cs: Harness) -> None:
    """Update Charging Station Password for HTTP Basic Authentication - Rejected: a password shorter
    than 16 characters is Rejected; after a boot the station still authenticates with the old one."""
    since = len(cs.csms.upgrades)
    result = (await cs.try_set_variables({PASSWORD_VARIABLE: "too-short-15chr"}))[0]
    assert result["attributeStatus"] == "Rejected", result  # step 2
    await booted(cs)  # step 5
    assert cs.csms.upgrades[since].authorization == basic(PASSWORD)  # step 3
    assert cs.variable(PASSWORD_VARIABLE) == PASSWORD  # post scenario


async def test_TC_A_20_CS(cs: Harness) -> None:
    """Upgrade Charging Station Security Profile - No valid CSMSRootCertificate installed (errata
    6.2.8/6.2.9): on profile 1 without a CSMS root, a profile-2 NetworkConnectionProfile may be
    stored, but NetworkConfigurationPriority naming it first is Rejected (A05.FR.02)."""
    assert cs.frontend.connection.trust_anchors() == []
    payload = {"configurationSlot": 2, "connectionData": connection_data("wss://localhost:1/ocpp", 2)}
    assert (await cs.call("SetNetworkProfile", payload))["status"] in ("Accepted", "Rejected")  # step 2
    result = (await cs.try_set_variables({PRIORITY: "2,1"}))[0]
    assert result["attributeStatus"] == "Rejected", result  # step 4
    assert "CSMS root" in result["attributeStatusInfo"]["additionalInfo"]
    assert cs.variable(PRIORITY) == ("1",)


async def test_nothing_about_trust_or_identity_changes_over_profile_1(cs: Harness) -> None:
    """Over an unsecured connection (profile 1) InstallCertificate and CertificateSigned are
    Rejected, DeleteCertificate Failed and TriggerMessage SignChargingStationCertificate Rejected,
    each saying why; the list is still answered; nothing was installed."""
    root = pki.authority("a CSMS root over ws")
    unsecured = {
        "reasonCode": "UnsupportedRequest",
        "additionalInfo": "not over an unsecured connection (security profile 1)",
    }
    answers = [
        await cs.call("InstallCertificate", {"certificateType": "CSMSRootCertificate", "certificate": root.cert_pem}),
        await cs.call("CertificateSigned", {"certificateChain": pki.client(root, "SN-TC-1").cert_pem}),
        await cs.call("DeleteCertificate", {"certificateHashData": hash_data(root.certificate).payload()}),
    ]
    assert [a["status"] for a in answers] == ["Rejected", "Rejected", "Failed"]
    assert all(a["statusInfo"] == unsecured for a in answers)
    since = cs.mark()
    trigger = await cs.call("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    assert trigger["status"] == "Rejected"
    await cs.barrier()
    assert cs.calls("SignCertificate", since) == []
    assert await cs.call("GetInstalledCertificateIds", {}) == {"status": "NotFound"}
    assert cs.frontend.certificates.count() == 0
