"""Network connection profiles, sans-I/O: what a slot holds, which SetNetworkProfile and which
NetworkConfigurationPriority the station takes, and in what order it tries its slots (part 2 B09,
B10, A05; errata 2025-09 2.5, 2.11-2.13).

Rules kept here:
- A slot (1..n, the valuesList of NetworkConfigurationPriority) holds a ``NetworkProfile``: the
  CSMS URL, the security profile, the message timeout, the interface (recorded: the operating
  system routes), version and transport.
- SetNetworkProfile (``refusal``): a slot outside the valuesList -> Rejected, InvalidConfSlot
  (B09.FR.05); content this station cannot use -> Rejected, InvalidNetworkConf (B09.FR.02): not
  OCPP20 over JSON, a security profile outside 1-3, a URL that is not ws:// for profile 1 or
  wss:// for 2 and 3, a timeout below 1 s, APN or VPN data (the station has no modem and no VPN
  client); a security profile lower than the current one -> Rejected, NoSecurityDowngrade
  (B09.FR.04, errata 2.11/2.12: no AllowSecurityProfileDowngrade here).
- NetworkConfigurationPriority (``priority_refusal``; B10.FR.01/02, A05.FR.02-04, A05.FR.10):
  every slot named has a profile, none has a security profile lower than the current one, and
  what a higher one needs is there (controller/ocpp/security_profile.py ``missing``).
- The walk (``Walk``): the slots of the priority in order, NetworkProfileConnectionAttempts
  attempts each (B10.FR.03/04). When every one failed: the slot of the last successful
  connection, for good, with the part-4 back-off between attempts (B10.FR.07, C-47); a station
  that never connected walks the list again (B10.FR.08). A lost connection starts the walk over
  (errata B10.FR.03). Slots below the current security profile are never tried (A05.FR.07).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from controller.ocpp.security_profile import may_change, uses_tls

Payload = dict[str, Any]
VERSION, TRANSPORT = "OCPP20", "JSON"
PROFILES = (1, 2, 3)


@dataclass(frozen=True)
class NetworkProfile:
    url: str  # ocppCsmsUrl: the station's identity is appended to its path
    security_profile: int
    message_timeout_s: int = 30
    interface: str = "Wired0"

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> NetworkProfile:
        return NetworkProfile(data["ocppCsmsUrl"], int(data["securityProfile"]), int(data["messageTimeout"]),
                              data.get("ocppInterface", "Wired0"))  # fmt: skip

    def to_json(self) -> Payload:
        return {"ocppVersion": VERSION, "ocppTransport": TRANSPORT, "ocppCsmsUrl": self.url,
                "messageTimeout": self.message_timeout_s, "securityProfile": self.security_profile,
                "ocppInterface": self.interface}  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    reason_code: str  # statusInfo.reasonCode (errata 2.11)
    info: str


def profile_problem(data: Mapping[str, Any]) -> str | None:
    """Why this station cannot use connectionData ``data`` (None: it can)."""
    if data.get("ocppVersion") != VERSION or data.get("ocppTransport") != TRANSPORT:
        return f"only {VERSION} over {TRANSPORT} is spoken here"
    profile = data.get("securityProfile")
    if profile not in PROFILES:
        return f"securityProfile {profile}: expected one of {PROFILES}"
    scheme = "wss" if uses_tls(profile) else "ws"
    try:
        parts = urlsplit(data.get("ocppCsmsUrl", ""))
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0..65535
    except ValueError as exc:
        return f"ocppCsmsUrl: {exc}"
    if parts.scheme != scheme or not parts.hostname:
        return f"ocppCsmsUrl must be a {scheme}:// URL with a host for security profile {profile}"
    if int(data.get("messageTimeout", 0)) < 1:
        return "messageTimeout must be at least 1 s"
    if data.get("apn") is not None or data.get("vpn") is not None:
        return "this station has no cellular modem and no VPN client (apn / vpn)"
    return None


def refusal(slot: int, data: Mapping[str, Any], slots: Sequence[int], security_profile: int) -> Refusal | None:
    """SetNetworkProfile's Rejected, or None when the profile may be stored."""
    if slot not in slots:
        return Refusal("InvalidConfSlot", f"configurationSlot {slot}: this station has slots {list(slots)}")
    problem = profile_problem(data)
    if problem is not None:
        return Refusal("InvalidNetworkConf", problem)
    wanted = int(data["securityProfile"])
    if not may_change(security_profile, wanted):
        return Refusal("NoSecurityDowngrade", f"securityProfile {wanted} is lower than the current {security_profile}")
    return None


def priority_refusal(
    order: Sequence[str],
    profiles: Mapping[int, NetworkProfile],
    security_profile: int,
    missing: Callable[[int], str | None],
) -> str | None:
    """Why NetworkConfigurationPriority ``order`` cannot be taken (None: it can)."""
    for text in order:
        profile = profiles.get(int(text))
        if profile is None:
            return f"slot {text} holds no network connection profile (SetNetworkProfile first)"
        if not may_change(security_profile, profile.security_profile):
            return f"slot {text} uses security profile {profile.security_profile}, lower than the current {security_profile}"  # noqa: E501
        if profile.security_profile > security_profile:
            lacking = missing(profile.security_profile)
            if lacking is not None:
                return f"slot {text}: {lacking}"
    return None


@dataclass
class Walk:
    """Which slot each connection attempt uses."""

    order: tuple[int, ...]  # NetworkConfigurationPriority as the station booted, usable slots only
    attempts: int  # NetworkProfileConnectionAttempts per slot
    last_good: int | None  # the slot of the last successful connection
    _index: int = 0
    _tries: int = 0
    _lost: bool = field(default=False, repr=False)

    def next(self) -> int | None:
        """The slot for the coming attempt (None: there is none to try)."""
        if self._lost:
            self._index, self._tries, self._lost = 0, 0, False
        if self._tries >= max(1, self.attempts) and self._index < len(self.order):
            self._index, self._tries = self._index + 1, 0
        if self._index >= len(self.order):
            if self.last_good is not None:  # B10.FR.07: reconnect there for good
                return self.last_good
            self._index, self._tries = 0, 0  # B10.FR.08: walk the list again
        if not self.order:
            return None
        self._tries += 1
        return self.order[self._index]

    def connected(self, slot: int) -> None:
        self.last_good, self._lost = slot, True
