"""JSON Schema validation for the subset the OCPP 1.6 and 2.0.1 message schemas use, sans-I/O.

Rules kept here:
- A schema is compiled once (``compile_schema``) into a tree of closures; validating a payload
  walks it once. The subset is exactly the keywords the schemas shipped in the ``ocpp`` package
  use (``KEYWORDS``); any other keyword, a ``$ref`` that is not a local JSON pointer or has
  siblings, a type or ``$schema`` outside the list fails the compile with ``SchemaUnsupported``:
  nothing in a schema is silently ignored but the annotations (``ANNOTATIONS``).
- The meaning is JSON Schema draft-04 / draft-06 (by ``$schema``; draft-04 when absent) as
  jsonschema implements them (tests/test_ocpp_schema_differential.py holds us to it):
  - every keyword but type / enum / format applies only to its own kind of instance (maxLength
    to strings, minimum to numbers, required to objects, minItems to arrays...);
  - a boolean is not a number; an integer is an int (draft-04), or also a float with an
    integral value (draft-06);
  - ``additionalItems`` means nothing beside a single ``items`` schema (the only form used);
  - a format is checked only when the caller passes a check for it, on any instance (a number
    is not a date-time); other formats (``uri``) are annotations;
  - ``multipleOf`` is decided in decimal: the number as written (``repr``, the shortest decimal
    that reads back as the same float) is an exact multiple of the step, so 21.4 is a multiple
    of 0.1; however large the number (no decimal-context overflow); infinities and NaN are
    multiples of nothing.
- Every violation is reported with jsonschema's keyword, instance path and message wording.
  ``best`` picks the one jsonschema's ``best_match`` picks (its relevance key): the shallowest
  path, among those the greatest path, then the first found (checks run in the schema's key
  order). Its last criterion, a violation whose instance lacks its schema's type first, never
  decides here: without allOf / anyOf one schema node checks each place in the instance, so
  the violations at one path all agree on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fractions import Fraction

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Violation:
    keyword: str  # the schema keyword that failed ("required", "type", "maxLength"...)
    path: Path  # where in the instance: property names and array indices from the root
    message: str  # jsonschema's wording


class SchemaUnsupported(ValueError):
    """The schema uses JSON Schema outside the subset this module implements."""


Node = Callable[[Any, Path, list[Violation]], None]
Check = Callable[[Any], bool]


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# Per draft: type name -> the check that an instance is NOT of that type (the one a type check runs).
_NOT_TYPES_04: dict[str, Check] = {
    "string": lambda x: not isinstance(x, str),
    "object": lambda x: not isinstance(x, dict),
    "array": lambda x: not isinstance(x, list),
    "boolean": lambda x: not isinstance(x, bool),
    "number": lambda x: not _is_number(x),
    "integer": lambda x: not _is_int(x),
}
DRAFTS: dict[str, dict[str, Check]] = {
    "http://json-schema.org/draft-04/schema#": _NOT_TYPES_04,
    "http://json-schema.org/draft-06/schema#": {
        **_NOT_TYPES_04,
        "integer": lambda x: not (_is_int(x) or (isinstance(x, float) and x.is_integer())),
    },
}
ANNOTATIONS = frozenset({"$schema", "$id", "id", "title", "description", "comment", "$comment", "javaType", "default"})


def _as_fraction(number: int | float) -> Fraction | None:
    """The number as written, exactly; None for infinities and NaN."""
    # Here, not at the top: only a schema with multipleOf needs them (0.5 MB an idle daemon spares).
    from decimal import Decimal
    from fractions import Fraction

    if isinstance(number, int):
        return Fraction(number)
    written = Decimal(repr(number))
    return Fraction(written) if written.is_finite() else None


def is_multiple(number: int | float, step: Fraction) -> bool:
    exact = _as_fraction(number)
    return exact is not None and exact % step == 0


@dataclass
class _Compiler:
    root: Mapping[str, Any]
    not_types: Mapping[str, Check]
    formats: Mapping[str, Check]
    refs: dict[str, Node]

    def node(self, schema: Any) -> Node:
        if not isinstance(schema, dict):
            raise SchemaUnsupported(f"a schema must be an object, not {schema!r}")
        if "$ref" in schema:
            if len(schema) > 1:
                raise SchemaUnsupported(f"$ref with siblings {sorted(schema)}")
            return self.ref(schema["$ref"])
        allowed = KEYWORDS.keys() | ANNOTATIONS | ({"definitions"} if schema is self.root else set())
        unknown = schema.keys() - allowed
        if unknown:
            raise SchemaUnsupported(f"keyword(s) {sorted(unknown)} not supported")
        named = schema.get("type")
        if named is not None and (not isinstance(named, str) or named not in self.not_types):
            raise SchemaUnsupported(f"type {named!r} not supported")
        checks = [KEYWORDS[k](self, v, schema) for k, v in schema.items() if k in KEYWORDS]
        live = [c for c in checks if c is not None]
        if len(live) == 1:
            return live[0]

        def run(x: Any, path: Path, out: list[Violation]) -> None:
            for check in live:
                check(x, path, out)

        return run

    def ref(self, pointer: Any) -> Node:
        compiled = self.refs.get(pointer)
        if compiled is not None:
            return compiled
        if not isinstance(pointer, str) or not pointer.startswith("#/"):
            raise SchemaUnsupported(f"$ref {pointer!r}: only local JSON pointers are supported")
        target: Any = self.root
        for part in pointer[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise SchemaUnsupported(f"$ref {pointer!r} points nowhere")
            target = target[part]
        # A schema that refers to itself reaches the node being built through this cell.
        cell: list[Node] = []
        self.refs[pointer] = lambda x, path, out: cell[0](x, path, out)
        cell.append(self.node(target))
        self.refs[pointer] = cell[0]
        return cell[0]


Keyword = Callable[[_Compiler, Any, Mapping[str, Any]], Node | None]


def _check(keyword: str, fails: Check, says: Callable[[Any], str]) -> Node:
    """A check of one value: a violation of ``keyword`` saying ``says(x)`` when ``fails(x)``."""

    def check(x: Any, path: Path, out: list[Violation]) -> None:
        if fails(x):
            out.append(Violation(keyword, path, says(x)))

    return check


def _type(c: _Compiler, named: str, schema: Mapping[str, Any]) -> Node:
    return _check("type", c.not_types[named], lambda x: f"{x!r} is not of type {named!r}")


def _enum(c: _Compiler, values: Any, schema: Mapping[str, Any]) -> Node:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SchemaUnsupported(f"enum {values!r}: only lists of strings are supported")
    allowed = frozenset(values)
    return _check(
        "enum", lambda x: not (isinstance(x, str) and x in allowed), lambda x: f"{x!r} is not one of {values!r}"
    )


def _format(c: _Compiler, name: str, schema: Mapping[str, Any]) -> Node | None:
    valid = c.formats.get(name)
    if valid is None:
        return None
    return _check("format", lambda x: not valid(x), lambda x: f"{x!r} is not a {name!r}")


def _size(keyword: str, kind: type[Sized], most: bool) -> Keyword:
    """A bound on len(): maxLength of strings, minItems / maxItems of arrays (``most``: upper)."""

    def build(c: _Compiler, value: Any, schema: Mapping[str, Any]) -> Node:
        if not _is_int(value) or value < 0:
            raise SchemaUnsupported(f"{keyword} {value!r} is not a count")
        limit = int(value)
        if most:
            words = "is expected to be empty" if limit == 0 else "is too long"
            return _check(keyword, lambda x: isinstance(x, kind) and len(x) > limit, lambda x: f"{x!r} {words}")
        words = "should be non-empty" if limit == 1 else "is too short"
        return _check(keyword, lambda x: isinstance(x, kind) and len(x) < limit, lambda x: f"{x!r} {words}")

    return build


def _bound(keyword: str, words: str, beyond: Callable[[Any, Any], bool]) -> Keyword:
    def build(c: _Compiler, limit: Any, schema: Mapping[str, Any]) -> Node:
        if not _is_number(limit):
            raise SchemaUnsupported(f"{keyword} {limit!r} is not a number")
        return _check(keyword, lambda x: _is_number(x) and beyond(x, limit), lambda x: f"{x!r} is {words} of {limit!r}")

    return build


def _multiple_of(c: _Compiler, step: Any, schema: Mapping[str, Any]) -> Node:
    exact = _as_fraction(step) if _is_number(step) else None
    if exact is None or exact <= 0:
        raise SchemaUnsupported(f"multipleOf {step!r} is not a positive number")
    return _check(
        "multipleOf",
        lambda x: _is_number(x) and not is_multiple(x, exact),
        lambda x: f"{x!r} is not a multiple of {step}",
    )


def _required(c: _Compiler, names: Any, schema: Mapping[str, Any]) -> Node:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SchemaUnsupported(f"required {names!r} is not a list of names")
    every = frozenset(names)

    def check(x: Any, path: Path, out: list[Violation]) -> None:
        if isinstance(x, dict) and not every.issubset(x):
            missing = [n for n in names if n not in x]
            out.extend(Violation("required", path, f"{n!r} is a required property") for n in missing)

    return check


def _properties(c: _Compiler, properties: Any, schema: Mapping[str, Any]) -> Node:
    if not isinstance(properties, dict):
        raise SchemaUnsupported(f"properties {properties!r} is not an object")
    nodes = [(name, c.node(sub)) for name, sub in properties.items()]

    def check(x: Any, path: Path, out: list[Violation]) -> None:
        if isinstance(x, dict):
            for name, node in nodes:
                if name in x:
                    node(x[name], (*path, name), out)

    return check


def _additional_properties(c: _Compiler, allowed: Any, schema: Mapping[str, Any]) -> Node | None:
    if allowed is not False:
        raise SchemaUnsupported(f"additionalProperties {allowed!r}: only false is supported")
    known = frozenset(schema.get("properties", {}))

    def check(x: Any, path: Path, out: list[Violation]) -> None:
        if isinstance(x, dict) and not known.issuperset(x):
            extras = sorted((k for k in x if k not in known), key=str)
            verb = "was" if len(extras) == 1 else "were"
            names = ", ".join(repr(k) for k in extras)
            message = f"Additional properties are not allowed ({names} {verb} unexpected)"
            out.append(Violation("additionalProperties", path, message))

    return check


def _items(c: _Compiler, items: Any, schema: Mapping[str, Any]) -> Node:
    if not isinstance(items, dict):
        raise SchemaUnsupported("items: only a single schema is supported (not a list of them)")
    node = c.node(items)

    def check(x: Any, path: Path, out: list[Violation]) -> None:
        if isinstance(x, list):
            for index, item in enumerate(x):
                node(item, (*path, index), out)

    return check


def _additional_items(c: _Compiler, value: Any, schema: Mapping[str, Any]) -> None:
    if not isinstance(schema.get("items"), dict):
        raise SchemaUnsupported("additionalItems is supported only beside a single items schema")


KEYWORDS: dict[str, Keyword] = {
    "type": _type,
    "enum": _enum,
    "format": _format,
    "maxLength": _size("maxLength", str, most=True),
    "minItems": _size("minItems", list, most=False),
    "maxItems": _size("maxItems", list, most=True),
    "minimum": _bound("minimum", "less than the minimum", lambda x, limit: x < limit),
    "maximum": _bound("maximum", "greater than the maximum", lambda x, limit: x > limit),
    "multipleOf": _multiple_of,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional_properties,
    "items": _items,
    "additionalItems": _additional_items,
}


Validator = Callable[[Any], list[Violation]]


def compile_schema(schema: Mapping[str, Any], formats: Mapping[str, Check] | None = None) -> Validator:
    """A validator for ``schema``: instance in, every violation out (empty when valid).
    ``formats`` maps a format name to its check; formats not named there are not checked."""
    draft = schema.get("$schema", "http://json-schema.org/draft-04/schema#")
    if draft not in DRAFTS:
        raise SchemaUnsupported(f"$schema {draft!r} not supported")
    compiler = _Compiler(schema, DRAFTS[draft], formats or {}, {})
    root = compiler.node(schema)
    for name in schema.get("definitions", {}):  # every definition compiled: its keywords checked now
        compiler.ref(f"#/definitions/{name.replace('~', '~0').replace('/', '~1')}")

    def validate(instance: Any) -> list[Violation]:
        out: list[Violation] = []
        root(instance, (), out)
        return out

    return validate


def _relevance(v: Violation) -> tuple[int, Path]:
    return -len(v.path), v.path


def best(violations: list[Violation]) -> Violation | None:
    """The violation jsonschema's best_match reports (see the module's rules)."""
    return max(violations, key=_relevance, default=None)
