from __future__ import annotations

from collections.abc import Callable

import pytest

from firmware_bridge.frames import (
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    FrameError,
    Hello,
    Nak,
    NakReason,
    QrScan,
    Unlock,
)


def test_uid_hex_is_uppercase() -> None:
    assert CardRead(bytes.fromhex("04a1b2c3")).uid_hex == "04A1B2C3"


def test_feedback_text_over_64_bytes_is_refused_with_its_size() -> None:
    Feedback(Beep.OK, "借" * 21)  # 63 bytes
    with pytest.raises(FrameError, match="66 bytes of UTF-8; allowed 0..64"):
        Feedback(Beep.OK, "借" * 22)


def test_enums_are_coerced_and_checked() -> None:
    assert Feedback(1, "x").beep is Beep.OK  # type: ignore[arg-type]
    assert Nak(1, 3).reason is NakReason.BUSY  # type: ignore[arg-type]
    with pytest.raises(FrameError, match="Beep"):
        Feedback(7, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make",
    [
        lambda: CardRead(b"\x01\x02\x03"),
        lambda: CardRead(bytes(11)),
        lambda: QrScan(""),
        lambda: QrScan("x" * 256),
        lambda: Hello(""),
        lambda: Unlock(0),
        lambda: Unlock(70_000),
        lambda: Unlock(True),
        lambda: DoorChanged(1),  # type: ignore[arg-type]
    ],
)
def test_out_of_range_fields_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(FrameError):
        make()
