"""The physical components of the device model, generated from the station description: the
station, each EVSE, each connector, and the devices they really have.

Rules kept here (part 2 "Referenced Components and Variables" 2.13 = "RCV 2.13", errata 2.66,
appendix 3.2, B07.FR.08):
- ChargingStation, every EVSE (tier evse.id) and every Connector (tier evse.id + connectorId)
  have Available (constant true: the component exists and is wired), AvailabilityState (live,
  what StatusNotification would say) and SupplyPhases; each Connector its ConnectorType; each
  EVSE its Power with maxLimit = phases x max current x nominal voltage.
- A device appears only when the description has it: ConnectorPlugRetentionLock for a socket
  with a lock, TemperatureSensor, BayOccupancySensor, Display; each with Available (RCV
  2.13.1: Available exists on every component that can be reported).
- Live values (availability, power, problem, sensors) come from readers named by ``source``.
"""

from __future__ import annotations

from controller.ocpp.v201.description import DisplaySize, EvseDescription, StationDescription
from controller.ocpp.v201.enums import AttributeEnumType, DataEnumType
from controller.ocpp.v201.variables import (
    Attribute,
    ComponentId,
    ReadOnly,
    ReadWrite,
    Variable,
    live,
    setting,
    variable,
)

AVAILABILITY_STATES = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
BOOLEAN = DataEnumType.boolean
INTEGER = DataEnumType.integer
DECIMAL = DataEnumType.decimal
STRING = DataEnumType.string
OPTION_LIST = DataEnumType.option_list


def _const(value: str) -> tuple[Attribute, ...]:
    return setting(ReadOnly, value)


def _present(component: ComponentId, spec: str) -> Variable:
    return variable(component, "Available", BOOLEAN, _const("true"), spec=spec)


def _availability(component: ComponentId, spec: str) -> Variable:
    return variable(
        component,
        "AvailabilityState",
        OPTION_LIST,
        live("availability_state"),
        values=AVAILABILITY_STATES,
        max_limit=max(map(len, AVAILABILITY_STATES)),
        monitoring=True,
        spec=spec,
    )


def _station(d: StationDescription) -> tuple[Variable, ...]:
    cs = ComponentId("ChargingStation")
    return (
        _present(cs, "RCV 2.13.1"),
        _availability(cs, "RCV 2.13.2"),
        variable(cs, "SupplyPhases", INTEGER, _const(str(d.supply_phases)), spec="RCV 2.13.6"),
        variable(cs, "Problem", BOOLEAN, live("problem"), monitoring=True, spec="appendix 3.2.11"),
        # The connection to the CSMS (one link: the station's DataLink).
        variable("DataLink", "Active", BOOLEAN, live("link_connected"), monitoring=True, spec="appendix 3.2.22"),
        variable(
            cs,
            "AllowNewSessionsPendingFirmwareUpdate",
            BOOLEAN,
            setting(ReadWrite, "false"),
            effect="allow_new_sessions_pending_firmware_update",
            spec="RCV 2.1.2, L01.FR.07, part 5 C-20",
        ),
        variable(cs, "VendorName", STRING, _const(d.vendor), max_limit=50, spec="appendix 3.2.11"),
        variable(cs, "Model", STRING, _const(d.model), max_limit=50, spec="appendix 3.2.11"),
        *(
            (variable(cs, "SerialNumber", STRING, _const(d.serial_number), max_limit=50, spec="appendix 3.2.11"),)
            if d.serial_number
            else ()
        ),
    )


def _evse(n: int, e: EvseDescription, d: StationDescription) -> tuple[Variable, ...]:
    evse = ComponentId("EVSE", evse=n)
    max_power = e.phases * e.max_current_a * d.nominal_voltage_v
    rows = [
        _present(evse, "RCV 2.13.1"),
        _availability(evse, "RCV 2.13.2"),
        variable(evse, "SupplyPhases", INTEGER, _const(str(e.phases)), spec="RCV 2.13.6"),
        variable(
            evse,
            "Power",
            DECIMAL,
            live("power"),
            unit="W",
            min_limit=0,
            max_limit=max_power,
            monitoring=True,
            spec="RCV 2.13.7",
        ),
        variable(evse, "Problem", BOOLEAN, live("problem"), monitoring=True, spec="appendix 3.2.30"),
        variable(
            evse,
            "ACCurrent",
            DECIMAL,
            live("current"),
            unit="A",
            min_limit=0,
            monitoring=True,
            spec="appendix 3.2.30 (unkeyed: the highest phase)",
        ),
        variable(
            evse,
            "ACVoltage",
            DECIMAL,
            live("voltage"),
            unit="V",
            min_limit=0,
            monitoring=True,
            spec="appendix 3.2.30 (unkeyed: the lowest phase)",
        ),
        variable(evse, "AllowReset", BOOLEAN, _const("true"), spec="RCV 2.13.3, part 5 C-13"),
    ]
    if e.temperature_sensor:
        sensor = ComponentId("TemperatureSensor", evse=n)
        limit = Attribute(AttributeEnumType.max_set, ReadOnly, f"{d.max_temperature_c:g}")
        rows += [
            _present(sensor, "appendix 3.2.51"),
            variable(
                sensor,
                "Temperature",
                DECIMAL,
                (*live("temperature"), limit),
                unit="Celsius",
                monitoring=True,
                spec="appendix 3.2.51, appendix 4 (MaxSet: the over-temperature trip)",
            ),
        ]
    if e.bay_sensor:
        bay = ComponentId("BayOccupancySensor", evse=n)
        rows += [
            _present(bay, "appendix 3.2.7"),
            variable(bay, "Active", BOOLEAN, live("bay_occupied"), monitoring=True, spec="appendix 3.2.7"),
        ]
    for k, c in enumerate(e.connectors, start=1):
        connector = ComponentId("Connector", evse=n, connector=k)
        rows += [
            _present(connector, "RCV 2.13.1"),
            _availability(connector, "errata 2.66"),
            variable(connector, "ConnectorType", STRING, _const(c.type), max_limit=20, spec="RCV 2.13.4"),
            variable(connector, "SupplyPhases", INTEGER, _const(str(e.phases)), spec="RCV 2.13.6"),
        ]
        if c.lock and not c.fixed_cable:
            lock = ComponentId("ConnectorPlugRetentionLock", evse=n, connector=k)
            rows += [
                _present(lock, "appendix 3.2.17"),
                variable(lock, "Active", BOOLEAN, live("lock_active"), monitoring=True, spec="appendix 3.2.17"),
                variable(
                    lock, "Problem", BOOLEAN, live("lock_problem"), monitoring=True, spec="appendix 3.2.17, G05.FR.02"
                ),
            ]
    return tuple(rows)


def _display(size: DisplaySize) -> tuple[Variable, ...]:
    display = ComponentId("Display")
    return (
        _present(display, "appendix 3.2.23"),
        variable(display, "Count[HeightInChars]", INTEGER, _const(str(size.rows)), spec="appendix 3.2.23"),
        variable(display, "Count[WidthInChars]", INTEGER, _const(str(size.columns)), spec="appendix 3.2.23"),
        variable(
            display,
            "DataText[Visible]",
            STRING,
            live("display_text"),
            max_limit=size.rows * (size.columns + 1),
            spec="appendix 3.2.23",
        ),
    )


def physical_variables(d: StationDescription) -> tuple[Variable, ...]:
    rows = list(_station(d))
    for n, evse in enumerate(d.evses, start=1):
        rows += _evse(n, evse, d)
    if d.display is not None:
        rows += _display(d.display)
    return tuple(rows)
