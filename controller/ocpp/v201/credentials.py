"""How the station identifies itself on the link: security profiles 1 and 2 (part 2 A00,
"Security profiles"); the security block adds profile 3, certificates and profile changes.

Rules kept here:
- Basic auth: user name the charge point id (SecurityCtrlr.Identity), password
  SecurityCtrlr.BasicAuthPassword as it was written (a secret file, store.py); without a
  password no header is sent (a CSMS without authentication, the bench).
- A wss:// URL: TLS 1.2 or newer, the server certificate verified against ``[ocpp] ca_file``
  (else the system store) with its host name (controller/ocpp/tls.py); ``insecure`` is a
  bench's, logged at every attempt.
- SecurityCtrlr.SecurityProfile reports what the link does: 2 over TLS, else 1.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Callable
from pathlib import Path

from controller.ocpp.tls import client_context

PASSWORD = "SecurityCtrlr.BasicAuthPassword"


class Credentials:
    def __init__(self, identity: str, url: str, ca_file: Path | None, insecure: bool,
                 password: Callable[[], object]):  # fmt: skip
        self.identity, self.url, self.ca_file, self.insecure = identity, url, ca_file, insecure
        self.password = password

    @property
    def tls(self) -> bool:
        return self.url.startswith("wss://")

    @property
    def profile(self) -> int:
        return 2 if self.tls else 1

    def headers(self) -> dict[str, str]:
        password = self.password()
        if not isinstance(password, str) or not password:
            return {}
        token = base64.b64encode(f"{self.identity}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        try:
            return client_context(ca_file=self.ca_file, insecure=self.insecure)
        except (OSError, ValueError) as exc:
            raise ConnectionError(f"TLS set-up failed: {exc}") from exc
