"""The NotifyCustomerInformation parts of controller/ocpp/v201/customer_information.py, pure."""

from datetime import UTC, datetime

from controller.ocpp.v201.customer_information import DATA_CHARS, notifications, parts


def test_lines_are_packed_into_parts_and_split_only_when_longer_than_one() -> None:
    assert parts(["a", "b"]) == ["a\nb"]
    assert parts(["x" * 300, "y" * 300]) == ["x" * 300, "y" * 300]  # 601 characters with the newline
    assert parts(["x" * 255, "y" * 256]) == ["x" * 255 + "\n" + "y" * 256]  # exactly 512
    assert parts(["z" * (DATA_CHARS + 88)]) == ["z" * DATA_CHARS, "z" * 88]
    assert parts([]) == []


def test_parts_are_numbered_with_tbc_on_all_but_the_last() -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    sent = notifications(["a", "b", "c"], 7, at)
    assert [(p["seqNo"], p.get("tbc", False), p["requestId"], p["data"]) for p in sent] == [
        (0, True, 7, "a"), (1, True, 7, "b"), (2, False, 7, "c")
    ]  # fmt: skip
    assert len({p["generatedAt"] for p in sent}) == 1
