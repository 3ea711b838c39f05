"""Display messages (part 2 O01-O06): SetDisplayMessage, GetDisplayMessages with
NotifyDisplayMessages, ClearDisplayMessage, on the box's display (controller/display/).

Rules kept here:
- SetDisplayMessage answers, in this order: Rejected while DisplayMessageCtrlr.Enabled is false
  or when the message would exceed DisplayMessageCtrlr.DisplayMessages' maxLimit (O01.FR.11;
  replacing an id does not add one); NotSupportedMessageFormat for HTML and URI (a character
  display shows ASCII and UTF8: SupportedFormats); UnknownTransaction when its transactionId
  is not a running transaction (O02.FR.01); else Accepted: it replaces a message of the same id
  (O06.FR.01) and any other AlwaysFront message (O01.FR.16, O02.FR.18). Every priority and
  state is supported.
- Messages are kept in SQLite (``ocpp201_display_messages``, the message as the CSMS sent it)
  before the answer, so they survive a reboot (O01.FR.10); a transaction's messages go when the
  transaction ends (O02.FR.02), also one that ended while the station was down; a message goes
  once its endDateTime passed (O01.FR.07, O02.FR.07), checked every second.
- GetDisplayMessages: Unknown when no message matches every given filter (id list, priority,
  state; O03.FR.06, O04.FR.02/07), else Accepted and then the matching messages in
  NotifyDisplayMessages parts of at most ``PART`` with the requestId, tbc on all but the last.
- ClearDisplayMessage: Accepted when the id was there (and it is gone), else Unknown.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from controller.clock import parse_time
from controller.core.events import Event, EventKind
from controller.display.notices import Notice, NoticeState, Priority
from controller.ocpp.link import CallFailed, Link, Reply
from controller.storage import Database

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.display.screen import Screen

log = logging.getLogger(__name__)

Payload = dict[str, Any]
_DDL = "CREATE TABLE ocpp201_display_messages (id INTEGER PRIMARY KEY, info TEXT NOT NULL)"
FORMATS = frozenset({"ASCII", "UTF8"})  # HTML and URI need a display that renders them
PART = 10  # messages per NotifyDisplayMessages
CHECK_S = 1.0
ENABLED = "DisplayMessageCtrlr.Enabled"


def notice(info: Payload, evse: int | None) -> Notice:
    """What the display shows of a MessageInfoType."""
    start, end = info.get("startDateTime"), info.get("endDateTime")
    return Notice(
        id=info["id"], text=info["message"]["content"], priority=Priority(info["priority"]),
        state=NoticeState(info["state"]) if info.get("state") else None,
        start=parse_time(start) if start else None, end=parse_time(end) if end else None,
        transaction_id=info.get("transactionId"), evse=evse,
    )  # fmt: skip


def matches(info: Payload, request: Payload) -> bool:
    ids = request.get("id")
    return (
        (not ids or info["id"] in ids)
        and request.get("priority") in (None, info["priority"])
        and request.get("state") in (None, info.get("state"))
    )


class DisplayMessages:
    def __init__(self, db: Database, link: Link, station: Station, screen: Screen, capacity: int,
                 enabled: Callable[[], bool], now: Callable[[], datetime]) -> None:  # fmt: skip
        db.migrate("ocpp201_display_messages_0001", _DDL)
        self.db, self.link, self.station, self.screen = db, link, station, screen
        self.capacity, self.enabled, self.now = capacity, enabled, now
        rows = db.run_sync(lambda conn: conn.execute("SELECT info FROM ocpp201_display_messages").fetchall())
        self._messages: dict[int, Payload] = {}
        for (text,) in rows:
            info = json.loads(text)
            self._messages[info["id"]] = info
            self.screen.put(notice(info, self._evse_of(info.get("transactionId"))))
        gone = [i["id"] for i in self._messages.values() if self._ended(i)]  # transactions end at a reboot
        db.run_sync(lambda conn: self._delete(conn, gone))
        for message_id in gone:
            self._forget(message_id)

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {
            "SetDisplayMessage": self.set_display_message,
            "GetDisplayMessages": self.get_display_messages,
            "ClearDisplayMessage": self.clear_display_message,
        }

    @property
    def count(self) -> int:
        return len(self._messages)

    def ids(self) -> list[int]:
        return sorted(self._messages)

    # ---- the CSMS's requests ------------------------------------------------------------

    async def set_display_message(self, payload: Payload) -> Payload:
        info = payload["message"]
        status = self._refusal(info)
        if status is not None:
            log.info("SetDisplayMessage %s: %s", info["id"], status)
            return {"status": status}
        replaced = [i for i, m in self._messages.items()
                    if i != info["id"] and info["priority"] == m["priority"] == Priority.ALWAYS_FRONT]  # fmt: skip

        def store(conn: Any) -> None:
            self._delete(conn, replaced)
            row = (info["id"], json.dumps(info))
            conn.execute("INSERT OR REPLACE INTO ocpp201_display_messages VALUES (?, ?)", row)

        await self.db.run(store)
        for message_id in replaced:
            self._forget(message_id)
        self._messages[info["id"]] = info
        self.screen.put(notice(info, self._evse_of(info.get("transactionId"))))
        log.info("display message %s set (%s)", info["id"], info["priority"])
        return {"status": "Accepted"}

    def _refusal(self, info: Payload) -> str | None:
        if not self.enabled():
            return "Rejected"
        if info["id"] not in self._messages and len(self._messages) >= self.capacity:
            return "Rejected"
        if info["message"]["format"] not in FORMATS:
            return "NotSupportedMessageFormat"
        transaction_id = info.get("transactionId")
        if transaction_id is not None and self._evse_of(transaction_id) is None:
            return "UnknownTransaction"
        return None

    async def get_display_messages(self, payload: Payload) -> Payload | Reply:
        found = [m for _, m in sorted(self._messages.items()) if matches(m, payload)]
        if not found:
            return {"status": "Unknown"}
        request_id = payload["requestId"]
        parts = [found[n : n + PART] for n in range(0, len(found), PART)]

        async def notify() -> None:
            for n, part in enumerate(parts):
                body: Payload = {"requestId": request_id, "messageInfo": part}
                if n < len(parts) - 1:
                    body["tbc"] = True
                try:
                    await self.link.call("NotifyDisplayMessages", body)
                except CallFailed as exc:
                    log.warning("NotifyDisplayMessages %s ended at part %d: %s", request_id, n, exc)
                    return

        return Reply({"status": "Accepted"}, after=notify)

    async def clear_display_message(self, payload: Payload) -> Payload:
        message_id = payload["id"]
        if message_id not in self._messages:
            return {"status": "Unknown"}
        await self._remove([message_id])
        return {"status": "Accepted"}

    # ---- ends ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.kind is EventKind.TRANSACTION_ENDED and event.transaction is not None:
            ended = event.transaction.id
            gone = [i for i, m in self._messages.items() if m.get("transactionId") == ended]
            if gone:
                self._drop(gone)

    async def run(self) -> None:
        """Remove the messages whose endDateTime passed."""
        while True:
            await asyncio.sleep(CHECK_S)  # a clock: the ends are wall-clock times
            now = self.now()
            gone = [i for i, m in self._messages.items() if _ends_by(m, now)]
            if gone:
                await self._remove(gone)

    def _drop(self, ids: list[int]) -> None:
        for message_id in ids:
            self._forget(message_id)
        self.db.submit(lambda conn: self._delete(conn, ids)).add_done_callback(_log_failure)

    async def _remove(self, ids: list[int]) -> None:
        await self.db.run(lambda conn: self._delete(conn, ids))
        for message_id in ids:
            self._forget(message_id)

    def _forget(self, message_id: int) -> None:
        if self._messages.pop(message_id, None) is not None:
            log.info("display message %s removed", message_id)
        self.screen.remove(message_id)

    @staticmethod
    def _delete(conn: Any, ids: list[int]) -> None:
        conn.executemany("DELETE FROM ocpp201_display_messages WHERE id = ?", [(i,) for i in ids])

    def _ended(self, info: Payload) -> bool:
        transaction_id = info.get("transactionId")
        return transaction_id is not None and self._evse_of(transaction_id) is None

    def _evse_of(self, transaction_id: str | None) -> int | None:
        if transaction_id is None:
            return None
        return next((v.id for v in self.station.views()
                     if v.transaction is not None and v.transaction.id == transaction_id), None)  # fmt: skip


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("display messages not removed from the database", exc_info=future.exception())


def _ends_by(info: Payload, now: datetime) -> bool:
    end = info.get("endDateTime")
    return end is not None and parse_time(end) <= now
