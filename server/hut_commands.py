"""Commands the HTTP side sends to a hut's gateway (enrol mode), through the ingest
worker's MQTT client: what a sender is, and what it raises when no broker takes it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from toolhut.contract import Command, new_id

# What staff read when a command cannot go out: Chinese first, English beside it.
TEXT_NO_BROKER = "暂时无法联系工具屋 / cannot reach the huts: no broker connection"


class CommandNotSentError(RuntimeError):
    """The command did not go out (no broker connection, or the client refused it)."""

    def __init__(self, text: str = TEXT_NO_BROKER) -> None:
        super().__init__(text)
        self.text = text


class CommandSender(Protocol):
    def __call__(self, command: Command) -> None:
        """Publish ``command`` to its hut, or raise CommandNotSentError."""


def no_broker(command: Command) -> None:
    """The sender of an app with no ingest worker (tests, tools): nothing goes out."""
    raise CommandNotSentError


def enrol_command(hut_id: str, *, now: datetime, expires: datetime) -> Command:
    """Enrol mode at the hut: the next card tapped before ``expires`` is reported, not let
    in (a gateway that reads the command's expiry keeps the window open until then)."""
    return Command(id=new_id(), hut=hut_id, issued=now, expires=expires, action="enrol")


__all__ = ["TEXT_NO_BROKER", "CommandNotSentError", "CommandSender", "enrol_command", "no_broker"]
