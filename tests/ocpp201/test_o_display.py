"""Part 6 O: display messages (SetDisplayMessage, GetDisplayMessages / NotifyDisplayMessages,
ClearDisplayMessage) on the simulated board's 20x4 display. <Configured Priority> is InFront
(shown at once, in turn with other InFront ones), <Configured format> UTF8; the start / end
offsets are 2 s (errata 2025-09: <Configured Start / End Date Time Offset>)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from controller.clock import iso
from ocpp201 import states
from ocpp201.harness import FEATURES, MODULE, Harness

pytestmark = MODULE

Payload = dict[str, Any]
PRIORITY = "InFront"
OFFSET_S = 2.0


def message(message_id: int, priority: str = PRIORITY, fmt: str = "UTF8", content: str | None = None,
            **more: Any) -> Payload:  # fmt: skip
    return {"id": message_id, "priority": priority,
            "message": {"format": fmt, "content": content or f"Message {message_id}"}, **more}  # fmt: skip


async def set_message(cs: Harness, info: Payload, status: str = "Accepted") -> None:
    response = await cs.call("SetDisplayMessage", {"message": info})
    assert response["status"] == status, response


async def get_messages(cs: Harness, request_id: int, **filters: Any) -> list[Payload] | str:
    """GetDisplayMessages: the messageInfo of every NotifyDisplayMessages part (requestId echoed,
    tbc on all but the last), or the status when it is not Accepted."""
    since = cs.mark()
    response = await cs.call("GetDisplayMessages", {"requestId": request_id, **filters})
    if response["status"] != "Accepted":
        return str(response["status"])
    await cs.expect("NotifyDisplayMessages", lambda p: p["requestId"] == request_id and not p.get("tbc"), since)
    parts = cs.calls("NotifyDisplayMessages", since, lambda p: p["requestId"] == request_id)
    assert [bool(p.get("tbc")) for p in parts] == [True] * (len(parts) - 1) + [False]
    return [info for p in parts for info in p["messageInfo"]]


async def status_of(cs: Harness, message_id: int) -> str:
    response = await cs.call("GetDisplayMessages", {"requestId": 900 + message_id, "id": [message_id]})
    return str(response["status"])


async def on_display(cs: Harness) -> str:
    """What the simulated display shows once it caught up with the station's screen."""
    screen = cs.daemon.screen

    def caught_up() -> bool:
        rows = cs.sim.display_text()
        return rows == list(screen.lines) + [""] * (len(rows) - len(screen.lines))

    await cs.until(caught_up, what="the display showing the screen's lines")
    return " ".join(cs.sim.display_text())


async def shown(cs: Harness, text: str, shown: bool = True) -> None:
    async def check() -> None:
        await cs.until(lambda: (text in " ".join(cs.daemon.screen.lines)) is shown, what=f"{text!r} shown: {shown}")

    await check()
    assert (text in await on_display(cs)) is shown


def later(cs: Harness, seconds: float) -> str:
    return iso(cs.daemon.clock.now() + timedelta(seconds=seconds))


async def charging(cs: Harness) -> str:
    await states.energy_transfer_started_from_idle(cs)
    return await states.transaction_id(cs)


async def session_ends(cs: Harness) -> None:
    """StopAuthorized, EVConnectedPostSession, EVDisconnected (ParkingBayUnoccupied: no bay sensor)."""
    await states.stop_authorized_local(cs)
    await states.ev_connected_post_session(cs)
    await states.ev_disconnected(cs)


async def test_TC_O_01_CS(cs: Harness) -> None:
    # Set Display Message - Success
    await set_message(cs, message(1))
    await shown(cs, "Message 1")
    [info] = await get_messages(cs, 11, id=[1])
    assert info["id"] == 1 and info["priority"] == PRIORITY
    assert info["message"] == {"format": "UTF8", "content": "Message 1"}


async def test_TC_O_02_CS(cs: Harness) -> None:
    # Get all Display Messages - Success
    for n in (1, 2, 3):
        await set_message(cs, message(n, "NormalCycle"))
    found = await get_messages(cs, 12)
    assert [m["id"] for m in found] == [1, 2, 3]


async def test_TC_O_03_CS(cs: Harness) -> None:
    # Get all Display Messages - No DisplayMessages configured
    assert await get_messages(cs, 13) == "Unknown"


async def test_TC_O_04_CS(cs: Harness) -> None:
    # Clear Display Message - Success
    await set_message(cs, message(4))
    await shown(cs, "Message 4")
    assert (await cs.call("ClearDisplayMessage", {"id": 4}))["status"] == "Accepted"
    assert await status_of(cs, 4) == "Unknown"
    await shown(cs, "Message 4", False)


async def test_TC_O_05_CS(cs: Harness) -> None:
    # Clear Display Message - Unknown Key
    assert (await cs.call("ClearDisplayMessage", {"id": 5}))["status"] == "Unknown"


async def test_TC_O_06_CS(cs: Harness) -> None:
    # Set Display Message - Specific transaction - Success: shown during its transaction, gone after it
    tx = await charging(cs)
    await set_message(cs, message(6, transactionId=tx))
    await shown(cs, "Message 6")
    await session_ends(cs)
    await shown(cs, "Message 6", False)
    assert await status_of(cs, 6) == "Unknown"
    assert any("Message 6" in " ".join(lines) for _, lines in cs.sim.display_log())


async def test_TC_O_07_CS(cs: Harness) -> None:
    # Get a Specific Display Message - Id
    await set_message(cs, message(7))
    await set_message(cs, message(70))
    assert [m["id"] for m in await get_messages(cs, 17, id=[7])] == [7]


async def test_TC_O_08_CS(cs: Harness) -> None:
    # Get a Specific Display Message - Priority
    await set_message(cs, message(8, "NormalCycle"))
    await set_message(cs, message(80, "InFront"))
    assert [m["id"] for m in await get_messages(cs, 18, priority="NormalCycle")] == [8]


async def test_TC_O_09_CS(cs: Harness) -> None:
    # Get a Specific Display Message - State
    await set_message(cs, message(9, state="Charging"))
    await set_message(cs, message(90, state="Idle"))
    assert [m["id"] for m in await get_messages(cs, 19, state="Charging")] == [9]


async def test_TC_O_10_CS(cs: Harness) -> None:
    # Set Display Message - Specific transaction - UnknownTransaction
    await set_message(cs, message(10, transactionId="7b5e7b4e-2d8e-4b3e-9a8e-000000000010"), "UnknownTransaction")
    assert await status_of(cs, 10) == "Unknown"


async def test_TC_O_11_CS(cs: Harness) -> None:
    # Get a Specific Display Message - Unknown parameters
    await set_message(cs, message(11))
    assert await status_of(cs, 111) == "Unknown"


async def test_TC_O_12_CS(cs: Harness) -> None:
    # Set Display Message - Replace DisplayMessage: content and every parameter
    await set_message(cs, message(12, "NormalCycle", state="Charging"))
    await set_message(cs, message(12, "InFront", content="Replaced"))
    [info] = await get_messages(cs, 112, id=[12])
    assert info == message(12, "InFront", content="Replaced")
    await shown(cs, "Replaced")


async def test_TC_O_13_CS(cs: Harness) -> None:
    # Set Display Message - Display message at StartTime
    start = later(cs, OFFSET_S)
    await set_message(cs, message(13, startDateTime=start))
    [info] = await get_messages(cs, 113, id=[13])
    assert info["startDateTime"] == start
    assert "Message 13" not in await on_display(cs)
    await shown(cs, "Message 13")


async def test_TC_O_14_CS(cs: Harness) -> None:
    # Set Display Message - Remove message after EndTime
    end = later(cs, OFFSET_S)
    await set_message(cs, message(14, endDateTime=end))
    [info] = await get_messages(cs, 114, id=[14])
    assert info["endDateTime"] == end
    await shown(cs, "Message 14")
    await shown(cs, "Message 14", False)
    await cs.until(lambda: 14 not in cs.frontend.display_messages.ids(), what="message 14 removed")
    assert await status_of(cs, 14) == "Unknown"


async def test_TC_O_17_CS(cs: Harness) -> None:
    # Set Display Message - NotSupportedPriority
    if all(FEATURES[f] for f in ("UI-1.1", "UI-1.2", "UI-1.3")):
        pytest.skip("not applicable: evsed supports every message priority (UI-1.1, UI-1.2, UI-1.3; part 5)")


async def test_TC_O_19_CS(cs: Harness) -> None:
    # Set Display Message - NotSupportedMessageFormat: HTML and URI on a character display
    assert not FEATURES["UI-2.2"] and not FEATURES["UI-2.3"]
    await set_message(cs, message(19, fmt="HTML", content="<b>Hi</b>"), "NotSupportedMessageFormat")
    await set_message(cs, message(19, fmt="URI", content="https://example.com"), "NotSupportedMessageFormat")
    assert await status_of(cs, 19) == "Unknown"


async def test_TC_O_20_CS(cs: Harness) -> None:
    # Set Display Message - Persistent over reboot
    await set_message(cs, message(20))
    await cs.power_cycle()
    await cs.booted_and_reported()  # Booted
    [info] = await get_messages(cs, 120, id=[20])
    assert info == message(20)
    await shown(cs, "Message 20")


async def test_TC_O_22_CS(cs: Harness) -> None:
    # Set Display Message - Multiple In front priority: both kept, shown in turn
    await set_message(cs, message(22, "InFront"))
    await set_message(cs, message(220, "InFront"))
    assert [m["priority"] for m in await get_messages(cs, 122, id=[22])] == ["InFront"]
    assert [m["priority"] for m in await get_messages(cs, 222, id=[220])] == ["InFront"]
    text = await on_display(cs)
    assert "Message 22" in text or "Message 220" in text


async def test_TC_O_24_CS(cs: Harness) -> None:
    # Set Display Message - Second AlwaysFront priority: it replaces the first
    await set_message(cs, message(24, "AlwaysFront"))
    await set_message(cs, message(240, "InFront"))
    await shown(cs, "Message 24")
    await set_message(cs, message(241, "AlwaysFront"))
    assert await status_of(cs, 24) == "Unknown"
    assert [m["id"] for m in await get_messages(cs, 124, id=[241])] == [241]
    await shown(cs, "Message 241")


async def test_TC_O_27_CS(cs: Harness) -> None:
    # Set Display Message - Specific transaction - Display message at StartTime
    tx = await charging(cs)
    await set_message(cs, message(27, transactionId=tx, startDateTime=later(cs, OFFSET_S)))
    assert "Message 27" not in await on_display(cs)
    await shown(cs, "Message 27")
    await session_ends(cs)
    await shown(cs, "Message 27", False)
    assert await status_of(cs, 27) == "Unknown"


async def test_TC_O_28_CS(cs: Harness) -> None:
    # Set Display Message - Specific transaction - Remove message after EndTime
    tx = await charging(cs)
    await set_message(cs, message(28, transactionId=tx, endDateTime=later(cs, OFFSET_S)))
    await shown(cs, "Message 28")
    await shown(cs, "Message 28", False)
    await cs.until(lambda: 28 not in cs.frontend.display_messages.ids(), what="message 28 removed")
    assert await status_of(cs, 28) == "Unknown"


async def test_TC_O_30_CS(cs: Harness) -> None:
    # Set Display Message - Specific transaction - Multiple In front priority
    tx = await charging(cs)
    await set_message(cs, message(30, "InFront", transactionId=tx))
    await set_message(cs, message(300, "InFront", transactionId=tx))
    for n, request_id in ((30, 130), (300, 230)):
        [info] = await get_messages(cs, request_id, id=[n])
        assert info["transactionId"] == tx and info["priority"] == "InFront"
    await session_ends(cs)
    assert [await status_of(cs, 30), await status_of(cs, 300)] == ["Unknown", "Unknown"]


async def test_TC_O_32_CS(cs: Harness) -> None:
    # Set Display Message - Specific transaction - Second AlwaysFront priority
    tx = await charging(cs)
    await set_message(cs, message(32, "AlwaysFront", transactionId=tx, content="Welcome back"))
    await set_message(cs, message(320, "AlwaysFront", transactionId=tx, content="Welcome back2"))
    assert await status_of(cs, 32) == "Unknown"
    [info] = await get_messages(cs, 132, id=[320])
    assert info["transactionId"] == tx and info["priority"] == "AlwaysFront"
    assert info["message"]["content"] == "Welcome back2"
    await shown(cs, "Welcome back2")
    await session_ends(cs)
    assert await status_of(cs, 320) == "Unknown"


async def test_TC_O_33_CS(cs: Harness) -> None:
    # Get a Specific Display Message - No DisplayMessages configured
    assert await status_of(cs, 33) == "Unknown"


async def test_TC_O_34_CS(cs: Harness) -> None:
    # Get a Specific Display Message - Known Id, but not matching State
    await set_message(cs, message(34, state="Charging"))
    response = await cs.call("GetDisplayMessages", {"requestId": 134, "id": [34], "state": "Idle"})
    assert response["status"] == "Unknown"


async def test_TC_O_35_CS(cs: Harness) -> None:
    # Get a Specific Display Message - Known Id, but not matching Priority
    await set_message(cs, message(35, "NormalCycle"))
    response = await cs.call("GetDisplayMessages", {"requestId": 135, "id": [35], "priority": "InFront"})
    assert response["status"] == "Unknown"


async def test_TC_O_36_CS(cs: Harness) -> None:
    # Set Display Message - State Charging
    await set_message(cs, message(36, state="Charging"))
    await shown(cs, "Message 36", False)
    await charging(cs)
    await shown(cs, "Message 36")
    await session_ends(cs)
    await shown(cs, "Message 36", False)
    assert [m["state"] for m in await get_messages(cs, 136, id=[36])] == ["Charging"]


async def test_TC_O_37_CS(cs: Harness) -> None:
    # Set Display Message - State Idle
    await set_message(cs, message(37, state="Idle"))
    await shown(cs, "Message 37")
    await charging(cs)
    await shown(cs, "Message 37", False)
    await session_ends(cs)
    await shown(cs, "Message 37")
    assert [m["state"] for m in await get_messages(cs, 137, id=[37])] == ["Idle"]


async def test_TC_O_38_CS(cs: Harness) -> None:
    # Set Display Message - State Unavailable
    await set_message(cs, message(38, state="Unavailable"))
    await shown(cs, "Message 38", False)
    await states.unavailable(cs)
    await shown(cs, "Message 38")
    since = cs.mark()
    assert (await cs.call("ChangeAvailability", {"operationalStatus": "Operative"}))["status"] == "Accepted"
    for evse in cs.evse_ids:
        await cs.expect("StatusNotification", states.connector_status("Available", evse, 1), since)
    await shown(cs, "Message 38", False)
    assert [m["state"] for m in await get_messages(cs, 138, id=[38])] == ["Unavailable"]
