"""Serial wire v1 framing: bytes in, frames out. No I/O here.

On the wire: ``00 COBS(version type seq_hi seq_lo length payload crc_hi crc_lo) 00``.
See docs/serial-protocol.md for the full description.
"""

from __future__ import annotations

import binascii
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.frames import (
    MAX_PAYLOAD,
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

logger = logging.getLogger(__name__)

VERSION = 1
DELIMITER = b"\x00"
HEADER = struct.Struct(">BBHB")  # version, type, seq, payload length
CRC_SIZE = 2
MAX_RAW = HEADER.size + MAX_PAYLOAD + CRC_SIZE  # 262
MAX_COBS = MAX_RAW + (MAX_RAW + 253) // 254  # COBS adds one byte per 254: 264
MAX_FRAME_BYTES = MAX_COBS + 2  # with both delimiters: 266
MAX_SEQ = 0xFFFF


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for byte in data:
        if byte == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Decode one COBS block (without delimiters); None if it is not valid COBS."""
    out = bytearray()
    i, end = 0, len(data)
    while i < end:
        code = data[i]
        if code == 0 or i + code > end:
            return None
        out += data[i + 1 : i + code]
        i += code
        if code != 0xFF and i < end:
            out.append(0)
    return bytes(out)


# Payload layouts, one pair per frame type: (encode, decode). Decoders may raise
# FrameError, ValueError (bad UTF-8, bad enum) or struct.error; the decoder counts those.
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


def _text(data: bytes) -> str:
    return data.decode("utf-8")


def _exact(data: bytes, size: int) -> bytes:
    if len(data) != size:
        raise FrameError(f"payload is {len(data)} bytes, expected {size}")
    return data


def _door(data: bytes) -> DoorChanged:
    if _exact(data, 1)[0] > 1:
        raise FrameError(f"door state must be 0 or 1, got {data[0]}")
    return DoorChanged(open=data[0] == 1)


def _alarm(data: bytes) -> Alarm:
    kind, active = _exact(data, 2)
    if active > 1:
        raise FrameError(f"alarm state must be 0 or 1, got {active}")
    try:
        return Alarm(kind=AlarmKind(kind), active=active == 1)
    except ValueError as exc:
        raise FrameError(f"unknown alarm kind {kind}") from exc


def _feedback(data: bytes) -> Feedback:
    if not data:
        raise FrameError("feedback payload is empty")
    return Feedback(beep=Beep(data[0]), text=_text(data[1:]))


_PAYLOADS: dict[FrameType, tuple[Callable[..., bytes], Callable[[bytes], Frame]]] = {
    FrameType.HELLO: (lambda f: f.firmware.encode(), lambda d: Hello(_text(d))),
    FrameType.HEARTBEAT: (
        lambda f: _U32.pack(f.uptime_s),
        lambda d: Heartbeat(_U32.unpack(_exact(d, 4))[0]),
    ),
    FrameType.ACK: (lambda f: _U16.pack(f.seq), lambda d: Ack(_U16.unpack(_exact(d, 2))[0])),
    FrameType.NAK: (
        lambda f: _U16.pack(f.seq) + bytes([f.reason]),
        lambda d: Nak(_U16.unpack(_exact(d, 3)[:2])[0], NakReason(d[2])),
    ),
    FrameType.CARD_READ: (lambda f: f.uid, lambda d: CardRead(bytes(d))),
    FrameType.QR_SCAN: (lambda f: f.text.encode(), lambda d: QrScan(_text(d))),
    FrameType.DOOR_CHANGED: (lambda f: bytes([f.open]), _door),
    FrameType.ALARM: (lambda f: bytes([f.kind, f.active]), _alarm),
    FrameType.UNLOCK: (
        lambda f: _U16.pack(f.pulse_ms),
        lambda d: Unlock(_U16.unpack(_exact(d, 2))[0]),
    ),
    FrameType.FEEDBACK: (lambda f: bytes([f.beep]) + f.text.encode(), _feedback),
}


def encode_frame(seq: int, frame: Frame) -> bytes:
    """The bytes to write for ``frame``, delimiters included. Raises FrameError."""
    if not 0 <= seq <= MAX_SEQ:
        raise FrameError(f"seq must be 0..{MAX_SEQ}, got {seq}")
    payload = _PAYLOADS[frame.TYPE][0](frame)
    if len(payload) > MAX_PAYLOAD:
        name = type(frame).__name__
        raise FrameError(f"{name} payload is {len(payload)} bytes, max {MAX_PAYLOAD}")
    raw = HEADER.pack(VERSION, frame.TYPE, seq, len(payload)) + payload
    raw += crc16(raw).to_bytes(2, "big")
    return DELIMITER + cobs_encode(raw) + DELIMITER


@dataclass(frozen=True, slots=True)
class Decoded:
    seq: int
    frame: Frame


@dataclass(slots=True)
class DecoderStats:
    frames: int = 0
    garbage_bytes: int = 0  # bytes between delimiters that were not a frame at all
    bad_crc: int = 0
    oversize: int = 0
    malformed: int = 0  # CRC fine but header or payload wrong (or another version)
    unknown_type: int = 0


Reject = Callable[[int, NakReason], None]


class FrameDecoder:
    """Turns a byte stream into frames; never raises on what it is fed.

    ``on_reject(seq, reason)`` is called for a frame whose CRC is good but whose type or
    payload is not understood, so the link layer can answer with a Nak.
    """

    def __init__(self, on_reject: Reject | None = None) -> None:
        self.stats = DecoderStats()
        self._buffer = bytearray()
        self._skipping = False  # inside an oversize run: drop everything up to the next 00
        self._on_reject = on_reject

    def feed(self, data: bytes) -> list[Decoded]:
        out: list[Decoded] = []
        start = 0
        while start < len(data):
            zero = data.find(0, start)
            end = len(data) if zero < 0 else zero
            if not self._skipping:
                # At most one byte past the limit: a long read of noise is not copied.
                room = MAX_COBS + 1 - len(self._buffer)
                self._buffer += data[start : min(end, start + room)]
                if len(self._buffer) > MAX_COBS:
                    self.stats.oversize += 1
                    self._buffer.clear()
                    self._skipping = True
            if zero < 0:
                break
            if self._buffer:
                decoded = self._parse(bytes(self._buffer))
                if decoded is not None:
                    out.append(decoded)
                self._buffer.clear()
            self._skipping = False
            start = zero + 1
        return out

    def _parse(self, block: bytes) -> Decoded | None:
        raw = cobs_decode(block)
        if raw is None or len(raw) < HEADER.size + CRC_SIZE:
            self.stats.garbage_bytes += len(block)
            return None
        body, crc = raw[:-CRC_SIZE], int.from_bytes(raw[-CRC_SIZE:], "big")
        if crc16(body) != crc:
            self.stats.bad_crc += 1
            return None
        version, type_code, seq, length = HEADER.unpack_from(body)
        payload = body[HEADER.size :]
        if version != VERSION or length != len(payload):
            self.stats.malformed += 1
            return None
        try:
            frame_type = FrameType(type_code)
        except ValueError:
            self.stats.unknown_type += 1
            self._reject(seq, NakReason.UNKNOWN_TYPE)
            return None
        try:
            frame = _PAYLOADS[frame_type][1](payload)
        except (ValueError, struct.error, IndexError):  # FrameError and UnicodeError included
            self.stats.malformed += 1
            if frame_type not in (FrameType.ACK, FrameType.NAK):
                self._reject(seq, NakReason.BAD_PAYLOAD)
            return None
        self.stats.frames += 1
        return Decoded(seq, frame)

    def _reject(self, seq: int, reason: NakReason) -> None:
        if self._on_reject is None:
            return
        try:
            self._on_reject(seq, reason)
        except Exception:  # feed() promises never to raise, whatever the callback does
            logger.exception("on_reject callback failed for seq %d", seq)
