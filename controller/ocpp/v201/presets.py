"""``[ocpp.variables]``: the station's own presets for writable device-model variables.

Two spellings, freely mixed (TOML turns an unquoted dotted key into the nested form anyway):

    [ocpp.variables]
    "OCPPCommCtrlr.HeartbeatInterval" = 60
    "OCPPCommCtrlr.MessageAttempts[TransactionEvent]" = 5

    [ocpp.variables.TxCtrlr]
    TxStartPoint = ["EVConnected", "Authorized"]     # or "EVConnected,Authorized"
    EVConnectionTimeOut = 90

Rules kept here:
- A key names a variable as ``Component.Variable`` (instances in brackets, an EVSE tier as
  ``EVSE@1``, see variables.py), case-insensitively; a table under ``[ocpp.variables]`` is a
  component and its keys are variables.
- Only ReadWrite variables of this station can be preset, and the read-only ones the table
  leaves to the installer (``installer``: AdditionalRootCertificateCheck); a preset is the value
  until the CSMS writes one (the CSMS's write is stored and wins from then on, also over a preset
  changed later). Other read-only values come from the hardware description, secrets
  (BasicAuthPassword) never belong in the configuration file.
- TOML booleans, integers, floats, strings and lists of strings are accepted; the value is
  checked like a SetVariables value. Every error names the file, the key, the value and what
  is allowed, and all keys are checked before the daemon starts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.values import BadValue, parse, render
from controller.ocpp.v201.variables import Actual, ReadWrite, WriteOnly
from hal.config import ConfigError

SECTION = "ocpp.variables"


def _entries(table: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            for name, inner in value.items():
                yield f"{key}.{name}", inner
        else:
            yield key, value


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    return None


def resolve_presets(table: Mapping[str, Any], inventory: Inventory, source: str = "config") -> dict[str, str]:
    """Row address -> canonical text for every preset in ``table``; ConfigError on the first bad one."""
    addresses = {row.address.casefold(): row for row in inventory}
    presets: dict[str, str] = {}
    for key, value in _entries(table):

        def error(allowed: str, key: str = key, value: Any = value) -> ConfigError:
            return ConfigError(f"{source}: [{SECTION}] {key} = {value!r}: {allowed}")

        row = addresses.get(key.casefold())
        if row is None:
            raise error(
                "no such variable on this station (Component.Variable[Instance], e.g. OCPPCommCtrlr.HeartbeatInterval)"
            )
        actual = row.attribute(Actual)
        if actual is None or actual.mutability == WriteOnly:
            raise error(f"{row.address} is a secret; it never belongs in the configuration file")
        if actual.mutability != ReadWrite and not row.installer:
            raise error(f"{row.address} is read-only: the station sets it")
        text = _text(value)
        if text is None:
            raise error("expected a boolean, a number, a string or a list of strings")
        try:
            presets[row.address] = render(row, parse(row, text))
        except BadValue as exc:
            raise error(exc.info) from None
    return presets
