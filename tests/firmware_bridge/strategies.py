"""Hypothesis strategies for serial frames and for what a noisy line does to them."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from firmware_bridge.codec import encode_frame
from firmware_bridge.frames import (
    Ack,
    Alarm,
    AlarmKind,
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    Heartbeat,
    Hello,
    Nak,
    NakReason,
    QrScan,
    Unlock,
)

# Any text a frame may carry: anything but control characters (Unicode category Cc is
# exactly C0, DEL and C1) and lone surrogates.
_TEXT = st.characters(exclude_categories=("Cc", "Cs"))

frames = st.one_of(
    st.builds(Hello, st.text(_TEXT, min_size=1, max_size=16)),
    st.builds(Heartbeat, st.integers(0, 0xFFFF_FFFF)),
    st.builds(CardRead, st.binary(min_size=4, max_size=10)),
    st.builds(QrScan, st.text(_TEXT, min_size=1, max_size=63)),
    # The longest QR texts: a COBS block of 254 bytes and more, the 0xFF code case.
    st.builds(
        QrScan,
        st.text(
            st.characters(codec="ascii", min_codepoint=32, max_codepoint=126),
            min_size=240,
            max_size=255,
        ),
    ),
    st.builds(DoorChanged, st.booleans()),
    st.builds(Alarm, st.sampled_from(AlarmKind), st.booleans()),
    st.builds(Unlock, st.integers(1, 0xFFFF)),
    st.builds(Feedback, st.sampled_from(Beep), st.text(_TEXT, max_size=16)),
    st.builds(Ack, st.integers(0, 0xFFFF)),
    st.builds(Nak, st.integers(0, 0xFFFF), st.sampled_from(NakReason)),
)
seqs = st.integers(0, 0xFFFF)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of the line: ``wire`` as it arrives; ``intact`` the frame it carries
    unharmed (None for noise), ``source`` the frame it was made from (None for noise)."""

    wire: bytes
    intact: tuple[int, Frame] | None = None
    source: tuple[int, Frame] | None = None


@st.composite
def intact_chunks(draw: st.DrawFn) -> Chunk:
    item = (draw(seqs), draw(frames))
    return Chunk(encode_frame(*item), intact=item, source=item)


@st.composite
def mutated_chunks(draw: st.DrawFn) -> Chunk:
    """A frame hit by the line: bit flips, a cut, bytes inserted or lost, or glued to
    noise without a delimiter in between."""
    item = (draw(seqs), draw(frames))
    wire = bytearray(encode_frame(*item))
    how = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "glue"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(wire) - 1))
            wire[pos] ^= 1 << draw(st.integers(0, 7))
    elif how == "truncate":
        wire = wire[: draw(st.integers(1, len(wire) - 1))]
    elif how == "insert":
        for _ in range(draw(st.integers(1, 4))):
            wire.insert(draw(st.integers(1, len(wire) - 1)), draw(st.integers(0, 255)))
    elif how == "delete":
        del wire[draw(st.integers(1, len(wire) - 2))]
    else:  # noise where the delimiter should be: it merges with the frame
        noise = draw(st.binary(min_size=1, max_size=40).filter(lambda b: 0 not in b))
        wire = bytearray(noise) + wire[1:] if draw(st.booleans()) else wire[:-1] + noise
    return Chunk(bytes(wire), source=item)


noise_chunks = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\x00", b"")),  # no delimiter
    st.sampled_from([b"\x00", b"\x00\x00\x00", b"\xff" * 300, b"\x01" * 265]),
).map(Chunk)

chunks = st.one_of(intact_chunks(), mutated_chunks(), noise_chunks)
