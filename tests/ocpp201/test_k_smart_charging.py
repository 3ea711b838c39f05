"""Part 6 section 2.10, K Smart Charging: SetChargingProfile (K01), GetCompositeSchedule (K08),
GetChargingProfiles (K09), ClearChargingProfile (K10) and the profile of a RequestStartTransaction
(F01), on the harness's two 3-phase EVSEs (EVSE 1: 32 A, EVSE 2: 16 A). <Configured evseId> is 1,
<Configured chargingRateUnit> A (limit multiplier 1, errata 6.2.69), <Configured numberPhases> 3,
<Configured max time deviation> 0: profiles start on a whole second, and a composite schedule's
periods may start up to a second early, the fraction of a second it was asked after that one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.clock import iso
from controller.iec61851 import TIMING, duty_for_current
from controller.realtime import ConnectorControl
from hal.types import PilotCommand, PilotMode
from ocpp201.harness import MODULE, SECOND_TOKEN, VALID_TOKEN, Harness
from ocpp201.states import (
    authorized_local,
    booted,
    energy_transfer_started,
    energy_transfer_started_from_idle,
    ev_connected_pre_session,
)

pytestmark = MODULE
EVSE = 1
LOCAL_LIMIT = {0: 48.0, 1: 32.0, 2: 16.0}  # what each EVSE (0: the station) can offer without a profile
Payload = dict[str, Any]


def whole_second(offset_s: float = 0) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).replace(microsecond=0)


def profile(profile_id: int, purpose: str, periods: list[tuple[int, float]], *, stack: int = 0,
            kind: str = "Absolute", start: datetime | None = None, duration: int | None = None,
            **extra: Any) -> Payload:  # fmt: skip
    """A chargingProfile as a CSMS sends it; Absolute and Recurring ones start now by default."""
    schedule: Payload = {
        "id": 1,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": s, "limit": lim, "numberPhases": 3} for s, lim in periods],
    }
    if kind != "Relative":
        schedule["startSchedule"] = iso(start or whole_second())
    if duration is not None:
        schedule["duration"] = duration
    return {"id": profile_id, "stackLevel": stack, "chargingProfilePurpose": purpose, "chargingProfileKind": kind,
            **extra, "chargingSchedule": [schedule]}  # fmt: skip


async def set_profile(cs: Harness, evse: int, data: Payload) -> Payload:
    return await cs.call("SetChargingProfile", {"evseId": evse, "chargingProfile": data})


async def installed(cs: Harness, evse: int, data: Payload) -> None:
    """Memory state: ``data`` set on ``evse`` and Accepted."""
    answer = await set_profile(cs, evse, data)
    assert answer["status"] == "Accepted", answer


async def get_profiles(cs: Harness, criteria: Payload, evse: int | None = None, request_id: int = 7
                       ) -> tuple[Payload, list[Payload]]:  # fmt: skip
    """GetChargingProfiles and the ReportChargingProfiles it brings (up to the one without tbc)."""
    since = cs.mark()
    request: Payload = {"requestId": request_id, "chargingProfile": criteria}
    if evse is not None:
        request["evseId"] = evse
    answer = await cs.call("GetChargingProfiles", request)
    if answer["status"] != "Accepted":
        return answer, []
    await cs.expect("ReportChargingProfiles", lambda p: not p.get("tbc", False), since)
    reports = cs.calls("ReportChargingProfiles", since)
    assert all(r["requestId"] == request_id for r in reports)  # K09.FR.01
    return answer, reports


def profiles_of(reports: list[Payload]) -> list[tuple[int, Payload]]:
    return [(r["evseId"], p) for r in reports for p in r["chargingProfile"]]


async def composite(cs: Harness, evse: int, duration: int, unit: str = "A") -> Payload:
    return await cs.call("GetCompositeSchedule", {"evseId": evse, "duration": duration, "chargingRateUnit": unit})


def periods(answer: Payload) -> list[tuple[int, float]]:
    assert answer["status"] == "Accepted", answer
    return [(p["startPeriod"], p["limit"]) for p in answer["schedule"]["chargingSchedulePeriod"]]


def periods_since(answer: Payload, start: datetime) -> list[tuple[int, float]]:
    """The composite's periods counted from the profiles' ``start`` instead of its scheduleStart (the
    request's moment, which a loaded machine may put seconds after ``start``); the first stays 0."""
    begun = datetime.fromisoformat(answer["schedule"]["scheduleStart"].replace("Z", "+00:00"))
    late = int((begun - start).total_seconds())
    return [(at + late if at else 0, limit) for at, limit in periods(answer)]


def near(expected: list[tuple[int, float]]) -> Any:
    """Periods as a test tool checks them: each start may be a second early (the ``x`` of part 6)."""

    class Near:
        def __eq__(self, got: object) -> bool:
            pairs = zip(got, expected, strict=True) if isinstance(got, list) and len(got) == len(expected) else None
            return pairs is not None and all(lim == e_lim and e_start - 1 <= start <= e_start
                                             for (start, lim), (e_start, e_lim) in pairs)  # fmt: skip

        def __repr__(self) -> str:
            return f"near {expected}"

    return Near()


def limit_of(cs: Harness, evse: int) -> float:
    """What the core hands the real-time loop for ``evse`` now."""
    return cs.station.view(evse).limit.amps


async def running(cs: Harness, evse: int = EVSE) -> str:
    """EnergyTransferStarted on ``evse``; its transactionId."""
    started = await energy_transfer_started_from_idle(cs, evse)
    return started["transactionInfo"]["transactionId"]


# ---- K01 SetChargingProfile -----------------------------------------------------------------


async def test_TC_K_01_CS(cs: Harness) -> None:
    """Set Charging Profile - TxDefaultProfile - Specific EVSE: Accepted, reported as sent, and the
    EVSE's limit follows it (K01.FR.07/15); EVSE 2 keeps its own."""
    sent = profile(101, "TxDefaultProfile", [(0, 6)], duration=300)
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    answer, reports = await get_profiles(cs, {"chargingProfileId": [101]}, request_id=11)
    assert answer["status"] == "Accepted"  # step 4
    assert profiles_of(reports) == [(EVSE, sent)]  # step 5
    assert reports[-1].get("tbc", False) is False and reports[0]["chargingLimitSource"] == "CSO"
    await cs.until(lambda: limit_of(cs, EVSE) == 6, what="EVSE 1 limited to 6 A")
    assert limit_of(cs, 2) == LOCAL_LIMIT[2]


async def test_TC_K_02_CS(cs: Harness) -> None:
    """Set Charging Profile - TxProfile without ongoing transaction on the specified EVSE: Rejected
    (K01.FR.09)."""
    sent = profile(102, "TxProfile", [(0, 6)], kind="Relative", transactionId="UNKNOWN-TRANSACTION-ID")
    answer = await set_profile(cs, EVSE, sent)
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "TxNotFound"  # step 2
    assert cs.frontend.smart_charging.entries == 0


async def test_TC_K_03_CS(cs: Harness) -> None:
    """Set Charging Profile - ChargingStationMaxProfile on EVSE 0: Accepted and reported on EVSE 0."""
    sent = profile(103, "ChargingStationMaxProfile", [(0, 6)], duration=300)
    assert (await set_profile(cs, 0, sent))["status"] == "Accepted"  # step 2
    answer, reports = await get_profiles(cs, {"chargingProfileId": [103]})
    assert answer["status"] == "Accepted"  # step 4
    assert profiles_of(reports) == [(0, sent)]  # step 5


async def test_TC_K_04_CS(cs: Harness) -> None:
    """Replace charging profile - With chargingProfileId: the same id with limit 10 replaces the 6
    (K01.FR.05); one profile is left, the new one."""
    await installed(cs, EVSE, profile(104, "TxDefaultProfile", [(0, 6)]))
    sent = profile(104, "TxDefaultProfile", [(0, 10)])
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    answer, reports = await get_profiles(cs, {"chargingProfileId": [104]})
    assert answer["status"] == "Accepted"  # step 4
    assert profiles_of(reports) == [(EVSE, sent)]  # step 5
    assert cs.frontend.smart_charging.entries == 1
    await cs.until(lambda: limit_of(cs, EVSE) == 10, what="EVSE 1 limited to 10 A")


async def test_TC_K_10_CS(cs: Harness) -> None:
    """Set Charging Profile - TxDefaultProfile - All EVSE: Accepted on EVSE 0, reported there, and
    applied to both EVSEs without a copy (K01.FR.14)."""
    sent = profile(110, "TxDefaultProfile", [(0, 6.0)], duration=300)
    assert (await set_profile(cs, 0, sent))["status"] == "Accepted"  # step 2
    answer, reports = await get_profiles(cs, {"chargingProfileId": [110]})
    assert answer["status"] == "Accepted"  # step 4
    assert profiles_of(reports) == [(0, sent)] and reports[0].get("tbc", False) is False  # step 5
    assert cs.frontend.smart_charging.entries == 1
    await cs.until(lambda: limit_of(cs, 1) == limit_of(cs, 2) == 6, what="both EVSEs limited to 6 A")


async def test_TC_K_11_CS(cs: Harness) -> None:
    """Set Charging Profile - Unable to set TxProfile on all EVSE at once: Rejected (K01.FR.16)."""
    answer = await set_profile(cs, 0, profile(111, "TxProfile", [(0, 6)], kind="Relative", transactionId="x"))
    assert answer["status"] == "Rejected"  # step 2


async def test_TC_K_12_CS(cs: Harness) -> None:
    """Set Charging Profile - ChargerRateUnit Rejected: only when one unit is not supported."""
    pytest.skip("not applicable: SmartChargingCtrlr.RateUnit is A,W (SC-2.1 and SC-2.2 declared)")


async def test_TC_K_13_CS(cs: Harness) -> None:
    """Set Charging Profile - Persistent over reboot (K01.FR.27): after a power cycle the profile is
    still installed, reported as sent, and limits the EVSE again."""
    sent = profile(113, "TxDefaultProfile", [(0, 6)], duration=3600)
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    await booted(cs)  # step 3
    await cs.booted_and_reported()
    answer, reports = await get_profiles(cs, {"chargingProfileId": [113]}, request_id=13)
    assert answer["status"] == "Accepted"  # step 5
    assert profiles_of(reports) == [(EVSE, sent)]  # step 6
    await cs.until(lambda: limit_of(cs, EVSE) == 6, what="the limit after the restart")


async def test_TC_K_14_CS(cs: Harness) -> None:
    """Set Charging Profile - Unexisting EVSEid: Rejected (K01.FR.28)."""
    answer = await set_profile(cs, len(cs.evse_ids) + 1, profile(114, "TxDefaultProfile", [(0, 6)]))
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "UnknownEVSE"  # step 2


async def test_TC_K_16_CS(cs: Harness) -> None:
    """Set Charging Profile - Unknown transactionId, with a transaction running: Rejected (K01.FR.33);
    the transaction keeps its limit."""
    await running(cs)
    sent = profile(116, "TxProfile", [(0, 6)], kind="Relative", transactionId="UNKNOWN-TRANSACTION-ID")
    assert (await set_profile(cs, EVSE, sent))["status"] == "Rejected"  # step 2
    assert limit_of(cs, EVSE) == LOCAL_LIMIT[EVSE]


async def test_TC_K_19_CS(cs: Harness) -> None:
    """Set Charging Profile - ChargingProfileKind is Recurring: Daily and Weekly are Accepted."""
    for profile_id, recurrency in ((119, "Daily"), (120, "Weekly")):
        sent = profile(profile_id, "TxDefaultProfile", [(0, 6), (3600, 10)], stack=profile_id - 119,
                       kind="Recurring", recurrencyKind=recurrency)  # fmt: skip
        assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted", recurrency  # step 2


async def test_TC_K_21_CS(cs: Harness) -> None:
    """Set Charging Profile - ValidFrom: a Relative TxDefaultProfile valid from now + 300 s; the
    composite is the local limit, then 6 from (300 - x) (K01.FR.36, K08.FR.06)."""
    sent = profile(121, "TxDefaultProfile", [(0, 6)], kind="Relative", validFrom=iso(whole_second(300)))
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    answer = await composite(cs, EVSE, 400)
    assert answer["schedule"]["evseId"] == EVSE and answer["schedule"]["duration"] == 400  # step 4
    assert answer["schedule"]["chargingRateUnit"] == "A"
    assert periods(answer) == near([(0, LOCAL_LIMIT[EVSE]), (300, 6)])


async def test_TC_K_22_CS(cs: Harness) -> None:
    """Set Charging Profile - ValidTo: a TxDefaultProfile on EVSE 0 until now + 300 s; each EVSE's
    composite is 6 until (300 - x), EVSE 0's the 6 of every EVSE together (K01.FR.37, K08.FR.03)."""
    sent = profile(122, "TxDefaultProfile", [(0, 6)], validFrom=iso(whole_second()),
                   validTo=iso(whole_second(300)))  # fmt: skip
    assert (await set_profile(cs, 0, sent))["status"] == "Accepted"  # step 2
    for evse in (0, *cs.evse_ids):  # steps 3-4 for each EVSE
        answer = await composite(cs, evse, 400)
        assert answer["schedule"]["evseId"] == evse and answer["schedule"]["duration"] == 400
        six = 6 * len(cs.evse_ids) if evse == 0 else 6
        assert periods(answer) == near([(0, six), (300, LOCAL_LIMIT[evse])]), evse


async def test_TC_K_23_CS(cs: Harness) -> None:
    """Set Charging Profile - StartSchedule 60 s ahead: the local limit until (60 - x), then 6
    (K01.FR.30)."""
    sent = profile(123, "TxDefaultProfile", [(0, 6)], start=whole_second(60))
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    assert periods(await composite(cs, EVSE, 300)) == near([(0, LOCAL_LIMIT[EVSE]), (60, 6)])  # step 4


async def test_TC_K_28_CS(cs: Harness) -> None:
    """Set Charging Profile - TxDefaultProfile with transaction ongoing: the transaction goes on and
    switches to it (K01.FR.32): the composite is 6 and the pilot offers 6 A."""
    tx = await running(cs)
    sent = profile(128, "TxDefaultProfile", [(0, 6)], duration=400)
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    assert periods(await composite(cs, EVSE, 300))[0] == (0, 6)  # step 4
    await cs.until(lambda: limit_of(cs, EVSE) == 6, what="the running transaction limited to 6 A")
    assert cs.station.view(EVSE).transaction.id == tx


async def test_TC_K_60_CS(cs: Harness) -> None:
    """Set Charging Profile - TxProfile with ongoing transaction on the specified EVSE: Accepted for
    the station's transactionId, reported as sent, and applied (K01.FR.04)."""
    tx = await running(cs)
    sent = profile(160, "TxProfile", [(0, 6)], kind="Relative", transactionId=tx)
    assert (await set_profile(cs, EVSE, sent))["status"] == "Accepted"  # step 2
    answer, reports = await get_profiles(cs, {"chargingProfileId": [160]})
    assert answer["status"] == "Accepted"  # step 4
    assert profiles_of(reports) == [(EVSE, sent)]  # step 5
    await cs.until(lambda: limit_of(cs, EVSE) == 6, what="the transaction limited to 6 A")


async def test_a_tx_profile_without_transaction_id_is_rejected(cs: Harness) -> None:
    """K01.FR.03: a TxProfile names its transaction; one that does not is Rejected, even while one runs."""
    await running(cs)
    answer = await set_profile(cs, EVSE, profile(161, "TxProfile", [(0, 6)], kind="Relative"))
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == "TxNotFound"


@pytest.mark.parametrize(
    ("evse", "change", "reason"),
    [
        (EVSE, {"numberPhases": 1}, "InvalidValue"),  # K01.FR.43: a 3-phase EVSE cannot be kept to 1
        (EVSE, {"numberPhases": 1, "phaseToUse": 1}, "InvalidValue"),  # K01.FR.48: no phase switching
        (EVSE, {"phaseToUse": 2}, "InvalidValue"),  # K01.FR.19: phaseToUse only with numberPhases 1
        (EVSE, {"limit": 6, "startPeriod": 5}, "InvalidSchedule"),  # K01.FR.31: the first period at 0
    ],
)
async def test_phases_and_periods_that_cannot_be_kept_are_rejected(cs: Harness, evse: int, change: Payload,
                                                                   reason: str) -> None:  # fmt: skip
    sent = profile(170, "TxDefaultProfile", [(0, 6)])
    sent["chargingSchedule"][0]["chargingSchedulePeriod"][0].update(change)
    answer = await set_profile(cs, evse, sent)
    assert answer["status"] == "Rejected" and answer["statusInfo"]["reasonCode"] == reason, answer


async def test_more_phases_than_the_evse_has_are_accepted_and_a_duplicate_default_is_refused(cs: Harness) -> None:
    """K01.FR.45: numberPhases above the EVSE's is imposed on its phases; K01.FR.52/53: a
    TxDefaultProfile on EVSE 0 beside one of the same stackLevel on an EVSE is DuplicateProfile,
    both ways; a second chargingSchedule needs ISO 15118 (K01.FR.34)."""
    await installed(cs, EVSE, profile(171, "TxDefaultProfile", [(0, 6)], stack=3))
    answer = await set_profile(cs, 0, profile(172, "TxDefaultProfile", [(0, 6)], stack=3))
    assert answer["statusInfo"]["reasonCode"] == "DuplicateProfile"
    await installed(cs, 0, profile(173, "TxDefaultProfile", [(0, 8)], stack=4))
    answer = await set_profile(cs, 2, profile(174, "TxDefaultProfile", [(0, 6)], stack=4))
    assert answer["statusInfo"]["reasonCode"] == "DuplicateProfile"
    two = profile(175, "TxDefaultProfile", [(0, 6)])
    two["chargingSchedule"].append({**two["chargingSchedule"][0], "id": 2})
    assert (await set_profile(cs, 2, two))["status"] == "Rejected"
    external = profile(176, "ChargingStationExternalConstraints", [(0, 6)])
    assert (await set_profile(cs, 0, external))["status"] == "Rejected"  # K01.FR.22


# ---- K10 ClearChargingProfile ---------------------------------------------------------------


async def test_TC_K_05_CS(cs: Harness) -> None:
    """Clear Charging Profile - With chargingProfileId: Accepted, then GetChargingProfiles finds none."""
    await installed(cs, EVSE, profile(105, "TxDefaultProfile", [(0, 6)]))
    assert (await cs.call("ClearChargingProfile", {"chargingProfileId": 105}))["status"] == "Accepted"  # step 2
    answer, _ = await get_profiles(cs, {"chargingProfileId": [105]})
    assert answer["status"] == "NoProfiles"  # step 4
    await cs.until(lambda: limit_of(cs, EVSE) == LOCAL_LIMIT[EVSE], what="the limit lifted (K10.FR.05)")


async def test_TC_K_06_CS(cs: Harness) -> None:
    """Clear Charging Profile - With stackLevel/purpose combination for one profile, while charging."""
    await installed(cs, EVSE, profile(106, "TxDefaultProfile", [(0, 6)], stack=2))
    await running(cs)
    criteria = {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 2}
    assert (await cs.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))["status"] == "Accepted"
    answer, _ = await get_profiles(cs, criteria)
    assert answer["status"] == "NoProfiles"  # step 4


async def test_TC_K_07_CS(cs: Harness) -> None:
    """Clear Charging Profile - With unknown stackLevel/purpose combination: Unknown; the installed
    profile stays (K10.FR.01)."""
    await installed(cs, EVSE, profile(107, "TxDefaultProfile", [(0, 6)], stack=1))
    criteria = {"chargingProfilePurpose": "ChargingStationMaxProfile", "stackLevel": 0}
    assert (await cs.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))["status"] == "Unknown"
    assert cs.frontend.smart_charging.entries == 1


async def test_TC_K_08_CS(cs: Harness) -> None:
    """Clear Charging Profile - Without previous charging profile: Unknown (K10.FR.01)."""
    assert (await cs.call("ClearChargingProfile", {"chargingProfileId": 108}))["status"] == "Unknown"  # step 2


async def test_TC_K_09_CS(cs: Harness) -> None:
    """Clear Charging Profile - Clearing a TxDefaultProfile - With ongoing transaction: the composite
    is 6, then the local limit; the transaction goes on as if it started without it (K10.FR.07)."""
    await installed(cs, EVSE, profile(109, "TxDefaultProfile", [(0, 6)], duration=400))
    tx = await running(cs)
    assert periods(await composite(cs, EVSE, 300))[0] == (0, 6)  # step 2
    criteria = {"chargingProfilePurpose": "TxDefaultProfile"}
    assert (await cs.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))["status"] == "Accepted"
    assert periods(await composite(cs, EVSE, 300))[0] == (0, LOCAL_LIMIT[EVSE])  # step 5: NOT 6
    await cs.until(lambda: limit_of(cs, EVSE) == LOCAL_LIMIT[EVSE], what="the limit lifted")
    assert cs.station.view(EVSE).transaction.id == tx


async def test_TC_K_24_CS(cs: Harness) -> None:
    """Clear Charging Profile - With stackLevel/purpose combination for multiple profiles: one call
    clears the TxDefaultProfile of both EVSEs."""
    await installed(cs, 1, profile(124, "TxDefaultProfile", [(0, 6)], stack=5))
    await installed(cs, 2, profile(125, "TxDefaultProfile", [(0, 6)], stack=5))
    criteria = {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 5}
    assert (await cs.call("ClearChargingProfile", {"chargingProfileCriteria": criteria}))["status"] == "Accepted"
    answer, _ = await get_profiles(cs, criteria)
    assert answer["status"] == "NoProfiles"  # step 4
    assert cs.frontend.smart_charging.entries == 0


# ---- K09 GetChargingProfiles ----------------------------------------------------------------


async def two_profiles(cs: Harness, stack: int = 0, tx_default_stack: int | None = None) -> tuple[Payload, Payload]:
    """Memory state of TC_K_29-36: a ChargingStationMaxProfile on the station and a
    TxDefaultProfile on <Configured evseId>."""
    station_max = profile(201, "ChargingStationMaxProfile", [(0, 32)], stack=stack)
    tx_default = profile(202, "TxDefaultProfile", [(0, 16)], stack=stack if tx_default_stack is None
                         else tx_default_stack)  # fmt: skip
    await installed(cs, 0, station_max)
    await installed(cs, EVSE, tx_default)
    return station_max, tx_default


async def test_TC_K_29_CS(cs: Harness) -> None:
    """Get Charging Profile - EvseId 0: only the station's own profile (K09.FR.05)."""
    station_max, _ = await two_profiles(cs)
    answer, reports = await get_profiles(cs, {}, evse=0, request_id=29)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(0, station_max)]  # step 3


async def test_TC_K_30_CS(cs: Harness) -> None:
    """Get Charging Profile - EvseId > 0: only what is installed on that EVSE (K09.FR.04)."""
    _, tx_default = await two_profiles(cs)
    answer, reports = await get_profiles(cs, {}, evse=EVSE, request_id=30)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(EVSE, tx_default)]  # step 3


async def test_TC_K_31_CS(cs: Harness) -> None:
    """Get Charging Profile - No EvseId: every profile, one report per EVSE, tbc on all but the last
    (K09.FR.02/06)."""
    station_max, tx_default = await two_profiles(cs)
    answer, reports = await get_profiles(cs, {}, request_id=31)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(0, station_max), (EVSE, tx_default)]  # step 3
    assert [r.get("tbc", False) for r in reports] == [True, False]


async def test_TC_K_32_CS(cs: Harness) -> None:
    """Get Charging Profile - chargingProfileId."""
    station_max, _ = await two_profiles(cs)
    answer, reports = await get_profiles(cs, {"chargingProfileId": [201]}, request_id=32)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(0, station_max)]  # step 3


async def test_TC_K_33_CS(cs: Harness) -> None:
    """Get Charging Profile - EvseId > 0 + stackLevel."""
    _, tx_default = await two_profiles(cs, stack=1, tx_default_stack=2)
    answer, reports = await get_profiles(cs, {"stackLevel": 2}, evse=EVSE, request_id=33)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(EVSE, tx_default)]  # step 3
    assert (await get_profiles(cs, {"stackLevel": 1}, evse=EVSE))[0]["status"] == "NoProfiles"


async def test_TC_K_34_CS(cs: Harness) -> None:
    """Get Charging Profile - EvseId > 0 + chargingLimitSource: what the CSMS set is CSO; EMS has none."""
    tx_default = profile(134, "TxDefaultProfile", [(0, 16)], stack=1)
    await installed(cs, EVSE, tx_default)
    answer, reports = await get_profiles(cs, {"chargingLimitSource": ["CSO"]}, evse=EVSE, request_id=34)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(EVSE, tx_default)] and reports[0]["chargingLimitSource"] == "CSO"  # step 3
    answer, _ = await get_profiles(cs, {"chargingLimitSource": ["EMS"]}, evse=EVSE)
    assert answer["status"] == "NoProfiles"  # step 6


async def test_TC_K_35_CS(cs: Harness) -> None:
    """Get Charging Profile - EvseId > 0 + chargingProfilePurpose (errata 6.2.70: while charging)."""
    _, tx_default = await two_profiles(cs)
    await running(cs)
    answer, reports = await get_profiles(cs, {"chargingProfilePurpose": "TxDefaultProfile"}, evse=EVSE)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(EVSE, tx_default)]  # step 3


async def test_TC_K_36_CS(cs: Harness) -> None:
    """Get Charging Profile - EvseId > 0 + chargingProfilePurpose + stackLevel."""
    _, tx_default = await two_profiles(cs, stack=3)
    criteria = {"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 3}
    answer, reports = await get_profiles(cs, criteria, evse=EVSE, request_id=36)
    assert answer["status"] == "Accepted"  # step 2
    assert profiles_of(reports) == [(EVSE, tx_default)]  # step 3


# ---- F01 with a profile ---------------------------------------------------------------------


async def test_TC_K_37_CS(cs: Harness) -> None:
    """Remote start transaction with charging profile - Success: the Relative TxProfile goes with the
    transaction the remote start begins (F01.FR.10), reported as sent and limiting it to 6 A."""
    await ev_connected_pre_session(cs, EVSE)
    since = cs.mark()
    sent = profile(137, "TxProfile", [(0, 6)], kind="Relative")
    request = {"idToken": VALID_TOKEN, "remoteStartId": 37, "evseId": EVSE, "chargingProfile": sent}
    assert (await cs.call("RequestStartTransaction", request))["status"] == "Accepted"  # step 2
    assert (await cs.expect("Authorize", since=since))["idToken"] == VALID_TOKEN  # step 3
    event = await cs.expect("TransactionEvent", lambda p: "idToken" in p, since)  # step 5
    assert event["triggerReason"] == "RemoteStart" and event["transactionInfo"]["remoteStartId"] == 37
    await energy_transfer_started(cs, EVSE)  # step 7
    answer, reports = await get_profiles(cs, {"chargingProfileId": [137]})
    assert answer["status"] == "Accepted"  # step 9
    assert profiles_of(reports) == [(EVSE, sent)]  # step 10
    assert limit_of(cs, EVSE) == 6


async def test_a_remote_start_profile_goes_to_the_transaction_the_plug_in_started(
    cs: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F01.FR.10/13 with TxStartPoint EVConnected: the plug-in started the transaction, the remote
    start authorizes it (Accepted with its transactionId) and its TxProfile is installed on it:
    reported with that transaction and limiting it to 6 A from the first offer on."""
    await cs.set_variables({"TxCtrlr.TxStartPoint": "EVConnected"})
    began = time.monotonic()
    started = await ev_connected_pre_session(cs, EVSE)
    tx = started["transactionInfo"]["transactionId"]
    # Every control the station hands the real-time loop from now on: none may let the EV charge
    # above the profile's 6 A, however soon the loop acts on it (the offers below depend on timing).
    controls: list[tuple[int, ConnectorControl]] = []
    to_loop = cs.station.rt.set_control
    monkeypatch.setattr(cs.station.rt, "set_control", lambda cid, c: (controls.append((cid, c)), to_loop(cid, c)))
    sent = profile(146, "TxProfile", [(0, 6)], kind="Relative")
    request = {"idToken": VALID_TOKEN, "remoteStartId": 46, "evseId": EVSE, "chargingProfile": sent}
    answer = await cs.call("RequestStartTransaction", request)
    assert answer == {"status": "Accepted", "transactionId": tx}
    await energy_transfer_started(cs, EVSE)
    answer, reports = await get_profiles(cs, {"chargingProfileId": [146]})
    assert answer["status"] == "Accepted" and profiles_of(reports) == [(EVSE, sent)]
    offers = [cmd.duty_percent for t, cmd in cs.sim.pilot_log(EVSE) if t >= began and cmd.mode is PilotMode.X2]
    assert limit_of(cs, EVSE) == 6 and offers and max(offers) == duty_for_current(6)
    assert cs.station.view(EVSE).transaction.id == tx
    allowed = [c.limit.amps for cid, c in controls if cid == EVSE and c.charge_allowed]
    assert allowed and max(allowed) == 6, allowed


async def test_a_remote_start_with_a_profile_it_cannot_take_is_rejected(cs: Harness) -> None:
    """F01.FR.09/11: a TxDefaultProfile, or a TxProfile naming a transaction, makes the request
    Rejected; nothing starts."""
    since = cs.mark()
    for sent in (profile(138, "TxDefaultProfile", [(0, 6)]),
                 profile(139, "TxProfile", [(0, 6)], kind="Relative", transactionId="tx")):  # fmt: skip
        request = {"idToken": VALID_TOKEN, "remoteStartId": 38, "evseId": EVSE, "chargingProfile": sent}
        assert (await cs.call("RequestStartTransaction", request))["status"] == "Rejected"
    await cs.barrier()
    assert cs.calls("Authorize", since) == [] and cs.frontend.smart_charging.entries == 0


# ---- K08 GetCompositeSchedule ---------------------------------------------------------------


async def test_TC_K_39_CS(cs: Harness) -> None:
    """Get Composite Schedule - No ChargingProfile installed: EVSE 0, 300 s, from now (errata 6.2.71)."""
    asked = datetime.now(UTC)
    answer = await composite(cs, 0, 300)
    schedule = answer["schedule"]
    assert answer["status"] == "Accepted" and schedule["evseId"] == 0 and schedule["duration"] == 300  # step 2
    assert schedule["chargingRateUnit"] == "A" and periods(answer)[0][0] == 0
    start = datetime.fromisoformat(schedule["scheduleStart"].replace("Z", "+00:00"))
    assert abs((start - asked).total_seconds()) < 2


async def test_TC_K_40_CS(cs: Harness) -> None:
    """Get Composite Schedule - Stacking ChargingProfiles: stackLevel 1 (7, 9 for 150 s) over
    stackLevel 0 (6, 8, 10)."""
    start = whole_second()
    await installed(cs, EVSE, profile(140, "TxDefaultProfile", [(0, 6), (100, 8), (200, 10)], start=start,
                                      duration=400))  # fmt: skip
    await installed(cs, EVSE, profile(141, "TxDefaultProfile", [(0, 7), (100, 9)], stack=1, start=start,
                                      duration=150))  # fmt: skip
    answer = await composite(cs, EVSE, 350)
    assert answer["schedule"]["duration"] == 350  # step 2
    assert periods_since(answer, start) == near([(0, 7), (100, 9), (150, 8), (200, 10)])


async def test_TC_K_41_CS(cs: Harness) -> None:
    """Get Composite Schedule - Combining chargingProfilePurposes (errata 6.2.73-75: while charging):
    the lowest of ChargingStationMaxProfile, the TxProfile and, where it ended, the TxDefaultProfile."""
    tx = await running(cs)
    start = whole_second()
    await installed(cs, 0, profile(142, "ChargingStationMaxProfile", [(0, 10)], start=start, duration=86400))
    await installed(cs, EVSE, profile(143, "TxDefaultProfile", [(0, 6), (60, 10), (120, 8), (180, 15), (260, 8)],
                                      start=start, duration=300))  # fmt: skip
    await installed(cs, EVSE, profile(144, "TxProfile", [(0, 8), (50, 11), (140, 16), (200, 6), (240, 12)],
                                      start=start, duration=260, transactionId=tx))  # fmt: skip
    answer = await composite(cs, EVSE, 400)
    assert answer["schedule"]["duration"] == 400  # step 2
    assert periods_since(answer, start) == near([(0, 8), (50, 10), (200, 6), (240, 10), (260, 8), (300, 10)])


async def test_TC_K_42_CS(cs: Harness) -> None:
    """Get Composite Schedule - chargingRateUnit not supported: only when one unit is not supported."""
    pytest.skip("not applicable: SmartChargingCtrlr.RateUnit is A,W (SC-2.1 and SC-2.2 declared)")


async def test_TC_K_47_CS(cs: Harness) -> None:
    """Get Composite Schedule - Unknown EVSEId: Rejected, no schedule (K08.FR.05)."""
    answer = await composite(cs, len(cs.evse_ids) + 1, 300)
    assert answer["status"] == "Rejected" and "schedule" not in answer  # step 2


async def test_a_composite_in_watts_and_of_zero_seconds(cs: Harness) -> None:
    """W: A x 230 V x 3 phases; a duration of 0 still reports the limit of now (a pitfall others met)."""
    await installed(cs, EVSE, profile(145, "TxDefaultProfile", [(0, 10)]))
    assert periods(await composite(cs, EVSE, 60, "W")) == [(0, 6900)]
    answer = await composite(cs, EVSE, 0)
    assert answer["schedule"]["duration"] == 0 and periods(answer) == [(0, 10)]


# ---- end to end on the simulated board --------------------------------------------------------


def offered(cs: Harness, evse: int) -> float:
    return float(cs.sim.snapshot(evse)["offered_a"])


def drawn(cs: Harness, evse: int) -> float:
    return max(cs.sim.snapshot(evse)["current_a"], default=0.0)


async def test_station_max_16_a_shared_by_two_evs_then_a_tx_profile_of_10_a_at_the_ev(cs: Harness) -> None:
    """A ChargingStationMaxProfile of 16 A over two charging EVSEs: each EV is offered 8 A and both
    draw 16 A together; once EVSE 2's session ends, a TxProfile of 10 A on EVSE 1: the pilot offers
    10 A as soon as the 5 s since its last change allow, and the EV follows within the IEC window."""
    await installed(cs, 0, profile(150, "ChargingStationMaxProfile", [(0, 16)], start=whole_second(-60)))
    await running(cs, 1)
    await authorized_local(cs, SECOND_TOKEN)
    await energy_transfer_started(cs, 2)
    await cs.until(lambda: offered(cs, 1) == offered(cs, 2) == 8, within=2 * TIMING.pwm_change_interval_s + 2,
                   what="both EVs offered 8 A")  # fmt: skip
    await cs.until(lambda: drawn(cs, 1) + drawn(cs, 2) <= 16.0 + 1e-6, within=TIMING.ev_follow_s + 1,
                   what="both EVs together within 16 A")  # fmt: skip
    cs.unplug(2)
    await cs.until(lambda: cs.station.view(2).transaction is None, what="EVSE 2's transaction over")
    tx = cs.station.view(1).transaction.id
    pwm_on = max(t for t, _ in cs.sim.pilot_log(1))  # the last change of EVSE 1's pilot before the profile
    sent_at = time.monotonic()
    assert (await set_profile(cs, 1, profile(151, "TxProfile", [(0, 10)], kind="Relative", transactionId=tx))
            )["status"] == "Accepted"  # fmt: skip
    target = PilotCommand.pwm(duty_for_current(10))
    await cs.until(lambda: target in [cmd for _, cmd in cs.sim.pilot_log(1)], within=2 * TIMING.pwm_change_interval_s,
                   what="the pilot at 10 A")  # fmt: skip
    changed = next(t for t, cmd in cs.sim.pilot_log(1) if t > pwm_on and cmd == target)
    assert changed <= max(sent_at, pwm_on + TIMING.pwm_change_interval_s) + 0.5
    await cs.until(lambda: drawn(cs, 1) == pytest.approx(10, abs=0.1), what="the EV at 10 A",
                   within=changed + TIMING.ev_follow_s - time.monotonic() + 0.5)  # fmt: skip
    assert offered(cs, 1) == 10
