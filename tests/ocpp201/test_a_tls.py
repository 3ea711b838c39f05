"""Part 6 section 2.2, A Security, over TLS: the CSMS's server certificate (A00), the station's
certificate and its CSR (A02), the security profile upgrade and its refusals (A05), and the
client certificate of profile 3 (A00).

The station starts on security profile 2 (Basic auth over wss, the CSMS root from ``[ocpp]
ca_file``). The cases run in file order: TC_A_19 raises the station to profile 3 for good, and
TC_A_07 and TC_A_11 run on that profile, as their prerequisites ask.
"""

from __future__ import annotations

import ssl
import warnings
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from ocpp201.harness import CP_ID, MODULE, Harness, Secured, require
from ocpp201.pki import ORGANIZATION
from ocpp201.states import (
    booted,
    booted_through,
    connection_data,
    migrating,
    network_profile_set,
    renew_charging_station_certificate,
    statuses_of_all_connectors,
    strong_enough,
)
from sim import pki

pytestmark = MODULE
SECURITY = Secured(tls=True)
PRESETS = {"SecurityCtrlr.OrganizationName": ORGANIZATION, "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1,
           "OCPPCommCtrlr.RetryBackOffRandomRange": 0, "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0}  # fmt: skip
PRIORITY = "OCPPCommCtrlr.NetworkConfigurationPriority"
SERIAL = "SN-TC-1"  # [station] serial_number: the CN of the station's certificate
NOW = datetime.now(UTC)


def tls_of_the_link(cs: Harness) -> ssl.SSLObject:
    ws = cs.frontend.link._ws
    assert ws is not None
    ssl_object: ssl.SSLObject = ws.transport.get_extra_info("ssl_object")
    return ssl_object


async def test_TC_A_04_CS(cs: Harness) -> None:
    """TLS - server-side certificate - Valid certificate: from Booting, TLS 1.2 or above with the
    cipher suites of A00.FR.319, Basic auth over it (profile 2), BootNotification, statuses."""
    since = cs.mark()
    await cs.power_cycle()  # Booting
    await cs.expect("BootNotification", since=since)  # step 7
    await statuses_of_all_connectors(cs, since)  # step 9
    assert tls_of_the_link(cs).version() in ("TLSv1.2", "TLSv1.3")  # step 2
    offered = {c["name"] for c in cs.frontend.connection.ssl_context(cs.frontend.link.url, 2).get_ciphers()}
    assert {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"} <= offered
    assert cs.csms.profiles[CP_ID] == 2  # step 5: the password over TLS


async def test_TC_A_05_CS(cs: Harness) -> None:
    """TLS - server-side certificate - Invalid certificate (errata 6.2.2-6.2.4): the CSMS presents
    an expired one, one not valid yet, one of a root the station does not have, one for another
    host, one with a wildcard name (AllowCSMSTLSWildcards is false); each time the station ends
    the attempt and, once connected again to a valid one, sends InvalidCsmsCertificate."""
    await cs.set_variables({"OCPPCommCtrlr.NetworkProfileConnectionAttempts": 3})
    context = cs.tls[cs.csms.port]
    invalid = {
        "expired": {"issuer": cs.pki.root, "not_before": NOW - timedelta(days=30),
                    "not_after": NOW - timedelta(days=1)},
        "future": {"issuer": cs.pki.root, "not_before": NOW + timedelta(days=1)},
        "unknown root": {"issuer": cs.pki.stranger},
        "other host": {"issuer": cs.pki.root, "hostnames": ("not-the-csms.example",)},
        "wildcard": {"issuer": cs.pki.root, "hostnames": ("*.localhost", "localhost")},  # AllowCSMSTLSWildcards false
    }  # fmt: skip
    for why, certificate in invalid.items():
        since = cs.mark()
        cs.pki.serve_with(context, **certificate)  # type: ignore[arg-type]
        await cs.csms.close(CP_ID)  # step 4
        await cs.until(lambda: "server certificate" in cs.frontend.link.last_error, what=why)  # step 7
        cs.pki.serve_with(context, cs.pki.root)
        event = await cs.expect("SecurityEventNotification", since=since)  # steps 8-10
        assert event["type"] == "InvalidCsmsCertificate", (why, event)  # step 11
        await cs.connected()


async def test_TC_A_06_CS(cs: Harness) -> None:
    """TLS - server-side certificate - TLS version too low: the CSMS offers TLS 1.1 at most; the
    station does not connect so; once the CSMS offers TLS 1.2 it boots over it (the
    InvalidTLSVersion event of steps 16/17 is optional: this station cannot tell a TLS 1.1-only
    server from a broken connection, see README)."""
    await cs.set_variables({"OCPPCommCtrlr.NetworkProfileConnectionAttempts": 1})
    context = cs.tls[cs.csms.port]
    since, upgrades = cs.mark(), len(cs.csms.upgrades)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is deprecated: that is the point
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version, context.maximum_version = ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1
    try:
        await cs.power_cycle()
        await cs.until(lambda: bool(cs.frontend.link.last_error), what="the attempt with TLS 1.1")  # step 3
        assert len(cs.csms.upgrades) == upgrades  # no HTTP upgrade without TLS 1.2
    finally:
        context.minimum_version, context.maximum_version = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED
        context.set_ciphers("DEFAULT")
    await cs.expect("BootNotification", since=since)  # step 10
    await statuses_of_all_connectors(cs, since)  # step 12
    event = await cs.expect("SecurityEventNotification", since=since)  # step 14
    assert event["type"] in ("StartupOfTheDevice", "ResetOrReboot")
    assert tls_of_the_link(cs).version() in ("TLSv1.2", "TLSv1.3")


async def test_TC_A_21_CS(cs: Harness) -> None:
    """Upgrade Charging Station Security Profile - No valid ChargingStationCertificate installed
    (errata 6.2.10): with a CSMS root but no client certificate, a profile-3 NetworkConnectionProfile
    is stored, NetworkConfigurationPriority naming it is Rejected (A05.FR.03)."""
    assert cs.frontend.certificates.client_identity() is None  # prerequisite (none before TC_A_23)
    slot = await network_profile_set(cs, await cs.endpoint(), 3)  # step 2
    result = (await cs.try_set_variables({PRIORITY: f"{slot},{cs.frontend.connectivity.active}"}))[0]
    assert result["attributeStatus"] == "Rejected", result  # step 4
    assert "client certificate" in result["attributeStatusInfo"]["additionalInfo"]


async def test_TC_A_22_CS(cs: Harness) -> None:
    """Upgrade Charging Station Security Profile - Downgrade security profile - Rejected (errata
    6.2.11): a NetworkConnectionProfile with security profile 1 while connected with 2 is Rejected
    (B09.FR.04, NoSecurityDowngrade)."""
    payload = {"configurationSlot": 2, "connectionData": connection_data("ws://127.0.0.1:1/ocpp", 1)}
    response = await cs.call("SetNetworkProfile", payload)
    assert response["status"] == "Rejected"  # step 2
    assert response["statusInfo"]["reasonCode"] == "NoSecurityDowngrade"


async def sign_triggered(cs: Harness, since: int) -> x509.CertificateSigningRequest:
    """Steps 1-3 of the A02 cases: TriggerMessage SignChargingStationCertificate Accepted, then a
    SignCertificate with a PEM CSR (RFC 2986) of a strong enough key, for the station's serial
    number and organization."""
    response = await cs.call("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    assert response["status"] == "Accepted"  # step 2
    request = await cs.expect("SignCertificate", since=since)  # step 3
    assert request["certificateType"] == "ChargingStationCertificate"
    csr = x509.load_pem_x509_csr(request["csr"].encode())
    assert csr.is_signature_valid and strong_enough(csr.public_key())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SERIAL  # A00.FR.511
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ORGANIZATION
    return csr


async def test_TC_A_14_CS(cs: Harness) -> None:
    """Update Charging Station Certificate by request of CSMS - Invalid certificate: a certificate
    for the CSR's key but from a CA outside the CSO hierarchy is Rejected, discarded, and
    InvalidChargingStationCertificate is reported (A02.FR.07)."""
    cs.csms.signer = None  # the test sends the CertificateSigned itself
    since = cs.mark()
    csr = await sign_triggered(cs, since)
    invalid = pki.sign_csr(cs.pki.stranger, csr.public_bytes(Encoding.PEM).decode())
    response = await cs.call("CertificateSigned", {"certificateChain": pki.pem(invalid),
                                                   "certificateType": "ChargingStationCertificate"})  # fmt: skip
    assert response["status"] == "Rejected"  # step 6
    event = await cs.expect("SecurityEventNotification", since=since)  # step 7
    assert event["type"] == "InvalidChargingStationCertificate"
    assert cs.frontend.certificates.client_identity() is None


async def test_TC_A_15_CS(cs: Harness) -> None:
    """Update Charging Station Certificate by request of CSMS - SignCertificateRequest Rejected:
    the station asks once and lets it be."""
    cs.csms.config.sign_status = "Rejected"
    since = cs.mark()
    await sign_triggered(cs, since)  # steps 1-4
    await cs.barrier()
    assert len(cs.calls("SignCertificate", since)) == 1
    await cs.until(lambda: cs.frontend.security._signing.done(), what="the signing given up")


async def test_TC_A_23_CS(cs: Harness) -> None:
    """Update Charging Station Certificate by request of CSMS - CertificateSignedRequest Timeout
    (AS-3, errata 6.2.5): no CertificateSigned comes; the station sends the CSR again after
    CertSigningWaitMinimum, then after twice that; then the CSMS signs each request and at least
    one CertificateSigned is Accepted."""
    require("AS-3")
    wait = 1  # <Configured CertSigningWaitMinimum>
    await cs.set_variables({"SecurityCtrlr.CertSigningWaitMinimum": wait, "SecurityCtrlr.CertSigningRepeatTimes": 1})
    cs.csms.signer = None
    since = cs.mark()
    await sign_triggered(cs, since)  # steps 1-4
    for _step in (6, 9):
        last = [f for f in cs.call_frames(since) if f.action == "SignCertificate"][-1]
        await cs.expect("SignCertificate", since=last.index + 1)
    sent = [f for f in cs.call_frames(since) if f.action == "SignCertificate"]
    assert len(sent) == 3 and len({f.payload["csr"] for f in sent}) == 1  # the same CSR again (A02.FR.17)
    answered = [next(r for r in cs.frames[f.index :] if r.direction == "out" and r.message[1] == f.message[1])
                for f in sent[:2]]  # fmt: skip
    assert sent[1].at - answered[0].at >= wait  # step 5
    assert sent[2].at - answered[1].at >= 2 * wait  # step 8
    statuses = []
    for frame in sent:  # steps 11-16
        chain = pki.pem(pki.sign_csr(cs.pki.root, frame.payload["csr"]), cs.pki.root.certificate)
        response = await cs.call("CertificateSigned", {"certificateChain": chain,
                                                       "certificateType": "ChargingStationCertificate"})  # fmt: skip
        statuses.append(response["status"])
    assert "Accepted" in statuses, statuses  # post scenario
    await cs.barrier()
    assert len(cs.calls("SignCertificate", since)) == 3  # no more resends


async def test_TC_A_19_CS(cs: Harness) -> None:
    """Upgrade Charging Station Security Profile - Accepted (errata 6.2.6/6.2.7/6.2.17/6.2.18),
    from profile 2: memory state RenewChargingStationCertificate; the same CSMS with profile 3
    into the free slot, NetworkConfigurationPriority new,old, Reset OnIdle; the station connects
    with its client certificate, SecurityProfile is 3 and the profile-2 slot is gone."""
    await renew_charging_station_certificate(cs)  # memory state
    old = cs.frontend.connectivity.active
    slot = await network_profile_set(cs, f"wss://localhost:{cs.csms.port}", 3)  # step 2
    since = cs.mark()
    await migrating(cs, slot, old)  # steps 4, 6
    await booted_through(cs, since, cs.csms.port)  # steps 8-10
    assert cs.csms.profiles[CP_ID] == 3
    get = {"getVariableData": [{"component": {"name": "SecurityCtrlr"}, "variable": {"name": "SecurityProfile"}},
                               {"component": {"name": "OCPPCommCtrlr"},
                                "variable": {"name": "NetworkConfigurationPriority"}}]}  # fmt: skip
    profile, priority = (await cs.call("GetVariables", get))["getVariableResult"]
    assert profile["attributeValue"] == "3"  # step 12
    await cs.until(lambda: cs.variable(PRIORITY) == (str(slot),), what="the profile-2 slot removed")
    priority = (await cs.call("GetVariables", {"getVariableData": get["getVariableData"][1:]}))["getVariableResult"][0]
    assert str(old) not in priority["attributeValue"].split(",")  # step 14
    cs.baseline[PRIORITY] = (str(slot),)  # the station's configuration from now on


async def test_TC_A_07_CS(cs: Harness) -> None:
    """TLS - Client-side certificate - valid certificate: from Booting on profile 3, the station
    presents its certificate (PEM X.509 with a serial number, CN its serial number, a key strong
    enough), boots and reports its connectors."""
    assert cs.frontend.connectivity.security_profile == 3  # prerequisite: after TC_A_19
    since = cs.mark()
    await booted(cs)  # steps 1-10
    assert cs.csms.profiles[CP_ID] == 3  # step 4: the CSMS verified the client certificate
    leaf = cs.frontend.certificates.client_certificate()
    assert leaf.serial_number and leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SERIAL
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey) and strong_enough(leaf.public_key())
    assert cs.calls("BootNotification", since)


async def test_TC_A_11_CS(cs: Harness) -> None:
    """Update Charging Station Certificate by request of CSMS - Success - Charging Station
    Certificate, on profile 3: RenewChargingStationCertificate; the station reconnects with the new
    certificate and keeps only that one (errata A02.FR.08/10)."""
    before = cs.frontend.certificates.client_certificate()
    await renew_charging_station_certificate(cs)  # step 1
    await cs.until(lambda: cs.frontend.certificates.client_certificate() != before, what="the new certificate used")
    await cs.until(lambda: len(cs.frontend.certificates.client_ids()) == 1, what="the old certificate discarded")
    assert cs.csms.profiles[CP_ID] == 3
