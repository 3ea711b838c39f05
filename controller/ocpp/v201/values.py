"""Typed values of device-model variables: parse and check the text the CSMS sends, render what
the station reports.

Rules kept here (OCPP 2.0.1 part 2 2.1.4 primitive datatypes, 2.51 VariableCharacteristicsType,
B05.FR.07 / FR.08):
- The text travels as a string; each data type has one canonical rendering and ``parse``
  accepts exactly what it renders, plus a few harmless spellings (boolean and list members in
  any letter case, spaces around list members).
- integer: 32-bit, no leading zeros, no plus sign. decimal: at most six decimal places, no
  exponent; it is a float in Python and rendered without exponent at full resolution.
  boolean: "true" / "false". dateTime: RFC 3339 with an offset and at most 3 fractional digits,
  rendered in UTC with milliseconds.
- minLimit / maxLimit bound numbers; for strings and lists maxLimit bounds the text length.
- OptionList: one member of valuesList. MemberList: an unordered set of members, SequenceList:
  an ordered one; no member twice, none outside valuesList; "" is no member (unless the row
  forbids an empty list).
- Every rejection is a ``BadValue`` carrying a standard reason code (part 2 appendix 5:
  InvalidValue, ValueOutOfRange) and a sentence naming the variable, the value and what is
  allowed.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from controller.clock import iso, parse_time
from controller.ocpp.v201.enums import DataEnumType
from controller.ocpp.v201.variables import Variable

Value = bool | int | float | str | datetime | tuple[str, ...]

INT32 = (-(2**31), 2**31 - 1)
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]{1,6})?")
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,3})?([Zz]|[+-]\d\d:\d\d)")
_SHOWN = 60  # characters of a rejected value quoted back in a reason


class BadValue(ValueError):
    """A value a variable cannot take; ``reason_code`` goes into statusInfo."""

    def __init__(self, reason_code: str, info: str):
        super().__init__(info)
        self.reason_code = reason_code
        self.info = info


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _number_in_limits(row: Variable, number: Decimal, text: str) -> None:
    low, high = row.characteristics.min_limit, row.characteristics.max_limit
    if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
        low_text = _render_number(low) if low is not None else "..."
        high_text = _render_number(high) if high is not None else "..."
        raise BadValue("ValueOutOfRange", f"{row.address}: {text} is outside {low_text}..{high_text}")


def _render_number(value: float | int) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _members(row: Variable, text: str) -> tuple[str, ...]:
    if text.strip() == "":
        if not row.allow_empty:
            raise BadValue(
                "InvalidValue", f"{row.address}: needs at least one of {','.join(row.characteristics.values_list)}"
            )
        return ()
    canonical = {m.casefold(): m for m in row.characteristics.values_list}
    members: list[str] = []
    for raw in text.split(","):
        member = canonical.get(raw.strip().casefold())
        if member is None:
            raise BadValue(
                "InvalidValue",
                f"{row.address}: {_shown(raw.strip())} is not one of {','.join(row.characteristics.values_list)}",
            )
        if member in members:
            raise BadValue("InvalidValue", f"{row.address}: {member} is listed twice")
        members.append(member)
    return tuple(members)


def _check_length(row: Variable, text: str) -> None:
    high = row.characteristics.max_limit
    if len(text) < row.min_length or (high is not None and len(text) > high):
        limit = f"{row.min_length}..{int(high)}" if high is not None else f">= {row.min_length}"
        raise BadValue("InvalidValue", f"{row.address}: {len(text)} characters, allowed {limit}")


def parse(row: Variable, text: str, *, max_length: int | None = None) -> Value:
    """The typed value of ``text`` for ``row``; ``max_length`` is ConfigurationValueSize."""
    if max_length is not None and len(text) > max_length:
        raise BadValue("InvalidValue", f"{row.address}: {len(text)} characters, more than {max_length}")
    kind = row.characteristics.data_type
    if kind == DataEnumType.boolean:
        lowered = text.strip().casefold()
        if lowered not in ("true", "false"):
            raise BadValue("InvalidValue", f"{row.address}: {_shown(text)} is not true or false")
        return lowered == "true"
    if kind == DataEnumType.integer:
        if not _INTEGER.fullmatch(text) or not INT32[0] <= int(text) <= INT32[1]:
            raise BadValue("InvalidValue", f"{row.address}: {_shown(text)} is not a 32-bit integer")
        _number_in_limits(row, Decimal(text), text)
        return int(text)
    if kind == DataEnumType.decimal:
        if not _DECIMAL.fullmatch(text):
            raise BadValue("InvalidValue", f"{row.address}: {_shown(text)} is not a decimal (at most 6 decimal places)")
        _number_in_limits(row, Decimal(text), text)
        return float(text)
    if kind == DataEnumType.date_time:
        if not _DATE_TIME.fullmatch(text):
            raise BadValue("InvalidValue", f"{row.address}: {_shown(text)} is not an RFC 3339 date-time")
        try:
            return parse_time(text)
        except ValueError:
            raise BadValue("InvalidValue", f"{row.address}: {_shown(text)} is not a valid date-time") from None
    if kind == DataEnumType.option_list:
        members = _members(row, text)
        if len(members) != 1:
            raise BadValue(
                "InvalidValue", f"{row.address}: expected one of {','.join(row.characteristics.values_list)}"
            )
        return members[0]
    if kind in (DataEnumType.member_list, DataEnumType.sequence_list):
        members = _members(row, text)
        _check_length(row, ",".join(members))
        return members
    _check_length(row, text)
    if row.pattern is not None and not re.fullmatch(row.pattern, text):
        raise BadValue("InvalidValue", f"{row.address}: {_shown(text)} has characters or a form not allowed")
    return text


def render(row: Variable, value: Value) -> str:
    """The canonical text of a typed value (also of a live value a reader returned)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, int | float):
        return _render_number(value)
    if isinstance(value, str):
        return value
    return ",".join(value)
