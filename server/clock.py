"""Time as an argument: every part of the server asks a clock instead of the system.

A server process has one clock object, handed to the ingest worker, the reminder scheduler
and the HTTP app alike. In production it is ``system_clock``. For demos and tests it may be
an ``OffsetClock`` (only when the ``clock.enabled`` setting says so, server/clock_settings.py):
the system's time plus an offset that staff move forward (``POST /api/v1/clock``, the demo's
``time +4d``), so a reminder days away is seen in seconds without editing a row.

The offset only grows. Moving back would date new rows before old ones and make the
reminder claims, the hold expiries and the audit log disagree about what came first;
a process that starts again starts from its configured offset.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from toolhut.i18n import bilingual

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

MAX_ADVANCE = timedelta(days=366)  # one move
MAX_OFFSET = timedelta(days=10 * 366)  # all moves together

# What a person reads when a move is refused (the API's 422 and 409, the demo's prompt, the
# command line): Chinese first, English beside it; never the text that was sent.
TEXT_BAD_DURATION = bilingual("not a duration: write e.g. 4d, 2h, 1d12h, 90m or 30s")
TEXT_BACKWARDS = bilingual("the clock only moves forward")
TEXT_ZERO = bilingual("the duration must be more than zero")
TEXT_TOO_FAR = bilingual("at most {days} days at a time").format(days=MAX_ADVANCE.days)
TEXT_TOO_FAR_IN_ALL = bilingual(
    "the clock may be at most {days} days ahead of real time in all"
).format(days=MAX_OFFSET.days)

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?")


class ClockMoveError(ValueError):
    """A move the clock refuses; the message is one of the TEXT_ constants above."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """``4d``, ``+2h``, ``1d12h``, ``90m``, ``30s`` (a leading ``+`` is allowed, spaces around
    are not counted) as a timedelta; ClockMoveError for anything else, a negative one
    included. Checked against MAX_ADVANCE too, so every caller gets the same bounds."""
    spelled = text.strip().lower().removeprefix("+")
    if spelled.startswith("-"):
        raise ClockMoveError(TEXT_BACKWARDS)
    found = _DURATION.fullmatch(spelled)
    if not spelled or found is None:
        raise ClockMoveError(TEXT_BAD_DURATION)
    seconds = sum(
        int(amount) * _UNITS[unit]
        for amount, unit in zip(found.groups(), _UNITS, strict=True)
        if amount
    )
    return checked_advance(timedelta(seconds=seconds))


def checked_advance(delta: timedelta) -> timedelta:
    """``delta`` if one move may be that long (more than zero, at most MAX_ADVANCE)."""
    if delta < timedelta(0):
        raise ClockMoveError(TEXT_BACKWARDS)
    if delta == timedelta(0):
        raise ClockMoveError(TEXT_ZERO)
    if delta > MAX_ADVANCE:
        raise ClockMoveError(TEXT_TOO_FAR)
    return delta


def shown_duration(delta: timedelta) -> str:
    """``4d 2h``, ``2h 30m``, ``45s``, ``0s``: what ``parse_duration`` reads, with spaces."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in _UNITS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0s"


class OffsetClock:
    """The base clock (the system's) plus an offset that only grows; safe from any thread.

    Readings never go back: each is at least the one before it, so a reading taken after
    ``advance`` returned is later than every reading taken before (and a system clock
    stepped back by NTP holds this clock still rather than running it backwards).
    ``on_advance`` listeners (the reminder scheduler's wake-up) are told after each move.
    """

    def __init__(self, base: Clock = system_clock, *, offset: timedelta = timedelta(0)) -> None:
        if offset < timedelta(0) or offset > MAX_OFFSET:
            raise ClockMoveError(TEXT_BACKWARDS if offset < timedelta(0) else TEXT_TOO_FAR_IN_ALL)
        self._base = base
        self._offset = offset
        self._last: datetime | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def __call__(self) -> datetime:
        with self._lock:
            reading = self._base() + self._offset
            if self._last is not None and reading < self._last:
                reading = self._last
            self._last = reading
            return reading

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` (checked_advance's bounds, and MAX_OFFSET in
        all); returns the first reading after the move. ClockMoveError if refused: then
        nothing moved."""
        checked_advance(delta)
        with self._lock:
            if self._offset + delta > MAX_OFFSET:
                raise ClockMoveError(TEXT_TOO_FAR_IN_ALL)
            self._offset += delta
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except Exception:  # a listener's failure must not undo or hide the move
                log.exception("a clock listener failed")
        return self()

    def on_advance(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every move (from the mover's thread: keep it short);
        returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return stop
