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
    emulator = ControllerEmulator(firmware="emu-test", output=lines.append, clock=clock,
                                  link_path=tmp_path / "ttyHUT")
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
    assert os.readlink(tmp_path / "ttyHUT") == rig.emulator.device_path


def test_host_hello_is_answered(rig: Rig) -> None:
    rig.host.frames.clear()
    assert rig.host.link.send(Hello("host-0.1.0")).result(timeout=2)
    rig.wait_line("recv hello firmware=host-0.1.0")
    wait_until(lambda: Hello("emu-test") in rig.host.frames)
    assert rig.lines.count("sent hello firmware=emu-test") == 2


def test_commands_become_frames(rig: Rig) -> None:
    commands = {
        "card 04a1b2c3": ("sent card uid=04A1B2C3", CardRead(bytes.fromhex("04A1B2C3"))),
        "scan 已借出 电钻  drill #3\n": ('sent scan text="已借出 电钻  drill #3"',
                                       QrScan("已借出 电钻  drill #3")),
        "door open": ("sent door open", DoorChanged(open=True)),
        "door close": ("sent door close", DoorChanged(open=False)),
    }
    for command, (line, frame) in commands.items():
        assert rig.emulator.command(command) is None
        rig.wait_line(line)
        wait_until(lambda f=frame: f in rig.host.frames,  # type: ignore[misc]
                   what=f"{frame} at the host")
    assert not rig.emulator.door_open


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
    ["bogus", "card", "card zz", "card 0102", "card " + "00" * 11, "scan", "scan   ",
     "door ajar", "door", "scan " + "x" * 256],
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


# -- the real command -----------------------------------------------------------------------


def start_cli(*args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolhut.cli", "emulator", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", cwd=REPO, env=env,
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
    proc, lines = start_cli("--link", str(link), "--firmware", "emu-9.9", "--heartbeat", "60")
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
