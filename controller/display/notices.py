"""Messages for the driver from the backend (2.0.1 display messages), and which one the display
shows now: pure rules.

Rules kept here (OCPP 2.0.1 part 2 O01/O02, in words neither front end owns):
- A notice shows only inside its window (``start`` <= now < ``end``), only while its state
  holds (``state``; none: always), and a transaction's notice only while that transaction runs.
- An EVSE's state: Faulted over Unavailable over Charging (a transaction runs) over Idle. A
  notice for the whole station (no EVSE) matches when any EVSE is Faulted, Unavailable or
  Charging, and Idle when every EVSE is.
- On screen: an AlwaysFront notice (the newest, there is one at most) over everything; else the
  InFront ones, in turn; else the session's own page in turn with the NormalCycle ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from controller.core.view import EvseView


class Priority(StrEnum):
    ALWAYS_FRONT = "AlwaysFront"  # shown alone, over the station's own text
    IN_FRONT = "InFront"  # shown in turn with the other InFront ones, over the station's text
    NORMAL_CYCLE = "NormalCycle"  # in turn with the station's own page


class NoticeState(StrEnum):
    CHARGING = "Charging"
    FAULTED = "Faulted"
    IDLE = "Idle"
    UNAVAILABLE = "Unavailable"


@dataclass(frozen=True)
class Notice:
    id: int
    text: str
    priority: Priority
    state: NoticeState | None = None
    start: datetime | None = None
    end: datetime | None = None
    transaction_id: str | None = None
    evse: int | None = None
    at: float = 0.0  # when it was set (monotonic): the newest AlwaysFront wins


def evse_state(view: EvseView) -> NoticeState:
    if view.fault is not None:
        return NoticeState.FAULTED
    if not view.operative:
        return NoticeState.UNAVAILABLE
    return NoticeState.CHARGING if view.transaction is not None else NoticeState.IDLE


def station_states(views: Iterable[EvseView]) -> frozenset[NoticeState]:
    states = [evse_state(v) for v in views]
    held: set[NoticeState] = {s for s in states if s is not NoticeState.IDLE}
    if states and all(s is NoticeState.IDLE for s in states):
        held.add(NoticeState.IDLE)
    return frozenset(held)


def shows(notice: Notice, now: datetime, views: Sequence[EvseView]) -> bool:
    if notice.start is not None and now < notice.start:
        return False
    if notice.end is not None and now >= notice.end:
        return False
    scope = [v for v in views if notice.evse is None or v.id == notice.evse]
    if notice.transaction_id is not None and not any(
        v.transaction is not None and v.transaction.id == notice.transaction_id for v in scope
    ):
        return False
    return notice.state is None or notice.state in station_states(scope)


def on_screen(notices: Iterable[Notice], now: datetime, views: Sequence[EvseView], turn: int) -> Notice | None:
    """The notice the display shows at ``turn`` (a counter the caller advances), None: the
    station's own page."""
    visible = sorted((n for n in notices if shows(n, now, views)), key=lambda n: n.id)
    always = [n for n in visible if n.priority is Priority.ALWAYS_FRONT]
    if always:
        return max(always, key=lambda n: n.at)
    in_front = [n for n in visible if n.priority is Priority.IN_FRONT]
    if in_front:
        return in_front[turn % len(in_front)]
    pages: list[Notice | None] = [None, *(n for n in visible if n.priority is Priority.NORMAL_CYCLE)]
    return pages[turn % len(pages)]
