"""Which of the server's commands the gateway still obeys: not an expired one, and not one
whose id it has seen before (a sealed unlock captured off the wire and published again).

An expired command is not carried out, but the gateway reports it (the server shows staff
why their unlock did nothing); a replayed one is only logged, so a replay flood cannot
fill the outbox with reports. An id is remembered for an hour after its command expired:
a replay within that hour is a replay, one after it is merely reported expired again
(the server keeps the first report of a command).
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from enum import StrEnum

from toolhut.contract import Command

MAX_REMEMBERED = 10_000  # commands come from the server only; far more than it ever sends
REMEMBER_AFTER_EXPIRY = timedelta(hours=1)


class Verdict(StrEnum):
    OBEY = "obey"  # new and in time: carry it out, report what became of it
    EXPIRED = "expired"  # new, but too late: not carried out, reported expired
    REPLAYED = "replayed"  # seen before: logged, not reported


class CommandGuard:
    """Not thread-safe: paho's network thread is its only caller."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._expiries: list[tuple[datetime, str]] = []  # a heap, soonest first

    def check(self, command: Command, *, now: datetime) -> Verdict:
        """What to do with ``command`` arriving at ``now``; remembers its id either way."""
        self._forget_old(now)
        if command.id in self._seen:
            return Verdict.REPLAYED
        if len(self._seen) >= MAX_REMEMBERED:
            _, oldest = heapq.heappop(self._expiries)
            self._seen.discard(oldest)
        self._seen.add(command.id)
        heapq.heappush(self._expiries, (command.expires, command.id))
        return Verdict.EXPIRED if command.expired(now) else Verdict.OBEY

    def _forget_old(self, now: datetime) -> None:
        while self._expiries and self._expiries[0][0] + REMEMBER_AFTER_EXPIRY <= now:
            _, command_id = heapq.heappop(self._expiries)
            self._seen.discard(command_id)
