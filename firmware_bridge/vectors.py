"""Test vectors for serial wire v1, shared with the controller firmware's C++ codec.

``python -m firmware_bridge.vectors`` rewrites firmware_bridge/test_vectors.json from the
codec. Each entry: name, seq, frame ({"type": FrameType name, field: value}; bytes as hex,
enums as their int) or null for a reject, hex (the exact bytes on the wire) and reject
(null, or the DecoderStats counter that a decoder must bump instead of yielding a frame).
"""

from __future__ import annotations

import dataclasses
import json
from enum import IntEnum
from pathlib import Path
from typing import Any

from firmware_bridge.codec import HEADER, VERSION, cobs_encode, crc16, encode_frame
from firmware_bridge.frames import (
    Ack,
    Alarm,
    AlarmKind,
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    FrameType,
    Heartbeat,
    Hello,
    Nak,
    NakReason,
    QrScan,
    Unlock,
)

PATH = Path(__file__).with_name("test_vectors.json")

_CLASSES: dict[str, type[Any]] = {
    cls.TYPE.name: cls
    for cls in (Hello, Heartbeat, CardRead, QrScan, DoorChanged, Alarm, Unlock, Feedback, Ack, Nak)
}

VALID: list[tuple[str, int, Frame]] = [
    ("hello", 1, Hello("emu-1.0.0")),
    ("hello_host", 1, Hello("host-0.1.0")),
    ("heartbeat", 2, Heartbeat(3600)),
    ("heartbeat_max", 0xFFFF, Heartbeat(0xFFFF_FFFF)),
    ("card_4_bytes", 3, CardRead(bytes.fromhex("04A1B2C3"))),
    ("card_7_bytes", 4, CardRead(bytes.fromhex("04112233445566"))),
    ("card_with_zero_bytes", 5, CardRead(bytes.fromhex("00000000"))),
    ("qr_ascii", 6, QrScan("item:42")),
    ("qr_spaces_chinese", 7, QrScan("电钻 Bosch GSR 12V")),
    ("qr_max_length", 8, QrScan("x" * 255)),
    ("door_open", 9, DoorChanged(open=True)),
    ("door_close", 10, DoorChanged(open=False)),
    ("alarm_forced_open", 13, Alarm(AlarmKind.FORCED_OPEN, active=True)),
    ("alarm_held_open_cleared", 14, Alarm(AlarmKind.HELD_OPEN, active=False)),
    ("unlock", 256, Unlock(5000)),
    ("feedback_ok", 11, Feedback(Beep.OK, "已借出 电钻")),
    ("feedback_error_empty_text", 12, Feedback(Beep.ERROR, "")),
    ("ack", 0, Ack(256)),
    ("nak", 0, Nak(7, NakReason.UNKNOWN_TYPE)),
]


def frame_to_fields(frame: Frame) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": frame.TYPE.name}
    for f in dataclasses.fields(frame):
        value = getattr(frame, f.name)
        fields[f.name] = (
            value.hex().upper()
            if isinstance(value, bytes)
            else (int(value) if isinstance(value, IntEnum) else value)
        )
    return fields


def frame_from_fields(fields: dict[str, Any]) -> Frame:
    values = dict(fields)
    cls = _CLASSES[values.pop("type")]
    if cls is CardRead:
        values["uid"] = bytes.fromhex(values["uid"])
    frame: Frame = cls(**values)
    return frame


def _hand_built(type_code: int, seq: int, payload: bytes) -> bytes:
    """A frame with a good CRC around any payload, as a buggy or hostile peer sends it."""
    raw = HEADER.pack(VERSION, type_code, seq, len(payload)) + payload
    return b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00"


def _rejects() -> list[dict[str, Any]]:
    good = encode_frame(3, CardRead(bytes.fromhex("04A1B2C3")))
    bad_crc = bytearray(good)
    bad_crc[-2] ^= 0x01  # last CRC byte (COBS leaves non-zero bytes in place)
    # An unknown type (0x7F) with a correct CRC, built by hand as a C++ port would.
    raw = HEADER.pack(VERSION, 0x7F, 4, 1) + b"\x01"
    unknown = b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00"
    raw = HEADER.pack(VERSION, FrameType.DOOR_CHANGED, 5, 1) + b"\x02"
    bad_payload = b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00"
    # Texts with control characters: a QR label with a NUL, a C1 NEL, a DEL on the display.
    control_texts = [
        ("reject_qr_with_nul", FrameType.QR_SCAN, 6, "T00\x0001"),
        ("reject_qr_with_c1_control", FrameType.QR_SCAN, 7, "T\x851"),
        ("reject_hello_with_escape", FrameType.HELLO, 1, "emu\x1b[2J"),
        ("reject_feedback_with_del", FrameType.FEEDBACK, 11, "\x01ok\x7f"),
    ]
    return [
        {
            "name": "reject_bad_crc",
            "seq": 3,
            "frame": None,
            "hex": bad_crc.hex().upper(),
            "reject": "bad_crc",
        },
        {
            "name": "reject_unknown_type",
            "seq": 4,
            "frame": None,
            "hex": unknown.hex().upper(),
            "reject": "unknown_type",
        },
        {
            "name": "reject_door_state_2",
            "seq": 5,
            "frame": None,
            "hex": bad_payload.hex().upper(),
            "reject": "malformed",
        },
        *(
            {
                "name": name,
                "seq": seq,
                "frame": None,
                "hex": _hand_built(type_code, seq, text.encode()).hex().upper(),
                "reject": "malformed",
            }
            for name, type_code, seq, text in control_texts
        ),
        {
            "name": "reject_truncated",
            "seq": 3,
            "frame": None,
            "hex": good[:-4].hex().upper() + "00",
            "reject": "garbage_bytes",
        },
    ]


def build_vectors() -> list[dict[str, Any]]:
    vectors = [
        {
            "name": name,
            "seq": seq,
            "frame": frame_to_fields(frame),
            "hex": encode_frame(seq, frame).hex().upper(),
            "reject": None,
        }
        for name, seq, frame in VALID
    ]
    return vectors + _rejects()


def main() -> None:
    PATH.write_text(
        json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
