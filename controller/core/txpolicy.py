"""When a transaction starts and stops: a pure decision over four facts of one EVSE.

Rules kept here (OCPP 2.0.1 E01.FR.01-06 and E06.FR.01-07, errata 2025-09; 1.6 is one policy):
- A policy is a set of start points and a set of stop points. Each point is a fact about the
  EVSE: ParkingBayOccupancy (a bay sensor sees a vehicle; without a sensor, ``None``, it is
  never reached), EVConnected, Authorized, PowerPathClosed (EV connected AND authorized),
  EnergyTransfer (the contactor is closed). DataSigned is not supported (the errata removed
  it as a stop point; this station's meters do not sign).
- Start is a level: with no transaction open, the first start point that holds starts one
  (``start_point``). When several hold at once the earliest in ``CHAIN`` is named.
- Stop is an edge: an open transaction ends when a stop point that held stops holding
  (``stop_point(before, after)``); PowerPathClosed therefore falls when either of its halves
  falls (E06.FR.06). A point that never held cannot fall: a transaction started at Authorized
  before the EV arrived is not ended by EVConnected until the EV has come and gone.
- A transaction nobody authorized ends when its EV leaves, whatever the stop points (nothing
  else could end it): ``stop_point`` names EVConnected then.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.vocabulary import TxPoint

CHAIN = (
    TxPoint.PARKING_BAY_OCCUPANCY,
    TxPoint.EV_CONNECTED,
    TxPoint.AUTHORIZED,
    TxPoint.POWER_PATH_CLOSED,
    TxPoint.ENERGY_TRANSFER,
)


@dataclass(frozen=True)
class TxPolicy:
    start: frozenset[TxPoint]
    stop: frozenset[TxPoint]

    def __post_init__(self) -> None:
        if not self.start or not self.stop:
            raise ValueError("a transaction policy needs at least one start point and one stop point")


@dataclass(frozen=True)
class TxFacts:
    ev_connected: bool = False
    authorized: bool = False
    energy_transfer: bool = False
    bay_occupied: bool | None = None  # None: no parking bay sensor


def holds(point: TxPoint, facts: TxFacts) -> bool:
    if point is TxPoint.PARKING_BAY_OCCUPANCY:
        return facts.bay_occupied is True
    if point is TxPoint.EV_CONNECTED:
        return facts.ev_connected
    if point is TxPoint.AUTHORIZED:
        return facts.authorized
    if point is TxPoint.POWER_PATH_CLOSED:
        return facts.ev_connected and facts.authorized
    return facts.energy_transfer


def start_point(policy: TxPolicy, facts: TxFacts) -> TxPoint | None:
    """The start point that starts a transaction now (none open): the earliest that holds."""
    return next((p for p in CHAIN if p in policy.start and holds(p, facts)), None)


def stop_point(policy: TxPolicy, before: TxFacts, after: TxFacts) -> TxPoint | None:
    """The stop point that fell from ``before`` to ``after`` (an open transaction ends), if any."""
    fell = next((p for p in CHAIN if p in policy.stop and holds(p, before) and not holds(p, after)), None)
    if fell is None and before.ev_connected and not after.ev_connected and not after.authorized:
        return TxPoint.EV_CONNECTED  # nobody authorized it and its EV left
    return fell


def energy_before_start(policy: TxPolicy) -> bool:
    """Energy may flow before a transaction exists: it is the transaction's start point."""
    return TxPoint.ENERGY_TRANSFER in policy.start


# A station without a backend: from plugged-and-authorized until deauthorized or unplugged.
STANDALONE = TxPolicy(
    start=frozenset({TxPoint.POWER_PATH_CLOSED}), stop=frozenset({TxPoint.AUTHORIZED, TxPoint.EV_CONNECTED})
)
