"""The demo prompt's ``time`` command: the demo server's clock shown (``time``) and moved
forward (``time +4d``), audited as the API's move is (server.clock_moves); and the console's
line for the reminders a sweep sends, since the demo's only reminder channel is the hut
display, which a person would otherwise see only at the member's next card tap.

The hut's gateway and emulator keep real time: loans date from the hut's events, and
overdue is judged on the server's clock, which is all a reminder needs."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.orm import Session, sessionmaker

from server.clock import ClockMoveError, OffsetClock, parse_duration, shown_duration
from server.clock_moves import ClockReading, advance, reading
from server.domain.actors import Actor
from server.domain.reminders import QuietHours
from server.reminders.types import SweepReport
from server.storage.audit import Stamp
from toolhut_cli import demo_texts as texts
from toolhut_cli.demo_console import Console

SERVER_LINE = "  [server] {text}"
_HOUR = timedelta(hours=1)


class DemoClock:
    def __init__(
        self,
        console: Console,
        *,
        clock: OffsetClock,
        sessions: sessionmaker[Session],
        quiet: QuietHours,
        zone: tzinfo,
        token_lifetime: timedelta,
    ) -> None:
        self._console = console
        self._clock = clock
        self._sessions = sessions
        self._quiet = quiet
        self._zone = zone
        self._token_lifetime = token_lifetime
        self._told_tokens = False

    def command(self, argument: str) -> None:
        """``""``: show the time; ``+4d``, ``+2h``, ``1d12h`` ...: move it forward."""
        if not argument.strip():
            self._show(reading(self._clock))
            return
        try:
            delta = parse_duration(argument)
        except ClockMoveError as exc:
            self._console.print(texts.CLOCK_USAGE.format(reason=exc))
            return
        try:
            with self._sessions.begin() as db:
                stamp = Stamp(Actor.cli(), self._clock())
                moved = advance(db, self._clock, delta, stamp=stamp)
        except ClockMoveError as exc:
            self._console.print(texts.CLOCK_REFUSED.format(reason=exc))
            return
        self._console.print(texts.CLOCK_MOVED.format(delta=shown_duration(delta)))
        self._show(moved)
        self._notes(moved)

    def reminders_swept(self, report: SweepReport) -> None:
        """The reminder scheduler's listener: a line for every sweep that sent something."""
        if report.sent:
            text = texts.REMINDERS_SENT.format(sent=report.sent)
            self._console.print(SERVER_LINE.format(text=text))

    def _show(self, clock: ClockReading) -> None:
        self._console.print(
            texts.CLOCK_NOW.format(
                now=_local(clock.now, self._zone),
                zone=self._zone,
                offset=shown_duration(clock.offset),
            )
        )

    def _notes(self, clock: ClockReading) -> None:
        if self._quiet.contains(clock.now, tz=self._zone):
            end = self._quiet.next_end(clock.now, tz=self._zone)
            self._console.print(
                texts.CLOCK_QUIET.format(
                    start=self._quiet.start.strftime("%H:%M"),
                    end=self._quiet.end.strftime("%H:%M"),
                    hours=max(1, math.ceil((end - clock.now) / _HOUR)),
                )
            )
        if clock.offset >= self._token_lifetime and not self._told_tokens:
            self._told_tokens = True
            self._console.print(texts.CLOCK_TOKENS)


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
