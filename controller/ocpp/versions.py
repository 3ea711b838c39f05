"""The OCPP versions evsed speaks: one table, version -> how its front end is built and checked,
and how it words a connector's status.

Rules kept here:
- ``[ocpp] version`` picks the row (controller/ocpp/config.py lists the same versions); without
  an ``[ocpp] url`` no front end is built.
- ``check`` is what ``evsed check`` and the daemon's start ask of the chosen version before
  anything is built: its configuration keys, each error naming the key.
- ``status_words`` is the connector status the local API shows, in the configured version's
  words (also when no backend is configured).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.config import Config
from controller.core.view import EvseView
from controller.ocpp import config as ocpp_config
from controller.ocpp.frontend import Build, Check, FrontEnd, FrontEndContext
from controller.ocpp.v16 import setup as v16
from controller.ocpp.v16.status import connector_status as v16_status
from controller.ocpp.v201 import setup as v201
from controller.ocpp.v201.availability import connector_status as v201_status


@dataclass(frozen=True)
class Version:
    build: Build
    check: Check
    status: Callable[[EvseView], str]


VERSIONS: dict[str, Version] = {
    "1.6": Version(v16.build, v16.check, lambda view: v16_status(view)[0].value),
    "2.0.1": Version(v201.build, v201.check, lambda view: getattr(v201_status(view), "value", "")),
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
    return VERSIONS[config.ocpp.version].status(view) if view.indication is not None else None
