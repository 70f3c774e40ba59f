"""The emulator on a real pty, driven by a pyserial + Link host as the gateway would."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial

from firmware_bridge.emulator import ControllerEmulator, EmulatorError
from firmware_bridge.frames import (
    Alarm,
    AlarmKind,
    Beep,
    CardRead,
    DoorChanged,
    Feedback,
    Frame,
    Heartbeat,
    Hello,
    QrScan,
    Unlock,
)
from firmware_bridge.link import Link, SerialTransport
from tests.firmware_bridge.helpers import ManualClock, wait_until

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Host:
    """The gateway's side: the pty opened with pyserial, a Link on it."""

    port: serial.Serial
    link: Link
    frames: list[Frame]

    @classmethod
    def open(cls, path: str) -> Host:
        port = serial.Serial(path, exclusive=True)
        frames: list[Frame] = []
        link = Link(SerialTransport(port), frames.append, name="host")
        link.start()
        return cls(port, link, frames)

    def close(self) -> None:
        self.link.stop()
        self.port.close()


@dataclass
class Rig:
    emulator: ControllerEmulator
    lines: list[str]
    clock: ManualClock
    host: Host

    def wait_line(self, line: str) -> None:
        wait_until(lambda: line in self.lines, what=f"line {line!r} in {self.lines}")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    lines: list[str] = []
    clock = ManualClock()
    emulator = ControllerEmulator(
        firmware="emu-test", output=lines.append, clock=clock, link_path=tmp_path / "ttyHUT"
    )
    emulator.start()
    host = Host.open(str(tmp_path / "ttyHUT"))
    try:
        yield Rig(emulator, lines, clock, host)
    finally:
        host.close()
        emulator.stop()


def test_start_prints_the_device_then_the_link_then_hello(rig: Rig, tmp_path: Path) -> None:
    assert re.fullmatch(r"emulator: device /dev/pts/\d+", rig.lines[0])
    assert rig.lines[1] == f"emulator: link {tmp_path / 'ttyHUT'} -> {rig.emulator.device_path}"
    assert rig.lines[2] == "sent hello firmware=emu-test"
    assert rig.lines[3] == "sent door state=closed"  # the reed switch, after the hello
    assert os.readlink(tmp_path / "ttyHUT") == rig.emulator.device_path


def test_host_hello_is_answered(rig: Rig) -> None:
    rig.host.frames.clear()
    assert rig.host.link.send(Hello("host-0.1.0")).result(timeout=2)
    rig.wait_line("recv hello firmware=host-0.1.0")
    wait_until(lambda: Hello("emu-test") in rig.host.frames)
    assert rig.lines.count("sent hello firmware=emu-test") == 2


def test_each_hello_is_followed_by_the_alarms_raised_and_then_the_door(rig: Rig) -> None:
    # What a restarted gateway needs to know at once; the door frame ends the report.
    rig.emulator.command("door open")  # nobody unlocked it: forced open
    wait_until(lambda: Alarm(AlarmKind.FORCED_OPEN, True) in rig.host.frames, what="alarm")
    rig.host.frames.clear()
    assert rig.host.link.send(Hello("host-0.1.0")).result(timeout=2)
    wait_until(lambda: DoorChanged(open=True) in rig.host.frames, what="the door report")
    assert rig.host.frames == [
        Hello("emu-test"),
        Alarm(AlarmKind.FORCED_OPEN, True),
        DoorChanged(open=True),
    ]
    assert rig.lines[-2:] == ["sent alarm kind=forced_open active=1", "sent door state=open"]


def test_commands_become_frames(rig: Rig) -> None:
    commands = {
        "card 04a1b2c3": ("sent card uid=04A1B2C3", CardRead(bytes.fromhex("04A1B2C3"))),
        "scan 已借出 电钻  drill #3\n": (
            'sent scan text="已借出 电钻  drill #3"',
            QrScan("已借出 电钻  drill #3"),
        ),
        "door open": ("sent door open", DoorChanged(open=True)),
        "door close": ("sent door close", DoorChanged(open=False)),
    }
    for command, (line, frame) in commands.items():
        assert rig.emulator.command(command) is None
        rig.wait_line(line)
        wait_until(
            lambda f=frame: f in rig.host.frames,  # type: ignore[misc]
            what=f"{frame} at the host",
        )
    assert not rig.emulator.door_open


def test_a_sent_line_is_printed_before_its_frame_is_on_the_wire(tmp_path: Path) -> None:
    # The port is opened but never read, so what the emulator wrote waits in it: a peer that
    # sees the frame, or answers it, must find the line already printed.
    ports: list[serial.Serial] = []
    waiting_when_printed: list[int] = []

    def output(line: str) -> None:
        if line.startswith("sent card") and ports:
            waiting_when_printed.append(ports[0].in_waiting)

    emulator = ControllerEmulator(
        output=output, clock=ManualClock(), heartbeat_s=1000, link_path=tmp_path / "tty"
    )
    emulator.start()
    try:
        ports.append(serial.Serial(str(tmp_path / "tty"), exclusive=True))
        assert emulator.link.flush(2)  # the unanswered start-up hello, given up
        ports[0].reset_input_buffer()
        emulator.command("card 04A1B2C3")
        wait_until(lambda: ports[0].in_waiting > 0, what="the card frame on the wire")
        assert waiting_when_printed == [0]
    finally:
        for port in ports:
            port.close()
        emulator.stop()


def test_unlock_releases_the_lock_until_the_pulse_ends(rig: Rig) -> None:
    assert rig.host.link.send(Unlock(5000)).result(timeout=2)
    rig.wait_line("recv unlock pulse_ms=5000")
    rig.wait_line("lock released for 5.0 s")
    assert not rig.emulator.locked
    rig.clock.advance(5.0)
    rig.wait_line("lock engaged")
    assert rig.emulator.locked
    assert Unlock(5000) in rig.emulator.received


def test_feedback_is_printed_exactly(rig: Rig) -> None:
    assert rig.host.link.send(Feedback(Beep.OK, "已借出 电钻")).result(timeout=2)
    rig.wait_line('recv feedback beep=ok text="已借出 电钻"')
    assert rig.host.link.send(Feedback(Beep.ERROR, 'no "card"')).result(timeout=2)
    rig.wait_line('recv feedback beep=error text="no \\"card\\""')


@pytest.mark.parametrize(
    "command",
    [
        "bogus",
        "card",
        "card zz",
        "card 0102",
        "card " + "00" * 11,
        "scan",
        "scan   ",
        "door ajar",
        "door",
        "scan " + "x" * 256,
    ],
)
def test_bad_commands_print_an_error_and_send_nothing(rig: Rig, command: str) -> None:
    before = rig.host.link.stats.received
    message = rig.emulator.command(command)
    assert message is not None and message.startswith("error: ")
    assert rig.lines[-1] == message
    assert rig.host.link.stats.received == before


def test_help_and_quit(rig: Rig) -> None:
    help_text = rig.emulator.command("help")
    assert help_text is not None and "card <UID hex>" in help_text
    assert rig.emulator.command("quit") is None
    assert rig.emulator.quit_requested.is_set()


def test_heartbeats_follow_the_clock_and_are_not_printed(rig: Rig) -> None:
    rig.clock.advance(2.0)
    wait_until(lambda: any(isinstance(f, Heartbeat) for f in rig.host.frames))
    assert Heartbeat(2) in rig.host.frames
    assert not any(line.startswith(("sent heartbeat", "recv heartbeat")) for line in rig.lines)


def test_survives_the_gateway_closing_and_reopening_the_port(rig: Rig, tmp_path: Path) -> None:
    rig.host.close()
    rig.clock.advance(2.0)  # a heartbeat goes out while nobody listens
    rig.emulator.command("card 04A1B2C3")
    host = Host.open(str(tmp_path / "ttyHUT"))
    try:
        assert host.link.send(Hello("host-0.1.0")).result(timeout=2)
        wait_until(lambda: Hello("emu-test") in host.frames)
        rig.emulator.command("door open")
        wait_until(lambda: DoorChanged(open=True) in host.frames)
    finally:
        host.close()
    assert not rig.emulator.link.closed


def test_stop_removes_the_symlink_and_refuses_a_real_file(tmp_path: Path) -> None:
    emulator = ControllerEmulator(output=lambda _line: None, link_path=tmp_path / "tty")
    emulator.start()
    emulator.stop()
    emulator.stop()
    assert not (tmp_path / "tty").exists()
    (tmp_path / "file").write_text("mine")
    emulator = ControllerEmulator(output=lambda _line: None, link_path=tmp_path / "file")
    with pytest.raises(EmulatorError, match="not a symlink"):
        emulator.start()
    emulator.stop()
    assert (tmp_path / "file").read_text() == "mine"


def alarms_at(host: Host) -> list[Alarm]:
    return [f for f in host.frames if isinstance(f, Alarm)]


def release_the_lock(host: Host, lines: list[str]) -> None:
    """Unlock and wait for the emulator's own word that it did: the link acks a frame before
    handing it on, so a door opened right after the ack may still find the lock engaged."""
    assert host.link.send(Unlock(5000)).result(timeout=2)
    wait_until(lambda: "lock released for 5.0 s" in lines, what="the emulator releasing the lock")


def test_door_opened_while_locked_is_forced_open_until_it_closes(rig: Rig) -> None:
    rig.emulator.command("door open")
    rig.wait_line("sent alarm kind=forced_open active=1")
    assert rig.lines.index("sent door open") < rig.lines.index(
        "sent alarm kind=forced_open active=1"
    )
    wait_until(lambda: Alarm(AlarmKind.FORCED_OPEN, True) in rig.host.frames)
    rig.emulator.command("door close")
    rig.wait_line("sent alarm kind=forced_open active=0")
    wait_until(lambda: Alarm(AlarmKind.FORCED_OPEN, False) in rig.host.frames)
    assert rig.emulator.alarms == set()


def test_door_opened_during_the_unlock_pulse_is_no_alarm(rig: Rig) -> None:
    release_the_lock(rig.host, rig.lines)
    rig.emulator.command("door open")
    rig.emulator.command("door close")
    wait_until(lambda: DoorChanged(open=False) in rig.host.frames)
    assert alarms_at(rig.host) == []
    assert not any(line.startswith("sent alarm") for line in rig.lines)


def test_door_held_open_past_the_limit_raises_held_open(tmp_path: Path) -> None:
    lines: list[str] = []
    clock = ManualClock()
    emulator = ControllerEmulator(
        output=lines.append,
        clock=clock,
        held_open_s=30,
        heartbeat_s=1000,
        link_path=tmp_path / "tty",
    )
    emulator.start()
    host = Host.open(str(tmp_path / "tty"))
    try:
        release_the_lock(host, lines)
        emulator.command("door open")
        clock.advance(29)
        wait_until(lambda: DoorChanged(open=True) in host.frames)
        assert alarms_at(host) == []
        clock.advance(1)
        wait_until(lambda: Alarm(AlarmKind.HELD_OPEN, True) in host.frames)
        assert "sent alarm kind=held_open active=1" in lines
        clock.advance(100)  # raised once, not once per tick
        emulator.command("door close")
        wait_until(lambda: Alarm(AlarmKind.HELD_OPEN, False) in host.frames)
        assert alarms_at(host) == [
            Alarm(AlarmKind.HELD_OPEN, True),
            Alarm(AlarmKind.HELD_OPEN, False),
        ]
    finally:
        host.close()
        emulator.stop()


def test_tamper_is_raised_and_cleared(rig: Rig) -> None:
    rig.emulator.command("tamper")
    rig.emulator.command("tamper clear")
    wait_until(lambda: len(alarms_at(rig.host)) == 2)
    assert alarms_at(rig.host) == [Alarm(AlarmKind.TAMPER, True), Alarm(AlarmKind.TAMPER, False)]
    assert rig.lines[-2:] == ["sent alarm kind=tamper active=1", "sent alarm kind=tamper active=0"]
    assert rig.emulator.command("tamper now") is not None


def test_a_silent_controller_sends_and_answers_nothing_until_it_resumes(rig: Rig) -> None:
    # The start-up hello may still be retried (the host's open flushed the first copy):
    # let it be acked or given up, so nothing sent before the hang arrives during it.
    rig.emulator.link.flush(2)
    rig.emulator.command("silent")
    assert rig.lines[-1] == "emulator: silent"
    rig.clock.advance(10)
    message = rig.emulator.command("card 04A1B2C3")
    assert message is not None and message.startswith("error: silent")
    assert rig.host.link.send(Feedback(Beep.OK, "hello?")).result(timeout=2) is False
    assert not any(isinstance(f, Heartbeat | CardRead) for f in rig.host.frames)
    assert Feedback(Beep.OK, "hello?") not in rig.emulator.received
    rig.emulator.command("resume")
    assert rig.lines[-1] == "emulator: resumed"
    wait_until(
        lambda: any(isinstance(f, Heartbeat) for f in rig.host.frames),
        what="a heartbeat at once after resume",
    )
    rig.emulator.command("card 04A1B2C3")
    wait_until(lambda: CardRead(bytes.fromhex("04A1B2C3")) in rig.host.frames)


def test_unplug_closes_the_pty_and_replug_moves_the_link_to_a_new_one(
    rig: Rig, tmp_path: Path
) -> None:
    link = tmp_path / "ttyHUT"
    rig.emulator.command("unplug")
    assert rig.lines[-1] == "emulator: unplugged"
    assert not link.exists() and not link.is_symlink()
    wait_until(lambda: rig.host.link.closed, what="the host noticing the device is gone")
    message = rig.emulator.command("door open")
    assert message is not None and message.startswith("error: unplugged")
    assert rig.emulator.command("unplug") == "error: already unplugged"
    rig.clock.advance(10)  # no heartbeat to nowhere, no crash
    rig.host.close()

    before = len(rig.lines)
    rig.emulator.command("replug")
    device = rig.lines[before]
    assert re.fullmatch(r"emulator: device /dev/pts/\d+", device)
    assert rig.lines[before + 1] == f"emulator: link {link} -> {rig.emulator.device_path}"
    assert rig.lines[before + 2] == "sent hello firmware=emu-test"
    host = Host.open(str(link))
    try:
        assert host.link.send(Hello("host-0.1.0")).result(timeout=2)
        wait_until(lambda: Hello("emu-test") in host.frames)
        rig.emulator.command("card 04A1B2C3")
        wait_until(lambda: CardRead(bytes.fromhex("04A1B2C3")) in host.frames)
    finally:
        host.close()
    assert rig.emulator.command("replug") == "error: already plugged in"


def test_raw_bytes_reach_the_wire_as_they_are(rig: Rig) -> None:
    rig.emulator.command("raw 00 DE AD BE EF 00")
    assert rig.lines[-1] == "sent raw bytes=6"
    wait_until(lambda: rig.host.link.stats.decoder.garbage_bytes == 4)
    rig.emulator.command("card 04A1B2C3")
    wait_until(lambda: CardRead(bytes.fromhex("04A1B2C3")) in rig.host.frames)
    for bad in ("raw", "raw zz"):
        message = rig.emulator.command(bad)
        assert message is not None and message.startswith("error: ")


def test_a_ten_kilobyte_label_is_refused_by_the_controller(rig: Rig) -> None:
    message = rig.emulator.command("scan " + "x" * 10_000)
    assert message is not None and "255" in message
    assert not any(isinstance(f, QrScan) for f in rig.host.frames)


# -- the real command -----------------------------------------------------------------------


def start_cli(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolhut_cli.cli", "emulator", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=REPO,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def finish(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stderr):
        if pipe is not None:
            pipe.close()


def next_line(lines: queue.Queue[str], proc: subprocess.Popen[str]) -> str:
    try:
        return lines.get(timeout=10)
    except queue.Empty:
        proc.kill()
        err = proc.stderr.read() if proc.stderr is not None else ""
        raise AssertionError(f"no output from toolhut emulator; stderr:\n{err}") from None


def test_toolhut_emulator_command_end_to_end(tmp_path: Path) -> None:
    link = tmp_path / "ttyHUT"
    proc, lines = start_cli(
        "--link", str(link), "--firmware", "emu-9.9", "--heartbeat", "60", "--held-open", "90"
    )
    assert proc.stdin is not None
    try:
        device = next_line(lines, proc)
        assert re.fullmatch(r"emulator: device /dev/pts/\d+", device)
        assert next_line(lines, proc) == f"emulator: link {link} -> {device.split()[-1]}"
        host = Host.open(str(link))
        try:
            assert host.link.send(Hello("host-0.1.0")).result(timeout=5)
            proc.stdin.write("scan 已借出 电钻 x\n")
            proc.stdin.flush()
            wait_until(lambda: QrScan("已借出 电钻 x") in host.frames, what="scan at the host")
            assert host.link.send(Feedback(Beep.OK, "已借出 电钻")).result(timeout=5)
        finally:
            host.close()
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=10) == 0
    finally:
        finish(proc)
    seen = []
    while not lines.empty():
        seen.append(lines.get())
    assert 'sent scan text="已借出 电钻 x"' in seen
    assert 'recv feedback beep=ok text="已借出 电钻"' in seen
    assert not link.exists()


def test_toolhut_emulator_refuses_a_negative_held_open() -> None:
    proc, _lines = start_cli("--held-open", "-1")
    try:
        assert proc.wait(timeout=10) == 2
        assert proc.stderr is not None and "--held-open" in proc.stderr.read()
    finally:
        finish(proc)


@pytest.mark.parametrize("how", ["eof", "sigterm"])
def test_toolhut_emulator_stops_on_eof_and_sigterm(how: str) -> None:
    proc, lines = start_cli("--heartbeat", "0.2")
    assert proc.stdin is not None
    try:
        assert next_line(lines, proc).startswith("emulator: device /dev/pts/")
        if how == "eof":
            proc.stdin.close()
        else:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        finish(proc)
