"""TLS to the CSMS on loopback, with certificates generated for each test run: what is trusted,
what is refused and why (the reason the API shows), and what the CSMS sees."""

import asyncio
import base64
import ssl
from pathlib import Path

import pytest
from tls_bench import KEY, days, make_pki, tls_csms

from controller.ocpp.link import Link, LinkState
from controller.ocpp.rpc import Rpc
from controller.ocpp.tls import classify, client_context
from sim import pki

WITHIN = 10.0


@pytest.fixture(scope="module")
def bench_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def basic(password: str = KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"CP-TEST:{password}".encode()).decode()}


async def attempt(url: str, context, headers=None) -> Link:
    """One connection attempt; returns the link once it is connected or has failed."""
    link = Link(url, "CP-TEST", Rpc("1.6"), ssl=context, backoff_base=60.0,
                additional_headers=(lambda: headers) if headers else None,
                on_failure=lambda exc: classify(exc, presented_certificate=not headers).reason)  # fmt: skip
    link.start()
    waits = [asyncio.ensure_future(link.wait_state(state)) for state in (LinkState.CONNECTED, LinkState.WAITING)]
    try:
        await asyncio.wait_for(asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED), WITHIN)
    finally:
        for wait in waits:
            wait.cancel()
    return link


@pytest.fixture
async def csms(bench_pki):
    server = await tls_csms(bench_pki)
    yield server
    await server.stop()


async def connect(csms, context, host: str = "localhost", headers=None) -> Link:
    return await attempt(f"wss://{host}:{csms.port}", context, headers if headers is not None else basic())


async def test_trusted_server_with_basic_auth_is_profile_2(csms, bench_pki):
    link = await connect(csms, client_context(ca_file=bench_pki.root_file))
    try:
        assert link.state == LinkState.CONNECTED, link.last_error
        assert csms.profiles["CP-TEST"] == 2
        tls = link._ws.transport.get_extra_info("ssl_object")
        assert tls.version() in ("TLSv1.2", "TLSv1.3") and tls.server_hostname == "localhost"  # SNI sent
    finally:
        await link.close()


async def test_installed_root_is_trusted_without_a_ca_file(csms, bench_pki):
    empty = bench_pki.directory / "empty.pem"
    empty.write_text(pki.authority().cert_pem)  # some other CA, so the system store is not used either
    link = await connect(csms, client_context(ca_file=empty, roots=[bench_pki.root.certificate]))
    try:
        assert link.state == LinkState.CONNECTED, link.last_error
    finally:
        await link.close()


async def test_wrong_basic_password_is_a_401_with_a_clear_reason(csms, bench_pki):
    link = await connect(csms, client_context(ca_file=bench_pki.root_file), headers=basic("00" * 16))
    try:
        assert link.state == LinkState.WAITING
        assert link.last_error.startswith("HTTP 401: the CSMS refused our credentials")
        assert csms.refused == [("CP-TEST", 401, "Basic auth missing or wrong")]
        assert "CP-TEST" not in csms.sessions
    finally:
        await link.close()


async def test_untrusted_ca_is_refused(csms, bench_pki):
    stranger = bench_pki.directory / "stranger.pem"
    stranger.write_text(bench_pki.stranger.cert_pem)
    link = await connect(csms, client_context(ca_file=stranger))
    try:
        assert link.state == LinkState.WAITING
        assert link.last_error.startswith("server certificate rejected: self-signed certificate in certificate chain")
        assert csms.connections == 0
    finally:
        await link.close()


async def test_wrong_hostname_is_refused(bench_pki):
    server = await tls_csms(bench_pki, hostnames=("csms.example.com",))
    try:
        link = await connect(server, client_context(ca_file=bench_pki.root_file))
        assert link.state == LinkState.WAITING
        assert "server certificate rejected: Hostname mismatch" in link.last_error, link.last_error
        await link.close()
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("window", "why"),
    [((days(-30), days(-1)), "certificate has expired"), ((days(1), days(30)), "certificate is not yet valid")],
)
async def test_server_certificate_out_of_its_dates_is_refused(bench_pki, window, why):
    server = await tls_csms(bench_pki, not_before=window[0], not_after=window[1])
    try:
        link = await connect(server, client_context(ca_file=bench_pki.root_file))
        assert link.state == LinkState.WAITING
        assert f"server certificate rejected: {why}" in link.last_error
        await link.close()
    finally:
        await server.stop()


async def test_client_certificate_accepted_is_profile_3(csms, bench_pki, tmp_path: Path):
    cert, key = pki.client(bench_pki.root, "SN-1", organization="CPO").write(tmp_path, "client")
    link = await connect(csms, client_context(ca_file=bench_pki.root_file, identity=(cert, key)), headers={})
    try:
        assert link.state == LinkState.CONNECTED, link.last_error
        assert csms.profiles["CP-TEST"] == 3
    finally:
        await link.close()


async def test_client_certificate_from_a_stranger_ca_is_refused(csms, bench_pki, tmp_path: Path):
    cert, key = pki.client(bench_pki.stranger, "SN-1").write(tmp_path, "client")
    link = await connect(csms, client_context(ca_file=bench_pki.root_file, identity=(cert, key)), headers={})
    try:
        assert link.state == LinkState.WAITING
        assert "refused our client certificate" in link.last_error, link.last_error
    finally:
        await link.close()


def test_context_is_tls_1_2_minimum_and_verifies():
    context = client_context(ca_file=None)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.options & ssl.OP_NO_COMPRESSION


def test_insecure_is_loud(caplog):
    context = client_context(ca_file=None, insecure=True)
    assert context.verify_mode == ssl.CERT_NONE
    assert "TLS server verification is OFF" in caplog.text
