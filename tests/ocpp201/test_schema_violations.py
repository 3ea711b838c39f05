"""Bad input to every handler of the charging station (part 4 section 4.3; DESIGN.md "Bad input gets
a clear answer"): for each action the station answers, payloads its request schema refuses --
nothing, a property the schema does not know, each property of a JSON type it does not allow --
get a CALLERROR with the schema's error code, reach no handler (nothing changes) and leave the
daemon and its connection up. The table is made from the schemas the ``ocpp`` package ships."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ocpp

from ocpp201.harness import MODULE, Harness, unique_id

pytestmark = MODULE
SCHEMAS = Path(ocpp.__file__).parent / "v201" / "schemas"
VIOLATIONS = frozenset(
    {"FormatViolation", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "TypeConstraintViolation"}
)
WRONG = {"string": 7, "integer": "7", "number": "7", "boolean": "true", "array": {"a": 1}, "object": [1]}


def schema(action: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{action}Request.json").read_text(encoding="utf-8-sig"))
    return loaded


def json_type(prop: dict[str, Any], definitions: dict[str, Any]) -> str:
    if "$ref" in prop:
        return json_type(definitions[prop["$ref"].rsplit("/", 1)[1]], definitions)
    return str(prop.get("type", "object"))


def bad_payloads(action: str) -> Iterator[tuple[str, Any, frozenset[str]]]:
    """(what is wrong, the payload, the codes the answer may carry) for ``action``."""
    s = schema(action)
    if s.get("required"):
        yield "nothing", {}, frozenset({"OccurrenceConstraintViolation"})
    yield "an unknown property", {"bogus": 1}, VIOLATIONS if s.get("required") else frozenset({"FormatViolation"})
    yield "not an object", [], frozenset({"FormatViolation"})  # syntactically wrong (part 4 4.3)
    for name, prop in s.get("properties", {}).items():
        wrong = WRONG[json_type(prop, s.get("definitions", {}))]
        yield f"{name} of another type", {name: wrong}, VIOLATIONS


async def test_every_handler_answers_schema_violations_with_the_spec_callerror(cs: Harness) -> None:
    daemon, actions = cs.daemon, sorted(cs.frontend.link.supported)
    assert {"GetLog", "CustomerInformation", "DataTransfer", "UpdateFirmware", "SetVariables"} <= set(actions)
    wrong: list[str] = []
    since = cs.mark()
    for action in actions:
        for what, payload, codes in bad_payloads(action):
            message_id = unique_id()
            answer = await cs.call_raw(json.dumps([2, message_id, action, payload]), message_id)
            if answer[0] != 4 or answer[2] not in codes or not answer[3]:
                wrong.append(f"{action} with {what}: {answer}")
    assert wrong == [], "\n".join(wrong)
    await cs.barrier()  # still answering, and nothing was sent because of the bad requests
    assert [f.action for f in cs.call_frames(since)] == ["Heartbeat"]
    assert cs.daemon is daemon and not daemon.stopping.is_set()
