"""Local energy management's limits as ChargingStationExternalConstraints (part 2 K11-K13, errata
2025-09 2.35 "External Smart Charging": an external limit is represented as a profile of that purpose).

Rules kept here:
- The station's energy management (controller/energy/site.py: the main fuse, solar surplus, a
  manager box's allocation) is the external control system. Its limit on an EVSE is one
  ChargingStationExternalConstraints profile on that EVSE: id and schedule id -EVSE (negative,
  K11.FR.06 / K12.FR.05), stackLevel 0, Absolute from the instant the limit took its value, one
  period in A with the phases the EVSE is switched to.
- Only shown and reported here, never applied: the station applies energy management itself, as
  its own limit source below the CSMS's profiles (both versions, controller/core/station.py). The
  profile is kept in memory (energy management computes it again after a restart); the CSMS can
  neither set nor clear it (smart_charging.py), GetChargingProfiles reports it with
  chargingLimitSource EMS and GetCompositeSchedule takes it into the EVSE's schedule.
- Energy management constrains an EVSE while it allows less than the EVSE's session wants (an
  idle EVSE's 0 only means nothing is shared out to it); solar's 0 A while it waits for surplus
  is a constraint.
- NotifyChargingLimit (chargingLimitSource EMS, the EVSE, and the schedule when
  SmartChargingCtrlr.NotifyChargingLimitWithSchedules is true) when a constraint appears, its
  phases change or its limit moved by more than LimitChangeSignificance percent of what was last
  reported (K11.FR.02-05, K12.FR.02-04); ClearedChargingLimit (EMS, the EVSE) when it is gone
  (K13.FR.02). Both variables are read at each decision.
- Reported means acknowledged by the CSMS. One message at a time, the newest state of each EVSE,
  only once the first BootNotification was Accepted and while connected: what failed, or changed
  while offline, is judged again and sent when the link is back.
- SmartChargingCtrlr.ExternalControlSignalsEnabled is read-only: true where energy management
  limits the EVSEs (``[grid] source``). A CSMS cannot switch the house's fuse protection off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.ocpp.frontend import LocalLimits
from controller.ocpp.link import CallFailed, Link
from controller.ocpp.v201.profile_json import schedule_to_json
from controller.smart_charging.profiles import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfile,
    Kind,
    Purpose,
    RateUnit,
    SchedulePeriod,
)

log = logging.getLogger(__name__)

SIGNIFICANCE = "SmartChargingCtrlr.LimitChangeSignificance"
WITH_SCHEDULES = "SmartChargingCtrlr.NotifyChargingLimitWithSchedules"
EMS = "EMS"
Limit = tuple[float, int]  # A per phase, phases


@dataclass(frozen=True)
class Constraint:
    amps: float
    phases: int
    since: datetime  # when it took this value

    @property
    def limit(self) -> Limit:
        return self.amps, self.phases


def significant(reported: Limit | None, now: Limit | None, percent: float) -> bool:
    """Whether the change from what the CSMS was told to ``now`` must be reported (None: no
    constraint). A limit of 0 A that becomes any other is always a change."""
    if reported is None or now is None:
        return reported != now
    if reported[1] != now[1]:
        return True
    if reported[0] == 0:
        return now[0] != 0
    return abs(now[0] - reported[0]) > reported[0] * percent / 100


def profile(evse: int, constraint: Constraint) -> ChargingProfile:
    schedule = ChargingSchedule(RateUnit.A, (SchedulePeriod(0, constraint.amps, constraint.phases),),
                                start_schedule=constraint.since, id=-evse)  # fmt: skip
    return ChargingProfile(-evse, 0, Purpose.EXTERNAL_CONSTRAINTS, Kind.ABSOLUTE, schedule)


class ExternalConstraints:
    def __init__(self, energy: LocalLimits | None, evse_ids: Iterable[int], link: Link,
                 value: Callable[[str], Any], ready: asyncio.Event, now: Callable[[], datetime]):  # fmt: skip
        self.energy, self.evse_ids, self.link = energy, tuple(evse_ids), link
        self.value, self.ready, self.now = value, ready, now
        self.current: dict[int, Constraint] = {}
        self.reported: dict[int, Limit] = {}
        self._due = asyncio.Event()
        if energy is not None:
            energy.on_step.append(self.update)

    @property
    def enabled(self) -> bool:
        """SmartChargingCtrlr.ExternalControlSignalsEnabled."""
        return self.energy is not None

    def entries(self) -> tuple[InstalledProfile, ...]:
        """The constraints as installed profiles, for the reports and the composite schedule."""
        return tuple(InstalledProfile(evse, profile(evse, c)) for evse, c in sorted(self.current.items()))

    def update(self) -> None:
        """After a step of energy management: take its limits."""
        assert self.energy is not None
        for evse in self.evse_ids:
            limit, known = self.energy.constraint(evse), self.current.get(evse)
            if limit is None:
                self.current.pop(evse, None)
            elif known is None or known.limit != limit:
                self.current[evse] = Constraint(limit[0], limit[1], self.now())
        if self._changes():
            self._due.set()

    def _changes(self) -> list[int]:
        percent = float(self.value(SIGNIFICANCE))
        return [evse for evse in self.evse_ids if significant(self.reported.get(evse), self._limit(evse), percent)]

    def _limit(self, evse: int) -> Limit | None:
        known = self.current.get(evse)
        return known.limit if known is not None else None

    async def run(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            await self.ready.wait()
            await self.link.connected.wait()
            for evse in self._changes():
                known = self.current.get(evse)
                try:
                    if known is None:
                        await self.link.call("ClearedChargingLimit", {"chargingLimitSource": EMS, "evseId": evse})
                        self.reported.pop(evse, None)
                    else:
                        await self.link.call("NotifyChargingLimit", self._notice(evse, known))
                        self.reported[evse] = known.limit
                except CallFailed as exc:
                    log.info("EVSE %s: energy management's limit not reported yet: %s", evse, exc)
                    break  # judged again at the next step of energy management

    def _notice(self, evse: int, constraint: Constraint) -> dict[str, Any]:
        notice: dict[str, Any] = {"chargingLimit": {"chargingLimitSource": EMS}, "evseId": evse}
        if self.value(WITH_SCHEDULES) is True:
            notice["chargingSchedule"] = [schedule_to_json(profile(evse, constraint).schedule)]
        return notice
