"""Shared pieces for the firmware_bridge tests: a movable clock, real ptys, lossy wires."""

from __future__ import annotations

import os
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import serial

from firmware_bridge.codec import FrameDecoder
from firmware_bridge.frames import Ack
from firmware_bridge.link import FdTransport, SerialTransport, Transport


class ManualClock:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def wait_until(predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "") -> None:
    """Poll for a result of another thread or process, failing loudly at the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.002)


@dataclass
class PtyPair:
    master_fd: int
    slave_fd: int
    port: serial.Serial  # the slave opened by pyserial, as the gateway opens a real board
    master: FdTransport
    serial: SerialTransport

    def close(self) -> None:
        self.port.close()
        for fd in (self.master_fd, self.slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass  # a test closed it on purpose


@contextmanager
def pty_pair() -> Iterator[PtyPair]:
    master_fd, slave_fd = os.openpty()
    tty.setraw(slave_fd)
    port = serial.Serial(os.ttyname(slave_fd), exclusive=True)
    pair = PtyPair(master_fd, slave_fd, port, FdTransport(master_fd), SerialTransport(port))
    try:
        yield pair
    finally:
        pair.close()


class DropAcks:
    """A transport that loses the first ``drop`` Ack frames it is asked to write."""

    def __init__(self, inner: Transport, *, drop: int) -> None:
        self.inner = inner
        self.remaining = drop
        self.dropped = 0

    def read(self, n: int) -> bytes:
        return self.inner.read(n)

    def write(self, data: bytes) -> None:
        decoded = FrameDecoder().feed(data)
        if self.remaining > 0 and len(decoded) == 1 and isinstance(decoded[0].frame, Ack):
            self.remaining -= 1
            self.dropped += 1
            return
        self.inner.write(data)
