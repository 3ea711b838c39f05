"""The local HTTP JSON API: status for everyone, bench controls on the simulator.

Rules kept here:
- Listens on ``[api] listen`` (loopback by default), served by controller/httpd. With ``[api] password_hash`` every
  request must present the password or a browser session (controller/api_access.py decides);
  without one the API is open and the configuration allows only a loopback address. The web
  page (controller/web/) is routed in the same table and passes the same decision, taken
  before the route: an unknown path without a credential is a 401, not a 404.
- ``/api/sim/*`` exist only on a simulated board; elsewhere they are not routed (404).
- Bad requests get 400 with a message naming what was wrong; nothing a client sends
  can raise out of a handler. Bodies are small (``MAX_BODY``); every error is JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from controller import __version__
from controller.api_access import ANSWERS, SESSION_COOKIE, ApiAccess, Decision, Verdict
from controller.clock import iso
from controller.core.events import Event, EventKind
from controller.core.ledger import Transaction
from controller.core.vocabulary import Token
from controller.httpd.messages import HttpError, Key, Request, Response, json_response
from controller.httpd.routing import Router
from controller.httpd.server import Server
from controller.ocpp.frontend import FrontEnd
from controller.ocpp.versions import status_words
from controller.realtime import ConnectorSnapshot
from controller.web import install as install_page
from hal.interfaces import Simulation
from hal.types import PilotMode

if TYPE_CHECKING:
    from controller.daemon import Daemon

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024  # the largest request body accepted; every API body is a few keys
SWIPE_ANSWER_S = 8.0  # a swipe's answer waits this long for the station (authorization may ask the CSMS)
ACCESS = Key("access", Decision)  # what ApiAccess decided for the request


class BadRequest(Exception):
    pass


def iec_state(snap: ConnectorSnapshot) -> str:
    """ "A1", "B2", "C2", "F"...: the CP state with X1/X2 as IEC 61851 writes it."""
    if snap.pilot.mode is PilotMode.F:
        return "F"
    return snap.cp.value + ("2" if snap.pilot.mode is PilotMode.X2 else "1")


def token_json(token: Token | None) -> dict[str, Any] | None:
    return None if token is None else {"id": token.id, "type": token.type.value, "group": token.group}


def transaction_json(tx: Transaction) -> dict[str, Any]:
    return {
        "id": tx.id,
        "evse": tx.evse,
        "token": token_json(tx.token),
        "start_point": tx.start_point.value,
        "started_at": iso(tx.started_at),
        "meter_start_wh": tx.meter_start_wh,
        "stopped_at": iso(tx.stopped_at) if tx.stopped_at else None,
        "meter_stop_wh": tx.meter_stop_wh,
        "stop_cause": tx.stop_cause.value if tx.stop_cause else None,
        "stop_token": token_json(tx.stop_token),
        "remote_start_id": tx.remote_start_id,
        "reservation_id": tx.reservation_id,
        "max_current_a": tx.max_current_a,
        "energy_wh": round(tx.energy_wh, 1),
    }


def connector_status_json(daemon: Daemon, connector: int) -> dict[str, Any]:
    view = daemon.station.view(connector)
    snap = daemon.rt.snapshot(connector) or view.snapshot  # the loop's latest tick, not the last material change
    meter = view.meter
    tx = view.transaction
    out: dict[str, Any] = {
        "connector": connector,
        "status": status_words(daemon.config, view),
        "charging_state": view.charging_state.value if view.charging_state else None,
        "occupancy": view.occupancy.value if view.occupancy else None,
        "indication": view.indication.value if view.indication else None,
        "error": view.fault.value if view.fault else None,
        "operative": view.operative,
        "limit": None if view.limit is None else {"amps": view.limit.amps, "source": view.limit.source},
    }
    if snap is not None:
        out.update(
            iec_state=iec_state(snap),
            cp=snap.cp.value,
            pilot=snap.pilot.mode.value,
            duty_percent=round(snap.pilot.duty_percent, 2) if snap.pilot.mode is PilotMode.X2 else None,
            offered_a=round(snap.offered_a, 2),
            limit_a=round(snap.limit_a, 2),
            limit_stale=snap.limit_stale,
            contactor=snap.contactor,
            contactor_feedback=snap.contactor_feedback,
            locked=snap.locked,
            cable_a=snap.cable_a,
            temperature_c=snap.temperature_c,
            faults=sorted(f.value for f in snap.faults),
        )
    out["meter"] = (
        None
        if meter is None
        else {
            "energy_wh": round(meter.energy_import_wh, 1),
            "power_w": round(meter.power_w, 1),
            "current_a": [round(a, 2) for a in meter.current_a],
            "voltage_v": [round(v, 1) for v in meter.voltage_v],
            "frequency_hz": meter.frequency_hz,
            "age_s": round(time.monotonic() - meter.at, 2) if meter.at else None,
            "serial_number": meter.serial_number,
        }
    )
    out["transaction"] = (
        None
        if tx is None
        else {
            "id": tx.id,
            "token": token_json(tx.token),
            "start_point": tx.start_point.value,
            "started_at": iso(tx.started_at),
            "meter_start_wh": tx.meter_start_wh,
            "energy_wh": round(view.energy_wh, 1),
        }
    )
    sim = daemon.board.simulation
    if sim is not None:
        out["ev"] = sim.snapshot(connector)
    return out


class LocalApi:
    def __init__(self, daemon: Daemon):
        self.daemon = daemon
        self.access = ApiAccess(daemon.config.api.password_hash)
        self.sim = daemon.board.simulation
        self.routes = Router()
        self.routes.add("GET", "/api/status", self.status)
        self.routes.add("GET", "/api/sessions", self.sessions)
        self.routes.add("POST", "/api/ocpp/disconnect", self.ocpp_disconnect)
        self.routes.add("POST", "/api/ocpp/connect", self.ocpp_connect)
        if daemon.site is not None:
            from controller.energy.api import EnergyApi

            self.routes.add_all(EnergyApi(daemon.site, self._body, self._connector, BadRequest).routes())
        if self.sim is not None:
            self.routes.add("POST", "/api/sim/house", self.sim_house)
            self.routes.add("POST", "/api/sim/plug-in", self.sim_plug_in)
            self.routes.add("POST", "/api/sim/unplug", self.sim_unplug)
            self.routes.add("POST", "/api/sim/swipe", self.sim_swipe)
            self.routes.add("POST", "/api/sim/ev", self.sim_ev)
            self.routes.add("POST", "/api/sim/fault", self.sim_fault)
        self.extra_status: list[Callable[[], dict[str, Any]]] = []  # protocol front ends add theirs
        self.public: set[tuple[str, str]] = set()  # (method, path) served without a credential
        self.web = install_page(self)
        self.server = Server(self.handle, MAX_BODY)
        self.port: int | None = None

    async def handle(self, request: Request) -> Response:
        """The answer to one request: the access decision, then the route; every error is JSON."""
        try:
            refused = await self._refused(request)
            if refused is not None:
                return refused
            handler, request.params = self.routes.resolve(request.method, request.raw_path)
            return await handler(request)
        except BadRequest as exc:
            return json_response({"error": str(exc)}, status=400)
        except HttpError as exc:
            text = exc.text or str(exc)
            if exc.status == 404 and exc.text is None:
                text = f"no such endpoint: {request.method} {request.path}"
                if self.sim is None and request.path.startswith("/api/sim/"):
                    text = "not a simulated board: the /api/sim endpoints exist only on the sim board"
            return json_response({"error": text}, status=exc.status, headers=exc.headers)  # 405 says what is allowed
        except Exception as exc:  # an API bug must not take the daemon down
            log.exception("API %s %s failed", request.method, request.path)
            return json_response({"error": f"internal error: {exc}"}, status=500)

    async def _refused(self, request: Request) -> Response | None:
        """None when ApiAccess lets the request go ahead, else its answer."""
        cookie = request.cookies.get(SESSION_COOKIE)
        decision = await self.access.decide(request.method, request.headers, cookie, request.remote)
        request[ACCESS] = decision
        public = (request.method, request.path) in self.public
        if decision.allowed or (public and decision.verdict not in (Verdict.CROSS_SITE, Verdict.FOREIGN_HOST)):
            return None
        status, text = ANSWERS[decision.verdict]
        headers = {}
        if status == 401 and request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate":
            headers["WWW-Authenticate"] = 'Basic realm="evsed"'  # not to the page's own requests: no pop-up
        if decision.retry_after_s:
            headers["Retry-After"] = str(math.ceil(decision.retry_after_s))
        return json_response({"error": text}, status=status, headers=headers)

    async def start(self, host: str, port: int) -> None:
        await self.server.start(host, port)
        self.port = self.server.port
        log.info("local API on http://%s:%s/api/status", host, self.port)

    async def stop(self) -> None:
        await self.web.close()  # ends the live feed's streams first
        await self.server.stop()

    # -- status -----------------------------------------------------------------
    async def status(self, request: Request) -> Response:
        return json_response(self.status_json())

    def status_json(self) -> dict[str, Any]:
        d = self.daemon
        body: dict[str, Any] = {
            "version": __version__,
            "board": d.board.kind,
            "realtime_healthy": d.rt.healthy(),
            "time": {"now": d.clock.now().isoformat(), "source": d.clock.source, "offset_s": d.clock.offset_s},
            "connectors": [connector_status_json(d, cid) for cid in d.station.evse_ids],
            "faults_seen": d.station.faults_seen()[-20:],
        }
        for extra in self.extra_status:
            body.update(extra())
        return body

    async def sessions(self, request: Request) -> Response:
        limit = query_int(request.query.get("limit", "50"), "limit", 1, 1000)
        return json_response([transaction_json(tx) for tx in self.daemon.ledger.history(limit)])

    # -- OCPP link --------------------------------------------------------------
    def _ocpp(self) -> FrontEnd:
        if self.daemon.ocpp is None:
            raise HttpError(404, "no [ocpp] url configured")
        return self.daemon.ocpp

    async def ocpp_disconnect(self, request: Request) -> Response:
        await self._ocpp().disconnect()
        return json_response({"ok": True})

    async def ocpp_connect(self, request: Request) -> Response:
        await self._ocpp().connect()
        return json_response({"ok": True})

    # -- simulator --------------------------------------------------------------
    async def _body(self, request: Request) -> dict[str, Any]:
        return await body_json(request)

    def _connector(self, body: dict[str, Any]) -> int:
        cid = body.get("connector", 1)
        if not isinstance(cid, int) or cid not in self.daemon.station.evse_ids:
            raise BadRequest(f"connector must be one of {sorted(self.daemon.station.evse_ids)}, not {cid!r}")
        return cid

    def _simulation(self) -> Simulation:
        if self.sim is None:  # the /api/sim routes exist only on a simulated board
            raise HttpError(404)
        return self.sim

    async def _sim_call(self, fn: Callable[[], None]) -> Response:
        try:
            fn()
        except ValueError as exc:
            raise BadRequest(str(exc)) from exc
        return json_response({"ok": True})

    async def sim_plug_in(self, request: Request) -> Response:
        sim, body = self._simulation(), await self._body(request)
        cid = self._connector(body)
        max_current_a, phases = _num(body, "max_current_a", 32.0, 1.0, 80.0), _phases(body)
        battery_kwh, soc = _num(body, "battery_kwh", 60.0, 1.0, 200.0), _num(body, "soc", 0.2, 0.0, 1.0)
        return await self._sim_call(
            lambda: sim.plug_in(cid, max_current_a=max_current_a, phases=phases, battery_kwh=battery_kwh, soc=soc)
        )

    async def sim_unplug(self, request: Request) -> Response:
        sim, body = self._simulation(), await self._body(request)
        cid = self._connector(body)
        return await self._sim_call(lambda: sim.unplug(cid))

    async def sim_swipe(self, request: Request) -> Response:
        """The tag at the simulated reader; answers what the station made of it (``outcome``:
        started, waiting, stopped, unlocked, rejected; pending when it took over SWIPE_ANSWER_S)."""
        body = await self._body(request)
        tag = body.get("id_tag")
        if not isinstance(tag, str) or not tag:
            raise BadRequest("id_tag must be a non-empty string")
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def read(event: Event) -> None:
            token, outcome = event.token, event.token_outcome
            if event.kind is EventKind.TOKEN_READ and token and token.id == tag and outcome and not answer.done():
                answer.set_result(outcome.value)

        sim = self._simulation()
        unsubscribe = self.daemon.station.subscribe(read)
        try:
            await self._sim_call(lambda: sim.swipe(tag))
            outcome = await asyncio.wait_for(answer, SWIPE_ANSWER_S)
        except TimeoutError:
            outcome = "pending"
        finally:
            unsubscribe()
        return json_response({"ok": outcome != "rejected", "outcome": outcome})

    async def sim_ev(self, request: Request) -> Response:
        sim, body = self._simulation(), await self._body(request)
        cid = self._connector(body)
        action = body.get("action")
        if not isinstance(action, str):
            raise BadRequest('action must be a string: "pause" or "resume"')
        return await self._sim_call(lambda: sim.ev_action(cid, action))

    async def sim_house(self, request: Request) -> Response:
        """The house around the simulated board: ``{"load_a": [L1, L2, L3]}``, ``{"solar": {"peak_w": W,
        "day_s": S, "cloudy": bool}}`` (a new solar day starts now), ``{"grid_meter": true|false}``."""
        sim, body = self._simulation(), await self._body(request)
        unknown = sorted(set(body) - {"load_a", "solar", "grid_meter"})
        if unknown or not body:
            raise BadRequest(f"expected load_a, solar and/or grid_meter{f', not {unknown[0]!r}' if unknown else ''}")
        solar = body.get("solar")
        if solar is not None and (not isinstance(solar, dict) or set(solar) - {"peak_w", "day_s", "cloudy"}):
            raise BadRequest('solar must be {"peak_w": W, "day_s": S, "cloudy": true|false}')
        await self._sim_call(lambda: sim.set_house(body.get("load_a"), solar, body.get("grid_meter")))
        return json_response(sim.house_snapshot())

    async def sim_fault(self, request: Request) -> Response:
        sim, body = self._simulation(), await self._body(request)
        cid = self._connector(body)
        kind, active = body.get("kind"), body.get("active", True)
        if not isinstance(kind, str):
            raise BadRequest("kind must be a string")
        if not isinstance(active, bool):
            raise BadRequest("active must be true or false")
        return await self._sim_call(lambda: sim.set_fault(cid, kind, active))


async def body_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, or BadRequest saying why not."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from exc
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _num(body: dict[str, Any], key: str, default: float, lo: float, hi: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise BadRequest(f"{key} must be a number from {lo:g} to {hi:g}, not {value!r}")
    return float(value)


def _phases(body: dict[str, Any]) -> int:
    value = body.get("phases", 3)
    if value not in (1, 2, 3) or isinstance(value, bool) or not float(value).is_integer():
        raise BadRequest(f"phases must be 1, 2 or 3, not {value!r}")
    return int(value)


def query_int(text: str, key: str, lo: int, hi: int) -> int:
    # ASCII digits only ("²".isdigit() is true), few of them (int() of 5000 digits raises).
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(hi))) or not lo <= int(text) <= hi:
        raise BadRequest(f"{key} must be an integer from {lo} to {hi}, not {text[:40]!r}")
    return int(text)
