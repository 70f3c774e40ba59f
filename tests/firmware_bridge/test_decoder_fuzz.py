"""The stream decoder against a hostile line: random bytes and damaged frames, in any
split. Whatever comes, it never raises, never hands on a frame the line did not carry
whole, finds every intact frame after the noise, counts every block once, and holds a
bounded buffer however long the noise runs."""

from __future__ import annotations

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.codec import (
    HEADER,
    MAX_COBS,
    Decoded,
    FrameDecoder,
    cobs_decode,
    encode_frame,
)
from firmware_bridge.frames import Frame, Heartbeat, NakReason, QrScan
from tests.firmware_bridge.strategies import Chunk, chunks, frames, noise_chunks, seqs

CRC_SIZE = 2


def feed_in_pieces(decoder: FrameDecoder, wire: bytes, cuts: list[int]) -> list[Decoded]:
    out: list[Decoded] = []
    pos = 0
    for cut in cuts:
        out += decoder.feed(wire[pos : pos + cut])
        pos += cut
    return out + decoder.feed(wire[pos:])


def raising_reject(_seq: int, _why: NakReason) -> None:
    raise RuntimeError("the link layer failed")  # feed() must not pass this on


def on_the_wire(decoded: Decoded, wire: bytes) -> bool:
    """True if the frame's own bytes, delimiters and all, are on the line as sent."""
    return encode_frame(decoded.seq, decoded.frame) in b"\x00" + wire


@given(
    st.lists(chunks, max_size=12),
    st.lists(st.integers(1, 300), max_size=20),
    st.booleans(),
)
def test_a_hostile_line_yields_exactly_the_intact_frames(
    pieces: list[Chunk], cuts: list[int], callback_fails: bool
) -> None:
    wire = b"".join(chunk.wire for chunk in pieces) + b"\x00"
    decoder = FrameDecoder(on_reject=raising_reject if callback_fails else lambda *_: None)

    out = feed_in_pieces(decoder, wire, cuts)

    intact = [Decoded(*chunk.intact) for chunk in pieces if chunk.intact is not None]
    sources = {Decoded(*chunk.source) for chunk in pieces if chunk.source is not None}
    expected = iter(intact)
    following = next(expected, None)
    for decoded in out:
        if decoded == following:
            following = next(expected, None)
            continue
        # Anything else must be what the line carried: a frame whose damage left it the
        # same frame (a COBS block of 254 bytes may lose its empty last code), or bytes
        # that happen to be a whole valid frame (a CRC collision is such a frame).
        assert decoded in sources or on_the_wire(decoded, wire), decoded
    assert following is None, f"intact frame lost: {following}"


@given(st.lists(chunks, max_size=12), st.lists(st.integers(1, 300), max_size=20))
def test_every_block_is_counted_once(pieces: list[Chunk], cuts: list[int]) -> None:
    wire = b"".join(chunk.wire for chunk in pieces) + b"\x00"
    decoder = FrameDecoder()

    out = feed_in_pieces(decoder, wire, cuts)

    blocks = [block for block in wire.split(b"\x00") if block]
    short = [block for block in blocks if len(block) <= MAX_COBS]
    noise = [b for b in short if (raw := cobs_decode(b)) is None or len(raw) < HEADER.size + 2]
    stats = decoder.stats
    assert stats.oversize == len(blocks) - len(short)
    assert stats.garbage_bytes == sum(map(len, noise))
    checked = stats.frames + stats.bad_crc + stats.malformed + stats.unknown_type
    assert checked == len(short) - len(noise)
    assert stats.frames == len(out)


@given(noise_chunks, seqs, frames)
def test_the_next_intact_frame_follows_any_noise(noise: Chunk, seq: int, frame: Frame) -> None:
    decoder = FrameDecoder(on_reject=raising_reject)
    decoder.feed(noise.wire)
    assert decoder.feed(encode_frame(seq, frame))[-1:] == [Decoded(seq, frame)]


def test_endless_noise_without_a_delimiter_holds_a_bounded_buffer() -> None:
    """8 MB with no 0x00, in reads of 1 MB: what the decoder holds does not grow with the
    noise nor with the size of a read (a serial read may return a large buffer)."""
    noise = bytes(range(1, 256)) * ((1 << 20) // 255 + 1)
    decoder = FrameDecoder()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(8):
            assert decoder.feed(noise) == []
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024, f"decoder held {peak} bytes for noise without a delimiter"
    assert decoder.stats.oversize == 1  # one run, however long
    good = encode_frame(7, QrScan("T0001"))
    assert decoder.feed(good) == [Decoded(7, QrScan("T0001"))]
    assert decoder.feed(encode_frame(8, Heartbeat(1))) == [Decoded(8, Heartbeat(1))]
