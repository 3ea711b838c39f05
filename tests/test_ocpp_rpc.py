"""OCPP-J framing: raw frames in, the spec's decision out (1.6 and 2.0.1)."""

import json

import pytest

from controller.ocpp.rpc import Call, CallError, CallResult, PayloadInvalid, Reject, Rpc

RPC16 = Rpc("1.6", max_frame_bytes=2000)
RPC201 = Rpc("2.0.1", max_frame_bytes=2000)
SUPPORTED = {"Reset", "SetChargingProfile", "ChangeConfiguration", "GetConfiguration"}


def reject(rpc: Rpc, frame: str | bytes) -> Reject:
    message = rpc.parse(frame, SUPPORTED)
    assert isinstance(message, Reject), message
    return message


@pytest.mark.parametrize(
    ("frame", "uid", "code16", "code201"),
    [
        ("not json", "-1", "FormationViolation", "RpcFrameworkError"),
        (b"\xff\xfe[2]", "-1", "FormationViolation", "RpcFrameworkError"),
        ('{"a": 1}', "-1", "FormationViolation", "RpcFrameworkError"),
        ("[]", "-1", "FormationViolation", "RpcFrameworkError"),
        ('["2", "id1", "Reset", {}]', "id1", "FormationViolation", "RpcFrameworkError"),
        ('[7, "id1", "Reset", {}]', "id1", "FormationViolation", "MessageTypeNotSupported"),
        ('[2, 17, "Reset", {}]', "-1", "FormationViolation", "RpcFrameworkError"),
        ('[2, "' + "x" * 37 + '", "Reset", {}]', "x" * 37, "FormationViolation", "RpcFrameworkError"),
        ('[2, "id1", "Reset"]', "id1", "ProtocolError", "RpcFrameworkError"),
        ('[2, "id1", "Reset", {}, {}]', "id1", "FormationViolation", "RpcFrameworkError"),
        ('[2, "id1", 5, {}]', "id1", "FormationViolation", "RpcFrameworkError"),
        ('[2, "id1", "NoSuchAction", {}]', "id1", "NotImplemented", "NotImplemented"),
        ('[2, "id1", "UnlockConnector", {}]', "id1", "NotSupported", "NotSupported"),
        ('[2, "id1", "Reset", [1]]', "id1", "FormationViolation", "FormatViolation"),
    ],
)
def test_broken_calls_get_the_versions_callerror(frame, uid, code16, code201):
    for rpc, code in ((RPC16, code16), (RPC201, code201)):
        rejected = reject(rpc, frame)
        assert (rejected.unique_id, rejected.code) == (uid, code)
        assert rejected.reply is not None
        sent = json.loads(rejected.reply)
        assert sent[:3] == [4, uid, code] and isinstance(sent[3], str) and sent[4] == {}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "OccurenceConstraintViolation"),  # required missing; 1.6 keeps the typo (errata 5.1)
        ({"type": 1}, "TypeConstraintViolation"),
        ({"type": "Warm"}, "PropertyConstraintViolation"),  # enum
        ({"type": "Hard", "extra": 1}, "FormationViolation"),  # additionalProperties
    ],
)
def test_schema_violations_map_to_16_codes(payload, code):
    assert reject(RPC16, json.dumps([2, "u", "Reset", payload])).code == code


def test_max_length_and_occurrence_in_nested_objects():
    long_key = json.dumps([2, "u", "ChangeConfiguration", {"key": "k" * 51, "value": "1"}])
    assert reject(RPC16, long_key).code == "PropertyConstraintViolation"
    missing = json.dumps([2, "u", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": {}}])
    assert reject(RPC16, missing).code == "OccurenceConstraintViolation"


def test_201_spells_occurrence_and_format_violation_correctly():
    assert reject(RPC201, '[2, "u", "Reset", {}]').code == "OccurrenceConstraintViolation"
    assert reject(RPC201, '[2, "u", "Reset", {"type": "Immediate", "x": 1}]').code == "FormatViolation"


def test_multiple_of_is_decimal_so_21_4_amps_is_valid():
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}]},
    }
    ok = RPC16.parse(json.dumps([2, "u", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}]),
                     SUPPORTED)  # fmt: skip
    assert isinstance(ok, Call)
    profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = 21.45
    bad = json.dumps([2, "u", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}])
    assert reject(RPC16, bad).code == "PropertyConstraintViolation"


def test_null_payload_means_empty_object():
    message = RPC16.parse('[2, "u", "GetConfiguration", null]', SUPPORTED)
    assert message == Call("u", "GetConfiguration", {})


def test_oversized_frame_answered_with_the_id_read_from_its_head():
    big = json.dumps([2, "big1", "ChangeConfiguration", {"key": "a", "value": "v" * 3000}])
    rejected = reject(RPC16, big)
    assert (rejected.unique_id, rejected.code) == ("big1", "FormationViolation")
    assert reject(RPC16, "[" * 3000).unique_id == "-1"
    assert reject(RPC16, json.dumps([3, "r1", {"v": "x" * 3000}])).reply is None


def test_broken_responses_are_never_answered():
    for frame in ('[3, "r1"]', '[3, "r1", 5]', '[4, "r1", "InternalError"]', "[3, 5, {}]"):
        assert reject(RPC16, frame).reply is None, frame


def test_results_and_errors_parse():
    assert RPC16.parse('[3, "r1", {"status": "Accepted"}]', ()) == CallResult("r1", {"status": "Accepted"})
    assert RPC16.parse('[3, "r1", null]', ()) == CallResult("r1", {})
    assert RPC16.parse('[4, "r1", "InternalError", "boom", {"a": 1}]', ()) == CallError(
        "r1", "InternalError", "boom", {"a": 1}
    )


def test_response_validation():
    assert RPC16.validate("BootNotification", {"status": "Accepted"}, response=True).code == (
        "OccurenceConstraintViolation"
    )
    good = {"status": "Accepted", "currentTime": "2024-01-01T00:00:00Z", "interval": 300}
    assert RPC16.validate("BootNotification", good, response=True) is None


def test_outgoing_invalid_payloads_raise_instead_of_reaching_the_wire():
    with pytest.raises(PayloadInvalid):
        RPC16.call("BootNotification", {"chargePointVendor": "x" * 21, "chargePointModel": "m"})
    with pytest.raises(PayloadInvalid):
        RPC16.call("NoSuchAction", {})
    with pytest.raises(PayloadInvalid):
        RPC16.result("u", "Reset", {"status": "Maybe"})
    with pytest.raises(ValueError):
        RPC16.error("u", "FormatViolation")  # a 2.0.1 code is not valid in 1.6


def test_call_frames_are_unique_and_round_trip():
    uid1, text1 = RPC16.call("Heartbeat", {})
    uid2, _ = RPC16.call("Heartbeat", {})
    assert uid1 != uid2 and len(uid1) <= 36
    assert json.loads(text1) == [2, uid1, "Heartbeat", {}]
    assert json.loads(RPC16.call("Heartbeat", {}, unique_id="keep")[1])[1] == "keep"
