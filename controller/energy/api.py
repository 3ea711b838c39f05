"""The local API's energy endpoints (routed by controller/api.py when the daemon has a site).

Rules kept here:
- ``GET /api/energy``: the site's state (``Site.status_json``, the shape the README documents).
- ``POST /api/energy/mode`` ``{"connector": 1, "mode": "off"|"minpv"|"pv"}``,
  ``POST /api/energy/max-current`` ``{"connector": 1, "amps": 10}``,
  ``POST /api/energy/charging`` ``{"connector": 1, "charging": true|false}``: the owner's
  commands, answered with the connector's new state once the change is stored.
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

from aiohttp import web

from controller.energy.load import Allocation
from controller.energy.site import Refused, Site
from controller.energy.solar import SolarMode
from controller.mqtt.topics import parse_allocation

Body = Callable[[web.Request], Awaitable[dict[str, Any]]]
Connector = Callable[[dict[str, Any]], int]


class EnergyApi:
    def __init__(self, site: Site, body: Body, connector: Connector, bad_request: type[Exception]):
        self.site = site
        self._body = body
        self._connector = connector
        self._bad = bad_request

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/energy", self.status),
            web.post("/api/energy/mode", self.mode),
            web.post("/api/energy/max-current", self.max_current),
            web.post("/api/energy/charging", self.charging),
            web.post("/api/energy/allocation", self.allocation),
            web.post("/api/grid", self.grid),
        ]

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.site.status_json())

    async def _answer(self, connector: int, change: Callable[[], Awaitable[None] | None]) -> web.Response:
        try:
            pending = change()
            if pending is not None:
                await pending
        except Refused as exc:
            return web.json_response({"error": str(exc)}, status=409)
        return web.json_response(self.site.connector_json(self.site.station.view(connector)))

    async def mode(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        connector = self._connector(body)
        mode = body.get("mode")
        if mode not in [m.value for m in SolarMode]:
            raise self._bad(f"mode must be one of {', '.join(m.value for m in SolarMode)}, not {mode!r}")
        return await self._answer(connector, lambda: self.site.set_mode(connector, SolarMode(mode)))

    async def max_current(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        connector = self._connector(body)
        amps = body.get("amps")
        if isinstance(amps, bool) or not isinstance(amps, (int, float)):
            raise self._bad(f"amps must be a number, not {amps!r}")
        return await self._answer(connector, lambda: self.site.set_max_current(connector, float(amps)))

    async def charging(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        connector = self._connector(body)
        charging = body.get("charging")
        if not isinstance(charging, bool):
            raise self._bad(f"charging must be true or false, not {charging!r}")
        return await self._answer(connector, lambda: self.site.set_charging(connector, charging))

    async def grid(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            reading = self.site.grid_json(body)
        except Refused as exc:
            return web.json_response({"error": str(exc)}, status=409)
        except ValueError as exc:
            raise self._bad(str(exc)) from None
        return web.json_response(reading.as_json(self.site.clock()))

    async def allocation(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        connector = self._connector(body)
        fields = {k: v for k, v in body.items() if k != "connector"}
        try:
            allocation: Allocation = parse_allocation("body", json.dumps(fields).encode())
            self.site.allocation(connector, allocation)
        except Refused as exc:
            return web.json_response({"error": str(exc)}, status=409)
        except ValueError as exc:
            raise self._bad(str(exc)) from None
        return web.json_response({"ok": True})
