"""The link layer over real pseudo-terminals: pyserial on the slave, FdTransport on the master."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from firmware_bridge.codec import Decoded, FrameDecoder, encode_frame
from firmware_bridge.frames import (
    Ack,
    Beep,
    CardRead,
    Feedback,
    Frame,
    Heartbeat,
    Hello,
    Nak,
    NakReason,
    QrScan,
    Unlock,
)
from firmware_bridge.link import FdTransport, Link, Transport
from tests.firmware_bridge.helpers import DropAcks, ManualClock, PtyPair, pty_pair, wait_until


class Inbox:
    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        with self.lock:
            self.frames.append(frame)


@pytest.fixture
def pair() -> Iterator[PtyPair]:
    with pty_pair() as p:
        yield p


def make_link(transport: Transport, inbox: Inbox, **kwargs: object) -> Link:
    link = Link(transport, inbox, **kwargs)  # type: ignore[arg-type]
    link.start()
    return link


def read_frames(fd: int, count: int) -> list[Decoded]:
    """Read raw frames off a master fd, as a peer without a Link would."""
    transport, decoder = FdTransport(fd), FrameDecoder()
    out: list[Decoded] = []

    def got_them() -> bool:
        out.extend(decoder.feed(transport.read(4096)))
        return len(out) >= count

    wait_until(got_them)
    return out


def test_send_is_acked_both_ways(pair: PtyPair) -> None:
    host_in, ctl_in = Inbox(), Inbox()
    host = make_link(pair.serial, host_in, name="host")
    ctl = make_link(pair.master, ctl_in, name="ctl")
    try:
        assert host.send(Unlock(5000)).result(timeout=2) is True
        assert ctl.send(QrScan("电钻 Bosch 12V")).result(timeout=2) is True
        # The ack goes out before delivery, so the peer may still be inside on_frame.
        wait_until(lambda: ctl_in.frames == [Unlock(5000)])
        wait_until(lambda: host_in.frames == [QrScan("电钻 Bosch 12V")])
        assert host.stats.sent == 1 and host.stats.retransmits == 0
        assert ctl.stats.received == 1
    finally:
        host.stop()
        ctl.stop()


def test_many_frames_keep_their_order(pair: PtyPair) -> None:
    host_in, ctl_in = Inbox(), Inbox()
    host, ctl = make_link(pair.serial, host_in), make_link(pair.master, ctl_in)
    try:
        futures = [ctl.send(Heartbeat(i)) for i in range(50)]
        assert all(f.result(timeout=5) for f in futures)
        wait_until(lambda: len(host_in.frames) == 50)
        assert host_in.frames == [Heartbeat(i) for i in range(50)]
    finally:
        host.stop()
        ctl.stop()


def test_send_from_inside_on_frame_does_not_deadlock(pair: PtyPair) -> None:
    host_in = Inbox()
    replies: list[object] = []

    def answer(frame: Frame) -> None:
        if isinstance(frame, Hello):
            replies.append(ctl.send(Hello("emu-1.0.0")))

    ctl = make_link(pair.master, answer)  # type: ignore[arg-type]
    host = make_link(pair.serial, host_in)
    try:
        assert host.send(Hello("host-0.1.0")).result(timeout=2)
        wait_until(lambda: host_in.frames == [Hello("emu-1.0.0")], what="hello answer")
    finally:
        host.stop()
        ctl.stop()


class WhoWrites:
    """A transport that notes which thread wrote each frame."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.writes: list[tuple[str, type]] = []

    def read(self, n: int) -> bytes:
        return self.inner.read(n)

    def write(self, data: bytes) -> None:
        thread = threading.current_thread().name
        self.writes += [(thread, type(d.frame)) for d in FrameDecoder().feed(data)]
        self.inner.write(data)


def test_a_frame_leaves_from_the_thread_that_makes_it_due(pair: PtyPair) -> None:
    # No hand-over to the sender thread (a wake-up the OS may delay) before an unlock goes:
    # an idle link writes in send(), and the reader that takes an ack writes the next frame.
    clock = ManualClock()  # frozen: no retransmission, the sender thread writes nothing
    wire = WhoWrites(pair.serial)
    host = make_link(wire, Inbox(), clock=clock, name="host")
    ctl_in = Inbox()
    try:
        first = host.send(Unlock(5000))
        assert wire.writes == [(threading.current_thread().name, Unlock)]  # before send returned
        second = host.send(Feedback(Beep.OK, "请开门取还物品"))  # waits for the first's ack
        assert len(wire.writes) == 1
        ctl = make_link(pair.master, ctl_in, name="ctl")  # the controller acks from now on
        try:
            assert first.result(timeout=2) is True and second.result(timeout=2) is True
            wait_until(lambda: len(ctl_in.frames) == 2)
        finally:
            ctl.stop()
        assert wire.writes[1] == ("host-reader", Feedback)
        assert ctl_in.frames == [Unlock(5000), Feedback(Beep.OK, "请开门取还物品")]
    finally:
        host.stop()


def test_lost_ack_means_a_retransmit_that_is_acked_but_not_delivered_twice(
    pair: PtyPair,
) -> None:
    clock = ManualClock()
    host_in, ctl_in = Inbox(), Inbox()
    lossy = DropAcks(pair.master, drop=1)
    ctl = make_link(lossy, ctl_in, name="ctl")
    host = make_link(pair.serial, host_in, clock=clock, name="host")
    try:
        future = host.send(CardRead(bytes.fromhex("04A1B2C3")))
        wait_until(lambda: lossy.dropped == 1, what="the first ack to be dropped")
        assert not future.done()
        clock.advance(0.051)
        assert future.result(timeout=2) is True
        assert host.stats.retransmits == 1
        wait_until(lambda: ctl.stats.duplicates == 1)
        assert ctl_in.frames == [CardRead(bytes.fromhex("04A1B2C3"))]
        assert ctl.stats.received == 1
    finally:
        host.stop()
        ctl.stop()


def test_gives_up_after_retries_and_goes_on_with_the_next_frame(pair: PtyPair) -> None:
    clock = ManualClock()
    lossy = DropAcks(pair.master, drop=4)  # the first send and its 3 retries
    ctl_in = Inbox()
    ctl = make_link(lossy, ctl_in, name="ctl")
    host = make_link(pair.serial, Inbox(), clock=clock, retries=3, name="host")
    try:
        first = host.send(Unlock(1000))
        second = host.send(Unlock(2000))
        for attempt in range(1, 5):
            wait_until(
                lambda n=attempt: lossy.dropped == n,  # type: ignore[misc]
                what=f"ack {attempt} dropped",
            )
            clock.advance(0.051)
        assert first.result(timeout=2) is False
        assert second.result(timeout=2) is True
        stats = host.stats
        assert (stats.sent, stats.retransmits, stats.gave_up) == (2, 3, 1)
        wait_until(lambda: len(ctl_in.frames) == 2)
        assert ctl_in.frames == [Unlock(1000), Unlock(2000)]  # each delivered once
        assert ctl.stats.duplicates == 3  # settled before the second frame was delivered
    finally:
        host.stop()
        ctl.stop()


def test_raw_duplicate_is_acked_again_and_delivered_once(pair: PtyPair) -> None:
    inbox = Inbox()
    host = make_link(pair.serial, inbox)
    try:
        wire = encode_frame(7, QrScan("item:7"))
        os.write(pair.master_fd, wire + wire)
        acks = read_frames(pair.master_fd, 2)
        assert [d.frame for d in acks] == [Ack(7), Ack(7)]
        wait_until(lambda: host.stats.duplicates == 1)
        assert inbox.frames == [QrScan("item:7")]
        assert host.stats.duplicates == 1
    finally:
        host.stop()


def test_peer_that_rebooted_is_heard_although_its_seq_restarts(pair: PtyPair) -> None:
    inbox = Inbox()
    host = make_link(pair.serial, inbox)
    try:
        os.write(pair.master_fd, encode_frame(1, Hello("emu-1.0.0")))
        os.write(pair.master_fd, encode_frame(1, Heartbeat(0)))  # same seq, new content
        read_frames(pair.master_fd, 2)
        wait_until(lambda: len(inbox.frames) == 2)
        assert inbox.frames == [Hello("emu-1.0.0"), Heartbeat(0)]
    finally:
        host.stop()


def test_unknown_type_is_nakked_and_garbage_ignored(pair: PtyPair) -> None:
    from tests.firmware_bridge.test_codec import raw_frame

    inbox = Inbox()
    host = make_link(pair.serial, inbox)
    try:
        os.write(pair.master_fd, b"line noise\xff" + raw_frame(0x7F, 9, b"?"))
        assert [d.frame for d in read_frames(pair.master_fd, 1)] == [Nak(9, NakReason.UNKNOWN_TYPE)]
        assert inbox.frames == []
        assert host.stats.decoder.unknown_type == 1 and host.stats.decoder.garbage_bytes > 0
    finally:
        host.stop()


def test_nak_resolves_the_future_false(pair: PtyPair) -> None:
    host = make_link(pair.serial, Inbox())
    try:
        future = host.send(Unlock(5000))
        (sent,) = read_frames(pair.master_fd, 1)
        os.write(pair.master_fd, encode_frame(0, Nak(sent.seq, NakReason.BUSY)))
        assert future.result(timeout=2) is False
        assert host.stats.nakked == 1 and host.stats.retransmits == 0
    finally:
        host.stop()


def test_device_unplugged_stops_the_link_and_reports_once(pair: PtyPair) -> None:
    closed: list[OSError] = []
    host = make_link(pair.serial, Inbox(), on_closed=closed.append)
    pending = host.send(Unlock(5000))
    # The board goes away: the master side of the pty disappears.
    os.close(pair.master_fd)
    os.close(pair.slave_fd)
    wait_until(lambda: host.closed, what="the link to notice")
    assert pending.result(timeout=1) is False
    assert len(closed) == 1 and isinstance(closed[0], OSError)
    assert host.send(Unlock(1)).result(timeout=1) is False
    host.stop()
    host.stop()  # idempotent


def test_gateway_closing_the_port_fails_the_master_side_cleanly(pair: PtyPair) -> None:
    closed: list[OSError] = []
    ctl = make_link(pair.master, Inbox(), on_closed=closed.append)
    pair.port.close()
    os.close(pair.slave_fd)  # now nobody has the slave open: the master reads EIO
    wait_until(lambda: closed, what="EIO on the master")
    assert ctl.closed
    ctl.stop()


def test_stop_fails_pending_sends_and_refuses_new_ones(pair: PtyPair) -> None:
    host = make_link(pair.serial, Inbox())
    futures = [host.send(Heartbeat(i)) for i in range(3)]  # nobody acks on the master
    host.stop()
    assert [f.result(timeout=1) for f in futures] == [False, False, False]
    assert host.send(Heartbeat(9)).result(timeout=1) is False
    with pytest.raises(ValueError):
        host.send(Ack(1))


def test_a_repeated_hello_is_delivered_again_because_it_marks_a_restart() -> None:
    # A gateway restarted without resetting the controller sends Hello(seq 1) again, byte
    # for byte; the controller must answer it, not swallow it as a lost-ack retransmission.
    with pty_pair() as pair:
        got: list[Frame] = []
        controller = Link(pair.master, on_frame=got.append, name="controller")
        controller.start()
        try:
            hello = encode_frame(1, Hello("host-0.1.0"))
            card = encode_frame(2, CardRead(bytes.fromhex("04A1B2C3")))
            for data in (hello, card, card, hello):
                pair.port.write(data)
            wait_until(lambda: len(got) == 3, what="three deliveries")
            card_frame = CardRead(bytes.fromhex("04A1B2C3"))
            assert got == [Hello("host-0.1.0"), card_frame, Hello("host-0.1.0")]
            assert controller.stats.duplicates == 1  # the repeated card, not the Hello
        finally:
            controller.stop()
