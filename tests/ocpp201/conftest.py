"""Fixtures of the part-6 harness: one charging station per test module (``cs``), the general
preconditions restored before each test (harness.py, rules 1 and 2), and a module's file
server (``files``: <Configured log_location> and firmware locations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from firmware_bench import FileServer

from ocpp201.harness import Harness


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    presets: dict[str, Any] = getattr(request.module, "PRESETS", {})
    harness = Harness(
        tmp_path_factory.mktemp("station"),
        presets,
        getattr(request.module, "SECURITY", None),
        getattr(request.module, "SECTIONS", ""),
        getattr(request.module, "EVSE1_SIM", ""),
    )
    await harness.open()
    try:
        yield harness
    finally:
        await harness.close()


@pytest_asyncio.fixture(loop_scope="module", autouse=True)
async def general_preconditions(cs: Harness) -> None:
    await cs.restore()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def files() -> AsyncIterator[FileServer]:
    """An HTTP server on loopback: uploads by PUT under ``/up/<name>``, 404 elsewhere; ``held``
    keeps a request of a name under way until its event is set (set for all at the end)."""
    server = FileServer()
    await server.start()
    yield server
    for gate in server.held.values():
        gate.set()
    await server.stop()
