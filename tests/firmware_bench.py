"""Test helpers for firmware and diagnostics: a loopback HTTP file server that can cut a
download short, hold a request until released, and records Range headers, requests and uploads,
an FTP server (pyftpdlib) in a thread, and the SignedUpdateFirmware payload for a bench release."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from sim.release import Manufacturer


@dataclass
class FileServer:
    """Serves ``files`` by name; ``cut[name] = n`` ends the next response after n bytes;
    ``held[name]`` holds a download or upload of that name until the event is set."""

    files: dict[str, Path] = field(default_factory=dict)
    cut: dict[str, int] = field(default_factory=dict)
    held: dict[str, asyncio.Event] = field(default_factory=dict)
    ranges: list[str | None] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    uploads: dict[str, bytes] = field(default_factory=dict)
    port: int = 0
    _runner: web.AppRunner | None = None

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        gate = self.held.get(request.match_info.get("name", ""))
        if gate is not None:
            await gate.wait()
        return await handler(request)

    async def _get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self.files:
            raise web.HTTPNotFound()
        data = self.files[name].read_bytes()
        self.ranges.append(request.headers.get("Range"))
        start = 0
        if request.headers.get("Range", "").startswith("bytes="):
            start = int(request.headers["Range"][6:].split("-")[0])
        body = data[start:]
        resp = web.StreamResponse(status=206 if start else 200)
        resp.content_length = len(body)
        if start:
            resp.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        await resp.prepare(request)
        cut = self.cut.pop(name, None)
        if cut is not None:
            await resp.write(body[:cut])
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-file
            return resp
        await resp.write(body)
        await resp.write_eof()
        return resp

    async def _put(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["name"]] = await request.read()
        return web.Response(status=201)

    async def _post(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        self.uploads[upload.filename] = upload.file.read()
        return web.Response(status=200)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20, middlewares=[self._record])
        app.router.add_get("/fw/{name}", self._get)
        app.router.add_put("/up/{name}", self._put)
        app.router.add_post("/form/", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class FtpServer:
    """pyftpdlib on loopback in a thread: user "evsed" may write, "reader" may only read, both
    with ``password`` and ``root`` as home."""

    def __init__(self, root: Path, password: str = "secret"):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        root.mkdir(parents=True, exist_ok=True)
        authorizer = DummyAuthorizer()
        authorizer.add_user("evsed", password, str(root), perm="elradfmw")
        authorizer.add_user("reader", password, str(root), perm="elr")
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "passive_ports": None})
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)

    def __enter__(self) -> FtpServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.close_all()
        self.thread.join(5)


def signed_update(manufacturer: Manufacturer, artifact: Path, url: str, request_id: int, **extra: Any) -> dict:
    return {
        "requestId": request_id,
        "retries": 3,
        "retryInterval": 0,
        **extra,
        "firmware": {
            "location": url,
            # a minute ago: the station's clock follows the CSMS's time, which may lag ours by a
            # few ms, and "now" would then be a schedule (DownloadScheduled) a moment ahead
            "retrieveDateTime": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "signingCertificate": manufacturer.signer.cert_pem,
            "signature": manufacturer.sign(artifact),
        },
    }
