"""Who may use the local API: the API password, stored as a hash, checked in constant time.

Rules kept here:
- The API may be open only on loopback (the box itself, an SSH tunnel): any other
  ``[api] listen`` needs ``[api] password_hash`` (controller/config.py refuses to start
  without one). Once a hash is configured, every request presents the password, on any
  address: ``Authorization: Bearer <password>`` or HTTP Basic with any user name.
- Only a hash is stored, in PHC form: ``$scrypt$ln=14,r=8,p=1$<salt>$<key>`` (unpadded
  base64), made by ``evsed hash-password``. Keys are compared with ``hmac.compare_digest``.
- scrypt takes tens of milliseconds of CPU: it runs in a thread (hashlib releases the GIL),
  one at a time, so a guesser waits on its own guesses and the event loop never does. The
  accepted password is remembered as a keyed digest (a random key per process), so a
  client that presents it again costs microseconds.
- ``ApiAccess.allows`` is the single decision; a browser session (cookie + CSRF token) adds
  another way to present a credential without changing how one is checked.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

MIN_PASSWORD_LENGTH = 8
SCRYPT_LN, SCRYPT_R, SCRYPT_P = 14, 8, 1  # N = 16384: 16 MiB and ~50 ms on a desktop core
_PHC = re.compile(r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})")


@dataclass(frozen=True)
class PasswordHash:
    ln: int  # log2 of scrypt's N
    r: int
    p: int
    salt: bytes
    key: bytes

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(_scrypt(password, self.salt, self.ln, self.r, self.p, len(self.key)), self.key)

    def __str__(self) -> str:
        return f"$scrypt$ln={self.ln},r={self.r},p={self.p}${_b64(self.salt)}${_b64(self.key)}"


def hash_password(password: str, salt: bytes | None = None) -> PasswordHash:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    salt = salt or os.urandom(16)
    return PasswordHash(SCRYPT_LN, SCRYPT_R, SCRYPT_P, salt, _scrypt(password, salt, SCRYPT_LN, SCRYPT_R, SCRYPT_P, 32))


def parse_password_hash(text: str) -> PasswordHash:
    """``$scrypt$ln=..,r=..,p=..$salt$key`` -> PasswordHash; ValueError saying what is wrong."""
    match = _PHC.fullmatch(text.strip())
    if match is None:
        raise ValueError('expected "$scrypt$ln=14,r=8,p=1$<salt>$<key>" as evsed hash-password prints it')
    ln, r, p = (int(g) for g in match.group(1, 2, 3))
    if not (10 <= ln <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError("scrypt parameters out of range (ln 10..20, r 1..32, p 1..16)")
    try:
        salt, key = (base64.b64decode(g + "=" * (-len(g) % 4), validate=True) for g in match.group(4, 5))
    except binascii.Error as exc:
        raise ValueError(f"salt or key is not base64: {exc}") from exc
    return PasswordHash(ln, r, p, salt, key)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or a LAN address: reachable from elsewhere


def presented_password(headers: Mapping[str, str]) -> str | None:
    """The password in an ``Authorization`` header (Bearer, or Basic with any user), else None."""
    scheme, _, value = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


class ApiAccess:
    """``allows(headers)``: True when the API is open or the request presents the password."""

    def __init__(self, password_hash: PasswordHash | None):
        self.password_hash = password_hash
        self._digest_key = os.urandom(32)
        self._accepted: bytes | None = None  # keyed digest of the password last found right
        self._checking = asyncio.Lock()

    @property
    def open(self) -> bool:
        return self.password_hash is None

    async def allows(self, headers: Mapping[str, str]) -> bool:
        if self.password_hash is None:
            return True
        password = presented_password(headers)
        if password is None:
            return False
        digest = hmac.new(self._digest_key, password.encode(), hashlib.sha256).digest()
        if self._accepted is not None and hmac.compare_digest(digest, self._accepted):
            return True
        async with self._checking:
            if not await asyncio.to_thread(self.password_hash.matches, password):
                return False
        self._accepted = digest
        return True


def _scrypt(password: str, salt: bytes, ln: int, r: int, p: int, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")
