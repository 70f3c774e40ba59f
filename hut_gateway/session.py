"""The access session at the hut: card accepted (or staff's remote unlock carried out) ->
door opened -> scans -> door closed.

Pure state: the caller passes the time (monotonic seconds), so tests move the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from toolhut.contract import new_id


@dataclass(frozen=True, slots=True)
class AccessSession:
    """``card`` None: opened by staff's remote unlock (the resident's card does not work);
    the server knows from the command's report whom the session is for."""

    id: str
    card: str | None
    started: float
    last_activity: float
    door_opened: bool = False


class SessionTracker:
    """At most one session at a time: a new card tap replaces the open one."""

    def __init__(self, *, idle_timeout_s: float) -> None:
        self._idle_timeout_s = idle_timeout_s
        self._session: AccessSession | None = None

    def start(self, card: str | None, *, now: float) -> AccessSession:
        self._session = AccessSession(id=new_id(), card=card, started=now, last_activity=now)
        return self._session

    def current(self, *, now: float) -> AccessSession | None:
        """The open session, or None once it sat idle too long with the door shut.

        While the door stands open the session lasts: the resident is still choosing."""
        session = self._session
        if session is None:
            return None
        if not session.door_opened and now - session.last_activity > self._idle_timeout_s:
            self._session = None
            return None
        return session

    def touch(self, *, now: float) -> AccessSession | None:
        session = self.current(now=now)
        if session is not None:
            self._session = session = replace(session, last_activity=now)
        return session

    def door_opened(self, *, now: float) -> AccessSession | None:
        session = self.touch(now=now)
        if session is not None:
            self._session = session = replace(session, door_opened=True)
        return session

    def door_closed(self, *, now: float) -> AccessSession | None:
        """Closing the door after it was opened ends the session; returns the ended one."""
        session = self.current(now=now)
        if session is None or not session.door_opened:
            return None
        self._session = None
        return session


def enrol_window_s(expires: datetime, *, now: datetime, limit_s: float) -> float:
    """How long an enrol command keeps the hut in enrol mode: until the command expires
    (the server sets that from staff's request), never longer than the gateway's limit."""
    return max(0.0, min(limit_s, (expires - now).total_seconds()))


class EnrolWindow:
    """Staff enrol mode: the next card tapped before the deadline is reported, not let in."""

    def __init__(self) -> None:
        self._until: float | None = None

    def open(self, *, now: float, duration_s: float) -> None:
        self._until = now + duration_s

    def active(self, *, now: float) -> bool:
        return self._until is not None and now < self._until

    def take(self, *, now: float) -> bool:
        """True (and back to normal) if this card is the one to enrol."""
        if not self.active(now=now):
            self._until = None
            return False
        self._until = None
        return True

    def expire(self, *, now: float) -> bool:
        """True once, when an open window has run out unused."""
        if self._until is not None and now >= self._until:
            self._until = None
            return True
        return False
