"""Typed values of the OCPP 2.0.1 device model: what parses, what is refused and why, and that
whatever is accepted renders back to itself."""

# The value tables read best one case per line.
# ruff: noqa: E501

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ocpp.v201.enums import DataEnumType as D

from controller.ocpp.v201.values import INT32, BadValue, parse, render
from controller.ocpp.v201.variables import ComponentId, ReadWrite, Variable, setting, variable

CS = ComponentId("TestCtrlr")


def row(data_type: D, **kw) -> Variable:
    return variable(CS, "X", data_type, setting(ReadWrite, None), effect="x", **kw)


INTEGER = row(D.integer, min_limit=0, max_limit=86400)
DECIMAL = row(D.decimal, min_limit=0, max_limit=100)
BOOLEAN = row(D.boolean)
DATE_TIME = row(D.date_time)
STRING = row(D.string, max_limit=40, min_length=16, pattern=r"[^\x00-\x1f\x7f]*")
CURRENCY = row(D.string, max_limit=3, min_length=3, pattern=r"[A-Z]{3}")
OPTIONS = row(D.option_list, values=("LRU", "LFU"))
MEMBERS = row(D.member_list, values=("EVConnected", "Authorized", "PowerPathClosed"), allow_empty=False)
MEASURANDS = row(D.member_list, values=("Energy.Active.Import.Register", "Power.Active.Import", "Voltage"))
SEQUENCE = row(D.sequence_list, values=("1", "2", "3"), allow_empty=False)

# fmt: off
ACCEPTED = [
    (INTEGER, "0", 0, "0"),
    (INTEGER, "86400", 86400, "86400"),
    (DECIMAL, "0.5", 0.5, "0.5"),
    (DECIMAL, "100", 100.0, "100"),
    (DECIMAL, "12.123456", 12.123456, "12.123456"),
    (BOOLEAN, "true", True, "true"),
    (BOOLEAN, "FALSE", False, "false"),
    (DATE_TIME, "2025-03-01T12:00:00Z", datetime(2025, 3, 1, 12, tzinfo=UTC), "2025-03-01T12:00:00.000Z"),
    (DATE_TIME, "2025-03-01T13:00:00.5+01:00", datetime(2025, 3, 1, 12, 0, 0, 500000, tzinfo=UTC), "2025-03-01T12:00:00.500Z"),
    (STRING, "correct-horse-battery", "correct-horse-battery", "correct-horse-battery"),
    (STRING, "pässwörd mit Ümläuten!", "pässwörd mit Ümläuten!", "pässwörd mit Ümläuten!"),
    (CURRENCY, "EUR", "EUR", "EUR"),
    (OPTIONS, "lfu", "LFU", "LFU"),
    (MEMBERS, "Authorized, EVConnected", ("Authorized", "EVConnected"), "Authorized,EVConnected"),
    (MEASURANDS, "", (), ""),
    (SEQUENCE, "3,1", ("3", "1"), "3,1"),
]

REFUSED = [
    (INTEGER, "01", "InvalidValue", "not a 32-bit integer"),
    (INTEGER, "+5", "InvalidValue", "not a 32-bit integer"),
    (INTEGER, "1.0", "InvalidValue", "not a 32-bit integer"),
    (INTEGER, "", "InvalidValue", "not a 32-bit integer"),
    (INTEGER, "2147483648", "InvalidValue", "not a 32-bit integer"),
    (INTEGER, "-1", "ValueOutOfRange", "outside 0..86400"),
    (INTEGER, "86401", "ValueOutOfRange", "outside 0..86400"),
    (DECIMAL, "1e2", "InvalidValue", "not a decimal"),
    (DECIMAL, "0.1234567", "InvalidValue", "at most 6 decimal places"),
    (DECIMAL, "100.000001", "ValueOutOfRange", "outside 0..100"),
    (DECIMAL, ".5", "InvalidValue", "not a decimal"),
    (BOOLEAN, "1", "InvalidValue", "not true or false"),
    (BOOLEAN, "yes", "InvalidValue", "not true or false"),
    (DATE_TIME, "2025-03-01T12:00:00", "InvalidValue", "RFC 3339"),
    (DATE_TIME, "2025-03-01T12:00:00.1234Z", "InvalidValue", "RFC 3339"),
    (DATE_TIME, "2025-02-30T12:00:00Z", "InvalidValue", "not a valid date-time"),
    (STRING, "short", "InvalidValue", "5 characters, allowed 16..40"),
    (STRING, "x" * 41, "InvalidValue", "41 characters, allowed 16..40"),
    (STRING, "sixteen-chars-ok\n", "InvalidValue", "not allowed"),
    (CURRENCY, "eur", "InvalidValue", "not allowed"),
    (OPTIONS, "FIFO", "InvalidValue", "not one of LRU,LFU"),
    (OPTIONS, "LRU,LFU", "InvalidValue", "expected one of"),
    (OPTIONS, "", "InvalidValue", "expected one of"),
    (MEMBERS, "", "InvalidValue", "needs at least one of"),
    (MEMBERS, "EVConnected,DataSigned", "InvalidValue", "'DataSigned' is not one of"),
    (MEMBERS, "EVConnected,evconnected", "InvalidValue", "listed twice"),
    (MEMBERS, "EVConnected,,Authorized", "InvalidValue", "'' is not one of"),
    (SEQUENCE, "1,1", "InvalidValue", "listed twice"),
]
# fmt: on


@pytest.mark.parametrize(
    ("var", "text", "value", "shown"),
    ACCEPTED,
    ids=[f"{r[0].characteristics.data_type.value}:{r[1]!r}" for r in ACCEPTED],
)
def test_accepted_values_parse_to_their_type_and_render_canonically(var, text, value, shown):
    parsed = parse(var, text)
    assert parsed == value and type(parsed) is type(value)
    assert render(var, parsed) == shown


@pytest.mark.parametrize(
    ("var", "text", "reason", "words"),
    REFUSED,
    ids=[f"{r[0].characteristics.data_type.value}:{r[1]!r}" for r in REFUSED],
)
def test_refused_values_say_why_with_a_standard_reason_code(var, text, reason, words):
    with pytest.raises(BadValue) as raised:
        parse(var, text)
    assert raised.value.reason_code == reason
    assert words in raised.value.info and "TestCtrlr.X" in raised.value.info


def test_configuration_value_size_bounds_every_written_value():
    with pytest.raises(BadValue, match="1001 characters, more than 1000"):
        parse(row(D.string), "x" * 1001, max_length=1000)
    assert parse(row(D.string), "x" * 1000, max_length=1000) == "x" * 1000


def test_list_maximum_length_counts_the_rendered_text():
    short = row(D.member_list, values=("A", "W"), max_limit=1)
    assert parse(short, "W") == ("W",)
    with pytest.raises(BadValue, match=r"3 characters, allowed 0\.\.1"):
        parse(short, "A, W")


@given(st.integers(INT32[0], INT32[1]))
def test_every_32_bit_integer_within_limits_round_trips(n):
    var = row(D.integer)
    assert parse(var, render(var, n)) == n


@given(st.integers(min_value=INT32[1] + 1) | st.integers(max_value=INT32[0] - 1))
def test_integers_beyond_32_bits_are_refused(n):
    with pytest.raises(BadValue):
        parse(row(D.integer), str(n))


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False))
def test_decimals_with_up_to_six_places_round_trip(d):
    var = row(D.decimal)
    text = format(d, "f")
    value = parse(var, text)
    assert parse(var, render(var, value)) == value
    assert abs(value - float(d)) <= 1e-6 * max(1.0, abs(float(d)))


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_a_decimal_limit_is_a_hard_bound(x):
    var = row(D.decimal, min_limit=-10.5, max_limit=10.5)
    text = f"{x:.6f}"
    if -10.5 <= float(text) <= 10.5:
        assert parse(var, text) == float(text)
    else:
        with pytest.raises(BadValue) as raised:
            parse(var, text)
        assert raised.value.reason_code == "ValueOutOfRange"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_date_times_round_trip_to_the_millisecond(t):
    value = parse(DATE_TIME, render(DATE_TIME, t))
    assert timedelta(0) <= t - value < timedelta(milliseconds=1)


@given(st.lists(st.sampled_from(MEASURANDS.characteristics.values_list), unique=True))
def test_member_lists_accept_every_subset_in_any_order(members):
    value = parse(MEASURANDS, ", ".join(m.upper() for m in members))
    assert value == tuple(members)
    assert parse(MEASURANDS, render(MEASURANDS, value)) == value


@given(st.text(max_size=30))
def test_a_member_outside_the_values_list_is_always_refused(word):
    known = {m.casefold() for m in MEASURANDS.characteristics.values_list}
    members = [w.strip() for w in word.split(",")]
    if word.strip() and any(m.casefold() not in known for m in members):
        with pytest.raises(BadValue):
            parse(MEASURANDS, word)


@given(st.text(min_size=0, max_size=60))
def test_strings_are_accepted_exactly_when_length_and_pattern_allow(text):
    ok = 16 <= len(text) <= 40 and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)
    if ok:
        assert render(STRING, parse(STRING, text)) == text
    else:
        with pytest.raises(BadValue):
            parse(STRING, text)
