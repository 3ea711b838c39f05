"""The station's OCPP 1.6 configuration: the key table's values, persisted, with
GetConfiguration / ChangeConfiguration semantics and change listeners.

Rules kept here (OCPP 1.6 edition 2 sections 5.3, 5.8, chapter 9; security whitepaper 7):
- Known keys are the table rows of the wired feature profiles (Core always; "Security" when
  passed); optional rows can also be hidden. Anything else is unknown: GetConfiguration lists
  it in ``unknownKey``, ChangeConfiguration answers NotSupported.
- Key names are case-insensitive wherever they come from (CSMS, station config): ``name_of``
  gives the table's spelling, which is what is stored, reported and listened to.
- A value is: the table default, overridden by the station config, overridden by what the
  CSMS set (persisted in ``config_keys``; only CSMS/API writes are stored).
- ChangeConfiguration: read-only key -> Rejected, value that does not parse -> Rejected (and
  the stored value is untouched), reboot-required key -> stored + RebootRequired, else stored
  + Accepted. Listeners run after the value is committed, so e.g. MeterValueSampleInterval
  re-schedules sampling at once; a failing listener is logged, never undoes the change.
- Write-only keys (AuthorizationKey) are left out of a full GetConfiguration and reported
  without a value when asked for by name. Keys named in ``secrets`` are kept in their own
  0600 file (controller/secret_files.py), never in SQLite; a value left in SQLite by an older
  version is moved there.
- ``guard(name, check)``: ``check(value)`` runs before a ChangeConfiguration is committed; a
  returned reason rejects it (e.g. SecurityProfile prerequisites, whitepaper A05.FR.02-04).
- SupportedFeatureProfiles is computed from what is wired, never stored.
- More keys in a GetConfiguration.req than GetConfigurationMaxKeys -> OccurenceConstraintViolation.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from controller.ocpp.link import Refuse
from controller.ocpp.v16.keys import CHOICES, FEATURE_PROFILES, KEYS, BadValue, Key, Kind, Value, parse, render
from controller.secret_files import read_secret, write_secret
from controller.storage import Database

log = logging.getLogger(__name__)

Listener = Callable[[Value], "Awaitable[None] | None"]
Check = Callable[[Value], "str | None"]
ALWAYS_WIRED = ("Core",)


class Configuration:
    def __init__(
        self,
        db: Database,
        profiles: Iterable[str],
        *,
        measurands: Collection[str] | None = None,
        overrides: Mapping[str, str] | None = None,
        hidden: Iterable[str] = (),
        secrets: Mapping[str, Path] | None = None,
    ):
        """``profiles``: feature profiles actually wired (plus "Security" for the whitepaper
        keys); ``measurands``: what the meter can deliver; ``overrides``: station config."""
        db.migrate("ocpp16_config_keys_0001", "CREATE TABLE config_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.db = db
        wired = set(profiles) | set(ALWAYS_WIRED)
        unknown = wired - set(FEATURE_PROFILES) - {"Security"}
        if unknown:
            raise ValueError(f"unknown feature profiles {sorted(unknown)}; allowed {FEATURE_PROFILES} and Security")
        hide = set(hidden)
        self.keys: dict[str, Key] = {
            k.name: k for k in KEYS if k.profile in wired and not (k.name in hide and not k.required)
        }
        self._names = {name.casefold(): name for name in self.keys}
        self.allowed: dict[str, Collection[str]] = {**CHOICES}
        if measurands is not None:
            self.allowed["measurands"] = tuple(measurands)
        self._listeners: dict[str, list[Listener]] = {}
        self._checks: dict[str, list[Check]] = {}
        self._values: dict[str, Value] = {}
        self._secrets = {name: path for name, path in (secrets or {}).items() if name in self.keys}
        stored = dict(db.run_sync(lambda conn: conn.execute("SELECT name, value FROM config_keys").fetchall()))
        moved = [(name,) for name in self._secrets if name in stored]  # written by a version that kept them in SQLite
        for (name,) in moved:
            write_secret(self._secrets[name], stored[name])
        db.run_sync(lambda conn: conn.executemany("DELETE FROM config_keys WHERE name = ?", moved))
        for name, path in self._secrets.items():
            raw = read_secret(path)
            stored[name] = raw.decode().strip() if raw is not None else ""
        for source in ({k: v.default for k, v in self.keys.items()}, overrides or {}, stored):
            for written, text in source.items():
                known = self.name_of(written)
                if known is None:
                    if source is not stored:  # a station config naming an unknown key is a mistake
                        raise ValueError(f"unknown OCPP 1.6 configuration key {written!r}")
                    continue
                key = self.keys[known]
                if key.kind == "string" and text == "":
                    self._values[known] = ""  # an unset string (e.g. no AuthorizationKey yet)
                    continue
                self._values[known] = parse(key, text, max_items=self._max_items(key), allowed=self.allowed)
        self._values["SupportedFeatureProfiles"] = tuple(p for p in FEATURE_PROFILES if p in wired)

    def _max_items(self, key: Key) -> int | None:
        if key.max_items_key is None:
            return None
        limit = self._values.get(key.max_items_key)
        if limit is None and key.max_items_key in self.keys:
            limit = int(self.keys[key.max_items_key].default)
        return limit if isinstance(limit, int) else None

    def name_of(self, written: str) -> str | None:
        """The table's spelling of a known key written in any letter case (CiString50Type)."""
        return self._names.get(written.casefold())

    # Typed reads, one per kind of key: a name of another kind is a programming error (TypeError),
    # an optional key left unwired reads as ``unwired`` when given (else KeyError).

    def integer(self, name: str, *, unwired: int | None = None) -> int:
        value = self._read(name, "int", unwired)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} holds {value!r}, not an integer")
        return value

    def flag(self, name: str, *, unwired: bool | None = None) -> bool:
        value = self._read(name, "bool", unwired)
        if not isinstance(value, bool):
            raise TypeError(f"{name} holds {value!r}, not a boolean")
        return value

    def text(self, name: str, *, unwired: str | None = None) -> str:
        value = self._read(name, "string", unwired)
        if not isinstance(value, str):
            raise TypeError(f"{name} holds {value!r}, not a string")
        return value

    def members(self, name: str) -> tuple[str, ...]:
        """A comma-separated list key's members."""
        value = self._read(name, "csl", None)
        if not isinstance(value, tuple):
            raise TypeError(f"{name} holds {value!r}, not a list")
        return value

    def _read(self, name: str, kind: Kind, unwired: Value | None) -> Value:
        key = self.keys.get(name)
        if key is None:
            if unwired is None:
                raise KeyError(name)
            return unwired
        if key.kind != kind:
            raise TypeError(f"{name} is of kind {key.kind}, not {kind}")
        return self._values[name]

    def on_change(self, name: str, listener: Listener) -> None:
        """Call ``listener(new_value)`` (sync or async) after each committed change of ``name``."""
        if name not in self.keys:
            raise KeyError(name)
        self._listeners.setdefault(name, []).append(listener)

    def guard(self, name: str, check: Check) -> None:
        """Run ``check(new_value)`` before each change of ``name``; a returned reason rejects it."""
        if name not in self.keys:
            raise KeyError(name)
        self._checks.setdefault(name, []).append(check)

    async def change(self, name: str, text: str, *, restore: bool = False) -> str:
        """Set a key as ChangeConfiguration does; returns the ConfigurationStatus. ``restore``
        is the station's own write-back (a failed SecurityProfile upgrade): no only-raise rule,
        no guards."""
        known = self.name_of(name)
        if known is None:
            return "NotSupported"
        name, key = known, self.keys[known]
        if key.access == "R" and not restore:
            log.info("ChangeConfiguration %s rejected: read-only", name)
            return "Rejected"
        try:
            value = parse(key, text, current=None if restore else self._values.get(name),
                          max_items=self._max_items(key), allowed=self.allowed)  # fmt: skip
        except BadValue as exc:
            log.info("ChangeConfiguration rejected: %s", exc)
            return "Rejected"
        for check in () if restore else self._checks.get(name, ()):
            reason = check(value)
            if reason is not None:
                log.info("ChangeConfiguration %s rejected: %s", name, reason)
                return "Rejected"
        stored = render(key, value)
        if name in self._secrets:
            write_secret(self._secrets[name], stored)
        else:
            await self.db.run(
                lambda conn: conn.execute(
                    "INSERT INTO config_keys VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (name, stored),
                )
            )
        self._values[name] = value
        for listener in self._listeners.get(name, ()):
            try:
                outcome = listener(value)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                log.exception("listener for %s failed", name)
        return "RebootRequired" if key.reboot else "Accepted"

    # ---- OCPP handlers (payloads are the 1.6 JSON dicts) ---------------------------------

    async def get_configuration(self, payload: dict[str, Any]) -> dict[str, Any]:
        requested: list[str] | None = payload.get("key") or None
        limit = self._values.get("GetConfigurationMaxKeys")
        if requested is not None and isinstance(limit, int) and len(requested) > limit:
            raise Refuse("OccurenceConstraintViolation", f"{len(requested)} keys requested, at most {limit}")
        names = requested if requested is not None else [n for n, k in self.keys.items() if k.access != "W"]
        known, unknown = [], []
        for written in names:
            name = self.name_of(written)
            if name is None:
                unknown.append(written)
                continue
            key = self.keys[name]
            if key.access == "W":
                known.append({"key": name, "readonly": False})
            else:
                known.append({"key": name, "readonly": key.access == "R", "value": render(key, self._values[name])})
        response: dict[str, Any] = {}
        if known:
            response["configurationKey"] = known
        if unknown:
            response["unknownKey"] = unknown
        return response

    async def change_configuration(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"status": await self.change(payload["key"], payload["value"])}
