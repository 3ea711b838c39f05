"""What the device model knows of this station: its description, from the configuration and the
board, and its live values, read from the core's views at the moment they are asked for.

Rules kept here (part 2 RCV 2.13, appendix 3.2):
- One EVSE per ``[[connector]]``, with one connector: a tethered cable (no cable sense on the
  board) is cType2 with nothing to unlock; a socket is sType2, with a lock where the board has
  one. A temperature sensor where the board has one. The board's display, if any. No bay sensor.
- Live values: AvailabilityState (availability.py's projection), EVSE.Power (the meter's
  active power, W), EVSE.ACCurrent (its highest phase current, A: what a fuse sees),
  EVSE.ACVoltage (its lowest phase voltage, V: a sagging supply), Problem (a fault on the
  EVSE; on the station: on any EVSE; of the plug lock: it did not reach its position), the plug
  lock, the temperature, DataLink.Active (the link to the CSMS is up). A value the station
  cannot read now (no meter reading yet) is None, which the model reports as "".
- ``sources`` names the readers a front end passes for values that belong to its other parts
  (security profile, network profile, certificates...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from controller.faults import Fault
from controller.ocpp.v201.availability import connector_status, station_state
from controller.ocpp.v201.description import (
    ConnectorDescription,
    DisplaySize,
    EvseDescription,
    StationDescription,
)
from controller.ocpp.v201.device_model import Reader
from controller.ocpp.v201.values import Value
from controller.ocpp.v201.variables import Variable

if TYPE_CHECKING:
    from controller.config import Config
    from controller.core.station import Station
    from controller.core.view import EvseView
    from hal.board import Board


def describe(config: Config, board: Board) -> StationDescription:
    evses = []
    for connector in config.connectors:
        hw = board.connector(connector.id)
        socket = hw.cable is not None
        plug = ConnectorDescription("sType2", fixed_cable=False, lock=hw.lock is not None) if socket else \
            ConnectorDescription("cType2", fixed_cable=True, lock=False)  # fmt: skip
        evses.append(EvseDescription(phases=connector.phases, max_current_a=connector.max_current_a,
                                     connectors=(plug,), temperature_sensor=hw.temperature is not None,
                                     phase_switch=hw.phase_switch is not None))  # fmt: skip
    ocpp = config.ocpp
    return StationDescription(
        evses=tuple(evses),
        identity=ocpp.charge_point_id or config.station.charge_point_id,
        vendor=config.station.vendor,
        model=config.station.model,
        serial_number=config.station.serial_number,
        nominal_voltage_v=config.station.nominal_voltage_v,
        message_timeout_s=round(ocpp.call_timeout_s),
        ntp_servers=config.time.servers,
        max_temperature_c=config.loop.max_temperature_c,
        display=_display_size(board),
        phase_switching=any(e.phase_switch for e in evses),
    )


def _display_size(board: Board) -> DisplaySize | None:
    if board.display is None:
        return None
    size = board.display.size()
    return DisplaySize(rows=size.rows, columns=size.columns)


def readers(station: Station, sources: Mapping[str, Callable[[], Value | None]]) -> dict[str, Reader]:
    def evse(row: Variable) -> EvseView:
        assert row.component.evse is not None
        return station.view(row.component.evse)

    def availability(row: Variable, _now: datetime) -> Value | None:
        if row.component.evse is None:
            return station_state(station.station_view()).value
        status = connector_status(evse(row))
        return status.value if status is not None else None

    def power(row: Variable, _now: datetime) -> Value | None:
        meter = evse(row).meter
        return meter.power_w if meter is not None else None

    def current(row: Variable, _now: datetime) -> Value | None:
        meter = evse(row).meter
        return max(meter.current_a) if meter is not None and meter.current_a else None

    def voltage(row: Variable, _now: datetime) -> Value | None:
        meter = evse(row).meter
        return min(meter.voltage_v) if meter is not None and meter.voltage_v else None

    def problem(row: Variable, _now: datetime) -> Value | None:
        if row.component.evse is None:
            return any(v.fault is not None for v in station.views())
        return evse(row).fault is not None

    def lock_active(row: Variable, _now: datetime) -> Value | None:
        snapshot = evse(row).snapshot
        return snapshot.locked if snapshot is not None else None

    def lock_problem(row: Variable, _now: datetime) -> Value | None:
        return Fault.LOCK in evse(row).faults

    def temperature(row: Variable, _now: datetime) -> Value | None:
        snapshot = evse(row).snapshot
        return snapshot.temperature_c if snapshot is not None else None

    def constant(read: Callable[[], Value | None]) -> Reader:
        return lambda _row, _now: read()

    return {
        "availability_state": availability,
        "power": power,
        "current": current,
        "voltage": voltage,
        "problem": problem,
        "lock_active": lock_active,
        "lock_problem": lock_problem,
        "temperature": temperature,
        **{name: constant(read) for name, read in sources.items()},
    }
