"""The rolling security log (whitepaper A04.FR.04): every security event, critical or not.

Rules kept here:
- One JSON object per line: ``{"timestamp", "type", "techInfo", "critical"}``; the file is
  ``security.log`` in the state directory.
- Size-capped: when a line would take the file past ``max_bytes`` it becomes ``security.log.1``
  (replacing the previous one) and a new file starts, so at most twice the cap is kept.
- Events carry no secrets: callers pass reasons, never keys or passwords.
- A write failure is logged and swallowed: the security log never stops the daemon.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class SecurityLog:
    def __init__(self, path: Path, max_bytes: int = 256 * 1024):
        self.path = path
        self.max_bytes = max_bytes

    def append(self, timestamp: str, kind: str, tech_info: str | None, critical: bool) -> None:
        line = json.dumps({"timestamp": timestamp, "type": kind, "techInfo": tech_info, "critical": critical},
                          separators=(",", ":")) + "\n"  # fmt: skip
        data = line.encode()
        try:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size and size + len(data) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with open(self.path, "ab") as f:
                f.write(data)
        except OSError as exc:
            log.error("security log %s not written: %s", self.path, exc)

    def entries(self) -> list[dict[str, Any]]:
        """Every event kept, oldest first (the rotated file, then the current one)."""
        out: list[dict[str, Any]] = []
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            if path.exists():
                out.extend(json.loads(line) for line in path.read_text().splitlines() if line.strip())
        return out
