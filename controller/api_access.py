"""Who may use the local API: the API password, stored as a hash, checked in constant time;
a browser proves it once and then carries a session cookie and a CSRF token.

Rules kept here:
- The API may be open only on loopback (the box itself, an SSH tunnel): any other
  ``[api] listen`` needs ``[api] password_hash`` (controller/config.py refuses to start
  without one). Once a hash is configured, every request presents the password, on any
  address: ``Authorization: Bearer <password>`` or HTTP Basic with any user name, or the
  cookie of a browser session made by ``login`` with the same password.
- Only a hash is stored, in PHC form: ``$scrypt$ln=14,r=8,p=1$<salt>$<key>`` (unpadded
  base64), made by ``evsed hash-password``. Keys are compared with ``hmac.compare_digest``.
- scrypt takes tens of milliseconds of CPU: it runs in a thread (hashlib releases the GIL),
  one at a time, so a guesser waits on its own guesses and the event loop never does. The
  accepted password is remembered as a keyed digest (a random key per process), so a
  client that presents it again costs microseconds.
- Guessing is throttled (``Throttle``): after more than ``FREE_FAILURES`` wrong passwords from
  one address (or ``FREE_FAILURES_ALL`` from all addresses off loopback together) the next
  attempt must wait 1 s after the last failure, then 2 s, 4 s... up to ``MAX_WAIT_S``; one
  that comes earlier is answered 429 with Retry-After and not checked. A right password
  clears its address's count; a count with no failure for ``FORGET_S`` starts again.
- Browser sessions live in memory (a restart logs everyone out): the cookie holds a random
  token, HttpOnly and SameSite=Strict; a session ends after ``SESSION_IDLE_S`` unused or
  ``SESSION_MAX_S`` in all, or at logout; at most ``MAX_SESSIONS`` exist (the oldest goes).
- Every state change (any method but GET/HEAD/OPTIONS) made with a session cookie carries
  the session's CSRF token in ``X-CSRF-Token``. Whatever the credential, a state change a
  browser marks as coming from another origin (``Origin`` not this ``Host``, or
  ``Sec-Fetch-Site`` not same-origin) is refused: another port on the same host counts as
  another origin, and a cached Basic password cannot be replayed by a foreign page.
- An open API (no hash) answers only requests addressed to a loopback name (``Host``), so a
  web page cannot reach it through DNS rebinding.
- ``ApiAccess.decide`` is the single decision; the HTTP layer only maps its verdict to an
  answer (``ANSWERS``).
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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

MIN_PASSWORD_LENGTH = 8
SCRYPT_LN, SCRYPT_R, SCRYPT_P = 14, 8, 1  # N = 16384: 16 MiB and ~50 ms on a desktop core
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "evsed_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_IDLE_S = 12 * 3600.0
SESSION_MAX_S = 7 * 86400.0
MAX_SESSIONS = 32
FREE_FAILURES = 10  # wrong passwords from one address before attempts must wait
FREE_FAILURES_ALL = 50  # the same from all addresses off loopback together
MAX_WAIT_S = 300.0
FORGET_S = 900.0  # a count with no failure for this long starts again at 0
MAX_ADDRESSES = 1024  # addresses whose failures are remembered (the stalest go first)
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


def cross_site(method: str, headers: Mapping[str, str]) -> bool:
    """A state change that a browser says comes from a page of another origin."""
    if method.upper() in SAFE_METHODS:
        return False
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return True
    origin = headers.get("Origin")
    if origin is None:
        return False  # not sent by a browser (curl, evsed ctl), or a same-origin GET
    host = headers.get("Host")
    return host is None or urlsplit(origin).netloc.lower() != host.lower()  # "null" has no netloc


def loopback_host(headers: Mapping[str, str]) -> bool:
    """The request names a loopback host (or none, as HTTP/1.0 clients may)."""
    host = headers.get("Host")
    if host is None:
        return True
    name = urlsplit(f"//{host}").hostname
    return name is not None and is_loopback(name)


@dataclass(frozen=True)
class Failures:
    count: int
    last: float  # monotonic


def wait_s(failures: Failures | None, free: int, now: float) -> float:
    """How long the next attempt must wait after ``failures`` (0: it may go ahead)."""
    if failures is None or failures.count <= free or now - failures.last > FORGET_S:
        return 0.0
    return max(0.0, failures.last + min(MAX_WAIT_S, 2.0 ** (failures.count - free - 1)) - now)


class Throttle:
    """Wrong passwords per address, and from all addresses off loopback together."""

    def __init__(self) -> None:
        self._by_address: dict[str, Failures] = {}
        self._all: Failures | None = None

    def wait_s(self, address: str, now: float) -> float:
        mine = wait_s(self._by_address.get(address), FREE_FAILURES, now)
        return mine if is_loopback(address) else max(mine, wait_s(self._all, FREE_FAILURES_ALL, now))

    def failed(self, address: str, now: float) -> None:
        self._by_address[address] = _counted(self._by_address.pop(address, None), now)
        if len(self._by_address) > MAX_ADDRESSES:
            del self._by_address[next(iter(self._by_address))]  # insertion order: the stalest
        if not is_loopback(address):
            self._all = _counted(self._all, now)

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)


def _counted(failures: Failures | None, now: float) -> Failures:
    if failures is None or now - failures.last > FORGET_S:
        return Failures(1, now)
    return Failures(failures.count + 1, now)


@dataclass
class BrowserSession:
    token: str  # the cookie's value
    csrf: str
    created: float  # monotonic
    seen: float

    def expired(self, now: float) -> bool:
        return now - self.seen > SESSION_IDLE_S or now - self.created > SESSION_MAX_S


class Verdict(StrEnum):
    ALLOWED = "allowed"
    NO_CREDENTIAL = "no_credential"
    WRONG_PASSWORD = "wrong_password"
    SESSION_ENDED = "session_ended"
    THROTTLED = "throttled"
    CROSS_SITE = "cross_site"
    NO_CSRF_TOKEN = "no_csrf_token"
    FOREIGN_HOST = "foreign_host"


ANSWERS: dict[Verdict, tuple[int, str]] = {
    Verdict.NO_CREDENTIAL: (401, "this API needs its password (Authorization: Bearer ...)"),
    Verdict.WRONG_PASSWORD: (401, "wrong password"),
    Verdict.SESSION_ENDED: (401, "the browser session has ended: log in again"),
    Verdict.THROTTLED: (429, "too many wrong passwords: try again later"),
    Verdict.CROSS_SITE: (403, "refused: a state change from a page of another origin"),
    Verdict.NO_CSRF_TOKEN: (403, f"refused: a state change without the session's {CSRF_HEADER}"),
    Verdict.FOREIGN_HOST: (403, "refused: the open API answers only requests to a loopback host name"),
}


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    session: BrowserSession | None = None
    retry_after_s: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


class ApiAccess:
    """``decide(...)``: whether a request may go ahead; ``login``/``logout`` for browsers."""

    def __init__(self, password_hash: PasswordHash | None, clock: Callable[[], float] = time.monotonic):
        self.password_hash = password_hash
        self.clock = clock
        self.throttle = Throttle()
        self._digest_key = os.urandom(32)
        self._accepted: bytes | None = None  # keyed digest of the password last found right
        self._checking = asyncio.Lock()
        self._sessions: dict[bytes, BrowserSession] = {}  # keyed digest of the token -> session

    @property
    def open(self) -> bool:
        return self.password_hash is None

    async def decide(
        self, method: str, headers: Mapping[str, str], cookie: str | None = None, peer: str | None = None
    ) -> Decision:
        if cross_site(method, headers):
            return Decision(Verdict.CROSS_SITE)
        if self.password_hash is None:
            return Decision(Verdict.ALLOWED if loopback_host(headers) else Verdict.FOREIGN_HOST)
        password = presented_password(headers)
        if password is not None:
            return await self._check(password, peer or "")
        if "Authorization" in headers:
            return Decision(Verdict.WRONG_PASSWORD)  # malformed or empty: nothing to check
        if cookie is None:
            return Decision(Verdict.NO_CREDENTIAL)
        session = self.session(cookie)
        if session is None:
            return Decision(Verdict.SESSION_ENDED)
        if method.upper() not in SAFE_METHODS and not hmac.compare_digest(
            headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()
        ):
            return Decision(Verdict.NO_CSRF_TOKEN, session)
        return Decision(Verdict.ALLOWED, session)

    async def login(self, password: str, peer: str | None = None) -> Decision:
        """A new browser session when ``password`` is right (always, when the API is open)."""
        decision = Decision(Verdict.ALLOWED) if self.password_hash is None else await self._check(password, peer or "")
        if not decision.allowed:
            return decision
        now = self.clock()
        import secrets  # here: only a login needs it (with random: about 0.4 MB an idle daemon spares)

        session = BrowserSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        self._sessions = {k: s for k, s in self._sessions.items() if not s.expired(now)}
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].created)]
        self._sessions[self._digest(session.token)] = session
        return Decision(Verdict.ALLOWED, session)

    def session(self, cookie: str) -> BrowserSession | None:
        """The live session whose cookie is ``cookie`` (its use keeps it alive), else None."""
        key = self._digest(cookie)
        session = self._sessions.get(key)
        now = self.clock()
        if session is None or session.expired(now):
            self._sessions.pop(key, None)
            return None
        session.seen = now
        return session

    def logout(self, cookie: str) -> None:
        self._sessions.pop(self._digest(cookie), None)

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._digest_key, secret.encode(), hashlib.sha256).digest()

    async def _check(self, password: str, peer: str) -> Decision:
        assert self.password_hash is not None
        digest = self._digest(password)
        if self._accepted is not None and hmac.compare_digest(digest, self._accepted):
            return Decision(Verdict.ALLOWED)
        wait = self.throttle.wait_s(peer, self.clock())
        if wait > 0:
            return Decision(Verdict.THROTTLED, retry_after_s=wait)
        async with self._checking:
            right = await asyncio.to_thread(self.password_hash.matches, password)
        if not right:
            self.throttle.failed(peer, self.clock())
            return Decision(Verdict.WRONG_PASSWORD)
        self.throttle.succeeded(peer)
        self._accepted = digest
        return Decision(Verdict.ALLOWED)


def _scrypt(password: str, salt: bytes, ln: int, r: int, p: int, length: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")
