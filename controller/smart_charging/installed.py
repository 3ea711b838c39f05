"""The installed charging profiles: an immutable value with the spec's install and removal rules.

Rules kept here (OCPP 1.6 sections 3.13.2, 5.16, errata 3.25/3.42; 2.0.1 K01.FR.05, K10):
- Adding a profile replaces any installed profile with the same id, and any with the same
  (purpose, stackLevel, connector). The connector is part of the key so that a connector-specific
  TxDefaultProfile does not remove the connector-0 one (1.6 section 3.13.1: it replaces it only for
  that connector, which is the composite's business).
- A ChargingStationExternalConstraints profile is never replaced by a CSMS profile with the same
  id (K01.FR.05); such a request removes nothing and adds the new profile next to it.
- Clearing matches all given criteria (logical AND, errata 3.25); no criteria clears everything
  the CSMS set. It never removes a ChargingStationExternalConstraints profile (local energy
  management's, K10.FR.04/08/09). It reports whether anything was removed (Unknown otherwise).
- When a transaction ends, the TxProfiles of its connector go (1.6 section 3.13.1).
- A profile whose validTo is not after ``now`` has expired and goes (validity ends at validTo,
  K01.FR.37).
- Every operation returns a new value; nothing is mutated, so the real-time reader can hold one
  snapshot while the protocol side builds the next.
- ``to_dict``/``from_dict`` round-trip for SQLite; each entry mirrors a SetChargingProfile.req.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.smart_charging.profiles import (
    ChargingProfile,
    InstalledProfile,
    ProfileFormatError,
    Purpose,
    profile_from_dict,
    profile_to_dict,
)


def _replaced_by(old: InstalledProfile, new: InstalledProfile) -> bool:
    if old.profile.purpose is Purpose.EXTERNAL_CONSTRAINTS and new.profile.purpose is not Purpose.EXTERNAL_CONSTRAINTS:
        return False
    same_slot = (old.connector_id, old.profile.purpose, old.profile.stack_level) == (
        new.connector_id,
        new.profile.purpose,
        new.profile.stack_level,
    )
    return old.profile.id == new.profile.id or same_slot


@dataclass(frozen=True, slots=True)
class InstalledProfiles:
    entries: tuple[InstalledProfile, ...] = ()

    def __iter__(self) -> Iterator[InstalledProfile]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, connector_id: int, profile: ChargingProfile) -> InstalledProfiles:
        """Install ``profile`` on ``connector_id``, replacing what the spec says it replaces."""
        new = InstalledProfile(connector_id, profile)
        kept = tuple(entry for entry in self.entries if not _replaced_by(entry, new))
        return InstalledProfiles((*kept, new))

    def clear(
        self,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> tuple[InstalledProfiles, bool]:
        """ClearChargingProfile: remove the profiles matching every given criterion; the flag says
        whether any was removed."""

        def matches(entry: InstalledProfile) -> bool:
            pairs = (
                (profile_id, entry.profile.id),
                (connector_id, entry.connector_id),
                (purpose, entry.profile.purpose),
                (stack_level, entry.profile.stack_level),
            )
            external = entry.profile.purpose is Purpose.EXTERNAL_CONSTRAINTS
            return not external and all(wanted is None or wanted == value for wanted, value in pairs)

        kept = tuple(entry for entry in self.entries if not matches(entry))
        return InstalledProfiles(kept), len(kept) != len(self.entries)

    def end_transaction(self, connector_id: int) -> InstalledProfiles:
        """Drop the TxProfiles of the connector whose transaction just ended."""
        return InstalledProfiles(
            tuple(
                entry
                for entry in self.entries
                if not (entry.connector_id == connector_id and entry.profile.purpose is Purpose.TX)
            )
        )

    def expire(self, now: datetime) -> InstalledProfiles:
        """Drop the profiles whose validity ended at or before ``now``."""
        return InstalledProfiles(
            tuple(entry for entry in self.entries if entry.profile.valid_to is None or entry.profile.valid_to > now)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "profiles": [
                {"connectorId": entry.connector_id, "csChargingProfiles": profile_to_dict(entry.profile)}
                for entry in self.entries
            ]
        }

    @classmethod
    def from_dict(cls, data: Any) -> InstalledProfiles:
        """Read what ``to_dict`` wrote; raises ``ProfileFormatError`` naming the bad entry."""
        if not isinstance(data, Mapping) or not isinstance(data.get("profiles"), list):
            raise ProfileFormatError(f"installed profiles: expected {{'profiles': [...]}}, got {data!r}")
        entries = []
        for index, item in enumerate(data["profiles"]):
            connector = item.get("connectorId") if isinstance(item, Mapping) else None
            if isinstance(connector, bool) or not isinstance(connector, int):
                raise ProfileFormatError(f"profiles[{index}].connectorId: expected an integer, got {connector!r}")
            try:
                profile = profile_from_dict(item.get("csChargingProfiles"))
            except ProfileFormatError as error:
                raise ProfileFormatError(f"profiles[{index}]: {error}") from error
            entries.append(InstalledProfile(connector, profile))
        return cls(tuple(entries))
