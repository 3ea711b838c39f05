"""What the device model needs to know about OCPP-J frames: their size, and how a request that
breaks a message limit is refused.

Rules kept here (part 2 B06.FR.16/17, B08.FR.17/18; part 4 4.2.1, 4.3):
- A frame's size is its compact JSON (no spaces, UTF-8, as the link writes it) with a message
  id of the longest allowed length (36), so a part sized here fits whatever id it is sent with.
- More items than ItemsPerMessage -> CALLERROR OccurrenceConstraintViolation; a request
  larger than BytesPerMessage -> CALLERROR FormatViolation. SetVariables is held to the same
  rule as GetVariables (B05.FR.11 only forbids the CSMS to send more): one rule, one answer.
- ``Refusal`` carries the RPC error code; the front end turns it into the CALLERROR.
"""

from __future__ import annotations

import json
from typing import Any

LONGEST_ID = "x" * 36
MAX_STATUS_INFO = 512  # StatusInfoType.additionalInfo


class Refusal(Exception):
    """The request is answered with CALLERROR ``code`` instead of a response."""

    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


def encoded_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def frame_bytes(action: str, payload: dict[str, Any]) -> int:
    """Bytes of the CALL frame ``[2, id, action, payload]`` carrying ``payload``."""
    return encoded_size([2, LONGEST_ID, action, payload])


def check_request(action: str, payload: dict[str, Any], items: int, items_limit: int, bytes_limit: int) -> None:
    """Refuse a request with more than ``items_limit`` items or more than ``bytes_limit`` bytes."""
    if items > items_limit:
        raise Refusal(
            "OccurrenceConstraintViolation", f"{items} items in {action}, at most {items_limit} (ItemsPerMessage)"
        )
    size = frame_bytes(action, payload)
    if size > bytes_limit:
        raise Refusal("FormatViolation", f"{action} of {size} bytes, at most {bytes_limit} (BytesPerMessage)")


def status_info(reason_code: str, info: str = "") -> dict[str, str]:
    out = {"reasonCode": reason_code}
    if info:
        out["additionalInfo"] = info[:MAX_STATUS_INFO]
    return out
