"""The station's own page: what an EVSE's session says to the driver, from its view and what the
backend said about the price. Pure.

Rules kept here (OCPP 2.0.1 part 2 I01-I05, in neutral words; 1.6 has no prices and shows the rest):
- The tariff from the authorization on: the backend's own (set by a front end), else the
  authorization's message, else the configured fallback; during charging the running cost
  instead, once the backend sent one;
  after it the final total (or the fallback text when the backend could not be asked), for
  ``FINAL_HOLD_S`` or until the next transaction. ``Rules`` can switch tariff and cost off.
- Amounts are shown with two decimals and the currency's code.
- Lines are words, not layout: the renderer (render.py) fits them to the display.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from controller.core.view import EvseView
from controller.core.vocabulary import ChargingState

FINAL_HOLD_S = 120.0  # the final total stays this long after the transaction ended


@dataclass(frozen=True)
class Rules:
    """What a front end lets the display say about prices."""

    tariff: bool = True
    cost: bool = True
    currency: str = "EUR"
    tariff_fallback: str | None = None  # when the backend has no tariff for the driver
    total_cost_fallback: str | None = None  # when the total cannot be known (offline at the end)


@dataclass(frozen=True)
class Prices:
    """What the backend said about one EVSE's session."""

    tariff: str | None = None
    running: Decimal | None = None
    final: Decimal | str | None = None  # a total, or the fallback text
    final_at: float = 0.0  # monotonic time the final total came


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def headline(view: EvseView) -> str:
    if view.fault is not None:
        return "Out of order"
    if not view.operative:
        return "Unavailable"
    tx = view.transaction
    if tx is not None and view.charging_state is ChargingState.CHARGING:
        power = view.meter.power_w / 1000 if view.meter is not None else 0.0
        return f"Charging {power:.1f} kW"
    if tx is not None and view.authorization is None and view.ev_connected:
        return "Charging done"
    if tx is not None and view.ev_connected and view.authorization is not None:
        return "Paused" if view.charging_state in (ChargingState.SUSPENDED_EV, ChargingState.SUSPENDED_EVSE) \
            else "Starting"  # fmt: skip
    if view.authorization is not None or view.token_waiting:
        return "Plug in your car"
    if view.ev_connected:
        return "Charging done" if view.finishing else "Present card"
    return "Reserved" if view.reserved else "Welcome"


def session_lines(view: EvseView, prices: Prices, rules: Rules, now: float) -> list[str]:
    lines = [headline(view)]
    tx = view.transaction
    if tx is not None:
        lines.append(f"{view.energy_wh / 1000:.2f} kWh")
    if rules.cost and tx is not None and prices.running is not None:
        lines.append(f"Cost {money(prices.running, rules.currency)}")
    elif rules.cost and tx is None and prices.final is not None and now - prices.final_at < FINAL_HOLD_S:
        final = prices.final
        lines.append(f"Total {money(final, rules.currency)}" if isinstance(final, Decimal) else final)
    elif rules.tariff:
        auth = view.authorization
        tariff = prices.tariff or (auth.message.content if auth is not None and auth.message is not None else None)
        if tariff is None and auth is not None:
            tariff = rules.tariff_fallback
        if tariff:
            lines.append(tariff)
    return lines
