"""OCPP 1.6 Smart Charging feature profile: SetChargingProfile, ClearChargingProfile,
GetCompositeSchedule, and the chargingProfile of RemoteStartTransaction.

Rules kept here (OCPP 1.6 sections 3.13, 5.5, 5.7, 5.16, 6.13/14, 6.21/22, 6.43/44; errata 3.25,
3.37, 3.39, 3.41, 3.42):
- Thin: read the payload, judge it with ``controller.smart_charging.validation``, hand it to the
  version-neutral ``ChargingLimits``. The answer to an accepted SetChargingProfile leaves after
  the profile is applied to the pilot and written to SQLite.
- The limits of the judgement are the keys ChargeProfileMaxStackLevel, ChargingScheduleMaxPeriods,
  ChargingScheduleAllowedChargingRateUnit ("Current" = A, "Power" = W) and
  MaxChargingProfilesInstalled, read at each request.
- A connectorId the station does not have gets the CALLERROR PropertyConstraintViolation (errata
  3.39); a field the schema lets through but that is not usable (a dateTime that is not ISO 8601)
  gets TypeConstraintViolation. Everything else gets a status: Rejected or NotSupported.
- A TxProfile is judged against the CSMS's transactionId of the connector's transaction (known
  once StartTransaction is confirmed); an accepted one tells the engine that id.
- ClearChargingProfile removes what matches all given fields (errata 3.25); Unknown when nothing did.
- GetCompositeSchedule: unknown connector or negative duration -> Rejected. Without
  chargingRateUnit the schedule is in A (W when only Power is allowed). At most ``MAX_COMPOSITE_S``
  are reported; the schedule's duration says what was covered.
- RemoteStartTransaction.chargingProfile must be a TxProfile without transactionId (5.16.2, errata
  3.41) that would be accepted on the connector; otherwise the remote start is Rejected. The core
  hands it to the transaction that remote start begins, where it is installed (errata 3.42).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from controller.ocpp.link import Refuse
from controller.ocpp.v16.configuration import Configuration
from controller.smart_charging.enforcement import ChargingLimits
from controller.smart_charging.profiles import (
    PURPOSES_BY_NAME,
    ChargingProfile,
    ProfileFormatError,
    Purpose,
    RateUnit,
    profile_from_dict,
)
from controller.smart_charging.validation import StationContext, Verdict, validate

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.v16.frontend import Handler

log = logging.getLogger(__name__)

Payload = dict[str, Any]
RATE_UNITS = {"Current": RateUnit.A, "Power": RateUnit.W}
MAX_COMPOSITE_S = 31 * 86_400


class SmartCharging:
    """The Smart Charging feature of the 1.6 charge point (a ``frontend.Feature``)."""

    def __init__(
        self,
        limits: ChargingLimits,
        keys: Configuration,
        transaction_of: Callable[[int], Awaitable[int | None]],
    ):
        self.limits = limits
        self.keys = keys
        self.transaction_of = transaction_of
        self.station: Station | None = None

    def handlers(self) -> dict[str, Handler]:
        return {
            "SetChargingProfile": self.set_charging_profile,
            "ClearChargingProfile": self.clear_charging_profile,
            "GetCompositeSchedule": self.get_composite_schedule,
        }

    def attach(self, station: Station) -> None:
        self.station = station
        self.limits.attach(station)

    async def close(self) -> None:
        self.limits.close()

    def _context(self, transactions: dict[int, int | None]) -> StationContext:
        units = self.keys.members("ChargingScheduleAllowedChargingRateUnit")
        return StationContext(
            max_stack_level=self.keys.integer("ChargeProfileMaxStackLevel"),
            max_periods=self.keys.integer("ChargingScheduleMaxPeriods"),
            allowed_units=frozenset(RATE_UNITS[unit] for unit in units),
            max_installed=self.keys.integer("MaxChargingProfilesInstalled"),
            connectors=frozenset(self.station.evse_ids if self.station else ()),
            now=self.limits.now(),
            installed=self.limits.installed,
            transactions=transactions,
        )

    async def _running(self, connector: int) -> dict[int, int | None]:
        """The transaction on ``connector`` as validation sees it: {connector: CSMS id or None}."""
        if self.station is None or connector not in self.station.evse_ids:
            return {}
        if self.station.view(connector).transaction is None:
            return {}
        return {connector: await self.transaction_of(connector)}

    async def set_charging_profile(self, payload: Payload) -> Payload:
        connector = payload["connectorId"]
        if connector != 0 and (self.station is None or connector not in self.station.evse_ids):
            raise Refuse("PropertyConstraintViolation", f"connectorId {connector} does not exist")
        profile = _read(payload["csChargingProfiles"])
        transactions = await self._running(connector)
        verdict = validate(profile, connector, self._context(transactions))
        if not verdict.accepted:
            log.info("SetChargingProfile %s on connector %s: %s", profile.id, connector, _why(verdict))
            return {"status": verdict.status.value}
        transaction_id = transactions.get(connector)
        if transaction_id is not None:
            self.limits.identify_transaction(connector, transaction_id)
        await self.limits.install(connector, profile)
        return {"status": "Accepted"}

    async def clear_charging_profile(self, payload: Payload) -> Payload:
        purpose = payload.get("chargingProfilePurpose")
        removed = await self.limits.clear(
            profile_id=payload.get("id"),
            connector_id=payload.get("connectorId"),
            purpose=None if purpose is None else PURPOSES_BY_NAME[purpose],
            stack_level=payload.get("stackLevel"),
        )
        return {"status": "Accepted" if removed else "Unknown"}

    async def get_composite_schedule(self, payload: Payload) -> Payload:
        connector, duration = payload["connectorId"], payload["duration"]
        if self.station is None or (connector != 0 and connector not in self.station.evse_ids) or duration < 0:
            return {"status": "Rejected"}
        unit = payload.get("chargingRateUnit")
        allowed = self.keys.members("ChargingScheduleAllowedChargingRateUnit")
        rate_unit = RateUnit(unit) if unit is not None else RateUnit.A if "Current" in allowed else RateUnit.W
        running = await self._running(connector)
        transaction = running.get(connector)
        if transaction is not None:
            self.limits.identify_transaction(connector, transaction)
        schedule = self.limits.composite(connector, min(duration, MAX_COMPOSITE_S), rate_unit)
        return {"status": "Accepted", **schedule.to_dict(self.limits.max_amps(connector), self.limits.voltage_v)}

    def remote_start_profile(self, connector: int | None, data: Payload) -> ChargingProfile | None:
        """RemoteStartTransaction.chargingProfile: the profile when it is a TxProfile that would
        be accepted, else None (answer Rejected)."""
        try:
            profile = profile_from_dict(data)
        except ProfileFormatError as exc:
            log.info("RemoteStartTransaction chargingProfile unreadable: %s", exc)
            return None
        if self.station is None or profile.purpose is not Purpose.TX or profile.transaction_id is not None:
            log.info("RemoteStartTransaction chargingProfile must be a TxProfile without transactionId")
            return None
        # Judged as if the transaction had started on the connector (any one will do when none is named).
        target = connector if connector is not None else min(self.station.evse_ids)
        verdict = validate(profile, target, self._context({target: None}))
        if not verdict.accepted:
            log.info("RemoteStartTransaction chargingProfile %s: %s", profile.id, _why(verdict))
            return None
        return profile


def _read(data: Any) -> ChargingProfile:
    try:
        return profile_from_dict(data)
    except ProfileFormatError as exc:
        raise Refuse("TypeConstraintViolation", str(exc)) from exc


def _why(verdict: Verdict) -> str:
    return f"{verdict.status.value} ({verdict.reason})"
