"""The movable clock (server/clock.py) and its settings: a duration as a person spells it,
an offset that only grows, readings that never go back even while other threads move it,
off unless enabled, and the reminder scheduler woken by a move instead of its interval."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from server.clock import (
    MAX_ADVANCE,
    MAX_OFFSET,
    TEXT_BACKWARDS,
    TEXT_BAD_DURATION,
    TEXT_TOO_FAR,
    TEXT_TOO_FAR_IN_ALL,
    TEXT_ZERO,
    ClockMoveError,
    OffsetClock,
    parse_duration,
    shown_duration,
    system_clock,
)
from server.clock_settings import TEXT_NOT_ENABLED, ClockSettings
from server.reminders.scheduler import ReminderScheduler, SweepReport
from server.settings import ServerSettings

from .conftest import T0, MovableClock

WAIT = 10.0  # a deadline for what another thread does, never a pause


@pytest.mark.parametrize(
    ("spelled", "seconds"),
    [
        ("4d", 4 * 86400),
        ("+4d", 4 * 86400),
        (" +2h ", 7200),
        ("1d12h", 36 * 3600),
        ("90m", 5400),
        ("30s", 30),
        ("1D2H3M4S", 86400 + 7200 + 180 + 4),
        ("366d", 366 * 86400),
    ],
)
def test_a_duration_reads_as_a_person_spells_it(spelled: str, seconds: int) -> None:
    assert parse_duration(spelled) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("spelled", "text"),
    [
        ("", TEXT_BAD_DURATION),
        ("+", TEXT_BAD_DURATION),
        ("4", TEXT_BAD_DURATION),
        ("d", TEXT_BAD_DURATION),
        ("4x", TEXT_BAD_DURATION),
        ("2h1d", TEXT_BAD_DURATION),  # largest unit first, as shown_duration writes it
        ("4 d", TEXT_BAD_DURATION),
        ("1.5d", TEXT_BAD_DURATION),
        ("9" * 40 + "d", TEXT_BAD_DURATION),
        ("-1d", TEXT_BACKWARDS),
        ("0d", TEXT_ZERO),
        ("367d", TEXT_TOO_FAR),
        ("366d1s", TEXT_TOO_FAR),
    ],
)
def test_a_duration_that_is_not_one_move_is_refused_with_its_reason(
    spelled: str, text: str
) -> None:
    with pytest.raises(ClockMoveError) as refused:
        parse_duration(spelled)
    assert str(refused.value) == text
    assert text.index("/") > 0  # Chinese first, English beside it


def test_a_duration_is_shown_as_it_is_spelled() -> None:
    for delta in (timedelta(days=4), timedelta(days=1, hours=12), timedelta(seconds=3725)):
        assert parse_duration(shown_duration(delta).replace(" ", "")) == delta
    assert shown_duration(timedelta(days=4, hours=2)) == "4d 2h"
    assert shown_duration(timedelta(0)) == "0s"


def test_the_offset_moves_every_reading_forward_and_only_forward() -> None:
    base = MovableClock(T0)
    clock = OffsetClock(base)
    assert clock() == T0 and clock.offset == timedelta(0)
    assert clock.advance(timedelta(days=4)) == T0 + timedelta(days=4)
    base.advance(timedelta(minutes=5))  # real time goes on under the offset
    assert clock() == T0 + timedelta(days=4, minutes=5)
    for refused, text in (
        (timedelta(hours=-1), TEXT_BACKWARDS),
        (timedelta(0), TEXT_ZERO),
        (MAX_ADVANCE + timedelta(seconds=1), TEXT_TOO_FAR),
    ):
        with pytest.raises(ClockMoveError, match=text):
            clock.advance(refused)
    assert clock.offset == timedelta(days=4)  # a refused move moved nothing


def test_the_offset_is_bounded_in_all() -> None:
    clock = OffsetClock(MovableClock(T0), offset=MAX_OFFSET - timedelta(days=1))
    with pytest.raises(ClockMoveError, match=TEXT_TOO_FAR_IN_ALL):
        clock.advance(timedelta(days=2))
    clock.advance(timedelta(days=1))
    assert clock.offset == MAX_OFFSET
    with pytest.raises(ClockMoveError):
        OffsetClock(offset=timedelta(seconds=-1))


def test_a_base_clock_stepped_back_holds_the_clock_still() -> None:
    base = MovableClock(T0)
    clock = OffsetClock(base, offset=timedelta(hours=1))
    first = clock()
    base.advance(timedelta(minutes=-10))  # NTP steps the system clock back
    assert clock() == first
    base.advance(timedelta(minutes=15))
    assert clock() == first + timedelta(minutes=5)


def test_readings_never_go_back_while_other_threads_move_the_clock() -> None:
    """Readers on four threads while two threads move the clock 200 times: each reader's
    readings never decrease, and the last reading has every move in it."""
    clock = OffsetClock()  # the system's clock, as a server process has it
    moves, step = 200, timedelta(seconds=1)
    start = threading.Barrier(6)
    stop = threading.Event()
    readings: list[list[datetime]] = [[] for _ in range(4)]
    # On a busy machine a reader may not run at all before the moves are done: the movers
    # wait for every reader's first reading, so each reads while the clock moves.
    reading = [threading.Event() for _ in readings]

    def read(into: list[datetime], first: threading.Event) -> None:
        start.wait(WAIT)
        while not stop.is_set():
            into.append(clock())
            first.set()
        into.append(clock())

    def move() -> None:
        start.wait(WAIT)
        for first in reading:
            first.wait(WAIT)
        for _ in range(moves // 2):
            clock.advance(step)

    readers = [
        threading.Thread(target=read, args=(into, first))
        for into, first in zip(readings, reading, strict=True)
    ]
    movers = [threading.Thread(target=move) for _ in range(2)]
    before = system_clock()
    for thread in [*readers, *movers]:
        thread.start()
    for thread in movers:
        thread.join(WAIT)
    stop.set()
    for thread in readers:
        thread.join(WAIT)
    for seen in readings:
        assert seen == sorted(seen) and len(seen) > 1
    assert clock.offset == moves * step
    assert clock() >= before + moves * step


def test_listeners_hear_every_move_and_a_failing_one_stops_nothing() -> None:
    clock = OffsetClock(MovableClock(T0))
    heard: list[timedelta] = []

    def broken() -> None:
        raise RuntimeError("listener bug")

    clock.on_advance(broken)
    unsubscribe = clock.on_advance(lambda: heard.append(clock.offset))
    clock.advance(timedelta(hours=2))
    unsubscribe()
    clock.advance(timedelta(hours=2))
    assert heard == [timedelta(hours=2)]
    assert clock.offset == timedelta(hours=4)


def test_the_clock_is_fixed_unless_the_settings_enable_it() -> None:
    assert ServerSettings().clock.clock() is system_clock
    enabled = ServerSettings(clock=ClockSettings(enabled=True, offset=timedelta(hours=2)))
    clock = enabled.clock.clock(MovableClock(T0))
    assert isinstance(clock, OffsetClock) and clock() == T0 + timedelta(hours=2)
    assert "2h" in enabled.clock.warning


def test_a_starting_offset_is_refused_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLHUT_SERVER_CLOCK__OFFSET", "4d")
    with pytest.raises(ValidationError, match=TEXT_NOT_ENABLED.split(" / ")[0]):
        ServerSettings()
    monkeypatch.setenv("TOOLHUT_SERVER_CLOCK__ENABLED", "true")
    assert ServerSettings().clock.offset == timedelta(days=4)
    monkeypatch.setenv("TOOLHUT_SERVER_CLOCK__OFFSET", "-1d")
    with pytest.raises(ValidationError, match=TEXT_BACKWARDS.split(" / ")[0]):
        ServerSettings()
    monkeypatch.setenv("TOOLHUT_SERVER_CLOCK__OFFSET", "3600")  # seconds, as pydantic reads
    assert ServerSettings().clock.offset == timedelta(hours=1)


class _CountingService:
    """A reminder service that counts its sweeps and the time each was asked for."""

    def __init__(self) -> None:
        self.swept: list[datetime] = []
        self.changed = threading.Condition()

    def sweep_once(self, now: datetime) -> SweepReport:
        with self.changed:
            self.swept.append(now)
            self.changed.notify_all()
        return SweepReport(sent=1)

    def wait_for(self, count: int) -> list[datetime]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.swept) >= count, WAIT), self.swept
            return list(self.swept)


def test_a_move_wakes_the_reminder_scheduler_long_before_its_interval() -> None:
    clock = OffsetClock(MovableClock(T0))
    service = _CountingService()
    scheduler = ReminderScheduler(service, interval_s=3600, clock=clock)  # type: ignore[arg-type]
    reports: list[SweepReport] = []
    scheduler.on_sweep(reports.append)
    clock.on_advance(scheduler.wake)
    scheduler.start()
    try:
        assert service.wait_for(1) == [T0]
        clock.advance(timedelta(days=4))
        assert service.wait_for(2)[1] == T0 + timedelta(days=4)  # not an hour later
    finally:
        scheduler.stop()
    assert len(reports) >= 2 and all(report.sent == 1 for report in reports)
