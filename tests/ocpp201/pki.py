"""The part-6 harness's PKI (harness rule 10), generated per module with sim/pki.py and written to
files for the station and the test CSMS.

- ``root`` is the <Configured CSMS Root certificate>: the station trusts it (``[ocpp] ca_file``, or
  installed in its store), it signs the CSMS's server certificates and the CSRs the station
  sends (the CSO hierarchy of part 2 1.4.2).
- ``successor(of)`` is a new CSMS root signed by the one it replaces (<Configured (new) CSMS Root
  certificate 2>, AdditionalRootCertificateCheck); ``stranger`` signs what nobody trusts;
  ``manufacturer`` is a <Configured Manufacturer Root certificate>.
- ``server_context(issuer)`` is an endpoint's TLS server context (client certificates verified
  against ``root``); ``serve_with`` changes what that endpoint presents from the next handshake.
"""

from __future__ import annotations

import itertools
import ssl
from datetime import datetime
from pathlib import Path

from sim import pki
from sim.csms import tls_context

ORGANIZATION = "evsed bench CPO"


class BenchPki:
    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.root = pki.authority("CSMS root", ORGANIZATION)
        self.root_file = directory / "root.pem"
        self.root_file.write_text(self.root.cert_pem)
        self.stranger = pki.authority("stranger root", "stranger")
        self.manufacturer = pki.authority("Manufacturer root", "evsed bench maker")
        self._names = itertools.count()
        self.roots = {self.root.certificate: self.root}  # every CSMS root made here, to find its key

    def successor(self, of: pki.Issued) -> pki.Issued:
        """A new CSMS root, signed by the one it is to replace."""
        new = pki.authority(f"CSMS root {next(self._names)}", ORGANIZATION, issuer=of)
        self.roots[new.certificate] = new
        return new

    def _server_files(self, issuer: pki.Issued, hostnames: tuple[str, ...], not_before: datetime | None,
                      not_after: datetime | None) -> tuple[str, str]:  # fmt: skip
        issued = pki.server(issuer, hostnames, not_before=not_before, not_after=not_after)
        cert, key = issued.write(self.directory, f"server-{next(self._names)}")
        return str(cert), str(key)

    def server_context(self, issuer: pki.Issued | None = None) -> ssl.SSLContext:
        files = self._server_files(issuer or self.root, ("localhost", "127.0.0.1"), None, None)
        return tls_context(*files, str(self.root_file))

    def serve_with(
        self,
        context: ssl.SSLContext,
        issuer: pki.Issued,
        hostnames: tuple[str, ...] = ("localhost", "127.0.0.1"),
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> None:
        """From the next handshake on, the endpoint of ``context`` presents a certificate of ``issuer``."""
        context.load_cert_chain(*self._server_files(issuer, hostnames, not_before, not_after))
