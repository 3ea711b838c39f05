"""What the page says (controller/web/words.py): every state, fault and stop cause has words, and a
view is described as the owner should read it."""

from __future__ import annotations

from dataclasses import replace

from test_curves import tx, view

from controller.core.view import LimitView
from controller.core.vocabulary import AvailabilityReason, ChargingState, StopCause
from controller.faults import Fault
from controller.owner_limits import OWNER
from controller.web.words import (
    FAULTS,
    LIMIT_SOURCES,
    STATES,
    STOP_CAUSES,
    UNAVAILABLE_BECAUSE,
    describe,
    link_error_words,
    link_words,
    stop_words,
)
from hal.types import Indication


def test_every_member_has_words() -> None:
    assert set(FAULTS) == set(Fault)
    assert set(STATES) == set(Indication)
    assert set(STOP_CAUSES) == set(StopCause)
    assert set(UNAVAILABLE_BECAUSE) == set(AvailabilityReason)
    assert all(f.title and f.what and f.todo for f in FAULTS.values())
    assert stop_words("EVDisconnected") == "car unplugged" and stop_words("Bogus") == "Bogus" and stop_words(None) == ""


def test_link_errors_in_words() -> None:
    assert link_error_words("ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)").startswith(
        "Nothing answers"
    )
    assert "not trusted" in link_error_words("SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] ...")
    assert "password" in link_error_words("InvalidStatus: server rejected WebSocket connection: HTTP 401")
    assert link_error_words("closed by CSMS") == "The backend closed the connection."
    assert link_error_words("something new") == "something new" and link_error_words("") == ""
    assert link_words("connected", "Accepted").tone == "ok" and link_words("connected", "Pending").tone == "warn"
    assert link_words("waiting", None).title == "offline"


def test_a_view_in_words() -> None:
    charging = replace(view(tx()), indication=Indication.CHARGING, limit=LimitView(10.0, 3, OWNER))
    said = describe(charging, 10.0, meter_offline=False)
    assert said["state"] == {"title": "Charging", "detail": "Energy is flowing to the car.", "tone": "busy"}
    assert said["limit"] == {"amps": 10.0, "by": LIMIT_SOURCES[OWNER]} and said["setting_a"] == 10.0
    assert said["faults"] == [] and said["notice"] == ""

    by_car = replace(charging, indication=Indication.SUSPENDED, charging_state=ChargingState.SUSPENDED_EV)
    assert describe(by_car, None, False)["state"]["detail"].startswith("The car does not take power")
    low = replace(by_car, charging_state=ChargingState.SUSPENDED_EVSE, limit=LimitView(4.0, 3, "charging profiles"))
    assert (
        describe(low, None, False)["state"]["detail"] == "The limit (4 A) is below the 6 A a car needs: charging waits."
    )
    assert describe(low, None, False)["limit"]["by"] == "the backend (a charging profile)"
    assert describe(replace(low, paused=True), None, False)["state"]["detail"].startswith("Paused from this page")

    faulted = replace(charging, indication=Indication.FAULTED, faults=frozenset({Fault.READER, Fault.RCD}))
    faults = describe(faulted, None, True)["faults"]
    assert [(f["kind"], f["stops"]) for f in faults] == [("rcd", True), ("reader", False)]
    assert describe(faulted, None, True)["notice"].startswith("The energy meter does not answer")

    held = frozenset({AvailabilityReason.FIRMWARE, AvailabilityReason.OPERATOR})
    off = replace(charging, transaction=None, operative=False, inoperative_reasons=held)
    assert describe(off, None, False)["notice"] == (
        "Unavailable: a firmware update waits to install, switched off by the owner or the backend."
    )
    assert describe(replace(charging, scheduled_inoperative=True), None, False)["notice"].startswith("Becomes")
