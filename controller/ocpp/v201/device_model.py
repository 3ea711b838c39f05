"""The device model's state: every attribute's value, the decision whether a write is allowed,
and the effects a committed write drives. Sans-I/O: persistence is the caller's (store.py).

Rules kept here (part 2 B05, B06, "Referenced Components and Variables"; DESIGN.md):
- A stored value is the row's default, overridden by a preset (``[ocpp.variables]``),
  overridden by what the CSMS wrote (loaded from the store). A bad preset is a startup error
  naming it; a stored value that no longer fits the row (the table changed) is skipped with a
  warning and left in the database.
- A live value is read from the reader bound to its ``source`` at the moment it is asked for;
  the model refuses to start with a source unbound. A reader that fails gives no value ("").
- ``decide`` checks a write without changing anything: read-only -> Rejected (ReadOnly), a
  value that does not parse or fit -> Rejected with its reason, then the guards of the row's
  effect (e.g. B10.FR.02: a network slot without a profile). ``commit`` applies decided writes
  (after the caller persisted them) and then calls the effect's listeners, except for rows that
  take effect at the next boot (RebootRequired). A failing listener is logged and never undoes
  the change.
- An effect is bound either by a listener or, when its variables are read each time they are
  needed (``read_at_use``), by naming it so: nothing has to be pushed then.
- WriteOnly values are held for the station's use (``value``) and never rendered for a report
  or a GetVariables answer.
- Reported text is cut to ReportingValueSize; written text is limited to ConfigurationValueSize.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from controller.ocpp.v201.enums import AttributeEnumType
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.values import BadValue, Value, parse, render
from controller.ocpp.v201.variables import Actual, Variable, WriteOnly

log = logging.getLogger(__name__)

Slot = tuple[str, AttributeEnumType]  # (row address, attribute type)
Reader = Callable[[Variable, datetime], "Value | None"]
Check = Callable[[Value], None]  # raises BadValue to refuse a value
CONFIGURATION_VALUE_SIZE = "DeviceDataCtrlr.ConfigurationValueSize"
REPORTING_VALUE_SIZE = "DeviceDataCtrlr.ReportingValueSize"
BUILT_IN_READERS: dict[str, Reader] = {"clock": lambda _row, now: now}


@dataclass(frozen=True, slots=True)
class Write:
    """A decided write: what ``commit`` applies and the store persists; what listeners get."""

    row: Variable
    attribute: AttributeEnumType
    value: Value
    text: str  # canonical

    @property
    def slot(self) -> Slot:
        return (self.row.address, self.attribute)


Listener = Callable[[Write], None]


class DeviceModel:
    def __init__(
        self,
        inventory: Inventory,
        readers: Mapping[str, Reader],
        *,
        presets: Mapping[str, str] | None = None,
        stored: Mapping[Slot, str] | None = None,
    ):
        self.inventory = inventory
        self._readers = {**BUILT_IN_READERS, **readers}
        sources = {a.source for row in inventory for a in row.attributes if a.source is not None}
        missing = sorted(sources - set(self._readers))
        if missing:
            raise ValueError(f"no reader bound for the live values {missing}")
        self._listeners: dict[str, list[Listener]] = {}
        self._watchers: list[Listener] = []  # every committed write (monitors on stored values)
        self._read_at_use: set[str] = set()
        self._checks: dict[str, list[Check]] = {}
        self._values: dict[Slot, Value | None] = {}
        for row in inventory:
            for attribute in row.attributes:
                if attribute.source is None:
                    default = attribute.default
                    self._values[(row.address, attribute.type)] = None if default is None else parse(row, default)
        for address, text in (presets or {}).items():
            self._values[(address, Actual)] = parse(inventory[address], text)  # resolved by presets.py
        for (address, kind), text in (stored or {}).items():
            if (address, kind) not in self._values:
                log.info("stored value of %s %s is not in this station's device model; ignored", address, kind.value)
                continue
            try:
                self._values[(address, kind)] = parse(inventory[address], text)
            except BadValue as exc:
                log.warning("stored value of %s no longer valid (%s); using the default", address, exc.info)

    # ---- reading ------------------------------------------------------------------------

    def value(self, address: str, attribute: AttributeEnumType = Actual) -> Value | None:
        """A stored value as the station uses it (WriteOnly included); KeyError if none."""
        return self._values[(address, attribute)]

    def read(self, row: Variable, attribute: AttributeEnumType, now: datetime) -> Value | None:
        spec = row.attribute(attribute)
        if spec is None or spec.source is None:
            return self._values[(row.address, attribute)]
        try:
            return self._readers[spec.source](row, now)
        except Exception:
            log.exception("reading %s (%s) failed", row.address, spec.source)
            return None

    def text(self, row: Variable, attribute: AttributeEnumType, now: datetime) -> str | None:
        """What a report or GetVariables shows: None for WriteOnly, "" when there is no value."""
        spec = row.attribute(attribute)
        if spec is None or spec.mutability == WriteOnly:
            return None
        value = self.read(row, attribute, now)
        shown = "" if value is None else render(row, value)
        limit = self.value(REPORTING_VALUE_SIZE)
        return shown[:limit] if isinstance(limit, int) else shown

    def limit(self, address: str) -> int:
        """An integer capacity of the station (ItemsPerMessage, BytesPerMessage...)."""
        value = self.value(address)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{address} is not an integer capacity")
        return value

    # ---- writing ------------------------------------------------------------------------

    def decide(self, row: Variable, attribute: AttributeEnumType, text: str) -> Write:
        """The write of ``text`` if allowed; raises BadValue with the reason otherwise."""
        spec = row.attribute(attribute)
        if spec is None:
            raise ValueError(f"{row.address} has no {attribute.value} attribute")
        if not spec.writable:
            raise BadValue("ReadOnly", f"{row.address} is read-only")
        value = parse(row, text, max_length=self.limit(CONFIGURATION_VALUE_SIZE))
        for check in self._checks.get(row.effect or "", ()):
            check(value)
        return Write(row, attribute, value, render(row, value))

    def commit(self, writes: Iterable[Write]) -> None:
        """Apply decided writes (already persisted), then run their effects."""
        applied = list(writes)
        for write in applied:
            self._values[write.slot] = write.value
        for write in applied:
            for watcher in self._watchers:
                try:
                    watcher(write)
                except Exception:
                    log.exception("watching %s failed", write.row.address)
            if write.row.reboot or write.row.effect is None:
                continue
            for listener in self._listeners.get(write.row.effect, ()):
                try:
                    listener(write)
                except Exception:
                    log.exception("effect %s of %s failed", write.row.effect, write.row.address)

    # ---- effects ------------------------------------------------------------------------

    def effects(self) -> frozenset[str]:
        return frozenset(row.effect for row in self.inventory if row.effect is not None)

    def on_change(self, effect: str, listener: Listener) -> None:
        """Call ``listener(write)`` after each committed write of a row driving ``effect``."""
        if effect not in self.effects():
            raise KeyError(f"no variable of this station drives {effect!r}")
        self._listeners.setdefault(effect, []).append(listener)

    def watch(self, listener: Listener) -> None:
        """Call ``listener(write)`` after every committed write, whatever its row drives."""
        self._watchers.append(listener)

    def guard(self, effect: str, check: Check) -> None:
        """Run ``check(value)`` before a write of a row driving ``effect`` is allowed."""
        if effect not in self.effects():
            raise KeyError(f"no variable of this station drives {effect!r}")
        self._checks.setdefault(effect, []).append(check)

    def read_at_use(self, effect: str) -> None:
        """``effect``'s variables are read whenever the station needs them: bound without a listener."""
        if effect not in self.effects():
            raise KeyError(f"no variable of this station drives {effect!r}")
        self._read_at_use.add(effect)

    def unbound_effects(self) -> frozenset[str]:
        """Effects nobody listens to or reads: the front end checks this once it is wired."""
        return self.effects() - set(self._listeners) - self._read_at_use
