"""Part 6 I: tariff and cost on the simulated board's display. <Configured Cost> is the tariff text
in personalMessage, <Configured Cost2> the running total; TariffCostCtrlr.Currency EUR."""

from __future__ import annotations

import asyncio
import dataclasses

from ocpp201 import states
from ocpp201.harness import MODULE, VALID_TOKEN, Harness

pytestmark = MODULE

TARIFF = "0.30 EUR/kWh"


async def display_says(cs: Harness, text: str) -> None:
    await cs.until(lambda: text in " ".join(cs.sim.display_text()), what=f"the display showing {text!r}")


async def tariff_shown_then_charging(cs: Harness) -> str:
    """Steps 1-5: the personalMessage shown once authorized, then EnergyTransferStarted."""
    cs.csms.config.token_infos[VALID_TOKEN["idToken"]] = {
        "status": "Accepted", "personalMessage": {"format": "UTF8", "content": TARIFF}}  # fmt: skip
    await states.ev_connected_pre_session(cs)
    event = await states.authorized_local(cs, ev_connected=True)  # steps 1-4
    assert event is not None and event["idToken"] == VALID_TOKEN
    await display_says(cs, TARIFF)
    await states.energy_transfer_started(cs)  # step 5
    return await states.transaction_id(cs)


async def test_TC_I_01_CS(cs: Harness) -> None:
    # Show EV Driver running total cost during charging - costUpdatedRequest
    try:
        tx = await tariff_shown_then_charging(cs)
        for cost in (1.25, 2.5):  # steps 8-9, repeated
            assert await cs.call("CostUpdated", {"totalCost": cost, "transactionId": tx}) == {}
            await display_says(cs, f"Cost {cost:.2f} EUR")
    finally:
        cs.csms.config.token_infos.pop(VALID_TOKEN["idToken"], None)


async def test_TC_I_07_CS(cs: Harness) -> None:
    # Show EV Driver running total cost during charging - transactionResponse
    try:
        tx = await tariff_shown_then_charging(cs)
        cs.csms.config = dataclasses.replace(cs.csms.config, price_per_kwh=0.4)
        since = cs.mark()
        assert (await cs.call("TriggerMessage", {"requestedMessage": "TransactionEvent", "evse": {"id": 1}}))[
            "status"] == "Accepted"  # fmt: skip
        await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx, since)  # step 6
        await display_says(cs, "Cost ")
        assert " EUR" in " ".join(cs.sim.display_text())
    finally:
        cs.csms.config.token_infos.pop(VALID_TOKEN["idToken"], None)


async def test_TC_I_02_CS(cs: Harness) -> None:
    # Show EV Driver Final Total Cost After Charging: totalCost in the Ended's response
    await states.energy_transfer_started_from_idle(cs)
    tx = await states.transaction_id(cs)
    cs.csms.config = dataclasses.replace(cs.csms.config, price_per_kwh=0.4)
    since = cs.mark()
    await states.stop_authorized_local(cs)
    await states.ev_connected_post_session(cs)
    await cs.expect("TransactionEvent", lambda p: p["transactionInfo"]["transactionId"] == tx
                    and p["eventType"] == "Ended", since)  # fmt: skip
    await display_says(cs, "Total ")
    await states.ev_disconnected(cs)
    assert any("Total" in row and row.endswith(" EUR") for row in cs.sim.display_text())


async def test_the_fallback_tariff_and_total_cost_messages(cs: Harness) -> None:
    """I04: no personalMessage -> TariffFallbackMessage; I05: ended while offline ->
    TotalCostFallbackMessage, and a totalCost answered later is not shown."""
    await cs.set_variables({"TariffCostCtrlr.TariffFallbackMessage": "Ask for prices",
                            "TariffCostCtrlr.TotalCostFallbackMessage": "See your invoice"})  # fmt: skip
    await states.ev_connected_pre_session(cs)
    await states.authorized_local(cs, ev_connected=True)
    await display_says(cs, "Ask for prices")
    await states.energy_transfer_started(cs)
    cs.csms.config = dataclasses.replace(cs.csms.config, price_per_kwh=0.4)
    await cs.drop()
    cs.unplug(1)
    await cs.until(lambda: cs.station.view(1).transaction is None, what="the transaction ended offline")
    await display_says(cs, "See your invoice")
    cs.accept()
    await cs.connected()
    async with asyncio.timeout(10):
        await cs.frontend.journal.wait_empty()
    await cs.barrier()
    assert "Total" not in " ".join(cs.sim.display_text())
