"""Security profiles, secrets and certificate management end to end: the real daemon on the
simulated board, wss to the bench CSMS on loopback with a PKI generated per module."""

import json
import logging
import sqlite3
import stat

import aiohttp
import pytest
from ocpp_bench import until
from tls_bench import KEY, SecureBench, make_pki, provision_key, tls_csms

from controller.ocpp.certificates import hash_data
from controller.ocpp.config import AUTHORIZATION_KEY_FILE
from sim import pki
from sim.csms import CsmsConfig

NEW_KEY = "fedcba9876543210fedcba9876543210aabbccdd"  # 20 bytes


@pytest.fixture(scope="module")
def bench_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def csms(bench_pki):
    server = await tls_csms(bench_pki)
    yield server
    await server.stop()


@pytest.fixture
def secure(csms, tmp_path, bench_pki):
    def make(profile: int = 2, server=None) -> SecureBench:
        server = server or csms
        keys = f'SecurityProfile = {profile}\nCpoName = "CPO"\n'
        ocpp = f'ca_file = "{bench_pki.root_file}"'
        return SecureBench(server, tmp_path, f"wss://localhost:{server.port}", ocpp=ocpp, keys=keys)

    return make


@pytest.fixture(autouse=True)
async def stop_benches():
    running: list[SecureBench] = []
    yield running
    for bench in running:
        await bench.stop()


async def started(bench: SecureBench, running: list) -> SecureBench:
    running.append(bench)
    await bench.start()
    await bench.wait(lambda c: "CP-TEST" in c.sessions and c.received["BootNotification"] >= 1)
    return bench


async def api_status(bench: SecureBench) -> str:
    api = bench.daemon.api
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{api.port}/api/status") as response:
        return await response.text()


async def get_key(bench: SecureBench, name: str) -> dict:
    return (await bench.call("GetConfiguration", {"key": [name]}))["configurationKey"][0]


async def test_profile_2_basic_auth_and_the_key_never_shown(csms, secure, tmp_path, stop_benches, caplog):
    caplog.set_level(logging.DEBUG)
    provision_key(tmp_path)
    bench = await started(secure(2), stop_benches)
    assert csms.profiles["CP-TEST"] == 2 and csms.refused == []
    assert await get_key(bench, "AuthorizationKey") == {"key": "AuthorizationKey", "readonly": False}
    # A01: a new password; the station reconnects with it
    csms.config.passwords["CP-TEST"] = NEW_KEY
    connections = csms.connections
    assert await bench.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW_KEY}) == {
        "status": "Accepted"
    }
    await bench.wait(lambda c: c.connections > connections and "CP-TEST" in c.sessions)
    assert csms.refused == [] and csms.profiles["CP-TEST"] == 2
    secret = tmp_path / AUTHORIZATION_KEY_FILE
    assert secret.read_text() == NEW_KEY and stat.S_IMODE(secret.stat().st_mode) == 0o600
    with sqlite3.connect(tmp_path / "evsed.db") as db:
        assert db.execute("SELECT count(*) FROM config_keys WHERE name = 'AuthorizationKey'").fetchone() == (0,)
    status = await api_status(bench)
    station_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("ocpp"))
    security_log = (tmp_path / "security.log").read_text()
    assert "AuthorizationKey changed" in security_log
    for secret_text in (KEY, NEW_KEY, KEY.upper(), NEW_KEY.upper()):
        assert secret_text not in station_logs and secret_text not in status and secret_text not in security_log
    assert json.loads(status)["security"]["profile"] == 2


async def test_refused_password_shows_why_and_reports_it_once_online(csms, secure, tmp_path, stop_benches):
    provision_key(tmp_path, "00" * 16)
    bench = secure(2)
    stop_benches.append(bench)
    await bench.start()
    link = bench.daemon.ocpp.link
    await until(lambda: "HTTP 401" in link.last_error)
    assert json.loads(await api_status(bench))["ocpp"]["last_error"].startswith("HTTP 401: the CSMS refused our")
    events = [json.loads(line) for line in (tmp_path / "security.log").read_text().splitlines()]
    assert "FailedToAuthenticationAtCentralSystem" in [e["type"] for e in events]
    csms.config.passwords["CP-TEST"] = "00" * 16  # the operator fixes the CSMS side
    await bench.wait(lambda c: any(p[3]["type"] == "FailedToAuthenticationAtCentralSystem"
                                   for p in c.calls_received("SecurityEventNotification")))  # fmt: skip
    failures = [p for p in csms.calls_received("SecurityEventNotification")
                if p[3]["type"] == "FailedToAuthenticationAtCentralSystem"]  # fmt: skip
    assert len(failures) == 1  # once per outage, not once per retry
    assert "HTTP 401" in failures[0][3]["techInfo"]


async def test_authorization_key_forms_and_the_password_bytes_on_the_wire(
    bench_pki, csms, secure, tmp_path, stop_benches
):
    # as-written (default): the key's ASCII characters are the password, whether the whitepaper's
    # hex digits or a 16-40 character password as deployed CSMSs set it.
    provision_key(tmp_path)
    bench = await started(secure(2), stop_benches)
    for bad in ("x" * 15, "y" * 41, "with a space in it"):
        change = {"key": "AuthorizationKey", "value": bad}
        assert await bench.call("ChangeConfiguration", change) == {"status": "Rejected"}
    password = "Tr0ub4dor&3-Horse:Staple"
    csms.config.passwords["CP-TEST"] = password
    connections = csms.connections
    assert await bench.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": password}) == {
        "status": "Accepted"
    }
    await bench.wait(lambda c: c.connections > connections and "CP-TEST" in c.sessions)
    assert csms.refused == []
    await stop_benches.pop().stop()

    # hex-decoded: the 16-20 bytes the hex digits denote (OCPP-J 1.6 6.2.2); other keys cannot be.
    server = await tls_csms(bench_pki, CsmsConfig(passwords={"CP-TEST": bytes.fromhex(KEY)}))
    ocpp = f'ca_file = "{bench_pki.root_file}"\nbasic_auth = "hex-decoded"'
    try:
        bench = SecureBench(server, tmp_path, f"wss://localhost:{server.port}", ocpp=ocpp, keys="SecurityProfile = 2\n")
        stop_benches.append(bench)
        await bench.start()  # the password stored above is no hex key: a clear reason, no connection
        await until(lambda: "needs an AuthorizationKey of 32-40 hex digits" in bench.daemon.ocpp.link.last_error)
        await stop_benches.pop().stop()
        provision_key(tmp_path)
        bench = await started(SecureBench(server, tmp_path, bench.url, ocpp=ocpp, keys=bench.keys), stop_benches)
        assert server.refused == [] and server.profiles["CP-TEST"] == 2
        assert await bench.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": password}) == {
            "status": "Rejected"
        }
        server.config.passwords["CP-TEST"] = bytes.fromhex(NEW_KEY)
        connections = server.connections
        assert await bench.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": NEW_KEY}) == {
            "status": "Accepted"
        }
        await bench.wait(lambda c: c.connections > connections and "CP-TEST" in c.sessions)
        assert server.refused == []
    finally:
        await stop_benches.pop().stop()
        await server.stop()


async def sign_certificate(bench: SecureBench) -> None:
    """A02: the CSMS asks for a new charge point certificate; CSR -> CA -> CertificateSigned."""
    assert await bench.call("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
        "status": "Accepted"
    }
    await bench.wait(lambda c: c.sent["CertificateSigned"] == 1)
    await until(lambda: bench.daemon.ocpp.certificates.client_identity() is not None)
    csr = bench.csms.calls_received("SignCertificate")[0][3]["csr"]
    assert "BEGIN CERTIFICATE REQUEST" in csr and "PRIVATE" not in csr


async def test_csr_certificate_signed_and_upgrade_to_profile_3(csms, secure, tmp_path, stop_benches):
    provision_key(tmp_path)
    bench = await started(secure(2), stop_benches)
    assert await bench.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == {"status": "Rejected"}
    await sign_certificate(bench)
    assert await bench.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "1"}) == {"status": "Rejected"}
    connections = csms.connections
    assert await bench.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == {"status": "Accepted"}
    await bench.wait(lambda c: c.connections > connections and "CP-TEST" in c.sessions)
    assert csms.profiles["CP-TEST"] == 3 and csms.refused == []
    assert (await get_key(bench, "SecurityProfile"))["value"] == "3"
    # a renewed certificate is used at once: the station reconnects with it
    connections = csms.connections
    await sign_certificate_again(bench)
    await bench.wait(lambda c: c.connections > connections and "CP-TEST" in c.sessions)
    assert csms.profiles["CP-TEST"] == 3


async def sign_certificate_again(bench: SecureBench) -> None:
    before = bench.csms.sent["CertificateSigned"]
    await bench.call("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    await bench.wait(lambda c: c.sent["CertificateSigned"] == before + 1)


async def test_failed_upgrade_falls_back_to_the_previous_profile(bench_pki, secure, tmp_path, stop_benches):
    server = await tls_csms(bench_pki, CsmsConfig(passwords={"CP-TEST": KEY}, client_certificates=False))
    try:
        provision_key(tmp_path)
        bench = await started(secure(2, server), stop_benches)
        await sign_certificate(bench)
        assert await bench.call("ChangeConfiguration", {"key": "SecurityProfile", "value": "3"}) == {
            "status": "Accepted"
        }
        await bench.wait(lambda c: any("fell back to 2" in p[3].get("techInfo", "")
                                       for p in c.calls_received("SecurityEventNotification")))  # fmt: skip
        assert server.refused[0][2] == "client certificates are not accepted on this port"
        assert server.profiles["CP-TEST"] == 2
        assert (await get_key(bench, "SecurityProfile"))["value"] == "2"
    finally:
        await stop_benches.pop().stop()
        await server.stop()


async def test_root_certificate_management(csms, secure, tmp_path, stop_benches, bench_pki):
    provision_key(tmp_path)
    bench = await started(secure(2), stop_benches)
    other = pki.authority("Other CPO root", "Other")
    maker = pki.authority("Maker root", "Maker")
    install = {"certificateType": "CentralSystemRootCertificate", "certificate": other.cert_pem}
    assert await bench.call("InstallCertificate", install) == {"status": "Accepted"}
    leaf = pki.server(other)
    assert await bench.call("InstallCertificate", {**install, "certificate": leaf.cert_pem}) == {"status": "Rejected"}
    maker_root = {"certificateType": "ManufacturerRootCertificate", "certificate": maker.cert_pem}
    assert await bench.call("InstallCertificate", maker_root) == {"status": "Accepted"}
    ids = await bench.call("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"})
    assert ids == {"status": "Accepted", "certificateHashData": [hash_data(other.certificate).payload()]}
    assert bench.daemon.ocpp.certificates.certificates("ManufacturerRootCertificate") == [maker.certificate]
    wanted = {"certificateHashData": hash_data(other.certificate).payload()}
    assert await bench.call("DeleteCertificate", wanted) == {"status": "Accepted"}
    assert await bench.call("DeleteCertificate", wanted) == {"status": "NotFound"}
    assert await bench.call("GetInstalledCertificateIds", {"certificateType": "CentralSystemRootCertificate"}) == {
        "status": "NotFound"
    }
    # the root that validated this connection cannot be deleted (M04.FR.06)
    install["certificate"] = bench_pki.root.cert_pem
    assert await bench.call("InstallCertificate", install) == {"status": "Accepted"}
    await bench.daemon.ocpp.link.reconnect()
    await bench.wait(lambda c: "CP-TEST" in c.sessions and c.connections >= 2)
    await until(lambda: bench.daemon.ocpp.certificates.in_use)
    in_use = {"certificateHashData": hash_data(bench_pki.root.certificate).payload()}
    assert await bench.call("DeleteCertificate", in_use) == {"status": "Failed"}
