from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge import frames as frames_module
from firmware_bridge.codec import (
    HEADER,
    MAX_COBS,
    MAX_FRAME_BYTES,
    VERSION,
    Decoded,
    FrameDecoder,
    cobs_decode,
    cobs_encode,
    crc16,
    encode_frame,
)
from firmware_bridge.frames import (
    Ack,
    Alarm,
    AlarmKind,
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    FrameError,
    FrameType,
    Heartbeat,
    Hello,
    Nak,
    NakReason,
    QrScan,
    Unlock,
)
from firmware_bridge.vectors import PATH, build_vectors, frame_from_fields
from tests.firmware_bridge.strategies import frames, seqs

ALL_FRAMES: list[Frame] = [
    Hello("emu-1.0.0"),
    Heartbeat(0),
    Heartbeat(0xFFFF_FFFF),
    CardRead(bytes.fromhex("04A1B2C3")),
    CardRead(bytes(10)),
    QrScan("item:42"),
    QrScan("电钻 Bosch GSR 12V  two  spaces"),
    QrScan("长" * 85),  # 255 bytes: the longest QR text
    DoorChanged(open=True),
    DoorChanged(open=False),
    Alarm(AlarmKind.FORCED_OPEN, active=True),
    Alarm(AlarmKind.TAMPER, active=False),
    Unlock(5000),
    Feedback(Beep.OK, "已借出 电钻"),
    Feedback(Beep.NONE, ""),
    Ack(65535),
    Nak(12, NakReason.BAD_PAYLOAD),
]


def raw_frame(type_code: int, seq: int, payload: bytes, *, version: int = VERSION) -> bytes:
    """A frame built by hand with a correct CRC, for payloads the encoder refuses to make."""
    raw = HEADER.pack(version, type_code, seq, len(payload)) + payload
    return b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00"


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x00\x00", b"\x11\x00\x22", bytes(range(1, 255)), bytes(range(256)) * 2],
)
def test_cobs_round_trip_has_no_zero(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


@pytest.mark.parametrize("frame", ALL_FRAMES, ids=lambda f: type(f).__name__)
def test_every_frame_type_round_trips(frame: Frame) -> None:
    wire = encode_frame(300, frame)
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    assert len(wire) <= MAX_FRAME_BYTES
    decoder = FrameDecoder()
    assert decoder.feed(wire) == [Decoded(300, frame)]
    assert decoder.stats.frames == 1


def test_every_frame_type_is_covered() -> None:
    assert {f.TYPE for f in ALL_FRAMES} == set(FrameType)


def test_bad_checksum_is_counted_and_the_next_frame_still_decodes() -> None:
    wire = bytearray(encode_frame(1, QrScan("item:1")))
    wire[5] ^= 0x40
    decoder = FrameDecoder()
    good = encode_frame(2, QrScan("item:2"))
    assert decoder.feed(bytes(wire) + good) == [Decoded(2, QrScan("item:2"))]
    assert decoder.stats.bad_crc == 1


def test_truncated_frame_is_skipped() -> None:
    wire = encode_frame(1, QrScan("item:1"))
    decoder = FrameDecoder()
    out = decoder.feed(wire[:-5] + encode_frame(2, DoorChanged(open=True)))
    assert out == [Decoded(2, DoorChanged(open=True))]
    assert decoder.stats.garbage_bytes + decoder.stats.bad_crc >= 1


def test_over_long_run_is_dropped_until_the_next_delimiter() -> None:
    decoder = FrameDecoder()
    junk = b"\x00" + b"\x01" * (MAX_COBS * 3)
    out = decoder.feed(junk[:100])
    out += decoder.feed(junk[100:])
    out += decoder.feed(encode_frame(9, Heartbeat(5)))
    assert out == [Decoded(9, Heartbeat(5))]
    assert decoder.stats.oversize == 1
    assert decoder.stats.garbage_bytes == 0


def test_encoder_refuses_what_would_be_over_long() -> None:
    with pytest.raises(FrameError):
        QrScan("x" * 256)
    with pytest.raises(FrameError, match="seq"):
        encode_frame(70_000, Heartbeat(1))


def test_unknown_type_is_counted_and_reported_for_a_nak() -> None:
    rejects: list[tuple[int, NakReason]] = []
    decoder = FrameDecoder(on_reject=lambda seq, why: rejects.append((seq, why)))
    assert decoder.feed(raw_frame(0x7F, 44, b"hi")) == []
    assert decoder.stats.unknown_type == 1
    assert rejects == [(44, NakReason.UNKNOWN_TYPE)]


@pytest.mark.parametrize(
    ("type_code", "payload"),
    [
        (FrameType.DOOR_CHANGED, b"\x02"),
        (FrameType.HEARTBEAT, b"\x00\x01"),
        (FrameType.QR_SCAN, b"\xff\xfe"),  # not UTF-8
        (FrameType.CARD_READ, b"\x01\x02"),
        (FrameType.FEEDBACK, b"\x09hi"),  # no such beep
        (FrameType.FEEDBACK, b""),
        (FrameType.UNLOCK, b"\x00\x00"),
        (FrameType.QR_SCAN, b"T00\x0001"),  # a label with a NUL
        (FrameType.QR_SCAN, "T\x851".encode()),  # a C1 control (NEL)
        (FrameType.HELLO, b"emu\x1b[2J"),  # an escape sequence
        (FrameType.FEEDBACK, b"\x01ok\x7f"),  # DEL on the display
    ],
)
def test_bad_payload_is_malformed_and_reported(type_code: int, payload: bytes) -> None:
    rejects: list[tuple[int, NakReason]] = []
    decoder = FrameDecoder(on_reject=lambda seq, why: rejects.append((seq, why)))
    assert decoder.feed(raw_frame(type_code, 5, payload)) == []
    assert decoder.stats.malformed == 1
    assert rejects == [(5, NakReason.BAD_PAYLOAD)]


def test_other_version_and_wrong_length_are_malformed() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(raw_frame(FrameType.DOOR_CHANGED, 1, b"\x01", version=2)) == []
    raw = HEADER.pack(VERSION, FrameType.DOOR_CHANGED, 1, 5) + b"\x01"
    assert decoder.feed(b"\x00" + cobs_encode(raw + crc16(raw).to_bytes(2, "big")) + b"\x00") == []
    assert decoder.stats.malformed == 2


def test_garbage_between_frames_is_skipped() -> None:
    a, b = encode_frame(1, CardRead(bytes(4))), encode_frame(2, QrScan("扳手 #3"))
    decoder = FrameDecoder()
    out = decoder.feed(b"noise\xff\x00\x00\x07" + a + b"\x13\x37 line noise" + b)
    assert out == [Decoded(1, CardRead(bytes(4))), Decoded(2, QrScan("扳手 #3"))]
    assert decoder.stats.garbage_bytes > 0


def test_frames_split_byte_by_byte_decode() -> None:
    wire = b"".join(encode_frame(i, f) for i, f in enumerate(ALL_FRAMES))
    decoder = FrameDecoder()
    out: list[Decoded] = []
    for i in range(len(wire)):
        out += decoder.feed(wire[i : i + 1])
    assert [d.frame for d in out] == ALL_FRAMES


def test_vectors_file_matches_the_codec() -> None:
    stored = json.loads(PATH.read_text(encoding="utf-8"))
    assert stored == build_vectors(), "regenerate: python -m firmware_bridge.vectors"
    for vector in stored:
        wire = bytes.fromhex(vector["hex"])
        decoder = FrameDecoder()
        decoded = decoder.feed(wire)
        if vector["reject"] is None:
            frame = frame_from_fields(vector["frame"])
            assert encode_frame(vector["seq"], frame) == wire, vector["name"]
            assert decoded == [Decoded(vector["seq"], frame)], vector["name"]
        else:
            assert decoded == [], vector["name"]
            assert getattr(decoder.stats, vector["reject"]) > 0, vector["name"]


# -- properties (the hostile-line ones are in test_decoder_fuzz.py) --------------------


@given(st.lists(st.tuples(seqs, frames), max_size=5), st.lists(st.integers(1, 40), max_size=30))
def test_any_frames_round_trip_through_any_split(
    items: list[tuple[int, Frame]], cuts: list[int]
) -> None:
    wire = b"".join(encode_frame(seq, frame) for seq, frame in items)
    decoder = FrameDecoder()
    out: list[Decoded] = []
    pos = 0
    for cut in [*cuts, len(wire)]:
        out += decoder.feed(wire[pos : pos + cut])
        pos += cut
    out += decoder.feed(wire[pos:])
    assert out == [Decoded(seq, frame) for seq, frame in items]


@pytest.mark.parametrize("control", ["\x00", "\t", "\x1b", "\x7f", "\x80", "\x9f"])
def test_text_frames_with_a_control_character_cannot_be_built(control: str) -> None:
    for build in (QrScan, Hello, lambda text: Feedback(Beep.OK, text)):
        with pytest.raises(FrameError, match="control character"):
            build(f"T0{control}1")
    assert QrScan("电钻\u00a0T0001").text == "电钻\u00a0T0001"  # NBSP is not a control


def test_frames_and_contract_refuse_the_same_control_characters() -> None:
    from toolhut.contract import CONTROL_CHARS

    assert frames_module.CONTROL_CHARS.pattern == CONTROL_CHARS.pattern


def test_a_card_frame_shows_only_the_start_of_its_uid_in_a_log_line() -> None:
    frame = CardRead(uid=bytes.fromhex("04A1B2C3D4"))
    assert repr(frame) == "CardRead(uid=04A1…)" == f"{frame!r}"
    assert "B2C3" not in repr(frame) and "b2c3" not in str(frame)
    with pytest.raises(FrameError) as bad:
        CardRead(uid=bytes.fromhex("04A1B2"))  # too short: the error says how long only
    assert "04a1b2" not in str(bad.value).lower()
