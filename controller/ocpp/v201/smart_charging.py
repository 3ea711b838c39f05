"""Smart charging (part 2 K01 SetChargingProfile, K08 GetCompositeSchedule, K09
GetChargingProfiles, K10 ClearChargingProfile; F01 the profile of a RequestStartTransaction) on
the version-neutral engine (controller/smart_charging/).

Rules kept here:
- Thin: read the payload (profile_json.py), judge it with the neutral ``validate`` plus the
  2.0.1 rules of ``CHECKS`` below, hand it to ``ChargingLimits``, which applies it to the pilot
  and writes it to SQLite before the answer leaves (K01.FR.07, K01.FR.27).
- The judgement's limits come from the device model: SmartChargingCtrlr.ProfileStackLevel,
  PeriodsPerSchedule, RateUnit, and the maxLimit of Entries[ChargingProfiles]. A status is
  Accepted or Rejected (2.0.1 has no NotSupported: a unit outside RateUnit is Rejected,
  K01.FR.26), with a statusInfo reasonCode saying why. With SmartChargingCtrlr.Enabled false
  every K request is answered with the CALLERROR NotSupported (K01.FR.29).
- 2.0.1 rules on top of the neutral ones: an EVSE that does not exist (K01.FR.28); a TxProfile
  names the transaction running on its EVSE, by the station's transactionId (K01.FR.03/09/33);
  one chargingSchedule (K01.FR.34: several only with ISO 15118, not spoken here); a TxDefault
  on EVSE 0 beside one of the same stackLevel on an EVSE, or the other way round, with another
  id: DuplicateProfile (K01.FR.52/53); numberPhases below the phases an EVSE has cannot be
  ensured (the pilot offers current, not phases: K01.FR.43) unless the EVSE has a phase switch
  (SmartChargingCtrlr.Phases3to1): numberPhases 1 then switches it to one phase through energy
  management's switch sequence (controller/energy/site.py), never under load; above them it is
  imposed as the EVSE's (K01.FR.45), absent it is 3 (K01.FR.49); phaseToUse only with
  numberPhases 1 (K01.FR.19) on an EVSE that is single-phase anyway or switched to one phase,
  phase 1 (its L1; K01.FR.46/48: no ACPhaseSwitchingSupported here).
- A TxDefaultProfile on EVSE 0 applies to every EVSE without copies (K01.FR.14): the engine
  reads it from EVSE 0 for each of them.
- ClearChargingProfile: by id, or by the criteria (all must match, K10.FR.04); never a
  ChargingStationExternalConstraints profile (K10.FR.03/08/09: Unknown); nothing cleared: Unknown.
- GetChargingProfiles: the profiles on the EVSE asked for (0: the station's own; none: all,
  K09.FR.04-06) that match every criterion, the limit source of a profile being EMS for
  ChargingStationExternalConstraints (local energy management's, external_limits.py) and CSO
  for what the CSMS set. Answered Accepted (or
  NoProfiles) first, then one ReportChargingProfiles per (EVSE, source) with the requestId, all
  but the last with tbc (K09.FR.01/02).
- GetCompositeSchedule: from the request's receipt for its duration, in the unit asked for
  (A when none; one outside RateUnit: Rejected, K08.FR.07), an unknown EVSE Rejected (K08.FR.05).
  An EVSE without a transaction is reported as if one started now under its TxDefaultProfile
  (K08.FR.06); EVSE 0 is the total the station expects to draw (K08.FR.03): the sum of the
  EVSEs' schedules under the station-wide cap. Local energy management's constraint counts as
  the EVSE's ChargingStationExternalConstraints. Periods without a profile limit report the
  hardware's maximum.
- RequestStartTransaction.chargingProfile: a TxProfile without transactionId (F01.FR.09/11)
  that would be accepted on the EVSE, else the request is Rejected; it is installed on the
  transaction the remote start begins, or on the one it authorizes when the plug-in started it
  (F01.FR.10/13).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from itertools import groupby
from typing import TYPE_CHECKING, Any

from controller.ocpp.link import CallFailed, Refuse, Reply
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.framing import status_info
from controller.ocpp.v201.profile_json import PURPOSE_OF, profile_from_json, profile_to_json
from controller.smart_charging.composite import STATION_WIDE, CompositeSchedule, composite_schedule, station_total
from controller.smart_charging.enforcement import ChargingLimits
from controller.smart_charging.profiles import (
    ChargingProfile,
    InstalledProfile,
    ProfileFormatError,
    Purpose,
    RateUnit,
)
from controller.smart_charging.validation import ProfileStatus, StationContext, validate

if TYPE_CHECKING:
    from controller.core.station import Station
    from controller.ocpp.link import Link

log = logging.getLogger(__name__)

Payload = dict[str, Any]
ENABLED = "SmartChargingCtrlr.Enabled"
STACK_LEVEL = "SmartChargingCtrlr.ProfileStackLevel"
PERIODS = "SmartChargingCtrlr.PeriodsPerSchedule"
RATE_UNIT = "SmartChargingCtrlr.RateUnit"
MAX_COMPOSITE_S = 31 * 86_400
DEFAULT_PHASES = 3  # K01.FR.49
CSO, EMS = "CSO", "EMS"


@dataclass(frozen=True)
class Request:
    """A SetChargingProfile as the 2.0.1 checks see it."""

    evse: int
    profile: ChargingProfile
    schedules: int  # how many chargingSchedules the request carried
    phases: dict[int, int]  # the phases of each EVSE (id > 0)
    running: dict[int, str]  # EVSE -> the transaction running there
    installed: tuple[InstalledProfile, ...]
    switchable: frozenset[int] = frozenset()  # EVSEs with a phase switch (3 -> 1)


def _exists(r: Request) -> tuple[str, str] | None:
    if r.evse != 0 and r.evse not in r.phases:
        return "UnknownEVSE", f"EVSE {r.evse} does not exist"
    return None


def _one_schedule(r: Request) -> tuple[str, str] | None:
    if r.schedules > 1:
        return "InvalidSchedule", "more than one chargingSchedule needs ISO 15118, which this station does not use"
    return None


def _transaction(r: Request) -> tuple[str, str] | None:
    if r.profile.purpose is not Purpose.TX:
        return None
    if r.evse == 0:
        return "InvalidValue", "a TxProfile is set on an EVSE > 0"
    if r.profile.transaction_id is None:
        return "TxNotFound", "a TxProfile names its transactionId"
    if r.running.get(r.evse) != r.profile.transaction_id:
        return "TxNotFound", f"transaction {r.profile.transaction_id} does not run on EVSE {r.evse}"
    return None


def _duplicate(r: Request) -> tuple[str, str] | None:
    profile = r.profile
    if profile.purpose is not Purpose.TX_DEFAULT:
        return None
    for entry in r.installed:
        other = entry.profile
        same = other.purpose is Purpose.TX_DEFAULT and other.stack_level == profile.stack_level
        across = (entry.connector_id == 0) != (r.evse == 0)
        if same and across and other.id != profile.id:
            where = f"on EVSE {entry.connector_id}"
            return "DuplicateProfile", f"TxDefaultProfile {other.id} has stackLevel {other.stack_level} {where}"
    return None


def _phases(r: Request) -> tuple[str, str] | None:
    evses = list(r.phases) if r.evse == 0 else [r.evse]
    # What the EVSEs cannot go below: their wired phases, 1 where a phase switch can take them there.
    most = max((1 if e in r.switchable else r.phases[e] for e in evses), default=DEFAULT_PHASES)
    for period in r.profile.schedule.periods:
        wanted = period.number_phases if period.number_phases is not None else DEFAULT_PHASES
        if wanted < most:
            return "InvalidValue", f"numberPhases {wanted}: the station cannot keep an EVSE of {most} phases to fewer"
        if period.phase_to_use is not None and (wanted != 1 or most != 1 or period.phase_to_use != 1):
            return "InvalidValue", f"phaseToUse {period.phase_to_use}: no phase switching (1-phase EVSEs use phase 1)"
    return None


Check = Callable[[Request], tuple[str, str] | None]
CHECKS: tuple[Check, ...] = (_exists, _one_schedule, _transaction, _duplicate, _phases)


def _rejected(reason: str, info: str) -> Payload:
    return {"status": "Rejected", "statusInfo": status_info(reason, info)}


def _source(entry: InstalledProfile) -> str:
    return EMS if entry.profile.purpose is Purpose.EXTERNAL_CONSTRAINTS else CSO


def _matches(entry: InstalledProfile, evse: int | None, criteria: Payload) -> bool:
    profile = entry.profile
    ids, sources = criteria.get("chargingProfileId"), criteria.get("chargingLimitSource")
    purpose = criteria.get("chargingProfilePurpose")
    return (
        (evse is None or entry.connector_id == evse)
        and (ids is None or profile.id in ids)
        and (sources is None or _source(entry) in sources)
        and (purpose is None or PURPOSE_OF[purpose] is profile.purpose)
        and (criteria.get("stackLevel") is None or criteria["stackLevel"] == profile.stack_level)
    )


class SmartCharging:
    def __init__(self, station: Station, limits: ChargingLimits, model: DeviceModel, link: Link, max_entries: int,
                 external: Callable[[], tuple[InstalledProfile, ...]] = tuple,
                 switchable: frozenset[int] = frozenset()):  # fmt: skip
        self.station, self.limits, self.model, self.link = station, limits, model, link
        self.max_entries, self.switchable = max_entries, switchable
        self.external = external  # local energy management's ChargingStationExternalConstraints (external_limits.py)

    def handlers(self) -> dict[str, Callable[[Payload], Awaitable[Payload | Reply]]]:
        return {
            "SetChargingProfile": self.set_charging_profile,
            "ClearChargingProfile": self.clear_charging_profile,
            "GetChargingProfiles": self.get_charging_profiles,
            "GetCompositeSchedule": self.get_composite_schedule,
        }

    def attach(self) -> None:
        self.limits.attach(self.station)

    @property
    def entries(self) -> int:
        """SmartChargingCtrlr.Entries[ChargingProfiles]: the profiles installed now."""
        return len(self.limits.installed)

    def _enabled(self) -> None:
        if self.model.value(ENABLED) is False:
            raise Refuse("NotSupported", "smart charging is disabled (SmartChargingCtrlr.Enabled)")

    def _units(self) -> frozenset[RateUnit]:
        units = self.model.value(RATE_UNIT)
        return frozenset(RateUnit(u) for u in (units if isinstance(units, tuple) else ()))

    def _context(self, running: dict[int, str]) -> StationContext:
        return StationContext(
            max_stack_level=self.model.limit(STACK_LEVEL),
            max_periods=self.model.limit(PERIODS),
            allowed_units=self._units(),
            max_installed=self.max_entries,
            connectors=frozenset(self.station.evse_ids),
            now=self.limits.now(),
            installed=self.limits.installed,
            transactions=running,
        )

    def _running(self) -> dict[int, str]:
        return {v.id: v.transaction.id for v in self.station.views() if v.transaction is not None}

    def judge(self, evse: int, data: Payload, running: dict[int, str]) -> tuple[ChargingProfile | None, Payload]:
        """The profile and the answer to installing ``data`` on ``evse`` (Accepted or Rejected)."""
        try:
            profile = profile_from_json(data)
        except ProfileFormatError as exc:
            return None, _rejected("InvalidValue", str(exc))
        phases = {v.id: v.phases for v in self.station.views()}
        request = Request(evse, profile, len(data["chargingSchedule"]), phases, running, self.limits.installed.entries,
                          self.switchable)  # fmt: skip
        for check in CHECKS:
            refused = check(request)
            if refused is not None:
                return None, _rejected(*refused)
        verdict = validate(profile, evse, self._context(running))
        if not verdict.accepted:
            unsupported = verdict.status is ProfileStatus.NOT_SUPPORTED
            return None, _rejected("UnsupportedRateUnit" if unsupported else "InvalidSchedule", verdict.reason)
        return profile, {"status": "Accepted"}

    async def set_charging_profile(self, payload: Payload) -> Payload:
        self._enabled()
        evse = payload["evseId"]
        running = self._running()
        profile, answer = self.judge(evse, payload["chargingProfile"], running)
        if profile is None:
            log.info("SetChargingProfile on EVSE %s: %s", evse, answer["statusInfo"])
            return answer
        if evse in running:
            self.limits.identify_transaction(evse, running[evse])
        await self.limits.install(evse, profile)
        return answer

    async def clear_charging_profile(self, payload: Payload) -> Payload:
        self._enabled()
        criteria = payload.get("chargingProfileCriteria") or {}
        purpose = criteria.get("chargingProfilePurpose")
        if payload.get("chargingProfileId") is not None:
            removed = await self.limits.clear(profile_id=payload["chargingProfileId"])
        elif purpose is not None and PURPOSE_OF[purpose] is Purpose.EXTERNAL_CONSTRAINTS:
            removed = False  # K10.FR.06/08: the CSMS does not clear local energy management's limits
        else:
            removed = await self.limits.clear(
                connector_id=criteria.get("evseId"),
                purpose=None if purpose is None else PURPOSE_OF[purpose],
                stack_level=criteria.get("stackLevel"),
            )
        return {"status": "Accepted" if removed else "Unknown"}

    async def get_charging_profiles(self, payload: Payload) -> Payload | Reply:
        self._enabled()
        request_id, evse = payload["requestId"], payload.get("evseId")
        every = (*self.limits.installed, *self.external())
        found = [e for e in every if _matches(e, evse, payload["chargingProfile"])]
        if not found:
            return {"status": "NoProfiles"}
        key: Callable[[InstalledProfile], tuple[int, str]] = lambda e: (e.connector_id, _source(e))  # noqa: E731
        groups = [(k, [e.profile for e in g]) for k, g in groupby(sorted(found, key=key), key=key)]

        async def report() -> None:
            for index, ((evse_id, source), profiles) in enumerate(groups):
                part: Payload = {"requestId": request_id, "chargingLimitSource": source, "evseId": evse_id,
                                 "chargingProfile": [profile_to_json(p) for p in profiles]}  # fmt: skip
                if index < len(groups) - 1:
                    part["tbc"] = True
                try:
                    await self.link.call("ReportChargingProfiles", part)
                except CallFailed as exc:
                    log.warning("ReportChargingProfiles %s ended at EVSE %s: %s", request_id, evse_id, exc)
                    return

        return Reply({"status": "Accepted"}, after=report)

    async def get_composite_schedule(self, payload: Payload) -> Payload:
        self._enabled()
        evse, duration = payload["evseId"], payload["duration"]
        unit = RateUnit(payload.get("chargingRateUnit", RateUnit.A.value))
        if evse != 0 and evse not in self.station.evse_ids:
            return _rejected("UnknownEVSE", f"EVSE {evse} does not exist")
        if unit not in self._units():
            return _rejected("UnsupportedRateUnit", f"chargingRateUnit {unit.value} not in {RATE_UNIT}")
        # At least one second, so that even a duration of 0 reports the limit of now.
        covered = min(max(duration, 1), MAX_COMPOSITE_S)
        if evse == 0:
            schedule = self._station_schedule(covered, unit)
            maximum = sum(self.limits.max_amps(e) for e in self.station.evse_ids)
        else:
            schedule = self.limits.composite(evse, covered, unit, also=self.external())
            maximum = self.limits.max_amps(evse)
        written = schedule.to_dict(maximum, self.limits.voltage_v)
        return {
            "status": "Accepted",
            "schedule": {
                "evseId": evse,
                "duration": duration,
                "scheduleStart": written["scheduleStart"],
                "chargingRateUnit": unit.value,
                "chargingSchedulePeriod": written["chargingSchedule"]["chargingSchedulePeriod"],
            },
        }

    def _station_schedule(self, duration: int, unit: RateUnit) -> CompositeSchedule:
        now = self.limits.now()
        cap = composite_schedule(self.limits.installed, STATION_WIDE, now, duration, unit, now=now,
                                 voltage_v=self.limits.voltage_v)  # fmt: skip
        external = self.external()
        evses = [(self.limits.composite(e, duration, unit, now=now, also=external), self.limits.max_amps(e))
                 for e in self.station.evse_ids]  # fmt: skip
        return station_total(cap, evses, self.limits.voltage_v)

    def remote_start_profile(self, evse: int | None, data: Payload) -> tuple[ChargingProfile | None, Payload]:
        """RequestStartTransaction.chargingProfile: the profile to install on the transaction
        it starts, or None and why the request is Rejected."""
        if data.get("chargingProfilePurpose") != "TxProfile" or data.get("transactionId") is not None:
            return None, _rejected("InvalidProfile", "a TxProfile without transactionId (F01.FR.09/11)")
        # Judged as if the transaction had started on the EVSE (any one will do when none is named).
        target = evse if evse is not None else min(self.station.evse_ids)
        with_tx = {**data, "transactionId": "remote start"}
        profile, answer = self.judge(target, with_tx, {**self._running(), target: "remote start"})
        if profile is None:
            return None, answer
        return replace(profile, transaction_id=None), answer
