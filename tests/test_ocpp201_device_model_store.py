"""The OCPP 2.0.1 device model across restarts: CSMS writes in a real SQLite file (secrets in
their own files), presets from a real TOML ``[ocpp.variables]`` section, and which one wins."""

# The cases read best one per line.

from __future__ import annotations

import logging
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ocpp201_device_model import Live, two_connector_station

from controller.ocpp.v201.description import EvseDescription, StationDescription
from controller.ocpp.v201.device_model import DeviceModel
from controller.ocpp.v201.inventory import Inventory
from controller.ocpp.v201.presets import resolve_presets
from controller.ocpp.v201.store import VariableStore
from controller.ocpp.v201.variable_requests import set_variables
from controller.ocpp.v201.variables import Feature
from controller.storage import Database
from hal.config import ConfigError


class Station:
    """One boot of the station: database, store, model (closed by ``stop``)."""

    def __init__(self, state: Path, description: StationDescription | None = None, toml: str = "",
                 features: tuple[Feature, ...] = ()):  # fmt: skip
        self.db = Database(state / "evsed.sqlite")
        self.store = VariableStore(self.db, state / "secrets")
        inventory = Inventory.build(description or two_connector_station(), features)
        table = tomllib.loads(toml).get("ocpp", {}).get("variables", {})
        self.model = DeviceModel(inventory, Live().readers(), presets=resolve_presets(table, inventory, "evsed.toml"),
                                 stored=self.store.load(inventory))  # fmt: skip

    async def set(self, **values: str) -> list[str]:
        data: list[dict[str, Any]] = []
        for address, value in values.items():
            component, _, variable = address.partition("__")
            data.append({"component": {"name": component}, "variable": {"name": variable}, "attributeValue": value})
        outcome = set_variables(self.model, {"setVariableData": data})
        await self.store.save(outcome.writes)  # persisted before the response would leave
        self.model.commit(outcome.writes)
        return [r["attributeStatus"] for r in outcome.response["setVariableResult"]]

    def stop(self) -> None:
        self.db.close()


async def test_csms_writes_survive_a_restart(tmp_path):
    first = Station(tmp_path)
    statuses = await first.set(
        OCPPCommCtrlr__HeartbeatInterval="45",
        TxCtrlr__TxStartPoint="EVConnected,Authorized",
        OCPPCommCtrlr__NetworkConfigurationPriority="2,1",
        SmartChargingCtrlr__LimitChangeSignificance="2.5",
        OCPPCommCtrlr__OfflineThreshold="-1",
    )
    assert statuses == ["Accepted", "Accepted", "RebootRequired", "UnknownComponent", "Rejected"]
    first.stop()  # a restart (the feature SmartCharging is not declared on this station)
    second = Station(tmp_path)
    assert second.model.value("OCPPCommCtrlr.HeartbeatInterval") == 45
    assert second.model.value("TxCtrlr.TxStartPoint") == ("EVConnected", "Authorized")
    assert second.model.value("OCPPCommCtrlr.NetworkConfigurationPriority") == ("2", "1")
    assert second.model.value("OCPPCommCtrlr.OfflineThreshold") == 60
    rows = second.db.run_sync(
        lambda c: c.execute("SELECT address, attribute, value FROM ocpp201_variables ORDER BY address").fetchall()
    )
    assert [tuple(r) for r in rows] == [
        ("OCPPCommCtrlr.HeartbeatInterval", "Actual", "45"),
        ("OCPPCommCtrlr.NetworkConfigurationPriority", "Actual", "2,1"),
        ("TxCtrlr.TxStartPoint", "Actual", "EVConnected,Authorized"),
    ]  # only what the CSMS wrote
    second.stop()


async def test_the_write_only_password_lives_in_a_0600_file_never_in_sqlite(tmp_path):
    first = Station(tmp_path)
    assert await first.set(SecurityCtrlr__BasicAuthPassword="correct-horse-battery-staple") == ["Accepted"]
    rows = first.db.run_sync(lambda c: c.execute("SELECT * FROM ocpp201_variables").fetchall())
    assert rows == []
    secret = tmp_path / "secrets" / "SecurityCtrlr.BasicAuthPassword"
    assert secret.read_text() == "correct-horse-battery-staple"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    first.stop()
    second = Station(tmp_path)
    assert second.model.value("SecurityCtrlr.BasicAuthPassword") == "correct-horse-battery-staple"
    second.stop()


PRESETS = """
[ocpp.variables]
"OCPPCommCtrlr.HeartbeatInterval" = 60
"ocppcommctrlr.messageattempts[transactionevent]" = 5

[ocpp.variables.TxCtrlr]
TxStopPoint = ["EVConnected"]
EVConnectionTimeOut = 90

[ocpp.variables.AlignedDataCtrlr]
SendDuringIdle = true
Measurands = "Energy.Active.Import.Register, Voltage"
"""


async def test_presets_apply_until_the_csms_writes_and_the_csms_wins_from_then_on(tmp_path):
    first = Station(tmp_path, toml=PRESETS)
    model = first.model
    assert model.value("OCPPCommCtrlr.HeartbeatInterval") == 60
    assert model.value("OCPPCommCtrlr.MessageAttempts[TransactionEvent]") == 5
    assert model.value("TxCtrlr.TxStopPoint") == ("EVConnected",)
    assert model.value("TxCtrlr.EVConnectionTimeOut") == 90
    assert model.value("AlignedDataCtrlr.SendDuringIdle") is True
    assert model.value("AlignedDataCtrlr.Measurands") == ("Energy.Active.Import.Register", "Voltage")
    assert model.value("OCPPCommCtrlr.OfflineThreshold") == 60  # the table default
    assert await first.set(OCPPCommCtrlr__HeartbeatInterval="45") == ["Accepted"]
    first.stop()
    later = PRESETS.replace('HeartbeatInterval" = 60', 'HeartbeatInterval" = 120').replace(
        "EVConnectionTimeOut = 90", "EVConnectionTimeOut = 30"
    )
    second = Station(tmp_path, toml=later)
    assert second.model.value("OCPPCommCtrlr.HeartbeatInterval") == 45  # the CSMS's write wins over the new preset
    assert second.model.value("TxCtrlr.EVConnectionTimeOut") == 30  # never written by the CSMS: the new preset
    second.stop()


async def test_a_stored_value_the_station_no_longer_accepts_falls_back_and_is_kept(tmp_path, caplog):
    bay = two_connector_station(evses=(EvseDescription(bay_sensor=True),))
    first = Station(tmp_path, bay, features=(Feature.RESERVATION,))
    assert await first.set(TxCtrlr__TxStartPoint="ParkingBayOccupancy", ReservationCtrlr__Enabled="false") == [
        "Accepted",
        "Accepted",
    ]
    first.stop()
    with caplog.at_level(logging.INFO):
        second = Station(tmp_path, two_connector_station(evses=(EvseDescription(),)))  # sensor and reservations gone
    assert second.model.value("TxCtrlr.TxStartPoint") == ("PowerPathClosed",)
    assert "TxCtrlr.TxStartPoint no longer valid" in caplog.text
    assert "ReservationCtrlr.Enabled" in caplog.text
    second.stop()
    third = Station(tmp_path, bay, features=(Feature.RESERVATION,))  # the hardware is back: so is the setting
    assert third.model.value("TxCtrlr.TxStartPoint") == ("ParkingBayOccupancy",)
    assert third.model.value("ReservationCtrlr.Enabled") is False
    third.stop()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('"OCPPCommCtrlr.NoSuchThing" = 1', "OCPPCommCtrlr.NoSuchThing = 1: no such variable on this station"),
        (
            '"ReservationCtrlr.Enabled" = false',
            "ReservationCtrlr.Enabled = False: no such variable",
        ),  # feature not declared
        ('"OCPPCommCtrlr.MessageTimeout[Default]" = 5', "is read-only: the station sets it"),
        (
            '"SecurityCtrlr.BasicAuthPassword" = "0123456789abcdef"',
            "is a secret; it never belongs in the configuration file",
        ),
        ('"EVSE@1.Power" = 5', "is read-only"),
        (
            '"OCPPCommCtrlr.HeartbeatInterval" = 0',
            "HeartbeatInterval = 0: OCPPCommCtrlr.HeartbeatInterval: 0 is outside 1..86400",
        ),
        ('"TxCtrlr.TxStartPoint" = ["DataSigned"]', "'DataSigned' is not one of"),
        ('"OCPPCommCtrlr.HeartbeatInterval" = [1, 2]', "expected a boolean, a number, a string or a list of strings"),
        ("[ocpp.variables.OCPPCommCtrlr.Nested]\nx = 1", "OCPPCommCtrlr.Nested = {'x': 1}: no such variable"),
    ],
)
def test_a_bad_preset_is_a_startup_error_naming_file_key_and_value(toml, message):
    table = tomllib.loads("[ocpp.variables]\n" + toml if not toml.startswith("[") else toml)["ocpp"]["variables"]
    with pytest.raises(ConfigError) as raised:
        resolve_presets(table, Inventory.build(two_connector_station()), "evsed.toml")
    assert str(raised.value).startswith("evsed.toml: [ocpp.variables] ")
    assert message in str(raised.value)


def test_a_decimal_preset_may_be_a_toml_float_or_integer():
    inventory = Inventory.build(two_connector_station(), (Feature.SMART_CHARGING,))
    table = tomllib.loads(
        "[ocpp.variables.SmartChargingCtrlr]\nLimitChangeSignificance = 0.25\nNotifyChargingLimitWithSchedules = true"
    )["ocpp"]["variables"]
    presets = resolve_presets(table, inventory)
    assert presets == {
        "SmartChargingCtrlr.LimitChangeSignificance": "0.25",
        "SmartChargingCtrlr.NotifyChargingLimitWithSchedules": "true",
    }
    assert resolve_presets({"SmartChargingCtrlr.LimitChangeSignificance": 3}, inventory) == {
        "SmartChargingCtrlr.LimitChangeSignificance": "3"
    }
