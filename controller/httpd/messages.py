"""What a handler sees of HTTP: a Request in, a Response (or an HttpError) out.

Rules kept here:
- A Request carries the method, the percent-decoded path and its route's parameters, the query
  (first value of a repeated name), the headers (case-insensitive names), the cookies and the
  peer's address. Its body is read on demand: ``read()`` / ``json()`` refuse one larger than the
  server's ``max_body`` with 413 (a declared length is refused before anything is read);
  ``chunks()`` streams a body of any size to a handler that bounds it itself. A body is read once.
- Values a layer attaches to a request (the access decision, the page's shared state) live
  under typed keys: ``request[ACCESS]``.
- A Response is a status, headers and a body: bytes, or an async iterator of bytes that the
  server streams as it yields (server-sent events) and closes when the client leaves.
- ``HttpError(status, text)`` ends a handler with that status; without a text the layer above
  says what it means (the API: "no such endpoint ...", the status's phrase).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
Body = bytes | AsyncIterator[bytes]
Receive = Callable[[], Awaitable[bytes]]  # the body's next piece, b"" at its end

# The page's files (controller/web/static/) by suffix; anything else is plain bytes.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


class HttpError(Exception):
    def __init__(self, status: int, text: str | None = None, headers: Mapping[str, str] | None = None):
        super().__init__(text or HTTPStatus(status).phrase)
        self.status = status
        self.text = text  # None: the status says it all
        self.headers = dict(headers or {})


def too_large(limit: int) -> HttpError:
    return HttpError(413, f"Request Entity Too Large: a body of at most {limit} bytes is accepted")


class Key(Generic[T]):
    """A typed name for a value attached to a request."""

    def __init__(self, name: str, kind: type[T]):
        self.name = name
        self.kind = kind

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


class Headers(Mapping[str, str]):
    """Header fields by case-insensitive name; a repeated field is one value joined as RFC 9110
    5.3 says (``, ``; cookies with ``; ``)."""

    def __init__(self, fields: Iterable[tuple[str, str]]):
        self._fields: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            prior = self._fields.get(key)
            self._fields[key] = value if prior is None else f"{prior}{'; ' if key == 'cookie' else ', '}{value}"

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def parse_cookies(header: str) -> dict[str, str]:
    """``a=1; b="2"`` -> {"a": "1", "b": "2"}; the first of a repeated name wins (the most specific path)."""
    cookies: dict[str, str] = {}
    for pair in header.split(";"):
        name, sep, value = pair.strip().partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if sep and name:
            cookies.setdefault(name, value)
    return cookies


@dataclass(eq=False)
class Request:
    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent: the router splits it before decoding, so "%2F" stays in its segment
    query: Mapping[str, str]
    headers: Headers
    remote: str | None
    secure: bool  # came over TLS
    receive: Receive
    max_body: int
    params: dict[str, str] = field(default_factory=dict)  # the route's {name} segments
    _values: dict[Key[Any], Any] = field(default_factory=dict)
    _body: bytes | None = None
    _streamed: bool = False

    @property
    def cookies(self) -> dict[str, str]:
        return parse_cookies(self.headers.get("Cookie", ""))

    def __getitem__(self, key: Key[T]) -> T:
        return cast(T, self._values[key])

    def __setitem__(self, key: Key[T], value: T) -> None:
        self._values[key] = value

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives, unbounded: the caller bounds it."""
        if self._streamed:
            raise RuntimeError("the request's body was read already")
        self._streamed = True
        while chunk := await self.receive():
            yield chunk

    async def read(self) -> bytes:
        """The whole body, at most ``max_body`` bytes (else 413)."""
        if self._body is not None:
            return self._body
        declared = self.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise too_large(self.max_body)
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > self.max_body:
                raise too_large(self.max_body)
        self._body = bytes(data)
        return self._body

    async def json(self) -> Any:
        """The body as JSON (json.JSONDecodeError, UnicodeDecodeError or RecursionError if it is not)."""
        return json.loads(await self.read())


@dataclass
class Response:
    status: int = 200
    body: Body = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None, path: str = "/",
                   httponly: bool = False, samesite: str | None = None, secure: bool = False) -> None:  # fmt: skip
        parts = [f"{name}={value}", f"Path={path}"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        parts += ["HttpOnly"] * httponly + ["Secure"] * secure + ([f"SameSite={samesite}"] if samesite else [])
        self.headers.append(("Set-Cookie", "; ".join(parts)))

    def del_cookie(self, name: str, path: str = "/") -> None:
        self.headers.append(("Set-Cookie", f'{name}=""; Path={path}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'))


def _headers(content_type: str, more: Mapping[str, str] | None) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), *(more or {}).items()]


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data).encode(), _headers("application/json; charset=utf-8", headers))


def bytes_response(body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(200, body, _headers(content_type, headers))


def stream_response(
    chunks: AsyncIterator[bytes], content_type: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(200, chunks, _headers(content_type, headers))


def file_response(request: Request, path: Path, headers: Mapping[str, str] | None = None) -> Response:
    """A file of the package (a few kB: read whole, from the page cache) with an ETag of its
    modification time and size; 304 without a body when the client's copy is that one."""
    stat = path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    more = {**(headers or {}), "ETag": etag}
    if etag in (tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")):
        return Response(304, b"", list(more.items()))
    content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    return Response(200, path.read_bytes(), _headers(content_type, more))
