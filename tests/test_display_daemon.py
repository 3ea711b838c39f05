"""The driver's display on the whole daemon (simulated board, through the real-time process): what
the session says, on the simulated display and in /api/status; a board without one is unchanged."""

from __future__ import annotations

from conftest import EV, LOCAL_TOKENS, eventually

DISPLAY = "\n[board.display]\ncolumns = 16\nrows = 2\n"
WITH_DISPLAY = LOCAL_TOKENS + DISPLAY


async def test_the_session_on_the_display_and_in_the_api(start_daemon) -> None:
    run = await start_daemon(WITH_DISPLAY)
    shown = run.sim.display_text
    await eventually(lambda: shown() == ["Welcome", ""], what="the idle page")
    run.sim.plug_in(1, **EV)
    await eventually(lambda: shown()[0] == "Present card", what="the request for a card")
    run.sim.swipe("TAG-A")
    await eventually(lambda: shown()[0].startswith("Charging ") and shown()[0].endswith(" kW"), what="charging")
    await eventually(lambda: shown()[1].endswith(" kWh") and shown()[1] != "0.00 kWh", what="energy counted")
    code, body = await run.get("/api/status")
    assert code == 200 and body["display"]["columns"] == 16 and body["display"]["rows"] == 2
    assert body["display"]["lines"][0].startswith("Charging")
    run.sim.unplug(1)
    await eventually(lambda: shown() == ["Welcome", ""], what="the idle page again")
    assert all(len(row) <= 16 for _, lines in run.sim.display_log() for row in lines)


async def test_a_board_without_a_display_has_none_in_the_api(start_daemon) -> None:
    run = await start_daemon(LOCAL_TOKENS)
    assert run.daemon.board.display is None and run.daemon.screen is None
    code, body = await run.get("/api/status")
    assert code == 200 and "display" not in body
    assert run.sim.display_text() == []
