"""A multipart/form-data body read part by part as it streams in (RFC 7578), for uploads
larger than memory should hold.

Rules kept here:
- ``parts(request)`` yields each part once its headers are in; a part's content comes from
  ``part.chunks()`` while the body streams, and what a handler leaves of a part is skipped
  when it asks for the next. Nothing is buffered beyond one network read and a delimiter.
- A part's header block is at most ``MAX_PART_HEAD`` bytes, the preamble at most as much.
- A body that is not multipart, has no boundary, or ends before its closing delimiter is a 400
  (HttpError) saying so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from controller.httpd.messages import Headers, HttpError, Request

MAX_PART_HEAD = 8 * 1024


def _params(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="file"; filename="a.bin"`` -> ("form-data", {"name": "file", ...})."""
    kind, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        name, _, text = item.strip().partition("=")
        text = text.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1].replace('\\"', '"')
        params[name.lower()] = text
    return kind.strip().lower(), params


class _Stream:
    """The body with a look-ahead buffer."""

    def __init__(self, chunks: AsyncIterator[bytes]):
        self._chunks = chunks
        self.buffer = bytearray(b"\r\n")  # so the first delimiter looks like every later one
        self.ended = False

    async def more(self) -> None:
        if self.ended:
            raise HttpError(400, "the multipart body ends before its closing boundary")
        chunk = await anext(self._chunks, b"")
        if chunk:
            self.buffer += chunk
        else:
            self.ended = True

    async def until(self, marker: bytes, limit: int, what: str) -> bytes:
        """Everything before ``marker`` (which is consumed), at most ``limit`` bytes of it."""
        while (at := self.buffer.find(marker)) < 0:
            if len(self.buffer) > limit + len(marker):
                raise HttpError(400, f"{what} is longer than {limit} bytes")
            await self.more()
        if at > limit:
            raise HttpError(400, f"{what} is longer than {limit} bytes")
        found = bytes(self.buffer[:at])
        del self.buffer[: at + len(marker)]
        return found

    async def take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            await self.more()
        taken = bytes(self.buffer[:n])
        del self.buffer[:n]
        return taken


@dataclass(eq=False)
class Part:
    headers: Headers
    name: str | None
    filename: str | None
    _stream: _Stream
    _delimiter: bytes
    done: bool = field(default=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The part's content as it arrives (each piece at most one network read)."""
        stream, delimiter = self._stream, self._delimiter
        while not self.done:
            at = stream.buffer.find(delimiter)
            if at >= 0:
                chunk = bytes(stream.buffer[:at])
                del stream.buffer[: at + len(delimiter)]
                self.done = True
            else:
                keep = len(delimiter) - 1  # the start of a delimiter split across two reads
                chunk = bytes(stream.buffer[:-keep]) if len(stream.buffer) > keep else b""
                del stream.buffer[: len(chunk)]
                if not chunk:
                    await stream.more()
                    continue
            if chunk:
                yield chunk


async def parts(request: Request) -> AsyncIterator[Part]:
    kind, params = _params(request.headers.get("Content-Type", ""))
    boundary = params.get("boundary", "")
    if kind != "multipart/form-data" or not 0 < len(boundary) <= 70:
        raise HttpError(400, "expected a multipart/form-data body with a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    stream = _Stream(request.chunks())
    await stream.until(delimiter, MAX_PART_HEAD, "the multipart preamble")
    while True:
        after = await stream.take(2)
        if after == b"--":
            return  # the closing delimiter; an epilogue is ignored
        if after != b"\r\n":
            raise HttpError(400, "a multipart delimiter is not followed by a line break")
        stream.buffer[:0] = after  # the search starts at this line break: a part may have no header at all
        head = await stream.until(b"\r\n\r\n", MAX_PART_HEAD, "a part's header block")
        lines = head.decode("latin-1").split("\r\n")[1:]
        fields = [(name.strip(), value.strip()) for name, sep, value in (line.partition(":") for line in lines) if sep]
        headers = Headers(fields)
        _, disposition = _params(headers.get("Content-Disposition", ""))
        part = Part(headers, disposition.get("name"), disposition.get("filename"), stream, delimiter)
        yield part
        async for _ in part.chunks():  # what the handler left of it
            pass
