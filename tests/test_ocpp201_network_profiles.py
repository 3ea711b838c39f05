"""Network connection profiles and security profiles, sans-I/O: which SetNetworkProfile and which
NetworkConfigurationPriority a station takes (B09, B10, A05 with the 2025-09 errata) and in what
order it tries its slots."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.ocpp.security_profile import may_change, missing, trial_failed
from controller.ocpp.tls import Failure, TlsEvent
from controller.ocpp.v201.network_profiles import NetworkProfile, Walk, priority_refusal, refusal


def data(url: str = "wss://csms.example/ocpp", profile: int = 2, **more: object) -> dict[str, object]:
    return {"ocppVersion": "OCPP20", "ocppTransport": "JSON", "ocppCsmsUrl": url, "messageTimeout": 30,
            "securityProfile": profile, "ocppInterface": "Wired0", **more}  # fmt: skip


@pytest.mark.parametrize(
    ("slot", "payload", "current", "code"),
    [
        (2, data(), 2, None),
        (2, data(profile=3), 2, None),
        (1, data("ws://csms.example/ocpp", 1), 1, None),
        (3, data(), 1, "InvalidConfSlot"),  # B09.FR.05: slots 1 and 2 only
        (0, data(), 1, "InvalidConfSlot"),
        (2, data("ws://csms.example/ocpp", 2), 1, "InvalidNetworkConf"),  # profile 2 needs wss
        (2, data("wss://csms.example/ocpp", 1), 1, "InvalidNetworkConf"),  # profile 1 is ws
        (2, data(profile=0), 0, "InvalidNetworkConf"),  # no profile 0 in 2.0.1
        (2, data(profile=4), 1, "InvalidNetworkConf"),
        (2, data("wss:///no-host", 2), 1, "InvalidNetworkConf"),
        (2, data("wss://csms.example:99999/", 2), 1, "InvalidNetworkConf"),
        (2, data(ocppVersion="OCPP16"), 1, "InvalidNetworkConf"),
        (2, data(ocppTransport="SOAP"), 1, "InvalidNetworkConf"),
        (2, data(messageTimeout=0), 1, "InvalidNetworkConf"),
        (2, data(apn={"apn": "internet", "apnAuthentication": "NONE"}), 1, "InvalidNetworkConf"),
        (2, data("ws://csms.example/ocpp", 1), 2, "NoSecurityDowngrade"),  # B09.FR.04, errata 2.11/2.12
        (2, data(profile=2), 3, "NoSecurityDowngrade"),  # no AllowSecurityProfileDowngrade here
    ],
)
def test_set_network_profile(slot: int, payload: dict[str, object], current: int, code: str | None) -> None:
    refused = refusal(slot, payload, (1, 2), current)
    assert (refused.reason_code if refused else None) == code


def test_priority_needs_profiles_no_downgrade_and_the_prerequisites() -> None:
    profiles = {1: NetworkProfile("ws://a/", 1), 2: NetworkProfile("wss://b/", 2), 3: NetworkProfile("wss://c/", 3)}

    def lacking(profile: int) -> str | None:
        return "no client certificate" if profile == 3 else None

    assert priority_refusal(("2", "1"), profiles, 1, lacking) is None  # A05.FR.04
    assert "no client certificate" in (priority_refusal(("3", "1"), profiles, 1, lacking) or "")  # A05.FR.03
    assert "holds no" in (priority_refusal(("2", "4"), {**profiles}, 1, lacking) or "")  # B10.FR.02
    assert "lower" in (priority_refusal(("2", "1"), profiles, 2, lacking) or "")  # A05.FR.10
    assert priority_refusal(("2",), profiles, 2, lacking) is None  # equal: nothing to check


def tries(walk: Walk, n: int) -> list[int | None]:
    return [walk.next() for _ in range(n)]


def test_walk_makes_the_attempts_per_slot_then_falls_back_to_the_last_good_one() -> None:
    walk = Walk((2, 1), attempts=2, last_good=1)
    assert tries(walk, 6) == [2, 2, 1, 1, 1, 1]  # B10.FR.03, then B10.FR.07 for good
    walk.connected(1)
    assert tries(walk, 3) == [2, 2, 1]  # a lost connection walks the list again (errata B10.FR.03)


def test_walk_without_a_good_slot_starts_over() -> None:
    assert tries(Walk((2, 1), attempts=1, last_good=None), 5) == [2, 1, 2, 1, 2]  # B10.FR.08
    assert Walk((), attempts=3, last_good=None).next() is None
    assert tries(Walk((), attempts=3, last_good=1), 2) == [1, 1]


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4, unique=True), st.integers(1, 4))
def test_walk_gives_each_slot_its_attempts_in_order(order: list[int], attempts: int) -> None:
    walk = Walk(tuple(order), attempts, last_good=None)
    assert tries(walk, len(order) * attempts) == [slot for slot in order for _ in range(attempts)]


def test_security_profile_rules() -> None:
    assert may_change(1, 2) and may_change(2, 2) and not may_change(3, 2)
    assert missing(2, password="", roots=True, client_certificate=False) is None
    assert "password" in (missing(1, password="not set", roots=False, client_certificate=False) or "")
    assert "root" in (missing(2, password="", roots=False, client_certificate=True) or "")
    assert "client certificate" in (missing(3, password=None, roots=True, client_certificate=False) or "")
    plain = Failure("ConnectionRefusedError")
    assert not trial_failed(plain, 2, 3) and trial_failed(plain, 3, 3)
    assert trial_failed(Failure("401", credentials_refused=True), 1, 3)
    assert trial_failed(Failure("bad certificate", TlsEvent.INVALID_CSMS_CERTIFICATE), 1, 3)
