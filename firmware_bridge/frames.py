"""The frames of serial wire v1, as values. Byte layouts live in codec.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

MAX_PAYLOAD = 255  # the header's length field is one byte
MAX_DISPLAY_TEXT = 64  # bytes of UTF-8 the hut display can show
MAX_FIRMWARE_TEXT = 64
MIN_UID, MAX_UID = 4, 10  # ISO 14443 UIDs are 4, 7 or 10 bytes; allow anything between
# C0 controls, DEL and C1 controls, as toolhut.contract.CONTROL_CHARS (a test keeps them
# equal; this package imports nothing of ours): a label with a NUL is a malformed frame.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class FrameError(ValueError):
    """A frame value that cannot go on the wire (bad field, text too long)."""


class FrameType(IntEnum):
    HELLO = 0x01
    HEARTBEAT = 0x02
    ACK = 0x03
    NAK = 0x04
    CARD_READ = 0x10
    QR_SCAN = 0x11
    DOOR_CHANGED = 0x12
    ALARM = 0x13
    UNLOCK = 0x20
    FEEDBACK = 0x21


class Beep(IntEnum):
    NONE = 0
    OK = 1
    ERROR = 2


class AlarmKind(IntEnum):
    """Conditions the controller detects itself, so they are caught even if the Pi is dead."""

    FORCED_OPEN = 1  # door opened while the lock was engaged
    HELD_OPEN = 2  # door open longer than the controller's limit
    TAMPER = 3  # enclosure switch or reader cable


class NakReason(IntEnum):
    UNKNOWN_TYPE = 1
    BAD_PAYLOAD = 2
    BUSY = 3


def _check_text(text: str, *, field: str, low: int, high: int) -> None:
    if not isinstance(text, str):
        raise FrameError(f"{field} must be str, got {type(text).__name__}")
    size = len(text.encode("utf-8"))
    if not low <= size <= high:
        raise FrameError(f"{field} is {size} bytes of UTF-8; allowed {low}..{high}: {text!r}")
    control = CONTROL_CHARS.search(text)
    if control is not None:
        raise FrameError(f"{field} holds control character U+{ord(control.group()):04X}")


def _check_int(value: int, *, field: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FrameError(f"{field} must be an int in {low}..{high}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Hello:
    TYPE: ClassVar[FrameType] = FrameType.HELLO
    firmware: str

    def __post_init__(self) -> None:
        _check_text(self.firmware, field="Hello.firmware", low=1, high=MAX_FIRMWARE_TEXT)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    TYPE: ClassVar[FrameType] = FrameType.HEARTBEAT
    uptime_s: int

    def __post_init__(self) -> None:
        _check_int(self.uptime_s, field="Heartbeat.uptime_s", low=0, high=0xFFFF_FFFF)


@dataclass(frozen=True, slots=True)
class CardRead:
    TYPE: ClassVar[FrameType] = FrameType.CARD_READ
    uid: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.uid, bytes):
            raise FrameError(f"CardRead.uid must be bytes, got {type(self.uid).__name__}")
        if not MIN_UID <= len(self.uid) <= MAX_UID:
            raise FrameError(
                f"CardRead.uid must be {MIN_UID}..{MAX_UID} bytes, got {len(self.uid)}"
            )

    def __repr__(self) -> str:
        # A card UID is a credential: a frame in a log line shows only its first two bytes.
        return f"CardRead(uid={mask_uid(self.uid_hex)})"

    @property
    def uid_hex(self) -> str:
        return self.uid.hex().upper()


def mask_uid(uid_hex: str) -> str:
    """What a log line may show of a card UID: ``04A1…``."""
    return f"{uid_hex[:4]}…"


@dataclass(frozen=True, slots=True)
class QrScan:
    TYPE: ClassVar[FrameType] = FrameType.QR_SCAN
    text: str

    def __post_init__(self) -> None:
        _check_text(self.text, field="QrScan.text", low=1, high=MAX_PAYLOAD)


@dataclass(frozen=True, slots=True)
class DoorChanged:
    TYPE: ClassVar[FrameType] = FrameType.DOOR_CHANGED
    open: bool

    def __post_init__(self) -> None:
        if not isinstance(self.open, bool):
            raise FrameError(f"DoorChanged.open must be bool, got {self.open!r}")


@dataclass(frozen=True, slots=True)
class Alarm:
    """An alarm raised (active) or cleared (not active) by the controller."""

    TYPE: ClassVar[FrameType] = FrameType.ALARM
    kind: AlarmKind
    active: bool

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", AlarmKind(self.kind))
        except ValueError as exc:
            raise FrameError(f"Alarm.kind must be an AlarmKind, got {self.kind!r}") from exc
        if not isinstance(self.active, bool):
            raise FrameError(f"Alarm.active must be bool, got {self.active!r}")


@dataclass(frozen=True, slots=True)
class Unlock:
    TYPE: ClassVar[FrameType] = FrameType.UNLOCK
    pulse_ms: int

    def __post_init__(self) -> None:
        _check_int(self.pulse_ms, field="Unlock.pulse_ms", low=1, high=0xFFFF)


@dataclass(frozen=True, slots=True)
class Feedback:
    TYPE: ClassVar[FrameType] = FrameType.FEEDBACK
    beep: Beep
    text: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "beep", Beep(self.beep))
        except ValueError as exc:
            raise FrameError(f"Feedback.beep must be a Beep, got {self.beep!r}") from exc
        _check_text(self.text, field="Feedback.text", low=0, high=MAX_DISPLAY_TEXT)


@dataclass(frozen=True, slots=True)
class Ack:
    TYPE: ClassVar[FrameType] = FrameType.ACK
    seq: int

    def __post_init__(self) -> None:
        _check_int(self.seq, field="Ack.seq", low=0, high=0xFFFF)


@dataclass(frozen=True, slots=True)
class Nak:
    TYPE: ClassVar[FrameType] = FrameType.NAK
    seq: int
    reason: NakReason

    def __post_init__(self) -> None:
        _check_int(self.seq, field="Nak.seq", low=0, high=0xFFFF)
        try:
            object.__setattr__(self, "reason", NakReason(self.reason))
        except ValueError as exc:
            raise FrameError(f"Nak.reason must be a NakReason, got {self.reason!r}") from exc


Frame = Hello | Heartbeat | CardRead | QrScan | DoorChanged | Alarm | Unlock | Feedback | Ack | Nak
