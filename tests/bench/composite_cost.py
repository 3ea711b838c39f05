"""Cost of the composite schedule: 10 profiles of 24 periods each, evaluated over 24 hours.

Run alone: .venv/bin/python tests/bench/composite_cost.py
Prints the figures, then one line of JSON.
"""

import json
import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controller.smart_charging import (
    ChargingProfile,
    ChargingSchedule,
    InstalledProfiles,
    Kind,
    Purpose,
    RateUnit,
    Recurrency,
    SchedulePeriod,
    composite_schedule,
    limit_at,
)

PROFILES = 10
PERIODS = 24
START = datetime(2024, 5, 1, 6, 30, tzinfo=UTC)

# A realistic mix: station maxima, daily and absolute defaults, a connector default and TxProfiles.
LAYOUT = [
    (0, Purpose.STATION_MAX, Kind.RECURRING),
    (0, Purpose.STATION_MAX, Kind.ABSOLUTE),
    (0, Purpose.TX_DEFAULT, Kind.RECURRING),
    (0, Purpose.TX_DEFAULT, Kind.ABSOLUTE),
    (0, Purpose.TX_DEFAULT, Kind.RECURRING),
    (1, Purpose.TX_DEFAULT, Kind.RECURRING),
    (1, Purpose.TX_DEFAULT, Kind.ABSOLUTE),
    (1, Purpose.TX, Kind.RELATIVE),
    (1, Purpose.TX, Kind.ABSOLUTE),
    (1, Purpose.TX, Kind.RECURRING),
]


def installed() -> InstalledProfiles:
    profiles = InstalledProfiles()
    for index, (connector, purpose, kind) in enumerate(LAYOUT):
        # Hourly periods, shifted per profile so that boundaries rarely coincide; every third
        # profile is in W (the same currents as power on three phases).
        unit = RateUnit.W if index % 3 == 0 else RateUnit.A
        scale = 230 * 3 if unit is RateUnit.W else 1
        periods = tuple(
            SchedulePeriod(hour * 3600 + index * 97 * (hour > 0), scale * (6 + (hour * 7 + index * 5) % 26), 3)
            for hour in range(PERIODS)
        )
        schedule = ChargingSchedule(
            unit=unit,
            periods=periods,
            duration=86_400,
            start_schedule=None if kind is Kind.RELATIVE else START.replace(hour=0) - timedelta(minutes=index * 13),
        )
        profiles = profiles.add(
            connector,
            ChargingProfile(
                id=index + 1,
                stack_level=index % 4,
                purpose=purpose,
                kind=kind,
                schedule=schedule,
                recurrency=Recurrency.DAILY if kind is Kind.RECURRING else None,
                transaction_id=7 if purpose is Purpose.TX else None,
            ),
        )
    return profiles


def main() -> None:
    profiles = installed()
    assert len(profiles) == PROFILES
    tx_start = START - timedelta(hours=1)

    def composite() -> object:
        return composite_schedule(profiles, 1, START, 86_400, RateUnit.A, now=START, tx_start=tx_start, tx_id=7)

    def limit() -> object:
        return limit_at(profiles, 1, START, tx_start=tx_start, tx_id=7)

    periods = len(composite().periods)  # type: ignore[attr-defined]
    rounds = 50
    composite_us = min(timeit.repeat(composite, number=rounds, repeat=5)) / rounds * 1e6
    limit_rounds = 500
    limit_us = min(timeit.repeat(limit, number=limit_rounds, repeat=5)) / limit_rounds * 1e6
    print(f"{PROFILES} profiles x {PERIODS} periods, composite over 24 h -> {periods} periods")
    print(f"composite_schedule: {composite_us:10.1f} us per evaluation")
    print(f"limit_at:           {limit_us:10.1f} us per evaluation")
    print(
        json.dumps(
            {
                "profiles": PROFILES,
                "periods": PERIODS,
                "composite_us": round(composite_us, 1),
                "limit_at_us": round(limit_us, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
