"""How the station identifies itself to the CSMS with a security profile (part 2 A00): the
Basic-auth header of profiles 1 and 2; TLS and the client certificate of profiles 2 and 3 are
controller/ocpp/security_profile.py's, the profile of each attempt connectivity.py's.

Rules kept here:
- Basic auth (A00.FR.202-205, 302-304): user name the charge point id (SecurityCtrlr.Identity),
  password SecurityCtrlr.BasicAuthPassword as it was written, sent as UTF-8 (not hex-decoded, not
  base64 before the header's own encoding); without a password no header is sent (a CSMS without
  authentication, the bench). Profile 3 sends none: the client certificate authenticates.
- The password is read at every attempt, so a new one (A01) is used from the next connection.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

PASSWORD = "SecurityCtrlr.BasicAuthPassword"


class Credentials:
    def __init__(self, identity: str, password: Callable[[], object]):
        self.identity, self.password = identity, password

    def has_password(self) -> bool:
        password = self.password()
        return isinstance(password, str) and bool(password)

    def headers(self, profile: int) -> dict[str, str]:
        password = self.password()
        if profile not in (1, 2) or not isinstance(password, str) or not password:
            return {}
        token = base64.b64encode(f"{self.identity}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
