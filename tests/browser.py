"""A real browser for the page's tests and benchmark: Debian's Chromium driven by Playwright.

- No browser download: Playwright launches the system's ``chromium`` (``apt-get install -y
  chromium``; ``.ci/run`` installs it). Where it or the ``playwright`` package is missing,
  ``chromium_missing()`` says why and the tests skip with that reason (printed by ``-ra``).
- Headless, no sandbox (containers run as root), nothing phoning home.
- ``ARTIFACTS`` (gitignored, or $EVSED_ARTIFACTS) keeps the screenshots the tests take.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("EVSED_ARTIFACTS", REPO / "tests" / "artifacts"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_missing() -> str | None:
    """Why no browser test can run here, or None."""
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install -y chromium; .ci/run installs it)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A launched headless Chromium (Playwright's async Browser), closed afterwards."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


def screenshot_path(test: str, name: str) -> Path:
    folder = ARTIFACTS / "web" / test
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"
