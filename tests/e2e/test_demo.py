"""The README's main job: `toolhut demo` as a person runs it, driven at its prompt.

Every demo here has its own topic prefix, hut id and port, so none of them touches a demo
someone is running on the same broker.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import ToolhutProcess, http_json, poll_until, run_toolhut, wait_http
from tests.support.services import Broker
from tests.support.terminal import TerminalProcess
from toolhut_cli.embedded_broker import free_port

pytestmark = pytest.mark.e2e

READY = r"allowlist version \d+ received"
SYSCALLS_TGKILL = {"x86_64": 234, "aarch64": 131}
SYS_TGKILL = SYSCALLS_TGKILL.get(platform.machine(), -1)
REAL_PULSE_S = 5.0  # the gateway's default unlock_pulse_ms, what a real hut uses


def demo_args(data_dir: Path, broker: Broker, *, prefix: str, port: int) -> list[str]:
    hut = f"demo-{uuid.uuid4().hex[:8]}"
    return [
        "demo", "--port", str(port), "--data-dir", str(data_dir), "--mqtt", broker.url,
        "--prefix", prefix, "--hut", hut,
    ]  # fmt: skip


def wait_seen(demo: ToolhutProcess, pattern: str, *, timeout: float = 60) -> None:
    """A line printed at any time so far, before or after the banner."""
    poll_until(
        lambda: any(re.search(pattern, line) for line in demo.lines) or demo.proc.poll(),
        timeout=timeout,
        what=f"{pattern!r} from the demo",
    )
    assert demo.proc.poll() is None, "\n".join(demo.lines[-40:])


def borrow_drill(demo: ToolhutProcess) -> None:
    demo.send("card 04A1B2C3")
    demo.expect(r"\[hut\] lock released for 30\.0 s", timeout=30)
    demo.send("door open")
    demo.send("scan T0001")
    reply = demo.expect(r'\[hut\] recv feedback beep=ok text="(已借出 电钻[^"]*)"', timeout=30)
    assert "还期" in reply.group(1)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_lends_a_drill_at_its_prompt_and_stops_cleanly(
    tmp_path: Path, broker: Broker, topic_prefix: str, stop: signal.Signals
) -> None:
    port = free_port()
    # Started as a CI runner's background job would start it, SIGINT ignored: Ctrl-C must
    # still stop it (whatever the shell that runs this suite did with SIGINT).
    demo = ToolhutProcess(
        *demo_args(tmp_path / "demo", broker, prefix=topic_prefix, port=port),
        sigint_ignored=True,
    )
    try:
        wait_seen(demo, READY)  # the gateway decides cards: before it, a card is refused
        wait_seen(demo, r"Tool hut demo is running")
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/readyz", procs=[demo])
        borrow_drill(demo)
        items = {i["tag"]: i for i in http_json(f"{base}/api/v1/items")["data"]}
        assert items["T0001"]["status"] == "on_loan"
        # The banner's admin signs in with the password it prints, and its token reads.
        banner = "\n".join(demo.lines)
        sign_in = re.search(r"staff console sign-in: (\S+) / (\S+)", banner)
        token = re.search(r"Bearer (thk_\S+?)'", banner)
        assert sign_in is not None and token is not None, banner
        body = {"username": sign_in.group(1), "password": sign_in.group(2)}
        signed_in = http_json(f"{base}/api/v1/auth/sign-in", method="POST", body=body)
        assert signed_in["user"]["role"] == "admin" and not signed_in["must_change_password"]
        staff = {"Authorization": f"Bearer {token.group(1)}"}
        lent = {i["tag"]: i for i in http_json(f"{base}/api/v1/items", headers=staff)["data"]}
        assert lent["T0001"]["borrower"] is not None
        demo.send("no such command")
        demo.expect(r"\[hut\] error: unknown command")
        demo.proc.send_signal(stop)
        demo.expect(r"^Stopped\.$", timeout=30)  # the line itself, not the exit, is the evidence
        assert demo.proc.wait(30) == 0
    finally:
        demo.stop()


def test_walkthrough_at_typing_speed_on_a_terminal(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    data_dir = tmp_path / "demo"
    demo = TerminalProcess(*demo_args(data_dir, broker, prefix=topic_prefix, port=free_port()))
    typed = ["card 04A1B2C3", "door open", "scan T0001", "door close", "quit"]
    try:
        wait_seen(demo, READY)
        banner_log = demo.expect(r"Log:\s+(\S+)", timeout=30)
        assert Path(banner_log.group(1)) == (data_dir / "demo.log").resolve()
        demo.expect(r"a real one would")  # the end of the help: the prompt comes next
        demo.send(typed[0])
        unlocked_at = time.monotonic()
        demo.type_partly("door op")  # still typing when the hut's lines come in
        demo.expect(r"\[hut\] lock released for 30\.0 s", timeout=30)
        # A person reads and types: the pause is the input under test, not a wait for an
        # effect. Past the real pulse, a real hut's lock would already be engaged again.
        time.sleep(max(0.0, unlocked_at + REAL_PULSE_S + 1.0 - time.monotonic()))
        demo.send("en")
        demo.expect(r"\[hut\] sent door open")
        demo.send(typed[2])
        demo.expect(r'\[hut\] recv feedback beep=ok text="已借出 电钻', timeout=30)
        demo.send(typed[3])
        demo.expect(r"\[hut\] sent door close")
        # The demo's own pulse runs out: the person is told the door locked again.
        demo.expect(r"\[hut\] lock engaged", timeout=60)
        demo.expect(r"门已重新上锁")
        demo.send(typed[4])
        demo.expect(r"^Stopped\.$", timeout=30)
        assert demo.proc.wait(30) == 0
    finally:
        demo.stop()
    screen = demo.lines
    assert not [line for line in screen if "forced_open" in line], "\n".join(screen)
    # Lines from the hut or the log never share the prompt's line: a screen line that starts
    # with the prompt holds only what the person typed.
    prompt_lines = [line for line in screen if line.startswith("hut> ")]
    assert prompt_lines and all(line[5:] in [*typed, ""] for line in prompt_lines), prompt_lines
    assert not [line for line in screen if " INFO " in line or line.startswith("INFO")]
    banner_at = next(n for n, line in enumerate(screen) if "Tool hut demo is running" in line)
    assert banner_at < 12, screen[:banner_at]
    log = (data_dir / "demo.log").read_text(encoding="utf-8")
    assert "INFO hut_gateway.uplink: connected to broker" in log


# Whatever the hour the suite runs at, no quiet hours for the reminder to wait out (the
# demo's server reads its settings from the environment as any server does).
NO_QUIET_HOURS = {
    "TOOLHUT_SERVER_REMINDERS__QUIET_START": "00:00",
    "TOOLHUT_SERVER_REMINDERS__QUIET_END": "00:00",
}


def test_time_plus_4d_at_the_prompt_sends_the_drills_reminder(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    """The README's reminder walk-through: borrow the drill (three days), `time +4d`, the
    console says a reminder went out, and her next card tap shows it on the hut."""
    demo = ToolhutProcess(
        *demo_args(tmp_path / "demo", broker, prefix=topic_prefix, port=free_port()),
        env=NO_QUIET_HOURS,
    )
    try:
        wait_seen(demo, READY)
        wait_seen(demo, r"Tool hut demo is running")
        borrow_drill(demo)
        demo.send("door close")
        demo.send("time +4d")
        demo.expect(r"时钟已拨快 4d / clock moved 4d forward", timeout=30)
        wait_seen(demo, r"^  \[server\] 提醒已发出 1 条", timeout=30)  # before or after that
        demo.send("card 04A1B2C3")
        demo.expect(r'\[hut\] recv feedback beep=ok text="请尽快归还电钻等1件"', timeout=30)
        demo.send("time")
        demo.expect(r"服务器时间 server time: .*比实际时间快 4d")
    finally:
        demo.stop()
    assert not [line for line in demo.lines if "Traceback" in line], demo.lines


@contextmanager
def listening_socket() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_busy_port_is_refused_before_anything_starts(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    data_dir = tmp_path / "demo"
    with listening_socket() as port:
        done = run_toolhut(*demo_args(data_dir, broker, prefix=topic_prefix, port=port))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "Traceback" not in out
    assert f"port {port}" in out and "--port" in out and 'DEMO_ARGS="--port' in out
    assert not data_dir.exists()  # no migration, no seed, no log: nothing was started


def test_two_demos_on_one_broker_with_different_prefixes_leave_each_other_alone(
    tmp_path: Path, broker: Broker, topic_prefix: str
) -> None:
    demos: list[ToolhutProcess] = []
    hut = f"demo-{uuid.uuid4().hex[:8]}"  # the same hut id in both: only the prefix differs
    try:
        for n in range(2):
            args = demo_args(
                tmp_path / f"demo{n}", broker, prefix=f"{topic_prefix}-{n}", port=free_port()
            )
            args[args.index("--hut") + 1] = hut
            demo = ToolhutProcess(*args)
            demos.append(demo)
            wait_seen(demo, READY)
            wait_seen(demo, r"Tool hut demo is running")
        for demo in demos:
            borrow_drill(demo)
    finally:
        for demo in demos:
            demo.stop()
    for demo in demos:
        # A second client with the same id makes the broker drop the first, which warns.
        assert not [line for line in demo.lines if "lost the broker" in line], demo.lines


def _signal_a_thread_other_than_main(pid: int, sig: signal.Signals) -> None:
    # What the kernel may do with a process's signal: hand it to any thread that does not
    # block it. tgkill aims it at one thread, to make that case happen on purpose.
    libc = ctypes.CDLL(None, use_errno=True)
    others = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
    assert others, "the demo runs no threads besides the main one?"
    assert libc.syscall(SYS_TGKILL, pid, others[0], int(sig)) == 0, ctypes.get_errno()


@pytest.mark.skipif(platform.machine() not in SYSCALLS_TGKILL, reason="tgkill number unknown")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_taken_by_another_thread_still_stops_the_demo(
    tmp_path: Path, broker: Broker, topic_prefix: str, stop: signal.Signals
) -> None:
    demo = ToolhutProcess(
        *demo_args(tmp_path / "demo", broker, prefix=topic_prefix, port=free_port())
    )
    try:
        wait_seen(demo, r"Tool hut demo is running")
        demo.send("no such command")
        demo.expect(r"\[hut\] error: unknown command")  # the prompt is waiting for input
        _signal_a_thread_other_than_main(demo.proc.pid, stop)
        demo.expect(r"^Stopped\.$", timeout=30)
        assert demo.proc.wait(30) == 0
    finally:
        demo.stop()
