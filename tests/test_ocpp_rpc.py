"""OCPP-J framing: raw frames in, the spec's decision out (1.6 and 2.0.1)."""

import json

import pytest

from controller.ocpp.rpc import MAX_DEPTH, Call, CallError, CallResult, Ignored, PayloadInvalid, Reject, Rpc, too_deep

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


def test_unknown_message_type_is_ignored_in_16_and_answered_in_201():
    # OCPP-J 4.1.3 (both versions): "it SHALL ignore the message payload"; 1.6 has no code for
    # it, 2.0.1 has MessageTypeNotSupported.
    assert RPC16.parse('[7, "id1", "Reset", {}]', SUPPORTED) == Ignored("id1", "MessageTypeId 7 is not 2, 3 or 4")
    assert reject(RPC201, '[7, "id1", "Reset", {}]').code == "MessageTypeNotSupported"


def test_binary_frames_are_not_ocpp_j_even_when_they_hold_valid_json():
    for frame in (b'[2, "id1", "Reset", {"type": "Soft"}]', '[2, "id1", "Reset", {"type": "Soft"}]'.encode("utf-16")):
        rejected = reject(RPC16, frame)
        assert (rejected.unique_id, rejected.code) == ("-1", "FormationViolation")


def nest(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_nesting_depth_is_bounded_before_parsing():
    assert not too_deep(nest(MAX_DEPTH))
    assert too_deep(nest(MAX_DEPTH + 1))
    assert too_deep('{"a": ' * 40 + "1" + "}" * 40)
    assert not too_deep(json.dumps(["[" * 100, {"k": "{{{{" * 50}]))  # brackets in strings do not count
    assert not too_deep(json.dumps([[1, 2]] * 5000))  # wide is fine
    assert not too_deep('"' + '\\"' * 1000)  # an unterminated string with escapes: no nesting
    assert too_deep("[" * 100 + '"unterminated')


@pytest.mark.parametrize(
    ("frame", "uid", "answered"),
    [
        ('[2, "deep1", "DataTransfer", {"vendorId": "v", "data": ' + nest(1000) + "}]", "deep1", True),
        (nest(1000), "-1", True),  # no head to read: the unreadable-frame rule
        ('[3, "r1", {"a": ' + nest(1000) + "}]", "r1", False),  # fails the waiting CALL instead
    ],
)
def test_a_frame_nested_too_deep_is_judged_by_its_head(frame, uid, answered):
    rejected = reject(RPC16, frame)
    assert (rejected.unique_id, rejected.code) == (uid, "FormationViolation")
    assert (rejected.reply is not None) == answered


def test_a_deep_frame_of_unknown_type_is_ignored_too():
    assert RPC16.parse('[9, "x", ' + nest(1000) + "]", SUPPORTED) == Ignored("x", "MessageTypeId 9 is not 2, 3 or 4")


def reserve_now(expiry: str) -> str:
    return json.dumps(
        [2, "r", "ReserveNow", {"connectorId": 1, "expiryDate": expiry, "idTag": "T", "reservationId": 1}]
    )


def send_local_list(expiry: str) -> str:
    entry = {"idTag": "T", "idTagInfo": {"status": "Accepted", "expiryDate": expiry}}
    return json.dumps(
        [2, "r", "SendLocalList", {"listVersion": 2, "updateType": "Full", "localAuthorizationList": [entry]}]
    )


def set_charging_profile(start: str) -> str:
    schedule = {
        "chargingRateUnit": "A",
        "startSchedule": start,
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}],
    }
    profile = {"chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Absolute", "chargingSchedule": schedule}  # fmt: skip
    return json.dumps([2, "r", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile}])


@pytest.mark.parametrize("build", [reserve_now, send_local_list, set_charging_profile])
@pytest.mark.parametrize(
    "moment", ["2025-02-30T10:00:00Z", "2025-01-31", "2025-01-31T10:00:00", "2025-01-31T10:00Z", "", "tomorrow"]
)
def test_one_date_time_rule_for_every_request(build, moment):
    supported = {"ReserveNow", "SendLocalList", "SetChargingProfile"}
    rejected = RPC16.parse(build(moment), supported)
    assert isinstance(rejected, Reject) and rejected.code == "TypeConstraintViolation", rejected


@pytest.mark.parametrize("moment", ["2025-01-31T10:00:00Z", "2025-01-31t10:00:00.123z", "2025-01-31T10:00:00+05:30"])
def test_rfc_3339_date_times_pass(moment):
    supported = {"ReserveNow", "SendLocalList", "SetChargingProfile"}
    for build in (reserve_now, send_local_list, set_charging_profile):
        assert isinstance(RPC16.parse(build(moment), supported), Call)


def test_responses_are_read_without_format_checks():
    naive = {"status": "Accepted", "currentTime": "2025-01-31T10:00:00", "interval": 300}  # field CSMSs send these
    assert RPC16.validate("BootNotification", naive, response=True, formats=False) is None
    assert RPC16.validate("BootNotification", naive, response=True).code == "TypeConstraintViolation"


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
