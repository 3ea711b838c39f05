"""Part 6, replacing the CSMS root with the AdditionalRootCertificateCheck (M05, part 5 AS-2) and
migrating to a CSMS that a new root vouches for (B10): the station's CSMS root is installed in its
store (not ``[ocpp] ca_file``), one at a time, and a new one must be signed by the one it
replaces, which stays as the fallback until a connection worked with the new one.

Each case starts from the root the station has now (``current_root``) and makes its successor, so
the cases do not depend on each other's leftovers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from controller.ocpp.certificates import Kind, hash_data
from ocpp201.harness import MODULE, Harness, Secured, require
from ocpp201.pki import ORGANIZATION
from ocpp201.states import (
    booted_through,
    certificate_installed,
    installed_certificates,
    migrating,
    network_profile_set,
)
from sim import pki

pytestmark = MODULE
SECURITY = Secured(tls=True, installed_root=True)
PRESETS = {"SecurityCtrlr.AdditionalRootCertificateCheck": True, "SecurityCtrlr.OrganizationName": ORGANIZATION,
           "OCPPCommCtrlr.RetryBackOffWaitMinimum": 1, "OCPPCommCtrlr.RetryBackOffRandomRange": 0,
           "OCPPCommCtrlr.RetryBackOffRepeatTimes": 0}  # fmt: skip
CSMS_ROOT = "CSMSRootCertificate"


def current_root(cs: Harness) -> pki.Issued:
    (installed,) = cs.frontend.certificates.certificates(Kind.CSMS_ROOT, fallback=False)
    return cs.pki.roots[installed]


async def listed_roots(cs: Harness) -> list[dict[str, str]]:
    return [e["certificateHashData"] for e in await installed_certificates(cs, CSMS_ROOT)]


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


async def replaced(cs: Harness) -> tuple[pki.Issued, pki.Issued]:
    """Memory state CertificateInstalled <new CSMS Root certificate 2>, signed by the current one:
    Accepted, the old one kept as the fallback. Returns (old, new)."""
    old = current_root(cs)
    new = cs.pki.successor(old)
    await certificate_installed(cs, CSMS_ROOT, new.cert_pem)
    assert len(cs.frontend.certificates.certificates(Kind.CSMS_ROOT)) == 2  # new + fallback
    return old, new


async def reset_to(cs: Harness, port: int) -> None:
    """Reset OnIdle Accepted, then reusable state Booted over the endpoint on ``port``."""
    since = cs.mark()
    assert (await cs.call("Reset", {"type": "OnIdle"}))["status"] == "Accepted"
    await cs.restarted()
    await booted_through(cs, since, port)


async def test_TC_M_09_CS(cs: Harness) -> None:
    """Install CA certificate - AdditionalRootCertificateCheck - Rejected: a CSMS root the current
    one did not sign is Rejected (M05.FR.11); the current one is still listed."""
    require("AS-2")
    current = current_root(cs)
    stranger = {"certificateType": CSMS_ROOT, "certificate": cs.pki.stranger.cert_pem}
    response = await cs.call("InstallCertificate", stranger)
    assert response["status"] == "Rejected"  # step 2
    roots = await listed_roots(cs)  # step 4
    assert hash_data(current.certificate).payload() in roots
    assert hash_data(cs.pki.stranger.certificate).payload() not in roots


async def test_TC_M_31_CS(cs: Harness) -> None:
    """Install CA certificate - AdditionalRootCertificateCheck - Reconnect using new CSMS Root -
    Fallback mechanism: after the new root is installed the CSMS still presents a certificate of the
    old one; the station connects with the fallback root and keeps it (M05.FR.14)."""
    require("AS-2")
    old, _new = await replaced(cs)  # memory state
    cs.pki.serve_with(cs.tls[cs.csms.port], old)  # step 3
    await reset_to(cs, cs.csms.port)  # steps 1-6
    assert hash_data(old.certificate).payload() in await listed_roots(cs)  # step 8


async def test_TC_B_47_CS(cs: Harness) -> None:
    """Migrate to new ConnectionProfile - Fallback after NetworkProfileConnectionAttempts per
    NetworkConfigurationPriority failed - New CSMS Root - New CSMS (AS-2, C-47): the new CSMS
    presents a certificate of the old root, which does not count while migrating (M05.FR.15); after
    its one attempt the station goes back to the old profile, where the fallback root does
    (M05.FR.16)."""
    require("AS-2")
    require("C-47")
    await cs.set_variables({"OCPPCommCtrlr.NetworkProfileConnectionAttempts": 1})
    old, _new = await replaced(cs)  # memory state
    cs.pki.serve_with(cs.tls[cs.csms.port], old)  # the old CSMS, as before
    url = await cs.endpoint()
    cs.pki.serve_with(cs.tls[port_of(url)], old)  # step 7
    previous = cs.frontend.connectivity.active
    slot = await network_profile_set(cs, url, 2)  # step 2
    since = cs.mark()
    await migrating(cs, slot, previous)  # steps 4, 6
    await booted_through(cs, since, cs.csms.port)  # steps 8-10
    assert cs.frontend.connectivity.active == previous
    assert hash_data(old.certificate).payload() in await listed_roots(cs)  # step 12


async def test_TC_M_30_CS(cs: Harness) -> None:
    """Install CA certificate - AdditionalRootCertificateCheck - Reconnect using new CSMS Root -
    Success: the CSMS presents a certificate of the new root; once connected the station drops the
    old one (M05.FR.13)."""
    require("AS-2")
    old, new = await replaced(cs)  # memory state
    cs.pki.serve_with(cs.tls[cs.csms.port], new)  # step 3
    await reset_to(cs, cs.csms.port)  # steps 1-5
    await cs.until(lambda: len(cs.frontend.certificates.certificates(Kind.CSMS_ROOT)) == 1, what="the fallback gone")
    roots = await listed_roots(cs)  # step 7
    assert hash_data(old.certificate).payload() not in roots and hash_data(new.certificate).payload() in roots


async def test_TC_B_50_CS(cs: Harness) -> None:
    """Migrate to new ConnectionProfile - Success - New CSMS Root - New CSMS: a new root installed,
    a new CSMS whose certificate it signed; the station migrates there and boots."""
    _old, new = await replaced(cs)  # memory state
    url = await cs.endpoint()
    cs.pki.serve_with(cs.tls[port_of(url)], new)
    previous = cs.frontend.connectivity.active
    slot = await network_profile_set(cs, url, 2)  # step 2
    since = cs.mark()
    await migrating(cs, slot, previous)  # steps 4, 6
    await booted_through(cs, since, port_of(url))  # steps 7-9
    assert cs.frontend.connectivity.active == slot
