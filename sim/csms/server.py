"""The bench CSMS's server: serving, security, recording and CSMS -> station calls, for both versions.

Rules kept here:
- One websocket server for OCPP 1.6J and 2.0.1: the first subprotocol the station offers that
  ``SESSIONS`` knows picks the session class (the station's order is its preference, OCPP-J
  2.0.1 part 4 section 3.2). A station offering none of them gets the handshake without a
  subprotocol and is closed at once (part 4 again), listed in ``refused`` with close code 1002.
- Every frame in and out is recorded (bounded log) and counted per action and direction;
  ``summary()`` is what tests and the CLI compare against. ``versions[cp]`` is the OCPP version
  a station last connected with; the 2.0.1 transactions and reports are in ``ledger``, which
  outlives connections.
- CSMS -> station messages go out with ``await call(cp_id, action, payload)`` (camelCase dicts in
  and out, the station's version decides the message set) or ``send_raw`` for frames the
  ``ocpp`` package would refuse to build.
- Security (whitepaper, the same for both versions): ``start(ssl=tls_context(...))`` serves
  wss; ``passwords[cp]`` demands that Basic auth password (401 otherwise); a client certificate,
  verified by the context's client CA, authenticates instead (profile 3) unless
  ``client_certificates`` is False (a profile-2 port: 401). ``profiles[cp]`` is the profile each
  station last connected with; ``refused`` lists refused handshakes.
- Connections are data too: ``refusing`` answers every new handshake with HTTP 503 (a CSMS that
  "does not accept a reconnect"), ``refusing_ports`` only those on some of its ports,
  ``close(cp_id)`` closes a station's websocket, ``handshakes`` lists when each station tried to
  connect, ``upgrades`` also on which port and with which Authorization header; ``observers``
  see every frame as it is recorded (a test harness keeps its own unbounded list).
- ``start`` may be called again: each call adds a listening endpoint (another port, another TLS
  context: "another CSMS" for a station migrating between network profiles); ``port`` is the
  first one's, ``stop`` closes them all.
- Tasks the CSMS starts (CertificateSigned after SignCertificate) are held until done and
  cancelled by ``stop()``; their failures are logged, not lost.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import itertools
import json
import logging
import ssl
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import websockets
from aiohttp import web
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from sim import pki
from sim.csms.control import app as control_app
from sim.csms.ledger import Ledger
from sim.csms.session import Session, UnknownAction
from sim.csms.v16 import V16Session
from sim.csms.v201 import V201Session

log = logging.getLogger(__name__)

SESSIONS: dict[str, type[Session]] = {"ocpp1.6": V16Session, "ocpp2.0.1": V201Session}
NO_COMMON_SUBPROTOCOL = 1002  # websocket close code (protocol error)


@dataclass
class CsmsConfig:
    boot_status: str = "Accepted"  # Accepted / Pending / Rejected
    heartbeat_interval: int = 300
    id_tags: set[str] = field(default_factory=lambda: {"TAG1", "04A2B3C4"})  # 2.0.1: the idTokens it knows
    log_limit: int = 10000
    parents: dict[str, str] = field(default_factory=dict)  # id tag -> parentIdTag (1.6) / groupIdToken (2.0.1)
    # cp id -> Basic auth password (text, or the raw bytes of a hex-decoded key); absent: none asked
    passwords: dict[str, str | bytes] = field(default_factory=dict)
    client_certificates: bool = True  # False: refuse stations presenting a TLS client certificate
    sign_status: str = "Accepted"  # SignCertificateResponse.status (Rejected: no CertificateSigned follows)
    # 2.0.1 only:
    token_types: dict[str, str] = field(default_factory=dict)  # idToken -> the type it must have (absent: any)
    # idToken -> the idTokenInfo (camelCase) answered for it, instead of the rules above
    token_infos: dict[str, dict[str, Any]] = field(default_factory=dict)
    price_per_kwh: float | None = None  # TransactionEventResponse.totalCost (Updated / Ended); None: not sent
    charging_priority: int | None = None  # TransactionEventResponse.chargingPriority; None: not sent
    personal_message: str | None = None  # TransactionEventResponse.updatedPersonalMessage; None: not sent
    # 1.6 only: ChangeConfiguration of these keys after every accepted BootNotification, as the
    # energy platforms of the design notes do (MeterValuesSampledData, MeterValueSampleInterval).
    configure: dict[str, str] = field(default_factory=dict)
    # 2.0.1 only: the same through one SetVariables, "Component.Variable" -> value
    # (SampledDataCtrlr.TxUpdatedInterval, SampledDataCtrlr.TxUpdatedMeasurands).
    variables: dict[str, str] = field(default_factory=dict)


def tls_context(cert_file: str, key_file: str, client_ca_file: str | None = None) -> ssl.SSLContext:
    """The CSMS's TLS server context; with ``client_ca_file`` client certificates are verified."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL  # profile 2 stations send none, profile 3 ones must verify
    return context


def choose_subprotocol(_: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The station's most preferred version this CSMS speaks; None: answer without one."""
    return next((p for p in offered if p in SESSIONS), None)


@dataclass(frozen=True, slots=True)
class Upgrade:
    """One opening handshake a station made."""

    cp: str
    port: int  # the CSMS endpoint it reached
    at: float  # time.monotonic()
    authorization: str | None  # the Authorization header as sent


@dataclass(frozen=True, slots=True)
class LoggedFrame:
    cp: str
    direction: str  # "in" (from the station) / "out" (to the station)
    text: str
    at: float


class Recording:
    """Wraps a station's websocket so the CSMS sees every frame before ``ocpp`` does."""

    def __init__(self, csms: Csms, cp_id: str, ws: ServerConnection):
        self.csms, self.cp_id, self.ws = csms, cp_id, ws

    async def recv(self) -> str:
        text = await self.ws.recv()
        text = text if isinstance(text, str) else text.decode("utf-8", "replace")
        self.csms.record(self.cp_id, "in", text)
        return text

    async def send(self, text: str) -> None:
        self.csms.record(self.cp_id, "out", text)
        await self.ws.send(text)


class Csms:
    def __init__(self, config: CsmsConfig | None = None):
        self.config = config or CsmsConfig()
        self.sessions: dict[str, Session] = {}
        self.versions: dict[str, str] = {}  # cp id -> "1.6" / "2.0.1"
        self.fail_next: dict[str, int] = {}
        self.transaction_ids = itertools.count(1)  # 1.6: the CSMS numbers transactions
        self.ledger = Ledger()  # 2.0.1: the stations number them
        self.log: collections.deque[LoggedFrame] = collections.deque(maxlen=self.config.log_limit)
        self.sent: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()
        self.callerrors = 0
        self.connections = 0
        self._changed = asyncio.Event()
        self._servers: list[Any] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.profiles: dict[str, int] = {}
        self.refused: list[tuple[str, int, str]] = []  # (cp id, HTTP status or websocket close code, why)
        self.signer: pki.Issued | None = None
        self.refusing = False  # answer new handshakes with 503
        self.refusing_ports: set[int] = set()  # ... on these endpoints only
        self.handshakes: list[tuple[str, float]] = []  # (cp id, time.monotonic()) of every opening handshake
        self.upgrades: list[Upgrade] = []
        self.observers: list[Callable[[LoggedFrame], None]] = []

    # ---- recording ----------------------------------------------------------------------

    def record(self, cp_id: str, direction: str, text: str) -> None:
        logged = LoggedFrame(cp_id, direction, text, time.time())
        self.log.append(logged)
        for observe in self.observers:
            observe(logged)
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if isinstance(frame, list) and frame and frame[0] == 2 and len(frame) > 2 and isinstance(frame[2], str):
            (self.received if direction == "in" else self.sent)[frame[2]] += 1
        elif isinstance(frame, list) and frame and frame[0] == 4:
            self.callerrors += 1
        self.changed()

    def changed(self) -> None:
        """Wake every ``wait_for``, then arm a fresh event for the next change."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[Csms], bool]) -> None:
        """Wait until ``predicate(self)`` holds; re-checked after every frame, ledger entry and
        (dis)connect. Callers bound the wait with ``asyncio.timeout``."""
        while not predicate(self):
            await self._changed.wait()

    def summary(self) -> dict[str, Any]:
        return {
            "sent": dict(self.sent),
            "received": dict(self.received),
            "callerrors": self.callerrors,
            "versions": dict(self.versions),
            **self.ledger.summary(self.config.price_per_kwh),
        }

    def messages(self, cp_id: str | None = None) -> list[dict[str, Any]]:
        return [
            {"cp": f.cp, "direction": f.direction, "text": f.text, "at": f.at}
            for f in self.log
            if cp_id is None or f.cp == cp_id
        ]

    def calls_received(self, action: str) -> list[list[Any]]:
        """Every CALL frame of ``action`` from stations, parsed, in arrival order."""
        frames = (json.loads(f.text) for f in self.log if f.direction == "in" and f'"{action}"' in f.text)
        return [f for f in frames if isinstance(f, list) and f[:1] == [2] and f[2:3] == [action]]

    # ---- CSMS -> station ----------------------------------------------------------------

    async def call(self, cp_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a CSMS-initiated CALL of the station's OCPP version; returns the response payload
        (camelCase). A CALLERROR raises the ``ocpp`` package's OCPPError; an unknown action or a
        payload with missing or unknown fields raises UnknownAction before anything is sent."""
        session = self.sessions[cp_id]
        message = getattr(session._call, action, None) if action.isidentifier() and action[:1].isupper() else None
        if not isinstance(message, type):
            raise UnknownAction(f"{action!r} is not an OCPP {self.versions[cp_id]} message")
        try:
            request = message(**camel_to_snake_case(payload))
        except TypeError as exc:  # a missing or unknown field
            raise UnknownAction(f"{action} payload: {exc}") from None
        response = await session.call(request, suppress=False)
        return snake_to_camel_case(remove_nones(serialize_as_dict(response)))

    async def close(self, cp_id: str) -> None:
        """Close the station's websocket (the closing handshake, as a CSMS going away does)."""
        session = self.sessions.get(cp_id)
        if session is not None:
            await session._connection.ws.close()

    async def send_raw(self, cp_id: str, text: str) -> None:
        await self.sessions[cp_id]._connection.send(text)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("bench CSMS task failed", exc_info=task.exception())

    # ---- serving ------------------------------------------------------------------------

    async def _station(self, ws: ServerConnection) -> None:
        cp_id = (ws.request.path if ws.request else "/").strip("/").split("/")[-1]
        session_class = SESSIONS.get(ws.subprotocol or "")
        if session_class is None:
            self.refused.append((cp_id, NO_COMMON_SUBPROTOCOL, "offered no OCPP version this CSMS speaks"))
            self.changed()
            await ws.close(NO_COMMON_SUBPROTOCOL, "no common OCPP subprotocol")
            return
        session = session_class(cp_id, Recording(self, cp_id, ws), self)
        self.sessions[cp_id] = session
        self.versions[cp_id] = str(ws.subprotocol).removeprefix("ocpp")
        self.connections += 1
        self.changed()
        log.info("station %s connected (%s)", cp_id, ws.subprotocol)
        try:
            await session.start()
        except websockets.exceptions.ConnectionClosed:
            log.info("station %s disconnected", cp_id)
        finally:
            if self.sessions.get(cp_id) is session:
                del self.sessions[cp_id]
            self.changed()

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        cp_id = request.path.strip("/").split("/")[-1]
        port = connection.transport.get_extra_info("sockname")[1]
        self.handshakes.append((cp_id, time.monotonic()))
        self.upgrades.append(Upgrade(cp_id, port, time.monotonic(), request.headers.get("Authorization")))
        if self.refusing or port in self.refusing_ports:
            self.refused.append((cp_id, 503, "not accepting connections"))
            self.changed()
            return connection.respond(503, "not accepting connections\n")
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.getpeercert():
            if not self.config.client_certificates:
                return self._refuse(connection, cp_id, "client certificates are not accepted on this port")
            self.profiles[cp_id] = 3
            return None
        password = self.config.passwords.get(cp_id)
        if password is not None:
            secret = password if isinstance(password, bytes) else password.encode()
            expected = "Basic " + base64.b64encode(cp_id.encode() + b":" + secret).decode()
            if request.headers.get("Authorization") != expected:
                return self._refuse(connection, cp_id, "Basic auth missing or wrong")
        self.profiles[cp_id] = (2 if ssl_object is not None else 1) if password is not None else 0
        return None

    def _refuse(self, connection: ServerConnection, cp_id: str, why: str) -> Response:
        self.refused.append((cp_id, 401, why))
        self.changed()
        return connection.respond(401, why + "\n")

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl: ssl.SSLContext | None = None) -> int:
        """Listen on ``host:port`` (0: a free port); returns the port."""
        server = await serve(self._station, host, port, select_subprotocol=choose_subprotocol, ssl=ssl,
                             process_request=self._authenticate)  # fmt: skip
        self._servers.append(server)
        bound: int = server.sockets[0].getsockname()[1]
        self.port = self.port or bound
        return bound

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for server in self._servers:
            server.close()
            await server.wait_closed()

    def http_app(self) -> web.Application:
        """The HTTP control API (``control.py``) on this CSMS."""
        return control_app(self)
