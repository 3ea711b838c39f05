"""Which handler answers a request: a table of (method, path pattern, handler).

Rules kept here:
- A pattern is literal segments and ``{name}`` segments; ``{name}`` matches one non-empty
  segment of the request's path. Segments are percent-decoded after the path is split, so an
  encoded "/" stays inside its segment and never reaches another route.
- A path no route has is 404; a path routed only for other methods is 405 with ``Allow``.
  A GET route also answers HEAD (the server sends no body then).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from controller.httpd.messages import HttpError, Request, Response

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


def _segments(path: str) -> list[str]:
    return path.split("/")[1:]


def _match(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, segments, strict=True):
        if want.startswith("{") and want.endswith("}"):
            if not got:
                return None
            params[want[1:-1]] = got
        elif want != got:
            return None
    return params


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, list[str], Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._routes.append((method, _segments(path), handler))

    def add_all(self, routes: Iterable[Route]) -> None:
        for route in routes:
            self.add(route.method, route.path, route.handler)

    def resolve(self, method: str, raw_path: str) -> tuple[Handler, dict[str, str]]:
        """The handler for ``method`` on ``raw_path`` and its parameters, or HttpError 404 / 405."""
        segments = [unquote(s) for s in _segments(raw_path)]
        allowed: set[str] = set()
        for route_method, pattern, handler in self._routes:
            params = _match(pattern, segments)
            if params is None:
                continue
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                return handler, params
            allowed |= {route_method, "HEAD"} if route_method == "GET" else {route_method}
        if allowed:
            raise HttpError(405, headers={"Allow": ", ".join(sorted(allowed))})
        raise HttpError(404)
