"""Sysfs PWM against a tmp dir laid out like /sys/class/pwm, with a thread playing the kernel."""

from __future__ import annotations

import pytest
from hwfakes import FakePwmSysfs

from drivers.pwm import SysfsPwm
from hal.config import ConfigError


@pytest.fixture
def sysfs(tmp_path):
    fake = FakePwmSysfs(tmp_path / "pwm")
    yield fake
    fake.close()


def test_export_then_period_duty_enable(sysfs):
    pwm = SysfsPwm(0, 1, root=sysfs.root)
    assert (sysfs.root / "pwmchip0" / "export").read_text() == "1"
    assert sysfs.file(0, 1, "period") == "1000000"
    assert sysfs.file(0, 1, "duty_cycle") == "1000000"  # starts fully high: +12 V
    assert sysfs.file(0, 1, "enable") == "1"
    pwm.set_high_fraction(0.5333)
    assert sysfs.file(0, 1, "duty_cycle") == "533300"
    pwm.set_high_fraction(-1)
    assert sysfs.file(0, 1, "duty_cycle") == "0"


def test_already_exported_channel_is_not_exported_again(sysfs):
    FakePwmSysfs.make_channel(sysfs.root / "pwmchip0", 0)
    SysfsPwm(0, 0, root=sysfs.root, period_ns=500_000)
    assert (sysfs.root / "pwmchip0" / "export").read_text() == ""
    assert sysfs.file(0, 0, "period") == "500000"
    assert sysfs.file(0, 0, "duty_cycle") == "500000"


def test_inverted_output_stage_flips_the_duty(sysfs):
    pwm = SysfsPwm(0, 0, root=sysfs.root, inverted=True)
    assert sysfs.file(0, 0, "duty_cycle") == "0"
    pwm.set_high_fraction(0.25)
    assert sysfs.file(0, 0, "duty_cycle") == "750000"


def test_missing_chip_is_a_config_error(sysfs):
    with pytest.raises(ConfigError, match="pwmchip3"):
        SysfsPwm(3, 0, root=sysfs.root)
