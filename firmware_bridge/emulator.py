"""A hut controller in software, speaking serial wire v1 on a pseudo-terminal.

The gateway opens ``device_path`` (or the ``--link`` symlink) exactly as it would open the
real board's serial port. Output lines have fixed formats that tests and the demo parse:

    emulator: device /dev/pts/N          at start and after every replug
    emulator: link PATH -> /dev/pts/N    likewise, with --link
    emulator: unplugged                  the pty is gone (as a USB adapter pulled out)
    emulator: silent | emulator: resumed a hung controller, and its recovery
    sent hello firmware=emu-1.0.0        frames sent (heartbeats only with verbose):
    sent door state=closed                 after each hello (and the alarms raised):
                                           the reed switch now, ending the report
    sent card uid=04A1B2C3                 card, scan, door open|close,
    sent scan text="..."                   alarm kind=forced_open|held_open|tamper
    sent door open                         active=1|0, raw bytes=N
    sent alarm kind=forced_open active=1
    sent raw bytes=12
    recv unlock pulse_ms=5000            frames received: hello, unlock, feedback
    recv feedback beep=ok text="..."
    lock released for 5.0 s | lock engaged
    error: ...

A "sent" line is printed before its frame is written; a received frame is acked before it
is acted on, so "lock released", not the unlock's ack, says the door may open.

Like the real board it detects two door alarms itself: forced open (the door opens while
the lock is engaged; cleared when it closes) and held open (open longer than
``held_open_s``; cleared when it closes).

Right after every hello it sends, like the real board, what its inputs say now: an Alarm
for each alarm still raised, then a DoorChanged with the reed switch's state (printed
``sent door state=open|closed``, as it is a report, not a movement), which ends the
report. A gateway that restarts knows the door at once instead of waiting for it to move.
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
    Alarm,
    AlarmKind,
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
  tamper | tamper clear   raise or clear the enclosure tamper alarm
  silent | resume    hang (no heartbeats, no output, no acks) and recover
  unplug | replug    pull the USB serial adapter out and put it back (new pty)
  raw <hex bytes>    write bytes to the wire as they are (line noise, odd frames)
  help               this text
  quit               stop the emulator"""


class EmulatorError(RuntimeError):
    """The emulator cannot start (e.g. its --link path is taken by a real file)."""


class _Gate:
    """The pty as a hung controller sees it: while ``silent`` nothing is read or written."""

    def __init__(self, inner: FdTransport, silent: threading.Event) -> None:
        self.inner = inner
        self._silent = silent

    def read(self, n: int) -> bytes:
        data = self.inner.read(n)
        return b"" if self._silent.is_set() else data  # the UART buffer overflows

    def write(self, data: bytes) -> None:
        if not self._silent.is_set():
            self.inner.write(data)


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
        held_open_s: float | None = 60.0,
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
        self.held_open_s = held_open_s
        self._door_opened_at: float | None = None
        self.alarms: set[AlarmKind] = set()
        self._silent = threading.Event()
        self._gate: _Gate | None = None
        self._plugged = False

    @property
    def device_path(self) -> str:
        return self._device_path

    @property
    def locked(self) -> bool:
        return self._relock_at is None

    @property
    def silent(self) -> bool:
        return self._silent.is_set()

    @property
    def plugged(self) -> bool:
        return self._plugged

    @property
    def link(self) -> Link:
        if self._link is None:
            raise EmulatorError("emulator not started")
        return self._link

    def start(self) -> None:
        self._plug()
        self._started_at = self._clock()
        self._next_heartbeat = self._started_at + self.heartbeat_s
        self._ticker = threading.Thread(target=self._tick_loop, name="emulator-ticker", daemon=True)
        self._ticker.start()
        self._send_hello()

    def stop(self, *, flush_s: float = 0.5) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join()
        self._unplug(flush_s=flush_s)

    def unplug(self) -> None:
        """Close the pty and remove the link, as pulling out a USB serial adapter does."""
        if not self._plugged:
            raise EmulatorError("already unplugged")
        self._unplug(flush_s=0.0)
        self._output("emulator: unplugged")

    def replug(self) -> None:
        """A new pty, the link moved to it, and a hello: a USB re-enumeration."""
        if self._plugged:
            raise EmulatorError("already plugged in")
        self._plug()
        self._send_hello()

    def inject(self, data: bytes) -> None:
        """Write bytes to the wire as they are, bypassing the codec (noise, odd frames)."""
        gate = self._gate
        if gate is None or not self._plugged:
            raise EmulatorError("unplugged")
        gate.write(data)

    def _plug(self) -> None:
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
        self._gate = _Gate(FdTransport(self._master), self._silent)
        self._link = Link(self._gate, self._on_frame, on_closed=self._on_closed, name="emulator")
        self._link.start()
        self._plugged = True

    def _unplug(self, *, flush_s: float) -> None:
        self._plugged = False
        if self._link is not None:
            if flush_s > 0:
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
        """Run one command as typed at the prompt; returns the error or help text it printed."""
        name, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        try:
            if name in _SENDS_FRAMES:
                self._check_can_send()
            if name == "card":
                self._send(CardRead(_parse_uid(rest)))
            elif name == "scan":
                if not rest:
                    raise FrameError("scan needs the label text, e.g. scan item:42")
                self._send(QrScan(line.lstrip().partition(" ")[2].rstrip("\r\n")))
            elif name == "door":
                if rest not in ("open", "close"):
                    raise FrameError(f"door needs open or close, got {rest!r}")
                self._door(is_open=rest == "open")
            elif name == "tamper":
                if rest not in ("", "clear"):
                    raise FrameError(f"tamper takes nothing or clear, got {rest!r}")
                self._alarm(AlarmKind.TAMPER, active=not rest)
            elif name == "raw":
                data = _parse_hex(rest, what="raw bytes")
                self._output(f"sent raw bytes={len(data)}")  # before the wire, as in _send
                self.inject(data)
            elif name == "silent":
                self._silent.set()
                self._output("emulator: silent")
            elif name == "resume":
                self._silent.clear()
                self._next_heartbeat = self._clock()  # at once, as a watchdog reset would
                self._output("emulator: resumed")
            elif name == "unplug":
                self.unplug()
            elif name == "replug":
                self.replug()
            elif name == "help":
                self._output(HELP)
                return HELP
            elif name == "quit":
                self.quit_requested.set()
            elif not name:
                return None
            else:
                raise FrameError(f"unknown command {line.strip()!r}; type help")
        except (FrameError, EmulatorError) as exc:
            message = f"error: {exc}"
            self._output(message)
            return message
        return None

    def send(self, frame: Frame) -> Future[bool]:
        """Send any frame as the controller would (for tests and scripted scenarios). A
        DoorChanged moves the emulated door too, so the report after the next hello says
        what was sent last, as the real board's reed switch would."""
        if isinstance(frame, DoorChanged):
            with self._state_lock:
                self.door_open = frame.open
        return self._send(frame)

    def _check_can_send(self) -> None:
        if not self._plugged:
            raise EmulatorError("unplugged: nothing can be sent; replug first")
        if self._silent.is_set():
            raise EmulatorError("silent: a hung controller sends nothing; resume first")

    def _door(self, *, is_open: bool) -> None:
        with self._state_lock:
            forced = is_open and not self.door_open and self._relock_at is None
            self.door_open = is_open
            if is_open and self._door_opened_at is None:
                self._door_opened_at = self._clock()
            elif not is_open:
                self._door_opened_at = None
        self._send(DoorChanged(open=is_open))
        if forced:
            self._alarm(AlarmKind.FORCED_OPEN, active=True)
        if not is_open:
            for kind in (AlarmKind.FORCED_OPEN, AlarmKind.HELD_OPEN):
                if kind in self.alarms:
                    self._alarm(kind, active=False)

    def _alarm(self, kind: AlarmKind, *, active: bool) -> None:
        with self._state_lock:
            if active:
                self.alarms.add(kind)
            else:
                self.alarms.discard(kind)
        self._send(Alarm(kind, active))

    def _send(self, frame: Frame, *, line: str | None = None) -> Future[bool]:
        link = self.link
        line = line or _describe(frame)
        # Printed before the frame can leave: whoever sees it on the wire, or its answer in
        # a "recv" line, finds this line already there, so the output keeps the wire's order.
        if line is not None and (self._verbose or not isinstance(frame, Heartbeat)):
            self._output(f"sent {line}")
        return link.send(frame)

    def _send_hello(self) -> None:
        """Hello, then the state of the inputs (docs/serial-protocol.md, "Start-up"): every
        alarm still raised, and last the door as the reed switch has it."""
        self._send(Hello(self.firmware))
        with self._state_lock:
            door_open = self.door_open
            alarms = sorted(self.alarms)
        for kind in alarms:
            self._send(Alarm(kind, True))
        self._send(DoorChanged(open=door_open), line=_door_state_line(door_open))

    def _on_frame(self, frame: Frame) -> None:
        if isinstance(frame, Unlock):
            # Released before anyone can see the frame in ``received``: a test that opens
            # the door once it sees the unlock must not find the lock still engaged.
            with self._state_lock:
                self._relock_at = self._clock() + frame.pulse_ms / 1000
        self.received.append(frame)
        line = _describe(frame)
        if line is not None and (self._verbose or not isinstance(frame, Heartbeat)):
            self._output(f"recv {line}")
        if isinstance(frame, Hello):
            self._send_hello()
        elif isinstance(frame, Unlock):
            self._output(f"lock released for {frame.pulse_ms / 1000:.1f} s")

    def _on_closed(self, exc: OSError) -> None:
        self._output(f"error: pty failed ({exc}); emulator stopped")

    def _tick_loop(self) -> None:
        # The board relocks on its own timer, whatever the host does: it fails secure.
        while not self._stopping.wait(self._tick_s):
            now = self._clock()
            with self._state_lock:
                relock = self._relock_at is not None and now >= self._relock_at
                if relock:
                    self._relock_at = None
            if relock:
                self._output("lock engaged")
            if not self._plugged or self._silent.is_set():
                continue  # a hung board detects nothing; an unplugged one has no wire
            with self._state_lock:
                opened = self._door_opened_at
                held = (
                    self.held_open_s is not None
                    and opened is not None
                    and now - opened >= self.held_open_s
                    and AlarmKind.HELD_OPEN not in self.alarms
                )
            if held:
                self._alarm(AlarmKind.HELD_OPEN, active=True)
            if now >= self._next_heartbeat:
                self._next_heartbeat = now + self.heartbeat_s
                self._send(Heartbeat(min(int(now - self._started_at), 0xFFFF_FFFF)))

    def _make_symlink(self, path: Path) -> None:
        if path.is_symlink():
            path.unlink()  # left over from an emulator that did not stop cleanly
        elif path.exists():
            raise EmulatorError(f"--link {path} exists and is not a symlink; not replacing it")
        path.symlink_to(self._device_path)


_SENDS_FRAMES = frozenset({"card", "scan", "door", "tamper", "raw"})


def _parse_hex(text: str, *, what: str) -> bytes:
    cleaned = text.replace(":", "").replace("-", "").replace(" ", "")
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        raise FrameError(f"{what} must be hex, got {text!r}") from None
    if not data:
        raise FrameError(f"{what} needed, e.g. raw 00 DE AD 00")
    return data


def _parse_uid(text: str) -> bytes:
    cleaned = text.replace(":", "").replace("-", "").replace(" ", "")
    try:
        uid = bytes.fromhex(cleaned)
    except ValueError:
        raise FrameError(f"card UID must be hex, e.g. 04A1B2C3, got {text!r}") from None
    return CardRead(uid).uid


def _door_state_line(door_open: bool) -> str:
    return f"door state={'open' if door_open else 'closed'}"


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
    if isinstance(frame, Alarm):
        return f"alarm kind={frame.kind.name.lower()} active={int(frame.active)}"
    return None
