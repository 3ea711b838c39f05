"""The OCPP versions evsed speaks: one table, version -> how its front end is built and checked,
and how it words a connector's status.

Rules kept here:
- ``[ocpp] version`` picks the row (controller/ocpp/config.py lists the same versions); without
  an ``[ocpp] url`` no front end is built.
- ``check`` is what ``evsed check`` and the daemon's start ask of the chosen version before
  anything is built: its configuration keys, each error naming the key.
- ``status_words`` is the connector status the local API shows, in the configured version's
  words (also when no backend is configured).
- A version's modules are imported when that version is used, not before: a 1.6 station does
  not carry the 2.0.1 front end and its message classes in memory (a few MB), nor the reverse.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.config import Config
from controller.core.view import EvseView
from controller.ocpp import config as ocpp_config
from controller.ocpp.frontend import Build, Check, FrontEnd, FrontEndContext


@dataclass(frozen=True)
class Version:
    setup: str  # the module with ``build(ctx)`` and ``check(config)``
    status: str  # the module whose ``connector_status(view)`` words a connector's status
    words: Callable[[Any], str]  # that status in words

    def build(self, ctx: FrontEndContext) -> FrontEnd:
        build: Build = importlib.import_module(self.setup).build
        return build(ctx)

    def check(self, config: Config) -> None:
        check: Check = importlib.import_module(self.setup).check
        check(config)

    def status_words(self, view: EvseView) -> str:
        return self.words(importlib.import_module(self.status).connector_status(view))


VERSIONS: dict[str, Version] = {
    "1.6": Version("controller.ocpp.v16.setup", "controller.ocpp.v16.status", lambda status: status[0].value),
    "2.0.1": Version(
        "controller.ocpp.v201.setup", "controller.ocpp.v201.availability", lambda status: getattr(status, "value", "")
    ),
}
assert set(VERSIONS) == set(ocpp_config.VERSIONS), "controller/ocpp/config.py lists the versions built here"


def check(config: Config) -> None:
    """Raise ConfigError for what the chosen version refuses in the configuration."""
    if config.ocpp.url is not None:
        VERSIONS[config.ocpp.version].check(config)


def build_frontend(ctx: FrontEndContext) -> FrontEnd | None:
    """The front end of the configured version, or None without an [ocpp] url."""
    if ctx.config.ocpp.url is None:
        return None
    return VERSIONS[ctx.config.ocpp.version].build(ctx)


def status_words(config: Config, view: EvseView) -> str | None:
    """The connector's status as the configured version says it (None before the first sample)."""
    return VERSIONS[config.ocpp.version].status_words(view) if view.indication is not None else None
