"""The bench CSMS: an OCPP 1.6J central system on the ``ocpp`` package's ChargePoint.

Rules kept here:
- It behaves like a cooperative backend: BootNotification gets the configured status and
  interval, configured id tags are Accepted (others Invalid), transactions get increasing ids,
  everything else gets the minimal valid answer.
- Every frame in and out is recorded (bounded log) and counted per action and direction;
  ``summary()`` is what tests and the CLI compare against.
- Faults are data: ``fail_next[action] = n`` answers the next n CALLs of that action with an
  InternalError CALLERROR, so retry paths can be exercised without a custom server.
- CSMS -> CP messages go out with ``await call(cp_id, action, payload)`` (camelCase dicts in
  and out) or ``send_raw`` for frames the ``ocpp`` package would refuse to build.
- Security (whitepaper): ``start(ssl=tls_context(...))`` serves wss; ``passwords[cp]`` demands
  that Basic auth password (401 otherwise); a client certificate, verified by the context's
  client CA, authenticates instead (profile 3) unless ``client_certificates`` is False (a
  profile-2 port: 401). ``profiles[cp]`` is the profile each station last connected with;
  ``refused`` lists refused handshakes. With ``signer`` set, a SignCertificate.req is answered
  Accepted and followed by CertificateSigned.req with the CSR signed by that CA.
- The HTTP control API (aiohttp) mirrors that: GET /csms/messages, GET /csms/summary,
  POST /csms/call {"cp", "action", "payload"}, POST /csms/raw {"cp", "text"}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import itertools
import json
import logging
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import websockets
from aiohttp import web
from ocpp.charge_point import camel_to_snake_case, remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import InternalError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from sim import pki

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class CsmsConfig:
    boot_status: str = "Accepted"  # Accepted / Pending / Rejected
    heartbeat_interval: int = 300
    id_tags: set[str] = field(default_factory=lambda: {"TAG1", "04A2B3C4"})
    log_limit: int = 10000
    parents: dict[str, str] = field(default_factory=dict)  # id tag -> the parentIdTag its idTagInfo names
    passwords: dict[str, str] = field(default_factory=dict)  # cp id -> Basic auth password; absent: none asked
    client_certificates: bool = True  # False: refuse stations presenting a TLS client certificate


def tls_context(cert_file: str, key_file: str, client_ca_file: str | None = None) -> ssl.SSLContext:
    """The CSMS's TLS server context; with ``client_ca_file`` client certificates are verified."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL  # profile 2 stations send none, profile 3 ones must verify
    return context


@dataclass(frozen=True, slots=True)
class LoggedFrame:
    cp: str
    direction: str  # "in" (from the station) / "out" (to the station)
    text: str
    at: float


class _Recording:
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


class StationSession(ChargePoint):
    """One connected station, as the CSMS sees it."""

    def __init__(self, cp_id: str, connection: _Recording, csms: Csms):
        super().__init__(cp_id, connection)
        self.csms = csms

    def _fault(self, action: str) -> None:
        left = self.csms.fail_next.get(action, 0)
        if left > 0:
            self.csms.fail_next[action] = left - 1
            raise InternalError(description=f"injected failure of {action}")

    def _tag_info(self, id_tag: str) -> dict[str, Any]:
        info = {"status": "Accepted" if id_tag in self.csms.config.id_tags else "Invalid"}
        parent = self.csms.config.parents.get(id_tag)
        return {**info, "parentIdTag": parent} if parent else info

    @on("BootNotification")
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        self._fault("BootNotification")
        cfg = self.csms.config
        return call_result.BootNotification(_now(), cfg.heartbeat_interval, cfg.boot_status)

    @on("Heartbeat")
    def on_heartbeat(self) -> call_result.Heartbeat:
        self._fault("Heartbeat")
        return call_result.Heartbeat(_now())

    @on("Authorize")
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        self._fault("Authorize")
        return call_result.Authorize(self._tag_info(id_tag))

    @on("StartTransaction")
    def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        self._fault("StartTransaction")
        return call_result.StartTransaction(next(self.csms.transaction_ids), self._tag_info(id_tag))

    @on("StopTransaction")
    def on_stop(self, id_tag: str | None = None, **_: Any) -> call_result.StopTransaction:
        self._fault("StopTransaction")
        return call_result.StopTransaction(self._tag_info(id_tag) if id_tag else None)

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        self._fault("MeterValues")
        return call_result.MeterValues()

    @on("StatusNotification")
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        self._fault("StatusNotification")
        return call_result.StatusNotification()

    @on("DataTransfer")
    def on_data_transfer(self, **_: Any) -> call_result.DataTransfer:
        self._fault("DataTransfer")
        return call_result.DataTransfer("Accepted")

    @on("DiagnosticsStatusNotification")
    def on_diagnostics_status(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @on("FirmwareStatusNotification")
    def on_firmware_status(self, **_: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @on("SignedFirmwareStatusNotification")
    def on_signed_firmware_status(self, **_: Any) -> call_result.SignedFirmwareStatusNotification:
        return call_result.SignedFirmwareStatusNotification()

    @on("LogStatusNotification")
    def on_log_status(self, **_: Any) -> call_result.LogStatusNotification:
        return call_result.LogStatusNotification()

    @on("SecurityEventNotification")
    def on_security_event(self, **_: Any) -> call_result.SecurityEventNotification:
        return call_result.SecurityEventNotification()

    @on("SignCertificate")
    def on_sign_certificate(self, **_: Any) -> call_result.SignCertificate:
        return call_result.SignCertificate("Accepted")

    @after("SignCertificate")
    async def sign_csr(self, csr: str, **_: Any) -> None:
        if self.csms.signer is None:
            return
        chain = pki.pem(pki.sign_csr(self.csms.signer, csr), self.csms.signer.certificate)
        response = await self.call(call.CertificateSigned(certificate_chain=chain), suppress=False)
        log.info("CertificateSigned to %s: %s", self.id, response.status)


class Csms:
    def __init__(self, config: CsmsConfig | None = None):
        self.config = config or CsmsConfig()
        self.sessions: dict[str, StationSession] = {}
        self.fail_next: dict[str, int] = {}
        self.transaction_ids = itertools.count(1)
        self.log: collections.deque[LoggedFrame] = collections.deque(maxlen=self.config.log_limit)
        self.sent: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()
        self.callerrors = 0
        self.connections = 0
        self._changed = asyncio.Event()
        self._server: Any = None
        self.port = 0
        self.profiles: dict[str, int] = {}
        self.refused: list[tuple[str, int, str]] = []  # (cp id, HTTP status, why)
        self.signer: pki.Issued | None = None

    # ---- recording ----------------------------------------------------------------------

    def record(self, cp_id: str, direction: str, text: str) -> None:
        self.log.append(LoggedFrame(cp_id, direction, text, time.time()))
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if isinstance(frame, list) and frame and frame[0] == 2 and len(frame) > 2 and isinstance(frame[2], str):
            (self.received if direction == "in" else self.sent)[frame[2]] += 1
        elif isinstance(frame, list) and frame and frame[0] == 4:
            self.callerrors += 1
        self._notify()

    def _notify(self) -> None:
        # Wake every waiter, then arm a fresh event for the next change.
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[Csms], bool]) -> None:
        """Wait until ``predicate(self)`` holds; re-checked after every frame and (dis)connect.
        Callers bound the wait with ``asyncio.timeout``."""
        while not predicate(self):
            await self._changed.wait()

    def summary(self) -> dict[str, Any]:
        return {"sent": dict(self.sent), "received": dict(self.received), "callerrors": self.callerrors}

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
        """Send a CSMS-initiated CALL; returns the response payload (camelCase). A CALLERROR
        raises the ``ocpp`` package's OCPPError."""
        request = getattr(call, action)(**camel_to_snake_case(payload))
        response = await self.sessions[cp_id].call(request, suppress=False)
        return snake_to_camel_case(remove_nones(serialize_as_dict(response)))

    async def send_raw(self, cp_id: str, text: str) -> None:
        await self.sessions[cp_id]._connection.send(text)

    # ---- serving ------------------------------------------------------------------------

    async def _station(self, ws: ServerConnection) -> None:
        cp_id = (ws.request.path if ws.request else "/").strip("/").split("/")[-1]
        session = StationSession(cp_id, _Recording(self, cp_id, ws), self)
        self.sessions[cp_id] = session
        self.connections += 1
        self._notify()
        log.info("station %s connected", cp_id)
        try:
            await session.start()
        except websockets.exceptions.ConnectionClosed:
            log.info("station %s disconnected", cp_id)
        finally:
            if self.sessions.get(cp_id) is session:
                del self.sessions[cp_id]
            self._notify()

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        cp_id = request.path.strip("/").split("/")[-1]
        ssl_object = connection.transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.getpeercert():
            if not self.config.client_certificates:
                return self._refuse(connection, cp_id, "client certificates are not accepted on this port")
            self.profiles[cp_id] = 3
            return None
        password = self.config.passwords.get(cp_id)
        if password is not None:
            expected = "Basic " + base64.b64encode(f"{cp_id}:{password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return self._refuse(connection, cp_id, "Basic auth missing or wrong")
        self.profiles[cp_id] = (2 if ssl_object is not None else 1) if password is not None else 0
        return None

    def _refuse(self, connection: ServerConnection, cp_id: str, why: str) -> Response:
        self.refused.append((cp_id, 401, why))
        self._notify()
        return connection.respond(401, why + "\n")

    async def start(self, host: str = "127.0.0.1", port: int = 0, ssl: ssl.SSLContext | None = None) -> int:
        self._server = await serve(self._station, host, port, subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                   ssl=ssl, process_request=self._authenticate)  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ---- HTTP control API ---------------------------------------------------------------

    def http_app(self) -> web.Application:
        async def messages(request: web.Request) -> web.Response:
            return web.json_response(self.messages(request.query.get("cp")))

        async def summary(_: web.Request) -> web.Response:
            return web.json_response(self.summary())

        async def post_call(request: web.Request) -> web.Response:
            body = await request.json()
            if isinstance(body, dict) and body.get("cp") is None and len(self.sessions) == 1:
                body["cp"] = next(iter(self.sessions))  # the bench's one station
            if not isinstance(body, dict) or body.get("cp") not in self.sessions:
                return web.json_response({"error": "unknown or missing cp"}, status=404)
            try:
                response = await self.call(body["cp"], str(body.get("action")), body.get("payload") or {})
            except Exception as exc:  # the caller wants to see CALLERRORs and bad requests alike
                return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=502)
            return web.json_response({"response": response})

        async def post_raw(request: web.Request) -> web.Response:
            body = await request.json()
            if not isinstance(body, dict) or body.get("cp") not in self.sessions:
                return web.json_response({"error": "unknown or missing cp"}, status=404)
            await self.send_raw(body["cp"], str(body.get("text", "")))
            return web.json_response({"sent": True})

        app = web.Application()
        app.router.add_get("/csms/messages", messages)
        app.router.add_get("/csms/summary", summary)
        app.router.add_post("/csms/call", post_call)
        app.router.add_post("/csms/raw", post_raw)
        return app


async def _main(args: argparse.Namespace) -> None:
    config = CsmsConfig(
        boot_status=args.boot_status, heartbeat_interval=args.interval, id_tags=set(args.tag), log_limit=args.log_limit
    )
    csms = Csms(config)
    port = await csms.start(args.host, args.port)
    runner = web.AppRunner(csms.http_app())
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.http_port)
    await site.start()
    http_port = site._server.sockets[0].getsockname()[1] if site._server else args.http_port  # type: ignore[union-attr]
    print(f"csms listening ws://{args.host}:{port} http://{args.host}:{http_port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await csms.stop()


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.csms", description="bench OCPP 1.6J CSMS")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--http-port", type=int, default=9001)
    parser.add_argument("--boot-status", choices=["Accepted", "Pending", "Rejected"], default="Accepted")
    parser.add_argument("--interval", type=int, default=300)
    parser.add_argument("--tag", action="append", default=["TAG1", "04A2B3C4"])
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--log-limit", type=int, default=10000, help="frames kept for /csms/messages")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=args.log_level)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
