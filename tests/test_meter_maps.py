"""Register maps and their codec: pure data, checked without a bus."""

from __future__ import annotations

import itertools
import math

import pytest

from drivers.meter_maps import CURRENTS, DATA_TYPES, MAPS, VOLTAGES, Register, decode, encode, plan_reads


@pytest.mark.parametrize("model", sorted(MAPS))
def test_every_map_has_what_a_reading_needs(model: str) -> None:
    meter_map = MAPS[model]
    quantities = [r.quantity for r in meter_map.registers]
    needed = [*VOLTAGES[: meter_map.phases], *CURRENTS[: meter_map.phases], "power", "energy_import", "serial"]
    assert all(q in quantities for q in needed), model
    assert len(set(quantities)) == len(quantities), "a quantity appears twice"
    assert all(r.function_code in (3, 4) for r in meter_map.registers)
    assert all(r.words <= meter_map.max_registers for r in meter_map.registers)


@pytest.mark.parametrize("model", sorted(MAPS))
def test_registers_of_one_function_code_do_not_overlap(model: str) -> None:
    regs = sorted(MAPS[model].registers, key=lambda r: (r.function_code, r.address))
    for a, b in itertools.pairwise(regs):
        if a.function_code == b.function_code:
            assert a.end <= b.address, (a, b)


@pytest.mark.parametrize("dtype", [t for t in DATA_TYPES if t != "ascii"])
@pytest.mark.parametrize("word_order", ["big", "little"])
def test_encode_decode_round_trip(dtype: str, word_order: str) -> None:
    reg = Register("power", 3, 0, dtype, scale=0.1, word_order=word_order)
    magnitude = 123.4 if DATA_TYPES[dtype][0] == 1 else 1234.5  # raw 1234 fits 16 bits
    value = -magnitude if DATA_TYPES[dtype][2] else magnitude
    words = encode(reg, value)
    assert len(words) == reg.words
    assert decode(reg, words) == pytest.approx(value, rel=1e-6)


def test_word_order_is_the_order_of_words_on_the_wire() -> None:
    big = Register("energy_import", 3, 0, "uint32", 1.0, "big")
    little = Register("energy_import", 3, 0, "uint32", 1.0, "little")
    assert encode(big, 0x12345678) == [0x1234, 0x5678]
    assert encode(little, 0x12345678) == [0x5678, 0x1234]
    assert decode(little, [0x5678, 0x1234]) == 0x12345678


def test_abb_not_available_markers_decode_to_none() -> None:
    for dtype, words in [("uint64", [0xFFFF] * 4), ("int32", [0x7FFF, 0xFFFF]), ("uint16", [0xFFFF])]:
        reg = Register("power", 3, 0, dtype)
        assert decode(reg, words, nan_markers=True) is None
        assert decode(reg, words, nan_markers=False) is not None  # only vendors that define them
        assert encode(reg, None, nan_markers=True) == words


def test_float_nan_survives_decoding_for_the_meter_to_reject() -> None:
    reg = Register("voltage_l1", 4, 0, "float32")
    assert math.isnan(decode(reg, encode(reg, float("nan"))))  # type: ignore[arg-type]


def test_ascii_serial_numbers() -> None:
    reg = Register("serial", 3, 0x5000, "ascii", length=7)
    assert decode(reg, encode(reg, "CG1234567")) == "CG1234567"


def test_plan_reads_uses_as_few_requests_as_the_limit_allows() -> None:
    live = [r for r in MAPS["sdm630"].registers if r.quantity != "serial"]
    (block,) = plan_reads(live, 80)  # 0x0000..0x004C: one request
    assert (block.function_code, block.address, block.count) == (4, 0, 0x4C)
    blocks = plan_reads(live, 40)
    assert len(blocks) == 2 and all(b.count <= 40 for b in blocks)
    assert sum(len(b.registers) for b in blocks) == len(live)


@pytest.mark.parametrize("model", sorted(MAPS))
def test_plans_respect_each_models_limit(model: str) -> None:
    meter_map = MAPS[model]
    blocks = plan_reads(meter_map.registers, meter_map.max_registers)
    assert all(b.count <= meter_map.max_registers for b in blocks)
    assert {r for b in blocks for r in b.registers} == set(meter_map.registers)
    for b in blocks:
        assert {r.function_code for r in b.registers} == {b.function_code}
