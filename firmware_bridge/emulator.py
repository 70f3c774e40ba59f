"""A hut controller in software, speaking serial wire v1 on a pseudo-terminal.

The gateway opens ``device_path`` exactly as it would open the real board's serial port.
Output lines (``sent ...``, ``recv ...``, ``lock ...``, ``error: ...``) have fixed formats
that tests and the demo parse.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import tty
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from firmware_bridge.frames import (
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    FrameError,
    Heartbeat,
    Hello,
    QrScan,
    Unlock,
)
from firmware_bridge.link import Clock, FdTransport, Link

logger = logging.getLogger(__name__)

HELP = """commands:
  card <UID hex>     tap a card, e.g. card 04A1B2C3
  scan <text...>     scan a QR label (rest of the line, verbatim)
  door open | door close
  help               this text
  quit               stop the emulator"""


class EmulatorError(RuntimeError):
    """The emulator cannot start (e.g. its --link path is taken by a real file)."""


_print_lock = threading.Lock()


def print_line(line: str) -> None:
    # One write per line under a lock: print() from the reader and ticker threads at once
    # would interleave text and newline, and the demo parses these lines.
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class ControllerEmulator:
    def __init__(
        self,
        *,
        firmware: str = "emu-1.0.0",
        heartbeat_s: float = 2.0,
        link_path: str | os.PathLike[str] | None = None,
        output: Callable[[str], None] = print_line,
        clock: Clock = time.monotonic,
        verbose: bool = False,
        tick_s: float = 0.01,
    ) -> None:
        Hello(firmware)  # fail early on a firmware string that cannot go on the wire
        self.firmware = firmware
        self.heartbeat_s = heartbeat_s
        self.link_path = Path(link_path) if link_path is not None else None
        self.received: list[Frame] = []
        self.quit_requested = threading.Event()
        self.door_open = False
        self._output = output
        self._clock = clock
        self._verbose = verbose
        self._tick_s = tick_s
        self._master = self._slave = -1
        self._device_path = ""
        self._link: Link | None = None
        self._started_at = 0.0
        self._next_heartbeat = 0.0
        self._relock_at: float | None = None
        self._state_lock = threading.Lock()
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None

    @property
    def device_path(self) -> str:
        return self._device_path

    @property
    def locked(self) -> bool:
        return self._relock_at is None

    @property
    def link(self) -> Link:
        if self._link is None:
            raise EmulatorError("emulator not started")
        return self._link

    def start(self) -> None:
        self._master, self._slave = os.openpty()
        # Keeping our own slave fd open means the master never reads EIO while the gateway
        # has the port closed, so the emulator outlives any number of gateway restarts.
        tty.setraw(self._slave)
        self._device_path = os.ttyname(self._slave)
        self._output(f"emulator: device {self._device_path}")
        if self.link_path is not None:
            self._make_symlink(self.link_path)
            self._output(f"emulator: link {self.link_path} -> {self._device_path}")
        # The link's ack timer runs on real time: the injected clock is the board's own
        # (lock pulse, heartbeats), which tests move by whole seconds.
        self._link = Link(FdTransport(self._master), self._on_frame,
                          on_closed=self._on_closed, name="emulator")
        self._link.start()
        self._started_at = self._clock()
        self._next_heartbeat = self._started_at + self.heartbeat_s
        self._ticker = threading.Thread(target=self._tick_loop, name="emulator-ticker",
                                        daemon=True)
        self._ticker.start()
        self._send_hello()

    def stop(self, *, flush_s: float = 0.5) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._link is not None:
            self._link.flush(flush_s)  # let a last command's frame get its ack
            self._link.stop()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        link = self.link_path
        if link is not None and link.is_symlink() and os.readlink(link) == self._device_path:
            link.unlink()

    def command(self, line: str) -> str | None:
        """Run one console command; returns the error or help text it printed, if any."""
        name, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        try:
            if name == "card":
                self._send(CardRead(_parse_uid(rest)))
            elif name == "scan":
                if not rest:
                    raise FrameError("scan needs the label text, e.g. scan item:42")
                self._send(QrScan(line.lstrip().partition(" ")[2].rstrip("\r\n")))
            elif name == "door":
                if rest not in ("open", "close"):
                    raise FrameError(f"door needs open or close, got {rest!r}")
                self.door_open = rest == "open"
                self._send(DoorChanged(open=self.door_open))
            elif name == "help":
                self._output(HELP)
                return HELP
            elif name == "quit":
                self.quit_requested.set()
            elif not name:
                return None
            else:
                raise FrameError(f"unknown command {line.strip()!r}; type help")
        except FrameError as exc:
            message = f"error: {exc}"
            self._output(message)
            return message
        return None

    def send(self, frame: Frame) -> Future[bool]:
        """Send any frame as the controller would (for tests and scripted scenarios)."""
        return self._send(frame)

    def _send(self, frame: Frame) -> Future[bool]:
        future = self.link.send(frame)
        line = _describe(frame)
        if line is not None and (self._verbose or not isinstance(frame, Heartbeat)):
            self._output(f"sent {line}")
        return future

    def _send_hello(self) -> None:
        self._send(Hello(self.firmware))

    def _on_frame(self, frame: Frame) -> None:
        self.received.append(frame)
        line = _describe(frame)
        if line is not None and (self._verbose or not isinstance(frame, Heartbeat)):
            self._output(f"recv {line}")
        if isinstance(frame, Hello):
            self._send_hello()
        elif isinstance(frame, Unlock):
            with self._state_lock:
                self._relock_at = self._clock() + frame.pulse_ms / 1000
            self._output(f"lock released for {frame.pulse_ms / 1000:.1f} s")

    def _on_closed(self, exc: OSError) -> None:
        self._output(f"error: pty failed ({exc}); emulator stopped")

    def _tick_loop(self) -> None:
        # The board relocks on its own timer, whatever the host does: fail-safe hardware.
        while not self._stopping.wait(self._tick_s):
            now = self._clock()
            with self._state_lock:
                relock = self._relock_at is not None and now >= self._relock_at
                if relock:
                    self._relock_at = None
            if relock:
                self._output("lock engaged")
            if now >= self._next_heartbeat:
                self._next_heartbeat = now + self.heartbeat_s
                self._send(Heartbeat(min(int(now - self._started_at), 0xFFFF_FFFF)))

    def _make_symlink(self, path: Path) -> None:
        if path.is_symlink():
            path.unlink()  # left over from an emulator that did not stop cleanly
        elif path.exists():
            raise EmulatorError(f"--link {path} exists and is not a symlink; not replacing it")
        path.symlink_to(self._device_path)


def _parse_uid(text: str) -> bytes:
    cleaned = text.replace(":", "").replace("-", "").replace(" ", "")
    try:
        uid = bytes.fromhex(cleaned)
    except ValueError:
        raise FrameError(f"card UID must be hex, e.g. 04A1B2C3, got {text!r}") from None
    return CardRead(uid).uid


def _describe(frame: Frame) -> str | None:
    if isinstance(frame, Hello):
        return f"hello firmware={frame.firmware}"
    if isinstance(frame, CardRead):
        return f"card uid={frame.uid_hex}"
    if isinstance(frame, QrScan):
        return f"scan text={json.dumps(frame.text, ensure_ascii=False)}"
    if isinstance(frame, DoorChanged):
        return f"door {'open' if frame.open else 'close'}"
    if isinstance(frame, Unlock):
        return f"unlock pulse_ms={frame.pulse_ms}"
    if isinstance(frame, Feedback):
        text = json.dumps(frame.text, ensure_ascii=False)
        return f"feedback beep={frame.beep.name.lower()} text={text}"
    if isinstance(frame, Heartbeat):
        return f"heartbeat uptime_s={frame.uptime_s}"
    return None
