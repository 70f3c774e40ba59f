"""The app's command sender for API tests: what went out; ``down`` is a broker away."""

from __future__ import annotations

from server.hut_commands import CommandNotSentError
from toolhut.contract import Command


class Sender:
    def __init__(self) -> None:
        self.sent: list[Command] = []
        self.down = False

    def __call__(self, command: Command) -> None:
        if self.down:
            raise CommandNotSentError
        self.sent.append(command)
