"""The page's files and its login: who gets the page, who gets the login form.

Rules kept here:
- ``GET /`` is the page to whoever the API lets in (a browser session, the password, or
  anyone when the API is open), else the login form, which holds no station data.
- Files are served only from controller/web/static/ and only by a name listed there at
  import (no path from the request reaches the file system). HTML is never cached; the
  other files are revalidated (ETag), so a new release's page loads after an update.
- Login takes the password as JSON, answers with the CSRF token and sets the session
  cookie (HttpOnly, SameSite=Strict, Secure when the request came over TLS); a wrong
  password gets 401, a throttled one 429 with Retry-After (controller/api_access.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from controller.api import ACCESS, BadRequest, body_json
from controller.api_access import ANSWERS, SESSION_COOKIE, SESSION_MAX_S
from controller.httpd.messages import HttpError, Request, Response, file_response, json_response
from controller.web import WEB
from controller.web.words import ENERGY_MODES, STOP_CAUSES
from sim.world import EV_ACTIONS, FAULT_KINDS

STATIC = Path(__file__).with_name("static")
FILES = {p.name: p for p in STATIC.iterdir() if p.is_file()}
NO_STORE = {"Cache-Control": "no-store"}


async def index(request: Request) -> Response:
    page = "index.html" if request[ACCESS].allowed else "login.html"
    return file_response(request, FILES[page], NO_STORE)


async def static(request: Request) -> Response:
    path = FILES.get(request.params["name"])
    if path is None or path.suffix == ".html":
        raise HttpError(404)
    return file_response(request, path, {"Cache-Control": "no-cache"})


async def login(request: Request) -> Response:
    body = await body_json(request)
    password = body.get("password")
    if not isinstance(password, str) or not password:
        raise BadRequest("password must be a non-empty string")
    access = request[WEB].api.access
    decision = await access.login(password, request.remote)
    if decision.session is None:
        status, text = ANSWERS[decision.verdict]
        headers = {"Retry-After": str(math.ceil(decision.retry_after_s))} if decision.retry_after_s else {}
        return json_response({"error": text}, status=status, headers=headers)
    response = json_response({"csrf": decision.session.csrf})
    response.set_cookie(
        SESSION_COOKIE,
        decision.session.token,
        max_age=int(SESSION_MAX_S),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


async def logout(request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is not None:
        request[WEB].api.access.logout(cookie)
    response = json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def session(request: Request) -> Response:
    """What the page needs to make requests: its CSRF token (None: no session, none needed)."""
    decision = request[ACCESS]
    api = request[WEB].api
    body: dict[str, Any] = {
        "csrf": decision.session.csrf if decision.session is not None else None,
        "password": not api.access.open,
        "sim": None if api.sim is None else {"faults": list(FAULT_KINDS), "ev_actions": list(EV_ACTIONS)},
        "stop_words": {cause.value: words for cause, words in STOP_CAUSES.items()},
        "energy": None if api.daemon.site is None else energy_modes(api.daemon.config.grid.source is not None),
    }
    return json_response(body)


def energy_modes(solar: bool) -> dict[str, Any]:
    """The charging modes the page offers; the solar ones only with a grid reading to follow."""
    modes = [{"mode": m.value, "title": w.title, "detail": w.detail} for m, w in ENERGY_MODES.items()]
    return {"modes": modes if solar else modes[:1], "solar": solar}
