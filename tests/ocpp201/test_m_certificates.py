"""Part 6 section 2.13, M Certificate management: installing CA certificates (M05), listing them
(M03) and deleting them (M04), on security profile 2 (the station trusts the test CSMS through
``[ocpp] ca_file``, so the installed roots are the test's own), plus bad certificates, hash data
and message sizes that get the spec's answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.ocpp.certificates import hash_data
from ocpp201.harness import MODULE, Harness, Secured, unique_id
from ocpp201.pki import ORGANIZATION
from ocpp201.states import certificate_installed, installed_certificates, renew_charging_station_certificate
from sim import pki

pytestmark = MODULE
SECURITY = Secured(tls=True)
PRESETS = {"SecurityCtrlr.OrganizationName": ORGANIZATION}
CSMS_ROOT, MANUFACTURER_ROOT = "CSMSRootCertificate", "ManufacturerRootCertificate"
NOW = datetime.now(UTC)
MD5 = {"hashAlgorithm": "MD5", "issuerNameHash": "00", "issuerKeyHash": "00", "serialNumber": "1"}
VIOLATIONS = (
    "FormatViolation",
    "PropertyConstraintViolation",
    "OccurrenceConstraintViolation",
    "TypeConstraintViolation",
)


def hash_of(issued: pki.Issued) -> dict[str, str]:
    return hash_data(issued.certificate).payload()


def entries(chain: list[dict[str, Any]], kind: str) -> list[dict[str, str]]:
    return [e["certificateHashData"] for e in chain if e["certificateType"] == kind]


async def listed(cs: Harness, *kinds: str) -> list[dict[str, Any]]:
    """GetInstalledCertificateIds: the chain ([] when NotFound)."""
    response = await cs.call("GetInstalledCertificateIds", {"certificateType": list(kinds)} if kinds else {})
    chain: list[dict[str, Any]] = response.get("certificateHashDataChain", [])
    assert (response["status"] == "Accepted") == bool(chain), response
    return chain


async def test_TC_M_01_CS(cs: Harness) -> None:
    """Install CA certificate - CSMSRootCertificate: CertificateInstalled (Root 2), then
    GetInstalledCertificates lists it."""
    root2 = pki.authority("CSMS root 2", ORGANIZATION)
    await certificate_installed(cs, CSMS_ROOT, root2.cert_pem)  # step 1
    assert hash_of(root2) in entries(await installed_certificates(cs, CSMS_ROOT), CSMS_ROOT)  # step 2


async def test_TC_M_02_CS(cs: Harness) -> None:
    """Install CA certificate - ManufacturerRootCertificate."""
    await certificate_installed(cs, MANUFACTURER_ROOT, cs.pki.manufacturer.cert_pem)  # step 1
    chain = await installed_certificates(cs, MANUFACTURER_ROOT)  # step 2
    assert entries(chain, MANUFACTURER_ROOT) == [hash_of(cs.pki.manufacturer)]


async def test_TC_M_07_CS(cs: Harness) -> None:
    """Install CA certificate - Rejected - Certificate invalid: an expired root is Rejected and not
    listed; so are a leaf certificate, two at once, broken PEM and a weak key."""
    expired = pki.authority("expired root", not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1))
    for bad in (expired.cert_pem, pki.server(cs.pki.root).cert_pem, cs.pki.root.cert_pem * 2,
                "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", "no PEM at all"):  # fmt: skip
        response = await cs.call("InstallCertificate", {"certificateType": CSMS_ROOT, "certificate": bad})
        assert response["status"] == "Rejected", bad  # step 2
    assert hash_of(expired) not in entries(await listed(cs, CSMS_ROOT), CSMS_ROOT)  # step 4


async def test_TC_M_12_CS(cs: Harness) -> None:
    """Retrieve certificates from Charging Station - CSMSRootCertificate: every installed CSMS root
    with its hash data (RFC 6960: issuer name and key hashes, the serial in hex)."""
    root = pki.authority("CSMS root M12", ORGANIZATION)
    await certificate_installed(cs, CSMS_ROOT, root.cert_pem)  # memory state
    chain = await installed_certificates(cs, CSMS_ROOT)  # step 1
    ids = entries(chain, CSMS_ROOT)
    assert hash_of(root) in ids and all(e["hashAlgorithm"] == "SHA256" for e in ids)
    assert {e["certificateType"] for e in chain} == {CSMS_ROOT}


async def test_TC_M_13_CS(cs: Harness) -> None:
    """Retrieve certificates from Charging Station - ManufacturerRootCertificate."""
    await certificate_installed(cs, MANUFACTURER_ROOT, cs.pki.manufacturer.cert_pem)  # memory state
    chain = await installed_certificates(cs, MANUFACTURER_ROOT)  # step 1
    assert {e["certificateType"] for e in chain} == {MANUFACTURER_ROOT}
    assert hash_of(cs.pki.manufacturer) in entries(chain, MANUFACTURER_ROOT)


async def test_TC_M_17_CS(cs: Harness) -> None:
    """Retrieve certificates from Charging Station - CSMSRootCertificate & ManufacturerRootCertificate."""
    root = pki.authority("CSMS root M17", ORGANIZATION)
    await certificate_installed(cs, CSMS_ROOT, root.cert_pem)  # memory state
    await certificate_installed(cs, MANUFACTURER_ROOT, cs.pki.manufacturer.cert_pem)
    chain = await installed_certificates(cs, CSMS_ROOT, MANUFACTURER_ROOT)  # step 1
    assert hash_of(root) in entries(chain, CSMS_ROOT)
    assert hash_of(cs.pki.manufacturer) in entries(chain, MANUFACTURER_ROOT)


async def test_TC_M_18_CS(cs: Harness) -> None:
    """Retrieve certificates from Charging Station - All certificateTypes: certificateType omitted."""
    root = pki.authority("CSMS root M18", ORGANIZATION)
    await certificate_installed(cs, CSMS_ROOT, root.cert_pem)  # memory state
    await certificate_installed(cs, MANUFACTURER_ROOT, cs.pki.manufacturer.cert_pem)
    chain = await installed_certificates(cs)  # step 1
    assert hash_of(root) in entries(chain, CSMS_ROOT)  # step 2
    assert hash_of(cs.pki.manufacturer) in entries(chain, MANUFACTURER_ROOT)


async def test_TC_M_19_CS(cs: Harness) -> None:
    """Retrieve certificates from Charging Station - No matching certificate found: no
    MORootCertificate (removed first if there is one); NotFound without a chain. The same for the
    V2G certificate chain this station never holds."""
    response = await cs.call("GetInstalledCertificateIds", {"certificateType": ["MORootCertificate"]})
    for entry in response.get("certificateHashDataChain", []):  # before: none may be left
        assert (await cs.call("DeleteCertificate", {"certificateHashData": entry["certificateHashData"]}))[
            "status"] == "Accepted"  # fmt: skip
    for kind in ("MORootCertificate", "V2GCertificateChain"):
        response = await cs.call("GetInstalledCertificateIds", {"certificateType": [kind]})
        assert response == {"status": "NotFound"}  # step 2


async def test_TC_M_20_CS(cs: Harness) -> None:
    """Delete a certificate from a Charging Station - Success: the first listed CSMS root is
    deleted and listed no more."""
    if not await listed(cs, CSMS_ROOT):  # before: CertificateInstalled when there is none
        await certificate_installed(cs, CSMS_ROOT, pki.authority("CSMS root M20", ORGANIZATION).cert_pem)
    chain = await installed_certificates(cs, CSMS_ROOT)  # step 1
    doomed = chain[0]["certificateHashData"]
    assert (await cs.call("DeleteCertificate", {"certificateHashData": doomed}))["status"] == "Accepted"  # step 3
    assert doomed not in entries(await listed(cs, CSMS_ROOT), CSMS_ROOT)  # step 4


async def test_TC_M_22_CS(cs: Harness) -> None:
    """Delete a certificate from a Charging Station - No matching certificate found: NotFound for
    the hash data of a certificate the station does not have."""
    await listed(cs, CSMS_ROOT)  # step 1
    unknown = hash_of(pki.authority("never installed"))
    assert (await cs.call("DeleteCertificate", {"certificateHashData": unknown}))["status"] == "NotFound"  # step 3


async def test_TC_M_23_CS(cs: Harness) -> None:
    """Delete a certificate from a Charging Station - Unable to delete the Charging Station
    Certificate: RenewChargingStationCertificate, then DeleteCertificate of its hash data is Failed
    (M04.FR.06) and the certificate stays."""
    await renew_charging_station_certificate(cs)  # before
    await listed(cs)  # step 1: the station's own certificate is no root: not listed
    own = cs.frontend.certificates.client_ids()[0].payload()
    assert (await cs.call("DeleteCertificate", {"certificateHashData": own}))["status"] == "Failed"  # step 3
    assert cs.frontend.certificates.client_identity() is not None


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("InstallCertificate", {"certificateType": "OEMRootCertificate", "certificate": "x"}),  # not a 2.0.1 kind
        ("InstallCertificate", {"certificateType": CSMS_ROOT, "certificate": "A" * 5501}),  # over maxLength
        ("DeleteCertificate", {"certificateHashData": MD5}),  # not a hash algorithm of the schema
        ("CertificateSigned", {"certificateChain": "A" * 10001}),  # over maxLength
        ("GetInstalledCertificateIds", {"certificateType": []}),  # minItems 1
    ],
)
async def test_bad_certificate_requests_get_callerrors(cs: Harness, action: str, payload: dict[str, Any]) -> None:
    """Schema violations (an unknown type or hash algorithm, oversize certificates and chains) get
    the CALLERROR the OCPP-J rules name, and the station carries on."""
    message_id = unique_id()
    answer = await cs.call_raw(json.dumps([2, message_id, action, payload]), message_id)
    assert answer[0] == 4 and answer[2] in VIOLATIONS, answer
    await cs.barrier()


async def test_certificates_that_are_no_use_are_rejected(cs: Harness) -> None:
    """CertificateSigned with PEM that is no certificate, with a certificate for a key the station
    never asked for, or for a V2G certificate (no ISO 15118 here): Rejected with
    InvalidChargingStationCertificate, nothing installed."""
    before = cs.frontend.certificates.client_ids()
    stray = pki.client(cs.pki.root, "SN-TC-1")
    garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    own, v2g = "ChargingStationCertificate", "V2GCertificate"
    for chain, kind in ((garbage, own), (stray.cert_pem, own), (stray.cert_pem, v2g)):
        since = cs.mark()
        response = await cs.call("CertificateSigned", {"certificateChain": chain, "certificateType": kind})
        assert response["status"] == "Rejected" and response["statusInfo"]["reasonCode"] == "InvalidCertificate"
        event = await cs.expect("SecurityEventNotification", since=since)
        assert event["type"] == "InvalidChargingStationCertificate"
    assert cs.frontend.certificates.client_ids() == before


async def test_client_certificate_renewed_before_it_expires(cs: Harness) -> None:
    """A03: at boot a client certificate that expires within a month gets a SignCertificate of its
    own accord; the CSMS's certificate replaces it."""
    store = cs.frontend.certificates
    for path in list((store.directory / "ChargePointCertificate").glob("*.pem")):  # "by other means"
        store.discard_client(path)
    expiring = pki.client(
        cs.pki.root, "SN-TC-1", not_before=NOW - timedelta(days=355), not_after=NOW + timedelta(days=10)
    )
    store.provision_client(expiring.cert_pem + cs.pki.root.cert_pem, expiring.key_pem.encode())
    since = cs.mark()
    await cs.power_cycle()
    request = await cs.expect("SignCertificate", since=since)
    assert request["certificateType"] == "ChargingStationCertificate"
    assert (await cs.answer_to("CertificateSigned", since))["status"] == "Accepted"
    renewed = cs.frontend.certificates.client_certificate()
    assert renewed.not_valid_after_utc > NOW + timedelta(days=300)
