"""OCPP-J RPC framing, sans-I/O: text in, decisions out; no sockets, no clocks.

Rules kept here (OCPP-J 1.6 section 4 + its errata; OCPP 2.0.1 part 4 section 4):
- A frame is ``[2, id, action, {payload}]`` (CALL), ``[3, id, {payload}]`` (CALLRESULT) or
  ``[4, id, code, description, {details}]`` (CALLERROR). A payload of ``null`` means ``{}``.
- Every CALL we cannot use gets a CALLERROR back, never silence. Which code depends on the
  version (the table ``DIALECTS``): 1.6 has no RpcFrameworkError / MessageTypeNotSupported and
  spells FormationViolation and OccurenceConstraintViolation (errata 5.1/5.2: "do not fix").
- When the message id cannot be read (not JSON, not an array, id not a string) the CALLERROR
  carries "-1" (OCPP-J 2.0.1 section 4.2.3; the 1.6 documents are silent, so both versions
  follow the 2.0.1 rule, which is also what 1.6 CSMSs in the field expect).
- A broken CALLRESULT / CALLERROR is never answered (answering a response invites an
  endless error ping-pong); it is reported so the waiting CALL can fail.
- Only UTF-8 JSON text is OCPP-J (4.1.2): a binary websocket frame is never executed; it is
  answered like unreadable JSON. (Invalid UTF-8 in a text frame never gets here: the websocket
  layer fails the connection with 1007, RFC 6455 section 8.1.)
- A MessageTypeId that is an integer other than 2, 3, 4 is ignored (OCPP-J 4.1.3: "it SHALL
  ignore the message payload"); 2.0.1, which has a code for it, answers MessageTypeNotSupported.
- Nesting is bounded before the JSON parser runs (``MAX_DEPTH``; OCPP's deepest message needs
  7 levels), in linear time: a frame nested deeper, like one larger than ``max_frame_bytes``,
  is judged by its head alone (``[2, "id"`` gets a CALLERROR, a response fails the waiting CALL).
- Unknown action -> NotImplemented; known action the station does not handle -> NotSupported
  (the spec's meaning; the ``ocpp`` package has these swapped). Both are decided before the
  schema is looked at.
- Payloads are checked by ``controller.ocpp.schema`` (the JSON Schema subset the OCPP schemas
  use, with jsonschema's meaning; the violation reported is the one its best_match picks).
  Schema violations map from the keyword: required/minItems/maxItems ->
  occurrence, type/format -> type, enum/length/pattern/range/multipleOf -> property,
  anything structural (additionalProperties...) -> formation/format violation.
- ``format: date-time`` is checked with the station's one timestamp rule (``clock.parse_time``:
  RFC 3339 with seconds and offset), so a bad date-time gets TypeConstraintViolation in every
  request alike. Responses to our CALLs are read without format checks (field CSMSs send
  naive times; their readers take them as UTC).
- Validators are built once per (version, action, direction) and run synchronously.
  ``multipleOf`` is checked in decimal so that 21.4 is a multiple of 0.1, exactly however large
  the number (a limit of 1e30 or Infinity is judged, never an exception).
- Our own outgoing payloads are validated too: an invalid one is a bug in evsed and raises
  ``PayloadInvalid`` instead of reaching the wire.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Container
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import ocpp

from controller.clock import is_date_time
from controller.ocpp.schema import Validator, best, compile_schema

log = logging.getLogger(__name__)

CALL, CALLRESULT, CALLERROR = 2, 3, 4
UNREADABLE_ID = "-1"
MAX_ID_LENGTH = 36
MAX_DESCRIPTION = 255  # OCPP-J 2.0.1 table 7; harmless for 1.6
MAX_DEPTH = 32  # nested arrays / objects in one frame


@dataclass(frozen=True)
class Dialect:
    """What differs between OCPP-J versions at the framing level."""

    version: str
    subprotocol: str
    schema_dir: str
    request_suffix: str  # schema file name suffix of a request
    format_violation: str
    occurrence_violation: str
    rpc_framework_error: str  # frame is not a usable RPC (id/action unreadable, wrong shape)
    message_type_error: str | None  # MessageTypeId not 2, 3 or 4 (None: ignore the frame)
    incomplete: str  # CALL with elements missing
    error_codes: frozenset[str]


_COMMON_CODES = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "PropertyConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}

DIALECTS: dict[str, Dialect] = {
    "1.6": Dialect(
        version="1.6",
        subprotocol="ocpp1.6",
        schema_dir="v16",
        request_suffix="",
        format_violation="FormationViolation",
        occurrence_violation="OccurenceConstraintViolation",
        # 1.6 has only "syntactically incorrect or not conform the PDU structure" for a broken frame,
        rpc_framework_error="FormationViolation",
        message_type_error=None,
        # ... and "Payload for Action is incomplete" for a CALL that lacks elements.
        incomplete="ProtocolError",
        error_codes=frozenset(_COMMON_CODES | {"FormationViolation", "OccurenceConstraintViolation"}),
    ),
    "2.0.1": Dialect(
        version="2.0.1",
        subprotocol="ocpp2.0.1",
        schema_dir="v201",
        request_suffix="Request",
        format_violation="FormatViolation",
        occurrence_violation="OccurrenceConstraintViolation",
        rpc_framework_error="RpcFrameworkError",
        message_type_error="MessageTypeNotSupported",
        incomplete="RpcFrameworkError",
        error_codes=frozenset(
            _COMMON_CODES
            | {"FormatViolation", "OccurrenceConstraintViolation", "RpcFrameworkError", "MessageTypeNotSupported"}
        ),
    ),
}

# schema keyword -> which of the dialect's codes (attribute name or literal code).
_KEYWORD_CODES = {
    "required": "occurrence_violation",
    "minItems": "occurrence_violation",
    "maxItems": "occurrence_violation",
    "type": "TypeConstraintViolation",
    "format": "TypeConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "maxLength": "PropertyConstraintViolation",
    "minLength": "PropertyConstraintViolation",
    "pattern": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "exclusiveMinimum": "PropertyConstraintViolation",
    "exclusiveMaximum": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "const": "PropertyConstraintViolation",
}

# MessageTypeId and id, read from the head of a frame too large or too deep to parse.
_HEAD = re.compile(r'\s*\[\s*(\d+)\s*,\s*"([^"\\]{1,36})"')
# For the nesting bound: JSON strings (an unterminated one runs to the end, so every match
# succeeds and the scan stays linear), then everything but brackets.
_STRINGS = re.compile(r'"(?:[^"\\]++|\\.?)*+"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]++")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reject:
    """An incoming frame we cannot use. ``reply`` is the CALLERROR frame to send, or None
    when the broken frame was itself a response (those are never answered)."""

    unique_id: str
    code: str
    description: str
    reply: str | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """An incoming frame the spec says to ignore (unknown MessageTypeId in 1.6): no answer."""

    unique_id: str
    description: str


@dataclass(frozen=True, slots=True)
class Violation:
    code: str
    description: str


class PayloadInvalid(ValueError):
    """Our own outgoing payload violates the schema: a bug in evsed, never sent."""


Incoming = Call | CallResult | CallError | Reject | Ignored


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when ``text`` nests arrays / objects more than ``limit`` deep (strings ignored).
    Linear time, and nearly free for frames with few brackets."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > limit


_SCHEMA_ROOT = Path(ocpp.__file__).parent


@cache
def _schema_names(schema_dir: str) -> frozenset[str]:
    return frozenset(p.stem for p in (_SCHEMA_ROOT / schema_dir / "schemas").glob("*.json"))


_FORMATS = {"date-time": is_date_time}


@cache
def _validator(schema_dir: str, schema_name: str, formats: bool) -> Validator:
    path = _SCHEMA_ROOT / schema_dir / "schemas" / f"{schema_name}.json"
    schema = json.loads(path.read_text(encoding="utf-8-sig"))  # 2.0.1 schemas start with a BOM
    return compile_schema(schema, _FORMATS if formats else None)


def _dumps(frame: list[Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class Rpc:
    """OCPP-J for one version: parse incoming frames, validate payloads, build frames."""

    def __init__(self, version: str = "1.6", *, max_frame_bytes: int = 65536):
        self.dialect = DIALECTS[version]
        self.max_frame_bytes = max_frame_bytes
        names = _schema_names(self.dialect.schema_dir)
        suffix = self.dialect.request_suffix
        self.actions: frozenset[str] = frozenset(
            n.removesuffix(suffix) for n in names if not n.endswith("Response") and n.endswith(suffix)
        )

    # ---- validation ---------------------------------------------------------------------

    def _schema_name(self, action: str, response: bool) -> str:
        return action + ("Response" if response else self.dialect.request_suffix)

    def validate(self, action: str, payload: Any, *, response: bool = False, formats: bool = True) -> Violation | None:
        """Check a request (or response) payload of ``action`` against its schema; ``formats``
        False skips the format checks (for the CSMS's responses)."""
        error = best(_validator(self.dialect.schema_dir, self._schema_name(action, response), formats)(payload))
        if error is None:
            return None
        code = _KEYWORD_CODES.get(error.keyword, "format_violation")
        code = getattr(self.dialect, code, code)
        where = "/".join(str(p) for p in error.path) or "payload"
        return Violation(code, f"{where}: {error.message}"[:MAX_DESCRIPTION])

    # ---- parsing ------------------------------------------------------------------------

    def _reject(self, unique_id: str, code: str, description: str, answer: bool = True) -> Reject:
        reply = self.error(unique_id, code, description) if answer else None
        return Reject(unique_id, code, description, reply)

    def _judge_head(self, head: str, description: str) -> Incoming:
        """A frame we will not parse (too large, too deep): decide from its first bytes."""
        d = self.dialect
        match = _HEAD.match(head)
        if match is None:
            return self._reject(UNREADABLE_ID, d.format_violation, description)
        kind, uid = int(match[1]), match[2]
        if kind not in (CALL, CALLRESULT, CALLERROR):
            return self._unknown_type(uid, kind)
        return self._reject(uid, d.format_violation, description, answer=kind == CALL)

    def _unknown_type(self, uid: str, kind: int) -> Incoming:
        code = self.dialect.message_type_error
        if code is None:
            return Ignored(uid, f"MessageTypeId {kind} is not 2, 3 or 4")
        return self._reject(uid, code, f"MessageTypeId {kind} not supported")

    def parse(self, frame: str | bytes, supported: Container[str]) -> Incoming:
        """Turn one websocket message (``bytes`` for a binary frame) into a Call / CallResult /
        CallError, a Reject holding the CALLERROR to send, or Ignored. ``supported`` are the
        actions the station handles."""
        d = self.dialect
        if isinstance(frame, bytes):
            return self._reject(UNREADABLE_ID, d.rpc_framework_error, "binary frame: OCPP-J messages are UTF-8 text")
        size = len(frame.encode("utf-8", "replace"))
        if size > self.max_frame_bytes:
            return self._judge_head(frame[:200], f"frame of {size} bytes exceeds {self.max_frame_bytes}")
        if too_deep(frame):
            return self._judge_head(frame[:200], f"frame nested deeper than {MAX_DEPTH} levels")
        try:
            message = json.loads(frame)
        except ValueError as exc:
            return self._reject(UNREADABLE_ID, d.rpc_framework_error, f"not valid JSON: {exc}"[:MAX_DESCRIPTION])
        if not isinstance(message, list) or not message:
            return self._reject(UNREADABLE_ID, d.rpc_framework_error, "frame is not a non-empty JSON array")
        kind = message[0]
        uid = message[1] if len(message) > 1 and isinstance(message[1], str) else UNREADABLE_ID
        if type(kind) is not int:  # bool is an int subclass; true is not a MessageTypeId
            return self._reject(uid, d.rpc_framework_error, "MessageTypeId is not an integer")
        if kind not in (CALL, CALLRESULT, CALLERROR):
            return self._unknown_type(uid, kind)
        answer = kind == CALL
        if uid == UNREADABLE_ID or len(uid) > MAX_ID_LENGTH:
            return self._reject(uid, d.rpc_framework_error, "message id missing, not a string or too long", answer)
        if kind == CALL:
            return self._parse_call(message, supported)
        if kind == CALLRESULT:
            if len(message) != 3:
                return self._reject(uid, d.rpc_framework_error, "CALLRESULT needs 3 elements", answer=False)
            payload = {} if message[2] is None else message[2]
            if not isinstance(payload, dict):
                return self._reject(uid, d.format_violation, "payload is not a JSON object", answer=False)
            return CallResult(uid, payload)
        if len(message) != 5 or not isinstance(message[2], str) or not isinstance(message[3], str):
            return self._reject(uid, d.rpc_framework_error, "CALLERROR needs [4, id, code, description, {}]", False)
        details = message[4] if isinstance(message[4], dict) else {"details": message[4]}
        return CallError(uid, message[2], message[3], details)

    def _parse_call(self, message: list[Any], supported: Container[str]) -> Incoming:
        d = self.dialect
        uid = message[1]
        if len(message) < 4:
            return self._reject(uid, d.incomplete, f"CALL needs 4 elements, got {len(message)}")
        if len(message) > 4:
            return self._reject(uid, d.rpc_framework_error, f"CALL needs 4 elements, got {len(message)}")
        action, payload = message[2], message[3]
        if not isinstance(action, str):
            return self._reject(uid, d.rpc_framework_error, "action is not a string")
        if action not in self.actions:
            return self._reject(uid, "NotImplemented", f"{action} is not a known action")
        if action not in supported:
            return self._reject(uid, "NotSupported", f"{action} is not supported by this station")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            return self._reject(uid, d.format_violation, "payload is not a JSON object")
        violation = self.validate(action, payload)
        if violation:
            return self._reject(uid, violation.code, violation.description)
        return Call(uid, action, payload)

    # ---- building -----------------------------------------------------------------------

    def call(self, action: str, payload: dict[str, Any], unique_id: str | None = None) -> tuple[str, str]:
        """A CALL frame: (unique_id, text). Raises PayloadInvalid for an invalid payload."""
        if action not in self.actions:
            raise PayloadInvalid(f"{action} is not an OCPP {self.dialect.version} action")
        violation = self.validate(action, payload)
        if violation:
            log.error("refusing to send invalid %s: %s", action, violation.description)
            raise PayloadInvalid(f"{action}: {violation.description}")
        unique_id = unique_id or str(uuid.uuid4())
        return unique_id, _dumps([CALL, unique_id, action, payload])

    def result(self, unique_id: str, action: str, payload: dict[str, Any]) -> str:
        """A CALLRESULT frame answering ``action``. Raises PayloadInvalid for an invalid payload."""
        violation = self.validate(action, payload, response=True)
        if violation:
            log.error("refusing to send invalid %s response: %s", action, violation.description)
            raise PayloadInvalid(f"{action} response: {violation.description}")
        return _dumps([CALLRESULT, unique_id, payload])

    def error(self, unique_id: str, code: str, description: str = "", details: dict[str, Any] | None = None) -> str:
        if code not in self.dialect.error_codes:
            raise ValueError(f"{code} is not an OCPP {self.dialect.version} error code")
        return _dumps([CALLERROR, unique_id, code, description[:MAX_DESCRIPTION], details or {}])
