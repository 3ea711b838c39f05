"""OCPP 1.6 configuration keys: the table's parsing rules, the persisted store, and
GetConfiguration / ChangeConfiguration over a real websocket from the bench CSMS."""

import asyncio

import pytest
from ocpp.v16.enums import Measurand, Phase

from controller.ocpp.link import Link, Refuse
from controller.ocpp.rpc import Rpc
from controller.ocpp.v16 import keys
from controller.ocpp.v16.configuration import Configuration
from controller.ocpp.v16.keys import BY_NAME, KEYS, BadValue, parse, render
from controller.storage import Database
from sim.csms import Csms

CORE_REQUIRED = {
    "AuthorizeRemoteTxRequests", "ClockAlignedDataInterval", "ConnectionTimeOut", "ConnectorPhaseRotation",
    "GetConfigurationMaxKeys", "HeartbeatInterval", "LocalAuthorizeOffline", "LocalPreauthorize",
    "MeterValuesAlignedData", "MeterValuesSampledData", "MeterValueSampleInterval", "NumberOfConnectors",
    "ResetRetries", "StopTransactionOnEVSideDisconnect", "StopTransactionOnInvalidId", "StopTxnAlignedData",
    "StopTxnSampledData", "SupportedFeatureProfiles", "TransactionMessageAttempts",
    "TransactionMessageRetryInterval", "UnlockConnectorOnEVSideDisconnect",
}  # fmt: skip


def test_table_has_every_required_core_key_and_defaults_parse():
    assert {k.name for k in KEYS if k.profile == "Core" and k.required} >= CORE_REQUIRED
    for key in KEYS:
        if key.default or key.kind != "string":
            assert render(key, parse(key, key.default, max_items=8)) == key.default, key.name


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("LocalPreauthorize", "TRUE", True),
        ("LocalPreauthorize", "false", False),
        ("HeartbeatInterval", "60", 60),
        ("MeterValuesSampledData", "Frequency,Voltage.L1", ("Frequency", "Voltage.L1")),
        ("MeterValuesSampledData", "", ()),
        ("ConnectorPhaseRotation", "0.RST,1.RTS", ("0.RST", "1.RTS")),
        ("AuthorizationKey", "00112233445566778899aabbccddeeff", "00112233445566778899aabbccddeeff"),
        ("AuthorizationKey", "Tr0ub4dor&3-Horse:Staple", "Tr0ub4dor&3-Horse:Staple"),  # 16-40 visible ASCII
    ],
)  # fmt: skip
def test_values_parse(name, text, value):
    assert parse(BY_NAME[name], text, max_items=8) == value


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("LocalPreauthorize", "yes"),
        ("HeartbeatInterval", "-1"),
        ("HeartbeatInterval", "1.5"),
        ("WebSocketPingInterval", "-5"),  # 9.1.34: negative -> Rejected
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Bogus"),
        ("MeterValuesSampledData", "Voltage.L9"),
        ("MeterValuesSampledData", "Voltage,Voltage"),
        ("MeterValuesSampledData", "Voltage,Current.Import,Power.Active.Import,Frequency"),  # > max_items
        ("ConnectorPhaseRotation", "1.XYZ"),
        ("AuthorizationKey", "too-short"),
        ("AuthorizationKey", "x" * 15),
        ("AuthorizationKey", "0" * 41),
        ("AuthorizationKey", "correct horse battery"),  # a space would not survive the secret file
        ("AuthorizationKey", "pässwörd-pässwörd"),  # not ASCII: no agreed bytes on the wire
    ],
)
def test_bad_values_name_what_is_allowed(name, text):
    with pytest.raises(BadValue, match=name):
        parse(BY_NAME[name], text, max_items=3)


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "config.db")
    yield database
    database.close()


async def test_change_configuration_statuses_and_persistence(db, tmp_path):
    config = Configuration(db, {"Core", "SmartCharging", "Security"})
    assert await config.change("HeartbeatInterval", "120") == "Accepted"
    assert await config.change("HeartbeatInterval", "abc") == "Rejected"
    assert await config.change("NumberOfConnectors", "2") == "Rejected"  # read-only
    assert await config.change("NoSuchKey", "1") == "NotSupported"
    assert await config.change("LocalAuthListEnabled", "true") == "NotSupported"  # profile not wired
    assert await config.change("SecurityProfile", "1") == "Accepted"
    assert await config.change("SecurityProfile", "1") == "Rejected"  # can only be raised
    assert await config.change("SecurityProfile", "0") == "Rejected"
    assert config.integer("HeartbeatInterval") == 120
    again = Configuration(db, {"Core", "SmartCharging", "Security"})
    assert again.integer("HeartbeatInterval") == 120 and again.integer("SecurityProfile") == 1


def test_typed_reads_give_each_kind_of_key_its_type_and_refuse_another_kind(db):
    config = Configuration(db, {"Core"}, overrides={"MeterValuesSampledData": "Energy.Active.Import.Register"})
    assert config.integer("HeartbeatInterval") == 300 and config.flag("AuthorizeRemoteTxRequests") is True
    assert config.members("MeterValuesSampledData") == ("Energy.Active.Import.Register",)
    with pytest.raises(TypeError, match="HeartbeatInterval is of kind int, not bool"):
        config.flag("HeartbeatInterval")
    with pytest.raises(TypeError):
        config.integer("MeterValuesSampledData")
    # an optional key of a profile left unwired: its given value, else KeyError
    assert config.flag("LocalAuthListEnabled", unwired=False) is False
    assert config.text("CpoName", unwired="") == ""
    with pytest.raises(KeyError):
        config.integer("LocalAuthListMaxLength")


async def test_listeners_run_after_the_change_and_a_failing_one_does_not_undo_it(db):
    config = Configuration(db, {"Core"})
    seen = []

    async def reschedule(value):
        seen.append(value)

    def broken(value):
        raise RuntimeError("listener bug")

    config.on_change("MeterValueSampleInterval", broken)
    config.on_change("MeterValueSampleInterval", reschedule)
    assert await config.change("MeterValueSampleInterval", "15") == "Accepted"
    assert seen == [15] and config.integer("MeterValueSampleInterval") == 15
    assert await config.change("MeterValueSampleInterval", "x") == "Rejected"
    assert seen == [15]


async def test_measurands_narrowed_to_what_the_meter_delivers(db):
    config = Configuration(db, {"Core"}, measurands=["Energy.Active.Import.Register", "Power.Active.Import"])
    assert await config.change("MeterValuesSampledData", "Energy.Active.Import.Register,Power.Active.Import") == (
        "Accepted"
    )
    assert await config.change("MeterValuesSampledData", "Temperature") == "Rejected"


async def test_get_configuration_lists_known_hides_write_only_and_reports_unknown(db):
    config = Configuration(db, {"Core", "SmartCharging", "Security"}, hidden={"LightIntensity"})
    await config.change("AuthorizationKey", "00112233445566778899aabbccddeeff")
    everything = await config.get_configuration({})
    listed = {k["key"]: k for k in everything["configurationKey"]}
    assert "AuthorizationKey" not in listed and "LightIntensity" not in listed
    assert listed["SupportedFeatureProfiles"] == {"key": "SupportedFeatureProfiles", "readonly": True,
                                                   "value": "Core,SmartCharging"}  # fmt: skip
    assert listed["LocalPreauthorize"]["value"] == "false" and listed["LocalPreauthorize"]["readonly"] is False
    asked = await config.get_configuration({"key": ["AuthorizationKey", "Bogus", "HeartbeatInterval"]})
    assert asked["configurationKey"][0] == {"key": "AuthorizationKey", "readonly": False}
    assert asked["unknownKey"] == ["Bogus"]
    assert "unknownKey" not in everything  # empty lists are left out, not sent as []
    with pytest.raises(Refuse) as refused:
        await config.get_configuration({"key": ["HeartbeatInterval"] * 101})
    assert refused.value.code == "OccurenceConstraintViolation"


def test_station_config_naming_an_unknown_key_is_a_startup_error(db):
    with pytest.raises(ValueError, match="HeartbeatIntervall"):
        Configuration(db, {"Core"}, overrides={"HeartbeatIntervall": "10"})
    with pytest.raises(BadValue, match="HeartbeatInterval"):
        Configuration(db, {"Core"}, overrides={"HeartbeatInterval": "often"})
    # Keys are CiString50Type: any letter case names the key (7.17).
    assert Configuration(db, {"Core"}, overrides={"HeartBeatInterval": "10"}).integer("HeartbeatInterval") == 10


async def test_over_the_wire_from_the_bench_csms(db):
    csms = Csms()
    port = await csms.start()
    config = Configuration(db, {"Core", "SmartCharging", "RemoteTrigger"})
    link = Link(f"ws://127.0.0.1:{port}", "CFG1", Rpc("1.6"))
    link.handle("GetConfiguration", config.get_configuration)
    link.handle("ChangeConfiguration", config.change_configuration)
    link.start()
    try:
        async with asyncio.timeout(5):
            await csms.wait_for(lambda c: "CFG1" in c.sessions)
            # the platform's own request (DESIGN.md seeds)
            sampled = {"key": "MeterValuesSampledData", "value": "Energy.Active.Import.Register,Power.Active.Import"}
            assert await csms.call("CFG1", "ChangeConfiguration", sampled) == {"status": "Accepted"}
            interval = {"key": "MeterValueSampleInterval", "value": "60"}
            assert await csms.call("CFG1", "ChangeConfiguration", interval) == {"status": "Accepted"}
            bad = {"key": "MeterValueSampleInterval", "value": "-60"}
            assert await csms.call("CFG1", "ChangeConfiguration", bad) == {"status": "Rejected"}
            got = await csms.call("CFG1", "GetConfiguration", {"key": ["MeterValuesSampledData", "Nope"]})
        assert got["configurationKey"][0]["value"] == "Energy.Active.Import.Register,Power.Active.Import"
        assert got["unknownKey"] == ["Nope"]
    finally:
        await link.close()
        await csms.stop()


def test_measurands_and_phases_are_the_specs():
    assert tuple(m.value for m in Measurand) == keys.MEASURANDS  # same order: error messages list them
    assert {p.value for p in Phase} == keys.PHASES
