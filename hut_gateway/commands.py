"""Which of the server's commands the gateway still obeys: not an expired one, and not one
whose id it has seen before (a sealed unlock captured off the wire and published again).
An id is remembered until its command expires; after that the expiry refuses it anyway."""

from __future__ import annotations

import heapq
from datetime import datetime

from toolhut.contract import Command, ContractError

MAX_REMEMBERED = 10_000  # commands come from the server only; far more than it ever sends


class CommandGuard:
    """Not thread-safe: paho's network thread is its only caller."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._expiries: list[tuple[datetime, str]] = []  # a heap, soonest first

    def admit(self, command: Command, *, now: datetime) -> None:
        """Return if ``command`` is to be obeyed; else ContractError saying why."""
        self._forget_expired(now)
        if command.expired(now):
            raise ContractError(
                f"command {command.id} ({command.action}) expired at {command.expires}"
            )
        if command.id in self._seen:
            raise ContractError(f"command {command.id} ({command.action}) replayed")
        if len(self._seen) >= MAX_REMEMBERED:
            _, oldest = heapq.heappop(self._expiries)
            self._seen.discard(oldest)
        self._seen.add(command.id)
        heapq.heappush(self._expiries, (command.expires, command.id))

    def _forget_expired(self, now: datetime) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            _, command_id = heapq.heappop(self._expiries)
            self._seen.discard(command_id)
