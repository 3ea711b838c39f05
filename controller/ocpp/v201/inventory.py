"""The station's device model table: the rows that exist for this station and its features,
checked once and indexed for lookups.

Rules kept here (part 2 B05/B06 lookups, part 5 section 5):
- Core is always declared; a feature adds its controller's rows. Advanced User Interface
  (DisplayMessageCtrlr, TariffCostCtrlr) needs a display.
- Rows are checked when the table is built, so a mistake in the table is a startup error, not
  a wrong report: no component-variable twice, every default parses as its own type, list
  types have a valuesList, a live value is read-only, every writable variable drives an effect.
- Lookups are case-insensitive and treat an empty instance as none; a component is known when
  any row has it, so a known component with an unknown variable is UnknownVariable.
- Rows keep their order: physical components (station, EVSE 1 and its connectors, ...), then
  controllers; reports follow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from controller.ocpp.v201.controllers import controller_variables
from controller.ocpp.v201.description import StationDescription
from controller.ocpp.v201.physical import physical_variables
from controller.ocpp.v201.values import BadValue, parse
from controller.ocpp.v201.variables import LIST_TYPES, ComponentId, Feature, Variable, VariableId


def _check(row: Variable) -> None:
    if row.characteristics.data_type in LIST_TYPES and not row.characteristics.values_list:
        raise ValueError(f"{row.address}: a {row.characteristics.data_type.value} needs a valuesList")
    if row.writable and row.effect is None:
        raise ValueError(f"{row.address}: writable but drives nothing (no effect)")
    for attribute in row.attributes:
        if attribute.source is not None and attribute.writable:
            raise ValueError(f"{row.address}: a live value cannot be writable")
        if attribute.default is not None:
            try:
                parse(row, attribute.default)
            except BadValue as exc:
                raise ValueError(f"{row.address} {attribute.type.value} default: {exc.info}") from None
    if len({a.type for a in row.attributes}) != len(row.attributes):
        raise ValueError(f"{row.address}: an attribute type twice")


class Inventory:
    def __init__(self, rows: Iterable[Variable]):
        self.rows = tuple(rows)
        self._rows: dict[tuple[object, ...], Variable] = {}
        self._components: dict[tuple[object, ...], list[Variable]] = {}
        self._addresses: dict[str, Variable] = {}
        for row in self.rows:
            _check(row)
            key = (row.component.key, row.variable.key)
            if key in self._rows:
                raise ValueError(f"{row.address}: listed twice")
            self._rows[key] = row
            self._components.setdefault(row.component.key, []).append(row)
            self._addresses[row.address] = row

    @staticmethod
    def build(description: StationDescription, features: Iterable[Feature] = ()) -> Inventory:
        declared = {Feature.CORE, *features}
        if Feature.ADVANCED_USER_INTERFACE in declared and description.display is None:
            raise ValueError("Advanced User Interface (display messages, tariff and cost) needs a display")
        controllers = (row for row in controller_variables(description) if row.feature in declared)
        return Inventory((*physical_variables(description), *controllers))

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def find(self, component: ComponentId, variable: VariableId) -> Variable | None:
        return self._rows.get((component.key, variable.key))

    def has_component(self, component: ComponentId) -> bool:
        return component.key in self._components

    def component_rows(self, component: ComponentId) -> list[Variable]:
        return self._components.get(component.key, [])

    def __getitem__(self, address: str) -> Variable:
        """The row named ``address`` exactly as ``Variable.address`` spells it; KeyError if none."""
        return self._addresses[address]

    def __contains__(self, address: object) -> bool:
        return address in self._addresses
