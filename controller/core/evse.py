"""The station's mutable state per EVSE (and for a token not bound to an EVSE yet): private to the core.

Rules kept here:
- Only controller/core/station.py changes these objects, on the asyncio thread; everyone else
  reads frozen views (controller/core/view.py).
- A ``Slot`` is what can hold an authorization and a transaction: every EVSE, and the station's
  one slot for a token presented before any EV chose an EVSE (multi-EVSE stations).
- The facts the pure rules take (``TxFacts``, ``EvseFacts``) are read here, in one place.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from controller.core.charging_state import EvseFacts, first_fault, occupancy
from controller.core.config import ConnectorConfig
from controller.core.events import RemoteStart
from controller.core.ledger import Transaction
from controller.core.txpolicy import TxFacts
from controller.core.view import Authorization, EvseView, LimitView
from controller.core.vocabulary import AvailabilityReason, ChargingState, StopCause, Token
from controller.realtime import ConnectorSnapshot
from hal.types import CpState, Indication, MeterReading


@dataclass
class Slot:
    authorization: Authorization | None = None
    deadline: float | None = None  # monotonic: the authorized token waits for an EV until then
    remote_start: RemoteStart | None = None  # brought by the authorization, handed to its transaction
    transaction: Transaction | None = None
    starting: asyncio.Task[Any] | None = None
    stopping: bool = False  # the transaction's end is being made durable
    ending: asyncio.Task[Any] | None = None
    ended_by: tuple[StopCause, Token | None] | None = None  # the authorization ended inside the transaction
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def busy(self) -> bool:
        """A transaction is open, starting or being ended."""
        return self.transaction is not None or self.starting is not None or self.stopping


@dataclass
class Evse(Slot):
    config: ConnectorConfig | None = None
    snapshot: ConnectorSnapshot | None = None
    meter: MeterReading | None = None
    finishing: bool = False
    ended_with_ev: bool = False  # the EV there when its transaction's end began has not left
    plugged_at: float | None = None
    plug_timed_out: bool = False
    lock_held_for: Token | None = None  # a cable kept locked after a transaction, for this token
    lock_attempts: int = 0  # unlocks asked for: each one drives the lock again
    paused: bool = False
    energy_cap_wh: float | None = None
    operative: bool = True  # applied; a wanted change may wait for the transaction (scheduled)
    reserved: bool = False  # shown as reserved
    charging_state: ChargingState | None = None  # published
    indication: Indication | None = None  # published
    limit: LimitView | None = None
    power_path: bool = False  # last told: EV connected and authorized
    last_progress: float = 0.0

    @property
    def id(self) -> int:
        assert self.config is not None
        return self.config.id

    @property
    def ev_connected(self) -> bool:
        return self.snapshot is not None and self.snapshot.cp is not CpState.A

    def tx_facts(self) -> TxFacts:
        snap = self.snapshot
        return TxFacts(
            ev_connected=self.ev_connected,
            authorized=self.authorization is not None,
            energy_transfer=snap is not None and snap.contactor,
        )

    def facts(self, token_waiting: bool) -> EvseFacts:
        return EvseFacts(
            snapshot=self.snapshot,
            in_transaction=self.transaction is not None,
            authorized=self.authorization is not None,
            stopping=self.stopping,
            finishing=self.finishing,
            token_waiting=token_waiting,
            plug_timed_out=self.plug_timed_out,
            operative=self.operative,
            reserved=self.reserved,
        )

    def view(self, inoperative: frozenset[AvailabilityReason], token_waiting: bool, has_lock: bool) -> EvseView:
        """What the outside may see of this EVSE now (frozen)."""
        cfg, snap = self.config, self.snapshot
        assert cfg is not None
        faults = snap.faults if snap is not None else frozenset()
        return EvseView(
            id=self.id,
            phases=cfg.phases,
            max_current_a=cfg.max_current_a,
            snapshot=snap,
            meter=self.meter,
            ev_connected=self.ev_connected,
            authorization=self.authorization,
            transaction=self.transaction,
            charging_state=self.charging_state,
            indication=self.indication,
            occupancy=occupancy(self.facts(token_waiting)),
            operative=self.operative,
            inoperative_reasons=inoperative,
            scheduled_inoperative=self.operative and bool(inoperative),
            finishing=self.finishing,
            stopping=self.stopping,
            plug_timed_out=self.plug_timed_out,
            token_waiting=token_waiting,
            reserved=self.reserved,
            faults=faults,
            fault=first_fault(faults),
            paused=self.paused,
            energy_cap_wh=self.energy_cap_wh,
            limit=self.limit,
            has_lock=has_lock,
        )

    def releases_lock(self, token: Token) -> bool:
        """``token`` opens a cable kept locked: the owner's, or its group's own token."""
        held = self.lock_held_for
        if held is None:
            return False
        return token.same(held) or (held.group is not None and token.id.casefold() == held.group.casefold())


def pending_facts(slot: Slot) -> TxFacts:
    """The facts of the station's slot: a token, no EV yet."""
    return TxFacts(authorized=slot.authorization is not None)
