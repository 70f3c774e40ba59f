"""The reliability layer of serial wire v1: sequence numbers, acks, retries, dedup.

The same class runs on both ends: the gateway over a pyserial port, the emulator over a
pty master. It is stop-and-wait: one frame in flight per direction, which keeps frames in
order and makes duplicate detection a comparison with the last sequence number seen.

A frame goes out from the thread that makes it possible: ``send`` on an idle link writes
it at once, and the reader thread that takes an ack writes the next queued frame. The
sender thread only retransmits and gives up (and writes when the other two could not), so
an unlock leaves without waiting for another thread to be woken and scheduled. Whoever
writes a frame decides what to write while holding the write lock, so a retransmission
decided before an ack can never reach the wire after the frame that follows it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from firmware_bridge.codec import MAX_SEQ, Decoded, DecoderStats, FrameDecoder, encode_frame
from firmware_bridge.frames import Ack, Frame, Hello, Nak, NakReason

if TYPE_CHECKING:
    import serial

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
_READ_SIZE = 4096
# Upper bound on one wait of the sender thread, so an injected clock that a test moves
# is noticed without any real time having to pass.
_POLL_S = 0.01


class Transport(Protocol):
    def read(self, n: int) -> bytes:
        """Up to n bytes; b"" when nothing arrived within the transport's timeout."""
        ...

    def write(self, data: bytes) -> None: ...


class SerialTransport:
    """A pyserial port; sets its read timeout so the link can notice stop()."""

    def __init__(self, port: serial.Serial, *, read_timeout: float = 0.05) -> None:
        port.timeout = read_timeout
        self._port = port

    def read(self, n: int) -> bytes:
        # pyserial's read(n) waits for all n bytes or the timeout: ask for one, then the rest.
        data: bytes = self._port.read(1)
        if data:
            waiting = self._port.in_waiting
            if waiting:
                data += self._port.read(min(waiting, n - 1))
        return data

    def write(self, data: bytes) -> None:
        self._port.write(data)


class FdTransport:
    """A raw file descriptor (a pty master). Switches it to non-blocking.

    A write that cannot proceed within ``write_timeout`` (nobody reading the other end, its
    buffer full) is dropped, as bits sent down an unconnected serial line would be.
    """

    def __init__(self, fd: int, *, read_timeout: float = 0.05, write_timeout: float = 0.2) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout

    def read(self, n: int) -> bytes:
        ready, _, _ = select.select([self._fd], [], [], self._read_timeout)
        if not ready:
            return b""
        try:
            return os.read(self._fd, n)
        except BlockingIOError:
            return b""

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self._fd], [], self._write_timeout)
            if not ready:
                logger.warning(
                    "fd %d not writable for %.1f s: dropped %d bytes",
                    self._fd,
                    self._write_timeout,
                    len(view),
                )
                return
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                continue


@dataclass(slots=True)
class LinkStats:
    sent: int = 0  # frames sent for the first time (acks and naks not counted)
    retransmits: int = 0
    gave_up: int = 0
    nakked: int = 0  # our frames the peer refused
    received: int = 0  # frames delivered to on_frame
    duplicates: int = 0
    decoder: DecoderStats = field(default_factory=DecoderStats)


@dataclass(slots=True)
class _Outgoing:
    frame: Frame
    future: Future[bool]
    seq: int = 0
    data: bytes = b""
    retries: int = 0
    deadline: float = 0.0


def _resolve(future: Future[bool], ok: bool) -> None:
    with contextlib.suppress(InvalidStateError):  # the caller cancelled it
        future.set_result(ok)


def _fail_all(items: list[_Outgoing]) -> None:
    for item in items:
        _resolve(item.future, False)


class Link:
    """Sends frames reliably and delivers received ones once each.

    ``on_frame`` runs on the link's reader thread: it may call ``send`` but must not wait
    on the returned future (the ack it waits for is read by that same thread).
    ``on_closed(exc)`` is called once if the transport fails (device unplugged), on the
    thread whose read or write failed (which may be a thread calling ``send``).
    """

    def __init__(
        self,
        transport: Transport,
        on_frame: Callable[[Frame], None],
        *,
        on_closed: Callable[[OSError], None] | None = None,
        ack_timeout: float = 0.05,
        retries: int = 3,
        clock: Clock = time.monotonic,
        max_queue: int = 64,
        name: str = "link",
        ack_after_delivery: bool = False,
    ) -> None:
        """``ack_after_delivery``: ack a frame only once ``on_frame`` has returned, so a peer
        that has its ack knows the frame was handled (the gateway's handler returns once the
        event is in its outbox); a retransmission meanwhile is answered as a duplicate."""
        self._transport = transport
        self._on_frame = on_frame
        self._on_closed = on_closed
        self._ack_timeout = ack_timeout
        self._retries = retries
        self._clock = clock
        self._max_queue = max_queue
        self._name = name
        self._ack_after_delivery = ack_after_delivery
        self._stats = LinkStats()
        self._naks: list[tuple[int, NakReason]] = []
        self._decoder = FrameDecoder(on_reject=lambda seq, why: self._naks.append((seq, why)))
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._queue: deque[_Outgoing] = deque()
        self._inflight: _Outgoing | None = None
        self._next_seq = 1
        self._last_rx: Decoded | None = None
        self._closed = False
        self._started = False  # before start() nobody would time the ack: send() only queues
        self._threads: list[threading.Thread] = []

    @property
    def stats(self) -> LinkStats:
        with self._cond:
            return replace(self._stats, decoder=replace(self._decoder.stats))

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        if self._threads or self._closed:
            raise RuntimeError(f"{self._name}: a link starts once")
        self._threads = [
            threading.Thread(target=self._read_loop, name=f"{self._name}-reader", daemon=True),
            threading.Thread(target=self._send_loop, name=f"{self._name}-sender", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        with self._cond:
            self._started = True  # what was queued before is the sender thread's

    def stop(self) -> None:
        _fail_all(self._close() or [])
        for thread in self._threads:
            # Skip a thread never started (interrupted start()) and the caller's own.
            if thread.ident is not None and thread is not threading.current_thread():
                thread.join()

    def send(self, frame: Frame) -> Future[bool]:
        """Queue ``frame``; the future says True once acked, False on nak, give-up or close."""
        if isinstance(frame, Ack | Nak):
            raise ValueError("Ack and Nak are sent by the link itself")
        future: Future[bool] = Future()
        with self._cond:
            if self._closed or len(self._queue) >= self._max_queue:
                logger.warning(
                    "%s: dropped %r (%s)",
                    self._name,
                    frame,
                    "link closed" if self._closed else "send queue full",
                )
                _resolve(future, False)
                return future
            self._queue.append(_Outgoing(frame, future))
            idle = self._inflight is None  # else the frame goes when the one in flight is done
        if idle and not self._start_next():
            with self._cond:  # another thread was writing: the sender thread takes it
                self._cond.notify_all()
        return future

    def flush(self, timeout: float) -> bool:
        """Wait (real time) until everything queued is acked or given up."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or (not self._queue and self._inflight is None), timeout
            )

    # -- reader thread -------------------------------------------------------------------

    def _read_loop(self) -> None:
        while not self._closed:
            try:
                data = self._transport.read(_READ_SIZE)
            except OSError as exc:
                self._fail(exc)
                return
            if not data:
                continue
            for decoded in self._decoder.feed(data):
                self._handle(decoded)
            while self._naks:
                seq, reason = self._naks.pop(0)
                self._write(encode_frame(0, Nak(seq, reason)))

    def _handle(self, decoded: Decoded) -> None:
        frame = decoded.frame
        if isinstance(frame, Ack | Nak):
            self._settle(frame)
            return
        # Same seq and same content: a retransmission whose ack was lost. Comparing the
        # content too lets a peer that rebooted (its seq restarts at 1) be heard at once.
        # A Hello is never a duplicate: a restarted peer's first Hello can be byte-identical
        # to its last one, and it must still be answered.
        duplicate = decoded == self._last_rx and not isinstance(frame, Hello)
        ack = encode_frame(0, Ack(decoded.seq))
        if (duplicate or not self._ack_after_delivery) and not self._write(ack):
            return
        if duplicate:
            with self._cond:
                self._stats.duplicates += 1
            return
        self._last_rx = decoded
        with self._cond:
            self._stats.received += 1
        try:
            self._on_frame(frame)
        except Exception:
            logger.exception("%s: on_frame failed for %r", self._name, frame)
        if self._ack_after_delivery:
            self._write(ack)

    def _settle(self, answer: Ack | Nak) -> None:
        with self._cond:
            current = self._inflight
            if current is None or current.seq != answer.seq:
                logger.debug("%s: stray %r", self._name, answer)
                return
            self._inflight = None
            if isinstance(answer, Nak):
                self._stats.nakked += 1
                logger.warning(
                    "%s: peer refused %r: %s", self._name, current.frame, answer.reason.name
                )
        # The next queued frame leaves from this thread, now; the sender thread is woken
        # only to time its ack (or to write it, if another thread was writing).
        if not self._start_next():
            with self._cond:
                self._cond.notify_all()  # flush() waits for an idle link
        _resolve(current.future, isinstance(answer, Ack))

    # -- any thread that makes a frame due -------------------------------------------------

    def _start_next(self) -> bool:
        """Write the next queued frame now if nothing is in flight; False if nothing was
        written because another thread holds the write lock (it, or the sender thread,
        will see the queue) or there was nothing to start."""
        if not self._write_lock.acquire(blocking=False):
            return False
        try:
            with self._cond:
                if self._closed or not self._started or self._inflight is not None:
                    return False
                data = self._begin_next(self._clock())
            if data is None:
                return False
            error = self._transmit(data)
        finally:
            self._write_lock.release()
        if error is not None:
            self._fail(error)
            return True
        with self._cond:  # the sender thread times the ack from here
            self._cond.notify_all()
        return True

    # -- sender thread -------------------------------------------------------------------

    def _send_loop(self) -> None:
        while self._wait_until_due():
            with self._write_lock:
                with self._cond:
                    data, given_up = self._due(self._clock())
                error = self._transmit(data) if data is not None else None
            if given_up is not None:
                logger.warning(
                    "%s: gave up on %r after %d retries", self._name, given_up.frame, self._retries
                )
                _resolve(given_up.future, False)
            if error is not None:
                self._fail(error)
                return

    def _wait_until_due(self) -> bool:
        """Wait until a frame is due to be written or given up on; False once closed."""
        with self._cond:
            while not self._closed:
                now = self._clock()
                current = self._inflight
                if current is None and self._queue:
                    return True
                if current is None:
                    self._cond.wait()
                elif now < current.deadline:
                    self._cond.wait(min(current.deadline - now, _POLL_S))
                else:
                    return True
            return False

    # Under self._cond, by a thread that holds the write lock and writes what they return.

    def _due(self, now: float) -> tuple[bytes | None, _Outgoing | None]:
        """What to write now (a new frame or a retransmission) or what to give up on."""
        current = self._inflight
        if self._closed:
            return None, None
        if current is None:
            return self._begin_next(now), None
        if now < current.deadline:
            return None, None  # an ack came, or another thread wrote it, meanwhile
        if current.retries < self._retries:
            current.retries += 1
            current.deadline = now + self._ack_timeout
            self._stats.retransmits += 1
            return current.data, None
        self._inflight = None
        self._stats.gave_up += 1
        self._cond.notify_all()
        return self._begin_next(now), current

    def _begin_next(self, now: float) -> bytes | None:
        if not self._queue:
            return None
        current = self._inflight = self._queue.popleft()
        current.seq = self._take_seq()
        current.data = encode_frame(current.seq, current.frame)
        current.deadline = now + self._ack_timeout
        self._stats.sent += 1
        return current.data

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq = 1 if seq == MAX_SEQ else seq + 1  # 0 is for acks and naks
        return seq

    # -- both ------------------------------------------------------------------------------

    def _write(self, data: bytes) -> bool:
        """Write an ack or a nak (they are not sequenced: any thread, any time)."""
        with self._write_lock:
            error = self._transmit(data)
        if error is not None:
            self._fail(error)
            return False
        return True

    def _transmit(self, data: bytes) -> OSError | None:
        try:
            self._transport.write(data)
        except OSError as exc:
            return exc
        return None

    def _close(self) -> list[_Outgoing] | None:
        """Mark closed; returns what was pending (for the caller to fail), None if it was
        closed already."""
        with self._cond:
            if self._closed:
                return None
            self._closed = True
            pending = list(self._queue)
            if self._inflight is not None:
                pending.append(self._inflight)
            self._queue.clear()
            self._inflight = None
            self._cond.notify_all()
        return pending

    def _fail(self, exc: OSError) -> None:
        pending = self._close()
        if pending is None:
            return
        if exc.errno == errno.EIO:
            logger.warning("%s: transport gone (EIO): link stopped", self._name)
        else:
            logger.warning("%s: transport failed: %s: link stopped", self._name, exc)
        if self._on_closed is not None:
            try:
                self._on_closed(exc)
            except Exception:
                logger.exception("%s: on_closed failed", self._name)
        # After on_closed: whoever sees a send fail finds the loss already reported.
        _fail_all(pending)
