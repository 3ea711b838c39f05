"""The OCPP 2.0.1 front end as the daemon builds it: the station's device model (its table from
the configuration and the board, its ``[ocpp.variables]`` presets checked), then the charging
station wired to the core.

Rules kept here (the rest of [ocpp] is version-neutral: controller/ocpp/config.py):
- ``DECLARED`` are the device-model features this station implements (part 5 section 5); a
  feature's controller variables exist only when it is declared. Advanced User Interface
  (display messages, tariff and cost) only on a board with a display.
- ``[ocpp.variables]`` presets ReadWrite variables (controller/ocpp/v201/presets.py); an
  unknown, read-only or secret variable or a value that does not fit is an error naming the
  key, from ``check`` (``evsed check``, the daemon's start) and from ``build``. The table
  depends on the hardware (a lock, a cable, sensors), so ``check`` reads the board's
  configuration as ``evsed check`` does, opening no device.
- With ``[charging] authorize = "ocpp"`` the station asks the CSMS about every token.
- The station's ledger hook and listeners are registered as it is built: crash recovery, which
  runs after, queues the TransactionEvent Ended (PowerLoss) of a transaction left open.
"""

from __future__ import annotations

from controller.config import Config, load_board
from controller.ocpp.frontend import FrontEndContext
from controller.ocpp.v201.description import StationDescription
from controller.ocpp.v201.frontend import ChargingStation
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.presets import resolve_presets
from controller.ocpp.v201.readings import describe
from controller.ocpp.v201.variables import Feature
from hal.board import Board

DECLARED: frozenset[Feature] = frozenset(
    {
        Feature.CORE,
        Feature.ADVANCED_SECURITY,
        Feature.AUTHORIZATION_CACHE,
        Feature.LOCAL_AUTH_LIST,
        Feature.SMART_CHARGING,
        Feature.RESERVATION,
        Feature.ADVANCED_USER_INTERFACE,
        Feature.ADVANCED_DEVICE_MANAGEMENT,
    }
)


def device_model_of(config: Config, board: Board) -> tuple[StationDescription, Inventory, dict[str, str]]:
    """The station's description, device-model table and checked presets (ConfigError naming a bad one)."""
    description = describe(config, board)
    # Advanced User Interface needs a display: a box without one declares the rest.
    declared = DECLARED if description.display is not None else DECLARED - {Feature.ADVANCED_USER_INTERFACE}
    inventory = Inventory.build(description, declared)
    return description, inventory, resolve_presets(config.ocpp.variables, inventory, config.source)


def check(config: Config) -> None:
    """What ``evsed check`` asks of the 2.0.1 front end: its presets, against this station's table."""
    board = load_board(config, dry_run=True)
    try:
        device_model_of(config, board)
    finally:
        board.close()


def build(ctx: FrontEndContext) -> ChargingStation:
    """The 2.0.1 charging station for ``ctx.config`` (which has an [ocpp] url), bound to the station."""
    station = ctx.station
    charging_station = ChargingStation(ctx, *device_model_of(ctx.config, station.board))
    if ctx.config.charging.authorize == "ocpp":
        station.authorizer = charging_station.authorizer
    return charging_station
