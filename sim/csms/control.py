"""The bench CSMS's HTTP control API (aiohttp), the same for 1.6 and 2.0.1 stations.

Rules kept here:
- GET /csms/messages[?cp=ID] (every logged frame), GET /csms/summary (``Csms.summary()``),
  POST /csms/call {"cp", "action", "payload"} (a CSMS -> station CALL of the station's version;
  without "cp" while one station is connected, that one), POST /csms/raw {"cp", "text"}.
- A body that is not a JSON object, an action the station's version lacks or a payload that
  does not fit it is a 400, an unknown station a 404, a CALL the station answered with a
  CALLERROR (or that could not be built) a 502 naming the error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from ocpp.exceptions import OCPPError

from sim.csms.session import UnknownAction

if TYPE_CHECKING:
    from sim.csms.server import Csms


async def _body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def call_error_text(exc: OCPPError) -> str:
    """``code: description`` and the first line of a cause, without the library's dict reprs."""
    details = exc.details if isinstance(exc.details, dict) else {}
    cause = str(details.get("cause", "")).splitlines()[:1]
    why = cause[0].rpartition(" is not valid: ")[2] if cause else ""  # the schema's verdict, not the payload
    return f"{getattr(exc, 'code', type(exc).__name__)}: {exc.description}" + (f" ({why})" if why else "")


def app(csms: Csms) -> web.Application:
    async def messages(request: web.Request) -> web.Response:
        return web.json_response(csms.messages(request.query.get("cp")))

    async def summary(_: web.Request) -> web.Response:
        return web.json_response(csms.summary())

    async def post_call(request: web.Request) -> web.Response:
        body = await _body(request)
        if body is None:
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        if body.get("cp") is None and len(csms.sessions) == 1:
            body["cp"] = next(iter(csms.sessions))  # the bench's one station
        if body.get("cp") not in csms.sessions:
            return web.json_response({"error": "unknown or missing cp"}, status=404)
        try:
            response = await csms.call(body["cp"], str(body.get("action")), body.get("payload") or {})
        except UnknownAction as exc:
            return web.json_response({"error": str(exc)}, status=400)
        except OCPPError as exc:  # the station's CALLERROR, or the schema refused the payload here
            return web.json_response({"error": call_error_text(exc)}, status=502)
        except Exception as exc:  # the caller wants to see every failure, named
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=502)
        return web.json_response({"response": response})

    async def post_raw(request: web.Request) -> web.Response:
        body = await _body(request)
        if body is None:
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        if body.get("cp") not in csms.sessions:
            return web.json_response({"error": "unknown or missing cp"}, status=404)
        await csms.send_raw(body["cp"], str(body.get("text", "")))
        return web.json_response({"sent": True})

    application = web.Application()
    application.router.add_get("/csms/messages", messages)
    application.router.add_get("/csms/summary", summary)
    application.router.add_post("/csms/call", post_call)
    application.router.add_post("/csms/raw", post_raw)
    return application
