"""The demo prompt's ``time``: typed at the prompt (driven as tests/toolhut_cli/
test_demo_console.py drives it), it shows the server's time, moves it forward by ``+4d``
or ``+2h`` with an audit entry, refuses what is not a forward move, says when the new
time is in quiet hours, and prints the reminders a sweep sent on a line of their own."""

from __future__ import annotations

import builtins
import io
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.clock import TEXT_BACKWARDS, OffsetClock
from server.clock_moves import AUDIT_ACTION
from server.domain.reminders import QuietHours
from server.reminders.types import SweepReport
from server.storage import make_engine, make_sessionmaker, migrate
from server.storage.staff_models import AuditEntry
from toolhut_cli import demo_console
from toolhut_cli import demo_texts as texts
from toolhut_cli.demo import Demo
from toolhut_cli.demo_clock import DemoClock
from toolhut_cli.demo_console import PROMPT, Console

from .test_demo_console import FakeReadline, Terminal, screen

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


class FixedClock:
    def __call__(self) -> datetime:
        return T0


class NoHut:
    """The emulator's place at the prompt: nothing of ``time`` may reach the hut."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def command(self, line: str) -> None:
        self.commands.append(line)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def run_prompt(
    lines: list[str],
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
    clock: OffsetClock,
) -> tuple[list[str], DemoClock, NoHut]:
    """``lines`` typed at the demo's prompt, one by one; what the screen shows after."""
    monkeypatch.setattr(demo_console, "readline", FakeReadline())
    out = Terminal()
    console = Console(stdin=Terminal(), stdout=out)
    typed = iter(lines)

    def readline_input(prompt: str) -> str:
        line = next(typed)
        out.write(f"{prompt}{line}\n")  # the terminal echoes what is typed
        return line

    monkeypatch.setattr(builtins, "input", readline_input)
    demo = Demo(
        port=1, data_dir=Path("unused"), mqtt_url="mqtt://127.0.0.1:1", hut="x", console=console
    )
    demo.clock = DemoClock(
        console,
        clock=clock,
        sessions=sessions,
        quiet=QuietHours(time(21), time(8)),
        zone=SHANGHAI,
        token_lifetime=timedelta(days=1),
    )
    hut = NoHut()
    demo.emulator = hut
    demo._prompt()
    return screen(out.getvalue()), demo.clock, hut


def test_time_plus_4d_moves_the_servers_clock_and_is_audited(
    monkeypatch: pytest.MonkeyPatch, sessions: sessionmaker[Session]
) -> None:
    clock = OffsetClock(FixedClock())
    shown, _, hut = run_prompt(["time", "time +4d", "time", "quit"], monkeypatch, sessions, clock)
    now = "服务器时间 server time: {} (Asia/Shanghai)，比实际时间快 {} / {} ahead of real time"
    assert shown == [
        f"{PROMPT}time",
        now.format("2026-11-27 10:00", "0s", "0s"),
        f"{PROMPT}time +4d",
        "时钟已拨快 4d / clock moved 4d forward",
        now.format("2026-12-01 10:00", "4d", "4d"),
        texts.CLOCK_TOKENS,  # past the banner token's day: said once
        f"{PROMPT}time",
        now.format("2026-12-01 10:00", "4d", "4d"),
        f"{PROMPT}quit",
        "",
    ]
    assert clock.offset == timedelta(days=4)
    assert hut.commands == []
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).one()
    assert entry.actor.startswith("cli:") and entry.after == {
        "offset_s": 345600.0,
        "advance_s": 345600.0,
    }


def test_a_move_into_quiet_hours_says_when_member_reminders_go_out(
    monkeypatch: pytest.MonkeyPatch, sessions: sessionmaker[Session]
) -> None:
    clock = OffsetClock(FixedClock())
    shown, _, _ = run_prompt(["time +2h", "time +10h", "quit"], monkeypatch, sessions, clock)
    assert "服务器时间 server time: 2026-11-27 12:00" in shown[2]
    assert shown[4:7] == [
        "时钟已拨快 10h / clock moved 10h forward",
        "服务器时间 server time: 2026-11-27 22:00 (Asia/Shanghai)，比实际时间快 12h / 12h ahead "
        "of real time",
        texts.CLOCK_QUIET.format(start="21:00", end="08:00", hours=10),
    ]


@pytest.mark.parametrize("argument", ["-1d", "4", "soon", "+400d"])
def test_what_is_not_a_forward_move_is_refused_with_the_usage(
    argument: str, monkeypatch: pytest.MonkeyPatch, sessions: sessionmaker[Session]
) -> None:
    clock = OffsetClock(FixedClock())
    shown, _, hut = run_prompt([f"time {argument}", "quit"], monkeypatch, sessions, clock)
    assert shown[1].startswith("用法 usage: time | time +4d | time +2h")
    if argument == "-1d":
        assert TEXT_BACKWARDS in shown[1]
    assert clock.offset == timedelta(0) and hut.commands == []


def test_a_sweep_that_sent_reminders_gets_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch, sessions: sessionmaker[Session]
) -> None:
    out = io.StringIO()
    clock = DemoClock(
        Console(stdin=io.StringIO(), stdout=out),
        clock=OffsetClock(FixedClock()),
        sessions=sessions,
        quiet=QuietHours(),
        zone=SHANGHAI,
        token_lifetime=timedelta(days=1),
    )
    clock.reminders_swept(SweepReport())  # nothing sent: nothing said
    clock.reminders_swept(SweepReport(messages=1, sent=1))
    assert out.getvalue().splitlines() == [
        "  [server] 提醒已发出 1 条，显示屏的提醒在住户下次刷卡时出现 / 1 reminder(s) sent: the "
        "hut display's line shows at the member's next card tap"
    ]
