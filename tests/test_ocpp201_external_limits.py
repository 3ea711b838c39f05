"""What of local energy management's limit is reported to the CSMS (part 2 K11-K13, SC.03):
``significant``, table-tested."""

import pytest

from controller.ocpp.v201.external_limits import significant


@pytest.mark.parametrize(
    ("reported", "now", "percent", "expected"),
    [
        (None, None, 1.0, False),  # never constrained
        (None, (9.0, 3), 50.0, True),  # a constraint appears, whatever the significance
        ((9.0, 3), None, 50.0, True),  # it is gone: ClearedChargingLimit
        ((10.0, 3), (10.0, 3), 0.0, False),
        ((10.0, 3), (10.1, 3), 0.0, True),  # 0 %: every change
        ((10.0, 3), (10.1, 3), 1.0, False),  # exactly 1 % is not more than 1 %
        ((10.0, 3), (10.2, 3), 1.0, True),
        ((10.0, 3), (8.0, 3), 20.0, False),
        ((10.0, 3), (7.9, 3), 20.0, True),
        ((10.0, 3), (10.0, 1), 100.0, True),  # other phases: always
        ((0.0, 3), (6.0, 3), 100.0, True),  # from 0 A any limit is a change
        ((0.0, 3), (0.0, 3), 0.0, False),
    ],
)
def test_what_is_significant(reported, now, percent, expected):
    assert significant(reported, now, percent) is expected
