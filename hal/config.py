"""Reading one TOML table into typed values, Klipper-style.

Rules kept here:
- Every error names the file, the section, the key, the bad value and what is allowed.
- A key nobody read is an error (``check_unused``): a typo never falls back to a default.
- Every value read, default or not, is recorded so ``evsed check`` can print the
  effective configuration; values read with ``secret=True`` print as ``"***"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

TYPE_CHECKING = False  # typing: controller/safety/child.py says why
if TYPE_CHECKING:
    from typing import Any

REQUIRED: Any = object()
REDACTED = "***"


class ConfigError(Exception):
    """A configuration problem, worded for the person editing the file."""


class ConfigSection:
    def __init__(self, source: str, name: str, table: dict[str, Any], effective: dict[str, Any]):
        self.source = source
        self.name = name
        self._table = table
        self._effective = effective
        self._read: set[str] = set()
        self._children: list[ConfigSection] = []

    # -- errors ---------------------------------------------------------------
    def error(self, key: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"{self.source}: [{self.name}] {key} = {value!r}: {allowed}")

    # -- typed getters --------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self._table

    def names(self) -> list[str]:
        """The keys written in this section, in file order (for sections keyed by a table)."""
        return list(self._table)

    def _raw(self, key: str, default: Any, secret: bool = False, allowed: str = "") -> Any:
        self._read.add(key)
        if key in self._table:
            value = self._table[key]
        elif default is REQUIRED:
            raise ConfigError(f"{self.source}: [{self.name}] {key} is required{allowed}")
        else:
            value = default
        if value is not None:
            self._effective[key] = REDACTED if secret else value
        return value

    def get_str(
        self,
        key: str,
        default: Any = REQUIRED,
        choices: Iterable[str] | None = None,
        secret: bool = False,
        min_length: int = 0,
        max_length: int | None = None,
    ) -> Any:
        options = list(choices) if choices is not None else None
        allowed = ": one of " + ", ".join(map(repr, options)) if options else ""
        value = self._raw(key, default, secret, allowed)
        if value is None:
            return None
        shown = REDACTED if secret else value
        if not isinstance(value, str):
            raise self.error(key, shown, "expected a string")
        if options is not None and value not in options:
            raise self.error(key, shown, "expected one of " + ", ".join(map(repr, options)))
        if len(value) < min_length or (max_length is not None and len(value) > max_length):
            limit = f"{min_length}..{max_length}" if max_length is not None else f">= {min_length}"
            raise self.error(key, shown, f"expected a length of {limit} characters")
        return value

    def get_value(self, key: str) -> Any:
        """``key``'s value as written (any TOML type), for a reader that checks it later."""
        return self._raw(key, REQUIRED)

    def get_bool(self, key: str, default: Any = REQUIRED) -> bool:
        value = self._raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, value, "expected true or false")
        return value

    def _number(self, key: str, value: Any, kind: type, minval: Any, maxval: Any) -> Any:
        if value is None:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
        if kind is float:
            ok = ok or isinstance(value, float)
        if not ok:
            raise self.error(key, value, f"expected {'a number' if kind is float else 'an integer'}")
        if not math.isfinite(value):
            raise self.error(key, value, "expected a finite number")
        if minval is not None and value < minval:
            raise self.error(key, value, f"expected at least {minval}")
        if maxval is not None and value > maxval:
            raise self.error(key, value, f"expected at most {maxval}")
        return kind(value)

    def get_int(self, key: str, default: Any = REQUIRED, minval: int | None = None, maxval: int | None = None) -> Any:
        return self._number(key, self._raw(key, default), int, minval, maxval)

    def get_float(
        self, key: str, default: Any = REQUIRED, minval: float | None = None, maxval: float | None = None
    ) -> Any:
        return self._number(key, self._raw(key, default), float, minval, maxval)

    def get_list(self, key: str, default: Any = REQUIRED, item: type = str) -> list[Any]:
        value = self._raw(key, default)
        if not isinstance(value, list) or not all(isinstance(v, item) for v in value):
            raise self.error(key, value, f"expected a list of {item.__name__}")
        return list(value)

    # -- nesting --------------------------------------------------------------
    def has_section(self, key: str) -> bool:
        return isinstance(self._table.get(key), dict)

    def section(self, key: str, required: bool = False) -> ConfigSection:
        """A sub-table (``[name.key]``); an absent optional one reads as empty."""
        self._read.add(key)
        table = self._table.get(key, {})
        if key not in self._table and required:
            raise ConfigError(f"{self.source}: [{self.name}.{key}] is required")
        if not isinstance(table, dict):
            raise self.error(key, table, "expected a table")
        child = ConfigSection(self.source, self._child_name(key), table, self._effective.setdefault(key, {}))
        self._children.append(child)
        return child

    def sections(self, key: str) -> list[ConfigSection]:
        """An array of tables (``[[name.key]]``)."""
        self._read.add(key)
        tables = self._table.get(key, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise self.error(key, tables, "expected an array of tables ([[...]])")
        out: list[ConfigSection] = []
        effective_list = self._effective.setdefault(key, [])
        for i, table in enumerate(tables):
            effective_list.append({})
            child = ConfigSection(self.source, f"{self._child_name(key)}[{i}]", table, effective_list[i])
            out.append(child)
        self._children.extend(out)
        return out

    def _child_name(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def check_unused(self) -> None:
        """Reject keys nobody asked for, in this section and every sub-section read."""
        unused = [k for k in self._table if k not in self._read]
        if unused:
            key = unused[0]
            known = sorted(self._read)
            hint = f"unknown key (known here: {', '.join(known)})" if known else "unknown key"
            raise ConfigError(f"{self.source}: [{self.name}] {key} = {self._table[key]!r}: {hint}")
        for child in self._children:
            child.check_unused()


def format_toml(tree: dict[str, Any]) -> str:
    """Render the effective-configuration tree as TOML (tables after plain keys)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return repr(v)

    def emit(prefix: Sequence[str], table: dict[str, Any], array: bool = False) -> None:
        plain = {k: v for k, v in table.items() if not _is_table(v)}
        nested = {k: v for k, v in table.items() if _is_table(v)}
        if prefix and (plain or not nested or array):
            lines.append(("[[" if array else "[") + ".".join(prefix) + ("]]" if array else "]"))
        for k, v in plain.items():
            lines.append(f"{k} = {scalar(v)}")
        if plain or array:
            lines.append("")
        for k, v in nested.items():
            if isinstance(v, list):
                for item in v:
                    emit([*prefix, k], item, array=True)
            elif v:
                emit([*prefix, k], v)

    emit([], tree)
    return "\n".join(lines).rstrip() + "\n"


def _is_table(v: Any) -> bool:
    return isinstance(v, dict) or (isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v))
