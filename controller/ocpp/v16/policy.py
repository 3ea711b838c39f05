"""The one transaction policy of OCPP 1.6 (edition 2 sections 3.6, 4.8, 4.10, 9.1.31).

Rules kept here:
- A transaction starts when a token is authorized and an EV is plugged in (StartTransaction
  needs both), so the start point is PowerPathClosed.
- It stops when the authorization ends (the owner's or a group member's token, RemoteStop,
  an invalidated id) and, while StopTransactionOnEVSideDisconnect is true, when the EV side is
  unplugged; while false the transaction outlives the unplug (section 3.6).
"""

from __future__ import annotations

from controller.core.txpolicy import TxPolicy
from controller.core.vocabulary import TxPoint


def tx_policy(stop_on_ev_disconnect: bool) -> TxPolicy:
    stop = {TxPoint.AUTHORIZED} | ({TxPoint.EV_CONNECTED} if stop_on_ev_disconnect else set())
    return TxPolicy(start=frozenset({TxPoint.POWER_PATH_CLOSED}), stop=frozenset(stop))
