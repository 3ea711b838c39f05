"""The wallbox's own web page, served by the local API (routed in its table).

Rules kept here:
- Same listen address and the same password as the API (controller/api_access.py): the page
  and every JSON request it makes pass the same decision. Public without a credential are
  only the login page and its two files (``PUBLIC``) and ``POST /api/login``; even they are
  refused to a page of another origin and, when the API is open, to a foreign host name.
- Lazy: installing the routes imports nothing else; a handler's module is imported at its
  first request, and the live feed runs only while a browser is connected.
- Plain HTML, CSS and JavaScript shipped as package data (controller/web/static/): no
  build step, no CDN, nothing fetched from anywhere but the box.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from controller.httpd.messages import Key, Request, Response
from controller.httpd.routing import Handler

if TYPE_CHECKING:
    from controller.api import LocalApi

# method, path, module under controller.web, function
ROUTES: tuple[tuple[str, str, str, str], ...] = (
    ("GET", "/", "pages", "index"),
    ("GET", "/static/{name}", "pages", "static"),
    ("POST", "/api/login", "pages", "login"),
    ("POST", "/api/logout", "pages", "logout"),
    ("GET", "/api/session", "pages", "session"),
    ("GET", "/api/live", "live", "stream"),
    ("GET", "/api/station", "station", "info"),
    ("GET", "/api/sessions.csv", "sessions", "export"),
    ("GET", "/api/sessions/{id}/curve", "sessions", "curve"),
    ("POST", "/api/connectors/{evse}/start", "control", "start"),
    ("POST", "/api/connectors/{evse}/stop", "control", "stop"),
    ("POST", "/api/connectors/{evse}/pause", "control", "pause"),
    ("POST", "/api/connectors/{evse}/max-current", "control", "max_current"),
    ("POST", "/api/connectors/{evse}/availability", "control", "availability"),
    ("POST", "/api/ocpp/reconnect", "control", "reconnect"),
    ("POST", "/api/diagnostics", "control", "diagnostics"),
    ("POST", "/api/firmware", "firmware", "upload"),
)
PUBLIC = frozenset({("GET", "/"), ("GET", "/static/style.css"), ("GET", "/static/login.js"), ("POST", "/api/login")})


@dataclass
class Web:
    """What the page's handlers share: the API (daemon, access) and what they made lazily."""

    api: LocalApi
    made: dict[str, Any] = field(default_factory=dict)  # e.g. the live feed, on first use

    async def close(self) -> None:
        for thing in self.made.values():
            close = getattr(thing, "close", None)
            done = close() if close is not None else None
            if inspect.isawaitable(done):
                await done


WEB = Key("web", Web)  # on every request the page's handlers get


def install(api: LocalApi) -> Web:
    shared = Web(api)
    for method, path, module, name in ROUTES:
        api.routes.add(method, path, _lazy(shared, module, name))
    api.public |= PUBLIC
    return shared


def _lazy(shared: Web, module: str, name: str) -> Handler:
    async def handle(request: Request) -> Response:
        handler: Handler = getattr(importlib.import_module(f"controller.web.{module}"), name)
        request[WEB] = shared
        return await handler(request)

    return handle
