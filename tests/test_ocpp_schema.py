"""controller.ocpp.schema, keyword by keyword: what passes, what fails with which keyword, path and
message, what fails the compile, and which violation ``best`` reports."""

from __future__ import annotations

import json

import pytest

from controller.clock import is_date_time
from controller.ocpp.rpc import Call, Reject, Rpc
from controller.ocpp.schema import SchemaUnsupported, Violation, best, compile_schema

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT6 = "http://json-schema.org/draft-06/schema#"


def found(schema: dict, instance: object, formats: dict | None = None) -> list[tuple[str, tuple, str]]:
    return [(v.keyword, v.path, v.message) for v in compile_schema(schema, formats)(instance)]


@pytest.mark.parametrize(
    ("named", "good", "bad"),
    [
        ("string", ["", "a"], [1, None, True, [], {}]),
        ("object", [{}, {"a": 1}], ["{}", [], 1, None]),
        ("array", [[], [1]], [{}, "[]", None]),
        ("boolean", [True, False], [0, 1, "true", None]),
        ("number", [0, 1.5, -3, 10**30], [True, False, "1", None]),
        ("integer", [0, -7, 10**30], [1.5, True, "1", None, 1.0]),  # draft-04: 1.0 is not an integer
    ],
)
def test_type(named, good, bad):
    schema = {"$schema": DRAFT4, "type": named}
    for x in good:
        assert found(schema, x) == [], x
    for x in bad:
        assert found(schema, x) == [("type", (), f"{x!r} is not of type {named!r}")], x


def test_integer_in_draft_06_takes_integral_floats():
    schema = {"$schema": DRAFT6, "type": "integer"}
    assert found(schema, 3.0) == []
    assert found(schema, 3.5) == [("type", (), "3.5 is not of type 'integer'")]
    assert found(schema, False) == [("type", (), "False is not of type 'integer'")]


def test_draft_04_is_the_default():
    assert found({"type": "integer"}, 3.0) == [("type", (), "3.0 is not of type 'integer'")]


def test_enum_takes_only_its_strings():
    schema = {"type": "string", "enum": ["Hard", "Soft"]}
    assert found(schema, "Soft") == []
    assert found(schema, "soft") == [("enum", (), "'soft' is not one of ['Hard', 'Soft']")]
    assert [k for k, _, _ in found(schema, 1)] == ["type", "enum"]  # schema key order


def test_max_length_counts_characters_of_strings_only():
    schema = {"maxLength": 3}
    assert found(schema, "abc") == found(schema, "äöü") == found(schema, 12345) == found(schema, [1, 2, 3, 4]) == []
    assert found(schema, "abcd") == [("maxLength", (), "'abcd' is too long")]
    assert found({"maxLength": 0}, "a") == [("maxLength", (), "'a' is expected to be empty")]


def test_min_and_max_items_on_arrays_only():
    assert found({"minItems": 1}, []) == [("minItems", (), "[] should be non-empty")]
    assert found({"minItems": 2}, [1]) == [("minItems", (), "[1] is too short")]
    assert found({"minItems": 1}, {}) == found({"minItems": 1}, "") == found({"minItems": 1}, [0]) == []
    assert found({"maxItems": 2}, [1, 2, 3]) == [("maxItems", (), "[1, 2, 3] is too long")]
    assert found({"maxItems": 2}, [1, 2]) == found({"maxItems": 2}, "abc") == []


def test_minimum_and_maximum_on_numbers_only():
    schema = {"type": "number", "minimum": 0.0, "maximum": 100.0}
    assert found(schema, 0) == found(schema, 100) == found(schema, 50.5) == []
    assert found(schema, -0.5) == [("minimum", (), "-0.5 is less than the minimum of 0.0")]
    assert found(schema, 101) == [("maximum", (), "101 is greater than the maximum of 100.0")]
    assert found({"minimum": 0}, True) == found({"minimum": 0}, "-1") == []  # a boolean is not a number
    assert found({"minimum": 0}, float("nan")) == []  # as jsonschema: nan < 0 is false


@pytest.mark.parametrize("number", [21.4, 0, 7, 0.1, 1e30, 10**40, -3.3, 1e-1])
def test_multiple_of_in_decimal(number):
    assert found({"multipleOf": 0.1}, number) == []


@pytest.mark.parametrize("number", [21.45, 0.01, 1.2345e-5, float("inf"), float("-inf"), float("nan")])
def test_not_a_multiple(number):
    assert found({"multipleOf": 0.1}, number) == [("multipleOf", (), f"{number!r} is not a multiple of 0.1")]


def test_multiple_of_ignores_what_is_not_a_number():
    assert found({"multipleOf": 0.1}, "0.05") == found({"multipleOf": 0.1}, True) == []


def test_required_names_every_missing_property_in_schema_order():
    schema = {"type": "object", "required": ["b", "a", "c"]}
    assert found(schema, {"c": 1}) == [
        ("required", (), "'b' is a required property"),
        ("required", (), "'a' is a required property"),
    ]
    assert found(schema, ["b", "a", "c"]) == [("type", (), "['b', 'a', 'c'] is not of type 'object'")]


def test_properties_descend_with_their_path():
    schema = {"properties": {"a": {"properties": {"b": {"type": "integer"}}}, "n": {"type": "string"}}}
    assert found(schema, {"a": {"b": "x"}, "n": 1}) == [
        ("type", ("a", "b"), "'x' is not of type 'integer'"),
        ("type", ("n",), "1 is not of type 'string'"),
    ]
    assert found(schema, {"z": 1}) == found(schema, "not an object") == []


def test_additional_properties_false_lists_extras_sorted():
    schema = {"properties": {"a": {}}, "additionalProperties": False}
    assert found(schema, {"a": 1}) == []
    assert found(schema, {"a": 1, "z": 2}) == [
        ("additionalProperties", (), "Additional properties are not allowed ('z' was unexpected)")
    ]
    assert found(schema, {"y": 1, "x": 2}) == [
        ("additionalProperties", (), "Additional properties are not allowed ('x', 'y' were unexpected)")
    ]
    assert found({"additionalProperties": False}, {"a": 1})[0][0] == "additionalProperties"  # no properties at all


def test_items_descend_with_the_index():
    schema = {"type": "array", "items": {"type": "integer"}, "additionalItems": False}
    assert found(schema, [1, 2]) == []
    assert found(schema, [1, "2", 3, None]) == [
        ("type", (1,), "'2' is not of type 'integer'"),
        ("type", (3,), "None is not of type 'integer'"),
    ]


def test_ref_to_definitions():
    schema = {
        "definitions": {"Id": {"type": "string", "maxLength": 2}, "a/b": {"type": "integer"}},
        "properties": {"id": {"$ref": "#/definitions/Id"}, "n": {"$ref": "#/definitions/a~1b"}},
    }
    assert found(schema, {"id": "ab", "n": 1}) == []
    assert found(schema, {"id": "abc", "n": "1"}) == [
        ("maxLength", ("id",), "'abc' is too long"),
        ("type", ("n",), "'1' is not of type 'integer'"),
    ]


def test_a_schema_may_refer_to_itself():
    tree = {"type": "object", "properties": {"child": {"$ref": "#/definitions/Tree"}}}
    schema = {"definitions": {"Tree": tree}, "properties": {"tree": {"$ref": "#/definitions/Tree"}}}
    assert found(schema, {"tree": {"child": {"child": {}}}}) == []
    assert found(schema, {"tree": {"child": 5}}) == [("type", ("tree", "child"), "5 is not of type 'object'")]


def test_formats_are_checked_only_when_asked():
    schema = {"type": "string", "format": "date-time"}
    assert found(schema, "tomorrow") == []
    formats = {"date-time": is_date_time}
    assert found(schema, "2025-01-31T10:00:00Z", formats=formats) == []
    assert found(schema, "tomorrow", formats=formats) == [("format", (), "'tomorrow' is not a 'date-time'")]
    # a number is not a date-time either: both the type and the format fail, in schema order
    assert [k for k, _, _ in found(schema, 5, formats=formats)] == ["type", "format"]
    assert found({"type": "string", "format": "uri"}, "not a uri", formats=formats) == []  # an annotation


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^a"},
        {"anyOf": [{"type": "string"}]},
        {"minLength": 1},
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "null"},
        {"type": ["string", "integer"]},
        {"enum": ["a", 1]},
        {"additionalProperties": {"type": "string"}},
        {"items": [{"type": "string"}]},
        {"additionalItems": False},
        {"$ref": "#/definitions/Missing"},
        {"$ref": "other.json#/definitions/Id", "definitions": {}},
        {"properties": {"a": {"$ref": "#/definitions/Id", "maxLength": 3}}, "definitions": {"Id": {}}},
        {"properties": {"a": {"definitions": {}}}},
        {"definitions": {"Unused": {"type": "string", "uniqueItems": True}}},  # checked though unused
        {"multipleOf": 0},
        {"maxLength": -1},
        {"$schema": "https://json-schema.org/draft/2020-12/schema"},
    ],
)
def test_anything_outside_the_subset_fails_the_compile(schema):
    with pytest.raises(SchemaUnsupported):
        compile_schema(schema)


def test_annotations_are_allowed():
    schema = {"$schema": DRAFT6, "$id": "urn:x", "title": "t", "description": "d", "comment": "c",
              "javaType": "J", "properties": {"a": {"type": "integer", "default": 0, "description": "d"}}}  # fmt: skip
    assert found(schema, {"a": 1}) == []


def v(path: tuple, keyword: str = "type") -> Violation:
    return Violation(keyword, path, "")


def test_best_is_the_shallowest():
    assert best([v(("a", "b")), v(("c",)), v(("d", 0, "e"))]) == v(("c",))
    assert best([v(("a", "b")), v((), "required")]) == v((), "required")


def test_best_among_siblings_is_the_greatest_path_then_the_first():
    assert best([v(("a",)), v(("b",)), v(("B",))]) == v(("b",))
    assert best([v(("x", 0)), v(("x", 2)), v(("x", 1))]) == v(("x", 2))
    first, second = v((), "required"), v((), "additionalProperties")
    assert best([first, second]) is first
    assert best([]) is None


def test_the_violation_reported_is_the_one_jsonschema_picked():
    # a missing required property at the top beats an enum violation one level down
    rpc = Rpc("1.6")
    violation = rpc.validate("SetChargingProfile", {"csChargingProfiles": {"chargingProfileId": "x"}})
    assert violation is not None
    assert violation.code == "OccurenceConstraintViolation"
    assert violation.description == "payload: 'connectorId' is a required property"
    # among errors at one depth, the greatest path: stackLevel after chargingProfileId
    payload = {"connectorId": 1, "csChargingProfiles": {"chargingProfileId": "x", "stackLevel": "y",
               "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
               "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": []}}}  # fmt: skip
    violation = rpc.validate("SetChargingProfile", payload)
    assert violation is not None
    assert violation.description == "csChargingProfiles/stackLevel: 'y' is not of type 'integer'"


def test_descriptions_are_capped():
    violation = Rpc("1.6").validate("Reset", {"type": "x" * 1000})
    assert violation is not None and len(violation.description) == 255
    assert violation.description.startswith("type: 'xxx")


def charging_profile_frame(limit: str) -> str:
    period = '{"startPeriod": 0, "limit": ' + limit + "}"
    profile = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Absolute", "chargingSchedule": {"chargingRateUnit": "A",
               "chargingSchedulePeriod": ["PERIOD"]}}  # fmt: skip
    frame = json.dumps([2, "u", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}])
    return frame.replace('"PERIOD"', period)


def test_huge_and_infinite_numbers_are_judged_not_raised():
    # The decimal remainder of 1e30 by 0.1 overflowed the decimal context and raised out of parse.
    for limit in ("1e30", "1e308", "1" + "0" * 50):
        assert isinstance(Rpc("1.6").parse(charging_profile_frame(limit), {"SetChargingProfile"}), Call), limit
    for limit in ("Infinity", "-Infinity", "1e400", "NaN"):
        rejected = Rpc("1.6").parse(charging_profile_frame(limit), {"SetChargingProfile"})
        assert isinstance(rejected, Reject) and rejected.code == "PropertyConstraintViolation", limit
