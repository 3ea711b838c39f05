"""The charging rules the device model holds, as the core's ``ChargingPolicy`` (part 2 E01/E06,
RCV 2.6 TxCtrlr, 2.1.12 UnlockOnEVSideDisconnect).

Rules kept here:
- TxStartPoint / TxStopPoint are the core's TxPolicy points by name (the table's valuesList is
  made from the same vocabulary); EVConnectionTimeOut is the connection time-out;
  StopTxOnInvalidId and MaxEnergyOnInvalidId what a token invalidated after the start leads
  to; UnlockOnEVSideDisconnect whether a cable stays locked for its owner (a station without
  a lock reports false, read-only, yet has nothing to keep locked: the core unlocks).
- StopTxOnEVSideDisconnect: the EV leaving ends the authorization (E09.FR.01); else the
  transaction goes on (E10), and on a tethered cable ends after EVConnectionTimeOut if the
  EV does not come back (E10.FR.02).
- TxBeforeAcceptedEnabled: transactions may start before this boot's BootNotification was
  Accepted; else none starts until it is (part 2 B "Transactions before being accepted").
- The policy is set at start and again after every committed write of these variables
  (``EFFECTS``), so a change applies to the next decision the core takes.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.core.commands import ChargingPolicy
from controller.core.txpolicy import TxPolicy
from controller.core.vocabulary import TxPoint
from controller.ocpp.v201.values import Value

EFFECTS = frozenset({
    "tx_start_points", "tx_stop_points", "ev_connection_timeout", "stop_tx_on_invalid_id", "max_energy_on_invalid_id",
    "unlock_on_ev_side_disconnect", "stop_tx_on_ev_side_disconnect", "tx_before_accepted",
})  # fmt: skip


def charging_policy(value: Callable[[str], Value | None], has_lock: bool, accepted: bool) -> ChargingPolicy:
    def points(address: str) -> frozenset[TxPoint]:
        members = value(address)
        assert isinstance(members, tuple)
        return frozenset(TxPoint(m) for m in members)

    timeout, cap = value("TxCtrlr.EVConnectionTimeOut"), value("TxCtrlr.MaxEnergyOnInvalidId")
    assert isinstance(timeout, int) and isinstance(cap, int)
    return ChargingPolicy(
        tx=TxPolicy(points("TxCtrlr.TxStartPoint"), points("TxCtrlr.TxStopPoint")),
        connection_timeout_s=float(timeout),
        unlock_on_ev_disconnect=not has_lock or value("OCPPCommCtrlr.UnlockOnEVSideDisconnect") is True,
        stop_on_invalid_id=value("TxCtrlr.StopTxOnInvalidId") is True,
        max_energy_on_invalid_id_wh=float(cap),
        deauthorize_on_ev_disconnect=value("TxCtrlr.StopTxOnEVSideDisconnect") is True,
        timeout_after_ev_disconnect=True,
        start_allowed=accepted or value("TxCtrlr.TxBeforeAcceptedEnabled") is True,
    )
