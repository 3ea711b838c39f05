"""What the driver reads: the notices' rules, the session's words and the renderer, pure, in tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from controller.core.ledger import Transaction
from controller.core.view import Authorization, EvseView
from controller.core.vocabulary import (
    AuthorizedBy,
    ChargingState,
    DriverMessage,
    Token,
    TokenSource,
    TokenType,
    TxPoint,
)
from controller.display.notices import Notice, NoticeState, Priority, on_screen, shows, station_states
from controller.display.render import notice_page, station_page
from controller.display.session import FINAL_HOLD_S, Prices, Rules, session_lines
from controller.faults import Fault
from hal.types import DisplaySize, MeterReading

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TX = Transaction("tx-1", 1, TxPoint.POWER_PATH_CLOSED, NOW, meter_start_wh=1000.0)
TOKEN = Token("04A2B3C4", TokenType.ISO14443)
IDLE = EvseView(
    id=1, phases=3, max_current_a=32.0, snapshot=None, meter=None, ev_connected=False, authorization=None,
    transaction=None, charging_state=ChargingState.IDLE, indication=None, occupancy=None, operative=True,
    inoperative_reasons=frozenset(), scheduled_inoperative=False, finishing=False, stopping=False,
    plug_timed_out=False, token_waiting=False, reserved=False, faults=frozenset(), fault=None, paused=False,
    energy_cap_wh=None, limit=None, has_lock=False,
)  # fmt: skip
AUTH = Authorization(TOKEN, TokenSource.READER, AuthorizedBy.BACKEND, NOW)
CHARGING = replace(IDLE, ev_connected=True, authorization=AUTH, transaction=TX, charging_state=ChargingState.CHARGING,
                   meter=MeterReading((230.0,) * 3, (16.0,) * 3, 11040.0, 3500.0))  # fmt: skip
FAULTED = replace(IDLE, fault=Fault.RCD, faults=frozenset({Fault.RCD}))
DOWN = replace(IDLE, operative=False)


def notice(id: int = 1, priority: Priority = Priority.NORMAL_CYCLE, **fields: object) -> Notice:
    return Notice(id, f"message {id}", priority, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("what", "n", "views", "shown"),
    [
        ("no conditions", notice(), [IDLE], True),
        ("before its start", notice(start=NOW + timedelta(seconds=1)), [IDLE], False),
        ("at its start", notice(start=NOW), [IDLE], True),
        ("at its end", notice(end=NOW), [IDLE], False),
        ("its transaction runs", notice(transaction_id="tx-1"), [CHARGING], True),
        ("its transaction does not run", notice(transaction_id="tx-2"), [CHARGING], False),
        (
            "its transaction on another EVSE than its own",
            notice(transaction_id="tx-1", evse=2),
            [CHARGING, replace(IDLE, id=2)],
            False,
        ),
        ("Charging while a transaction runs", notice(state=NoticeState.CHARGING), [CHARGING], True),
        ("Charging while idle", notice(state=NoticeState.CHARGING), [IDLE], False),
        ("Idle while idle", notice(state=NoticeState.IDLE), [IDLE, replace(IDLE, id=2)], True),
        (
            "Idle at the station while one EVSE charges",
            notice(state=NoticeState.IDLE),
            [CHARGING, replace(IDLE, id=2)],
            False,
        ),
        (
            "Idle at the idle EVSE while the other charges",
            notice(state=NoticeState.IDLE, evse=2),
            [CHARGING, replace(IDLE, id=2)],
            True,
        ),
        (
            "Faulted: a fault wins over Unavailable",
            notice(state=NoticeState.FAULTED),
            [replace(FAULTED, operative=False)],
            True,
        ),
        ("Unavailable", notice(state=NoticeState.UNAVAILABLE), [DOWN], True),
        ("Unavailable while available", notice(state=NoticeState.UNAVAILABLE), [IDLE], False),
    ],
)
def test_a_notice_shows_inside_its_window_state_and_transaction(what: str, n: Notice, views: list[EvseView],
                                                                shown: bool) -> None:  # fmt: skip
    assert shows(n, NOW, views) is shown, what


def test_station_states() -> None:
    assert station_states([IDLE, replace(IDLE, id=2)]) == {NoticeState.IDLE}
    assert station_states([CHARGING, FAULTED]) == {NoticeState.CHARGING, NoticeState.FAULTED}


def test_priorities_on_screen() -> None:
    normal = [notice(1), notice(2)]
    assert [on_screen(normal, NOW, [IDLE], turn) for turn in range(4)] == [None, normal[0], normal[1], None]
    in_front = [notice(3, Priority.IN_FRONT), notice(4, Priority.IN_FRONT)]
    assert [on_screen(normal + in_front, NOW, [IDLE], t) for t in range(3)] == [in_front[0], in_front[1], in_front[0]]
    older, newer = notice(5, Priority.ALWAYS_FRONT, at=1.0), notice(6, Priority.ALWAYS_FRONT, at=2.0)
    assert {on_screen([*normal, *in_front, older, newer], NOW, [IDLE], t) for t in range(4)} == {newer}
    hidden = notice(7, Priority.ALWAYS_FRONT, state=NoticeState.CHARGING, at=3.0)
    assert on_screen([*in_front, hidden], NOW, [IDLE], 0) == in_front[0]


def test_a_notice_fills_the_display_wrapped_at_words_and_cut_with_dots() -> None:
    size = DisplaySize(16, 2)
    assert notice_page("Free charging this weekend", size) == ("Free charging", "this weekend")
    assert notice_page("Free charging this weekend at all our stations", size) == ("Free charging", "this weekend...")
    assert notice_page("Supercalifragilisticexpialidocious", DisplaySize(16, 4)) == (
        "Supercalifragili",
        "sticexpialidocio",
        "us",
    )


def test_two_evses_share_the_rows() -> None:
    page = station_page([(1, ["Charging 7.4 kW", "3.50 kWh"]), (2, ["Welcome"])], DisplaySize(20, 4))
    assert page == ("#1 Charging 7.4 kW", "#2 Welcome", "#1 3.50 kWh")


@pytest.mark.parametrize(
    ("what", "view", "prices", "rules", "lines"),
    [
        ("idle", IDLE, Prices(), Rules(), ["Welcome"]),
        ("an EV, nobody yet", replace(IDLE, ev_connected=True), Prices(), Rules(), ["Present card"]),
        (
            "authorized: the authorization's message",
            replace(IDLE, authorization=replace(AUTH, message=DriverMessage("0.30 EUR/kWh"))),
            Prices(),
            Rules(),
            ["Plug in your car", "0.30 EUR/kWh"],
        ),
        (
            "authorized without a message: the fallback",
            replace(IDLE, authorization=AUTH),
            Prices(),
            Rules(tariff_fallback="0.35 EUR/kWh"),
            ["Plug in your car", "0.35 EUR/kWh"],
        ),
        (
            "tariff switched off",
            replace(IDLE, authorization=AUTH),
            Prices(tariff="x"),
            Rules(tariff=False),
            ["Plug in your car"],
        ),
        (
            "charging, no cost yet: the tariff",
            CHARGING,
            Prices(tariff="0.30 EUR/kWh"),
            Rules(),
            ["Charging 11.0 kW", "2.50 kWh", "0.30 EUR/kWh"],
        ),
        (
            "charging: the running cost",
            CHARGING,
            Prices(tariff="t", running=Decimal("1.5")),
            Rules(currency="CHF"),
            ["Charging 11.0 kW", "2.50 kWh", "Cost 1.50 CHF"],
        ),
        (
            "cost switched off",
            CHARGING,
            Prices(running=Decimal("1.5")),
            Rules(cost=False, tariff=False),
            ["Charging 11.0 kW", "2.50 kWh"],
        ),
        (
            "after: the total",
            replace(IDLE, ev_connected=True, finishing=True),
            Prices(final=Decimal("4.567")),
            Rules(),
            ["Charging done", "Total 4.57 EUR"],
        ),
        (
            "after, offline: the fallback text",
            IDLE,
            Prices(final="See your invoice"),
            Rules(),
            ["Welcome", "See your invoice"],
        ),
        ("after the hold", IDLE, Prices(final=Decimal(1), final_at=-FINAL_HOLD_S), Rules(), ["Welcome"]),
        ("faulted", FAULTED, Prices(), Rules(), ["Out of order"]),
        ("unavailable", DOWN, Prices(), Rules(), ["Unavailable"]),
    ],
)
def test_session_lines(what: str, view: EvseView, prices: Prices, rules: Rules, lines: list[str]) -> None:
    assert session_lines(view, prices, rules, now=0.0) == lines, what
