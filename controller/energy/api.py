"""The local API's energy endpoints (routed by controller/api.py when the daemon has a site).

Rules kept here:
- ``GET /api/energy``: the site's state (``Site.status_json``, the shape the README documents).
- ``POST /api/energy/mode`` ``{"connector": 1, "mode": "off"|"minpv"|"pv"}``: answered with the
  connector's new state once the change is stored. (The owner's maximum current and pause are
  the web page's endpoints, ``/api/connectors/<n>/max-current`` and ``.../pause``.)
- ``POST /api/grid`` (``[grid] source = "api"``): a grid reading, ``{"power_w": [...], "current_a": [...]}``.
- ``POST /api/energy/allocation`` (``[grid] source = "manager"``): ``{"connector": 1, "amps": A,
  "phases": 1|3, "valid_s": S}`` from an energy manager reached over HTTP.
- Anything wrong is a 400 naming the field (the API's ``BadRequest``); a command the site cannot
  carry out (a solar mode without a grid reading) is a 409 saying why. Nothing changes then.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from controller.energy.load import Allocation
from controller.energy.site import Refused, Site
from controller.energy.solar import SolarMode
from controller.httpd.messages import Request, Response, json_response
from controller.httpd.routing import Route
from controller.mqtt.topics import parse_allocation

Body = Callable[[Request], Awaitable[dict[str, Any]]]
Connector = Callable[[dict[str, Any]], int]


class EnergyApi:
    def __init__(self, site: Site, body: Body, connector: Connector, bad_request: type[Exception]):
        self.site = site
        self._body = body
        self._connector = connector
        self._bad = bad_request

    def routes(self) -> list[Route]:
        return [
            Route("GET", "/api/energy", self.status),
            Route("POST", "/api/energy/mode", self.mode),
            Route("POST", "/api/energy/allocation", self.allocation),
            Route("POST", "/api/grid", self.grid),
        ]

    async def status(self, request: Request) -> Response:
        return json_response(self.site.status_json())

    async def mode(self, request: Request) -> Response:
        body = await self._body(request)
        connector = self._connector(body)
        mode = body.get("mode")
        if mode not in [m.value for m in SolarMode]:
            raise self._bad(f"mode must be one of {', '.join(m.value for m in SolarMode)}, not {mode!r}")
        try:
            await self.site.set_mode(connector, SolarMode(mode))
        except Refused as exc:
            return json_response({"error": str(exc)}, status=409)
        return json_response(self.site.connector_json(self.site.station.view(connector)))

    async def grid(self, request: Request) -> Response:
        body = await self._body(request)
        try:
            reading = self.site.grid_json(body)
        except Refused as exc:
            return json_response({"error": str(exc)}, status=409)
        except ValueError as exc:
            raise self._bad(str(exc)) from None
        return json_response(reading.as_json(self.site.clock()))

    async def allocation(self, request: Request) -> Response:
        body = await self._body(request)
        connector = self._connector(body)
        fields = {k: v for k, v in body.items() if k != "connector"}
        try:
            allocation: Allocation = parse_allocation("body", json.dumps(fields).encode())
            self.site.allocation(connector, allocation)
        except Refused as exc:
            return json_response({"error": str(exc)}, status=409)
        except ValueError as exc:
            raise self._bad(str(exc)) from None
        return json_response({"ok": True})
