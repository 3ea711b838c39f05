"""``[ocpp] version = "2.0.1"`` and ``[ocpp.variables]``: chosen, checked, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FREE_VEND, run_cli

from controller.config import load_board, parse
from controller.ocpp.v201.setup import device_model_of
from hal.config import ConfigError

OCPP201 = FREE_VEND + '\n[ocpp]\nversion = "2.0.1"\nurl = "ws://127.0.0.1:9"\n'


def test_version_2_0_1_keeps_the_variables_as_written() -> None:
    config = parse(OCPP201 + '[ocpp.variables]\n"OCPPCommCtrlr.HeartbeatInterval" = 60\n[ocpp.variables.TxCtrlr]\n'
                   'TxStartPoint = ["EVConnected"]\n', "t.toml")  # fmt: skip
    assert config.ocpp.version == "2.0.1"
    assert config.ocpp.variables == {
        "OCPPCommCtrlr.HeartbeatInterval": 60,
        "TxCtrlr": {"TxStartPoint": ["EVConnected"]},
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            OCPP201 + "[ocpp.keys]\nHeartbeatInterval = 60\n",
            "[ocpp.keys] does not apply to OCPP 2.0.1; it uses [ocpp.variables]",
        ),
        (
            FREE_VEND + '\n[ocpp]\nurl = "ws://h:9"\n[ocpp.variables]\n"X.Y" = 1\n',
            "[ocpp.variables] does not apply to OCPP 1.6",
        ),
        (OCPP201.replace("2.0.1", "2.1"), "version = '2.1': expected one of '1.6', '2.0.1'"),
    ],
)
def test_a_table_of_the_other_version_is_refused(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=None) as error:
        parse(text, "t.toml")
    assert says in str(error.value)


@pytest.mark.parametrize(
    ("preset", "says"),
    [
        ('"OCPPCommCtrlr.NoSuchThing" = 1', "no such variable on this station"),
        ('"OCPPCommCtrlr.MessageTimeout[Default]" = 5', "is read-only"),
        ('"SecurityCtrlr.BasicAuthPassword" = "0123456789abcdef"', "is a secret"),
        ('"OCPPCommCtrlr.HeartbeatInterval" = 0', "outside 1..86400"),
    ],
)
def test_a_bad_preset_is_named(preset: str, says: str) -> None:
    """The check the daemon's start and ``evsed check`` make, against this station's device model."""
    config = parse(OCPP201 + "[ocpp.variables]\n" + preset + "\n", "t.toml")
    with pytest.raises(ConfigError) as error:
        device_model_of(config, load_board(config, dry_run=True))
    assert "[ocpp.variables]" in str(error.value) and says in str(error.value)


def test_evsed_check_reads_the_presets(tmp_path: Path) -> None:
    path = tmp_path / "evsed.toml"
    path.write_text(OCPP201 + '[ocpp.variables]\n"TxCtrlr.TxStartPoint" = ["Teleported"]\n')
    done = run_cli("check", "--config", str(path))
    assert done.returncode != 0 and "TxStartPoint" in done.stderr and "Teleported" in done.stderr
    path.write_text(OCPP201 + '[ocpp.variables]\n"TxCtrlr.TxStartPoint" = ["EVConnected"]\n')
    assert run_cli("check", "--config", str(path)).returncode == 0
