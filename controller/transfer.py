"""File transfer for firmware and diagnostics: HTTP(S) and FTP(S) download and upload.

Rules kept here (OCPP 1.6 chapter 8; security whitepaper L01/N01):
- Only ``http``, ``https``, ``ftp`` and ``ftps`` URLs with a host are accepted; anything else
  (a path, ``file:``, control characters, a missing host) is a ``TransferError`` before any
  connection is made. The URL decides where bytes come from, never where they go on disk:
  the caller names the local file.
- Downloads append to a partial file and resume where it ends when the server allows
  (HTTP ``Range`` -> 206, FTP ``REST``); a server that ignores the range starts over.
- A download larger than ``max_bytes`` fails as soon as that is known (announced length,
  ``SIZE``) or the moment one byte too many arrives; the partial file is left for the caller
  to delete.
- FTP is passive (whitepaper: needed across NAT); FTPS is explicit TLS with a protected data
  channel. ftplib blocks, so FTP runs in a worker thread.
- Credentials in URLs never reach logs: ``redacted(url)``.
- ``TransferError.kind`` classifies a failure for status reporting and retries: "location"
  (bad URL), "unsupported" (scheme), "too_big", "permission" (401/403, FTP 530/550) or "failed".
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import ftplib

SCHEMES = ("http", "https", "ftp", "ftps")
CHUNK = 64 * 1024
TIMEOUT_S = 30.0


class TransferError(Exception):
    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Location:
    scheme: str
    host: str
    port: int | None
    path: str  # percent-decoded, as the server should see it
    user: str | None
    password: str | None
    url: str

    @staticmethod
    def parse(url: str) -> Location:
        if not isinstance(url, str) or any(ord(c) < 0x20 or c == "\x7f" for c in url):
            raise TransferError("location contains control characters", "location")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise TransferError(f"location {redacted(url)!r} is not a URL: {exc}", "location") from exc
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise TransferError(f"location scheme {scheme or '(none)'!r} not supported; use {', '.join(SCHEMES)}",
                                "unsupported" if scheme else "location")  # fmt: skip
        if not parts.hostname:
            raise TransferError(f"location {redacted(url)!r} has no host", "location")
        return Location(
            scheme=scheme,
            host=parts.hostname,
            port=port,
            path=unquote(parts.path) or "/",
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            url=url,
        )


def redacted(url: str) -> str:
    """``url`` with any password replaced, for logs and messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


# ---- download ------------------------------------------------------------------------------


async def download(url: str, dest: Path, max_bytes: int, *, ssl_context: ssl.SSLContext | None = None) -> int:
    """Fetch ``url`` into ``dest``, resuming after the bytes ``dest`` already holds.
    Returns the final size. Raises TransferError."""
    location = Location.parse(url)
    have = _size(dest)
    if location.scheme in ("http", "https"):
        return await _http_download(location, dest, have, max_bytes, ssl_context)
    return await asyncio.to_thread(_ftp_download, location, dest, have, max_bytes, ssl_context)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _too_big(size: int, max_bytes: int) -> TransferError:
    return TransferError(f"file of {size} bytes exceeds the limit of {max_bytes} bytes", "too_big")


async def _http_download(loc: Location, dest: Path, have: int, max_bytes: int, ctx: ssl.SSLContext | None) -> int:
    import aiohttp  # 13 MB of client: loaded when a transfer runs, not by every idle daemon

    headers = {"Range": f"bytes={have}-"} if have else {}
    timeout = aiohttp.ClientTimeout(total=None, connect=TIMEOUT_S, sock_read=TIMEOUT_S)
    auth = aiohttp.BasicAuth(loc.user, loc.password or "") if loc.user else None
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(
                _without_userinfo(loc.url), headers=headers, auth=auth, ssl=ctx if ctx is not None else True
            ) as resp,
        ):
            if resp.status in (401, 403):
                raise TransferError(f"HTTP {resp.status} from {redacted(loc.url)}", "permission")
            if resp.status == 206 and _range_start(resp.headers.get("Content-Range")) == have:
                mode = "ab"
            elif resp.status == 200:
                have, mode = 0, "wb"  # the server ignored the range: start over
            else:
                raise TransferError(f"HTTP {resp.status} {resp.reason} from {redacted(loc.url)}")
            announced = resp.content_length
            if announced is not None and have + announced > max_bytes:
                raise _too_big(have + announced, max_bytes)
            size = have
            with dest.open(mode) as out:
                async for chunk in resp.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_big(size, max_bytes)
                    out.write(chunk)
            if announced is not None and size != have + announced:
                raise TransferError(f"connection ended after {size} of {have + announced} bytes")
            return size
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TransferError(f"download from {redacted(loc.url)} failed: {exc or type(exc).__name__}") from exc


def _range_start(content_range: str | None) -> int | None:
    # "bytes 100-199/200"
    if not content_range or not content_range.startswith("bytes "):
        return None
    first = content_range[6:].split("-", 1)[0]
    return int(first) if first.isdigit() else None


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=netloc).geturl()


def _ftp_open(loc: Location, ctx: ssl.SSLContext | None) -> ftplib.FTP:
    import ftplib  # here and below: loaded when an FTP transfer runs, not by every idle daemon

    ftp: ftplib.FTP
    if loc.scheme == "ftps":
        ftp = ftplib.FTP_TLS(context=ctx or ssl.create_default_context(), timeout=TIMEOUT_S)
    else:
        ftp = ftplib.FTP(timeout=TIMEOUT_S)
    ftp.connect(loc.host, loc.port or 21)
    ftp.login(loc.user or "anonymous", loc.password or "")
    if isinstance(ftp, ftplib.FTP_TLS):
        ftp.prot_p()
    ftp.set_pasv(True)
    return ftp


def _ftp_errors(loc: Location, what: str, work: Callable[[], int]) -> int:
    import ftplib

    try:
        return work()
    except ftplib.error_perm as exc:
        code = str(exc)[:3]
        kind = "permission" if code in ("530", "532", "550", "553") else "failed"
        raise TransferError(f"{what} {redacted(loc.url)}: FTP {exc}", kind) from exc
    except (ftplib.Error, OSError, EOFError) as exc:
        raise TransferError(f"{what} {redacted(loc.url)} failed: {exc or type(exc).__name__}") from exc


def _ftp_download(loc: Location, dest: Path, have: int, max_bytes: int, ctx: ssl.SSLContext | None) -> int:
    import ftplib

    def work() -> int:
        with _ftp_open(loc, ctx) as ftp:
            ftp.voidcmd("TYPE I")
            try:
                total = ftp.size(loc.path)
            except ftplib.error_perm:
                total = None  # SIZE is optional (RFC 3659)
            if total is not None and total > max_bytes:
                raise _too_big(total, max_bytes)
            start = have if total is None or have <= total else 0
            size = start
            with dest.open("ab" if start else "wb") as out:

                def write(chunk: bytes) -> None:
                    nonlocal size
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_big(size, max_bytes)
                    out.write(chunk)

                ftp.retrbinary(f"RETR {loc.path}", write, blocksize=CHUNK, rest=start or None)
            if total is not None and size != total:
                raise TransferError(f"transfer ended after {size} of {total} bytes")
            return size

    return _ftp_errors(loc, "download from", work)


# ---- upload --------------------------------------------------------------------------------


async def upload(url: str, source: Path, filename: str, *, method: str = "PUT",
                 ssl_context: ssl.SSLContext | None = None) -> None:  # fmt: skip
    """Send ``source`` to ``url``: HTTP PUT (raw body) or POST (multipart field "file"), or FTP
    STOR (to ``filename`` inside the URL's directory when the URL ends with "/")."""
    location = Location.parse(url)
    if location.scheme in ("http", "https"):
        await _http_upload(location, source, filename, method, ssl_context)
    else:
        await asyncio.to_thread(_ftp_upload, location, source, filename, ssl_context)


async def _http_upload(loc: Location, source: Path, filename: str, method: str, ctx: ssl.SSLContext | None) -> None:
    import aiohttp  # as in _http_download

    timeout = aiohttp.ClientTimeout(total=None, connect=TIMEOUT_S, sock_read=TIMEOUT_S)
    auth = aiohttp.BasicAuth(loc.user, loc.password or "") if loc.user else None
    try:
        with source.open("rb") as body:
            data: object = body
            if method == "POST":
                form = aiohttp.FormData()
                form.add_field("file", body, filename=filename, content_type="application/gzip")
                data = form
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.request(
                    method, _without_userinfo(loc.url), data=data, auth=auth, ssl=ctx if ctx is not None else True
                ) as resp,
            ):
                if resp.status in (401, 403):
                    raise TransferError(f"HTTP {resp.status} from {redacted(loc.url)}", "permission")
                if not 200 <= resp.status < 300:
                    raise TransferError(f"HTTP {resp.status} {resp.reason} from {redacted(loc.url)}")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TransferError(f"upload to {redacted(loc.url)} failed: {exc or type(exc).__name__}") from exc


def _ftp_upload(loc: Location, source: Path, filename: str, ctx: ssl.SSLContext | None) -> None:
    target = loc.path + filename if loc.path.endswith("/") else loc.path

    def work() -> int:
        with _ftp_open(loc, ctx) as ftp, source.open("rb") as body:
            ftp.storbinary(f"STOR {target}", body, blocksize=CHUNK)
        return source.stat().st_size

    _ftp_errors(loc, "upload to", work)
