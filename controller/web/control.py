"""What an authenticated owner may do from the page (or any API client with the password).

Rules kept here:
- Every action is a core command (controller/core/station.py) or the owner's limit
  (controller/owner_limits.py); the answer names the command's outcome in words, and an
  outcome that did not happen (no transaction to stop, a card refused) is not a 200.
- Start presents a card id on the EVSE as the station's reader would (``TokenSource.API``):
  the same authorization rules, the backend asked when it decides. It never stops anything:
  a card that already charges gets 409.
- Stop ends the transaction with cause Local; pause offers 0 A without ending anything;
  availability is the operator's reason (persisted; Scheduled while a transaction runs).
- The diagnostics archive is built off the event loop in a temporary directory and removed
  once sent; it holds the effective configuration with secrets masked.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from controller import __version__
from controller.api import BadRequest, body_json
from controller.core.commands import AvailabilityOutcome, StopOutcome, TokenOutcome
from controller.core.vocabulary import AvailabilityReason, StopCause, Token, TokenSource, TokenType
from controller.diagnostics.archive import build_archive, diagnostics_logs, security_logs
from controller.diagnostics.logs import LogFiles
from controller.httpd.messages import HttpError, Request, Response, bytes_response, json_response
from controller.web import WEB

if TYPE_CHECKING:
    from controller.daemon import Daemon

MAX_TOKEN_LENGTH = 36
TOKEN_ANSWERS: dict[TokenOutcome, tuple[int, str]] = {
    TokenOutcome.STARTED: (200, "Charging authorized."),
    TokenOutcome.WAITING: (200, "Authorized: plug in the car."),
    TokenOutcome.STOPPED: (200, "This card's group was charging: that session stopped."),
    TokenOutcome.UNLOCKED: (200, "The cable kept locked for this card is released."),
    TokenOutcome.REJECTED: (403, "The card was refused"),
}
AVAILABILITY_ANSWERS: dict[AvailabilityOutcome, tuple[int, str]] = {
    AvailabilityOutcome.ACCEPTED: (200, "Done."),
    AvailabilityOutcome.SCHEDULED: (200, "Scheduled: it changes when the running session ends."),
    AvailabilityOutcome.REJECTED: (409, "Refused."),
}


def _daemon(request: Request) -> Daemon:
    return request[WEB].api.daemon


def _evse(request: Request) -> int:
    text = request.params["evse"]
    evse_ids = _daemon(request).station.evse_ids
    if not (text.isascii() and text.isdigit() and len(text) < 4 and int(text) in evse_ids):
        raise HttpError(404, f"no connector {text[:8]!r}: there are {list(evse_ids)}")
    return int(text)


def _answer(status: int, words: str, **more: Any) -> Response:
    body = {"ok": status == 200, "words": words, **more} if status == 200 else {"error": words, **more}
    return json_response(body, status=status)


async def start(request: Request) -> Response:
    evse_id, body = _evse(request), await body_json(request)
    card = body.get("token")
    if not isinstance(card, str) or not 0 < len(card.strip()) <= MAX_TOKEN_LENGTH or not card.isprintable():
        raise BadRequest(f"token must be a card id of 1..{MAX_TOKEN_LENGTH} printable characters")
    token = Token(card.strip(), TokenType.ISO14443)
    station = _daemon(request).station
    for view in station.views():
        tx = view.transaction
        if tx is not None and tx.token is not None and tx.token.same(token):
            return _answer(409, f"card {token.id} already charges on connector {view.id}")
    answer = await station.present_token(token, TokenSource.API, evse_id)
    status, words = TOKEN_ANSWERS[answer.outcome]
    if answer.outcome is TokenOutcome.REJECTED:
        words = f"{words}: {answer.status.value}"
    return _answer(status, words, outcome=answer.outcome.value)


async def stop(request: Request) -> Response:
    outcome = await _daemon(request).station.stop(_evse(request), StopCause.LOCAL)
    if outcome is StopOutcome.NO_TRANSACTION:
        return _answer(409, "no session runs on this connector")
    return _answer(200, "Stopped.")


async def pause(request: Request) -> Response:
    evse_id, body = _evse(request), await body_json(request)
    paused = body.get("paused")
    if not isinstance(paused, bool):
        raise BadRequest("paused must be true or false")
    _daemon(request).station.pause(evse_id, paused)
    return _answer(200, "Paused: the car is offered no current." if paused else "Resumed.")


async def max_current(request: Request) -> Response:
    evse_id, body = _evse(request), await body_json(request)
    if "amps" not in body:
        raise BadRequest("amps is required: a number, or null to remove the owner's limit")
    daemon = _daemon(request)
    try:
        await daemon.owner_limits.set(evse_id, body["amps"])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    daemon.station.refresh_limit(evse_id)
    amps = body["amps"]
    return _answer(200, "The owner's limit is removed." if amps is None else f"At most {amps:g} A.")


async def availability(request: Request) -> Response:
    evse_id, body = _evse(request), await body_json(request)
    operative = body.get("operative")
    if not isinstance(operative, bool):
        raise BadRequest("operative must be true or false")
    outcome = await _daemon(request).station.set_availability(evse_id, operative, AvailabilityReason.OPERATOR)
    status, words = AVAILABILITY_ANSWERS[outcome]
    return _answer(status, words, outcome=outcome.value)


async def reconnect(request: Request) -> Response:
    daemon = _daemon(request)
    if daemon.ocpp is None:
        return _answer(404, "no backend is configured ([ocpp] url)")
    await daemon.ocpp.reconnect()  # also after a disconnect on request
    return _answer(200, "Reconnecting to the backend.")


async def diagnostics(request: Request) -> Response:
    daemon = _daemon(request)
    cfg = daemon.config
    state_dir = cfg.storage.state_dir
    status = request[WEB].api.status_json()
    logs = diagnostics_logs(LogFiles(state_dir / "logs", cfg.diagnostics.log_max_bytes, cfg.diagnostics.log_backups))
    name = f"diagnostics-{cfg.station.charge_point_id}-{daemon.clock.now():%Y%m%dT%H%M%SZ}.tar.gz"

    def build() -> bytes:
        import tempfile  # here: only this download needs it (about 0.4 MB an idle daemon spares)

        with tempfile.TemporaryDirectory(prefix="evsed-diagnostics-") as tmp:
            path = Path(tmp) / name
            build_archive(path, config=cfg.effective, status={"version": __version__, **status},
                          logs=[*logs, *security_logs(state_dir)], start=None, stop=None)  # fmt: skip
            return path.read_bytes()

    data = await asyncio.to_thread(build)
    return bytes_response(data, "application/gzip", {"Content-Disposition": f'attachment; filename="{name}"'})
