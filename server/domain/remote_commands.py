"""Commands staff send to a hut (unlock, enrol, status) as the rules and staff see them:
what became of each one, from the gateway's report or, without one, from the clock.

A command is stored with its expiry and, once the gateway reports, its outcome. What staff
read is computed, not stored: waiting for the report (``pending``), the outcome reported
(``done``, ``expired``, ``failed``), ``not_sent`` (no broker took it), or ``no_answer``
once its expiry plus a grace has passed without a report (the gateway may still report
later, after an outage: then the report shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class CommandStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"  # carried out (an unlock: the controller took it)
    EXPIRED = "expired"  # reached the hut after its expiry: not carried out
    FAILED = "failed"  # could not be carried out (the report's detail says why)
    NOT_SENT = "not_sent"  # no broker took it: it never left the server
    NO_ANSWER = "no_answer"  # expired a while ago and the hut never reported


# What a gateway may report (CommandEvent.outcome); the others are the server's own.
REPORTED = frozenset({CommandStatus.DONE, CommandStatus.EXPIRED, CommandStatus.FAILED})
# A stored outcome a report may still replace: none yet, or the broker's refusal (a publish
# that reported failure may have left after all).
AWAITING = frozenset({None, CommandStatus.NOT_SENT})

# How long after its expiry a command with no report still reads pending: the report of a
# command carried out just before its expiry is on its way through the outbox.
NO_ANSWER_GRACE = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class RemoteCommandState:
    """A command of the command log, as the rule for its report reads it. ``member_id``: an
    unlock for that member (their card does not work)."""

    id: str
    hut_id: str
    action: str
    outcome: CommandStatus | None = None
    member_id: int | None = None

    def awaits(self, *, hut_id: str, action: str) -> bool:
        """Whether a report from ``hut_id`` about ``action`` is this command's answer."""
        return self.outcome in AWAITING and self.hut_id == hut_id and self.action == action


def command_status(
    outcome: CommandStatus | None,
    *,
    expires_at: datetime,
    now: datetime,
    grace: timedelta = NO_ANSWER_GRACE,
) -> CommandStatus:
    """What staff read of a command at ``now``."""
    if outcome is not None:
        return outcome
    return CommandStatus.NO_ANSWER if now >= expires_at + grace else CommandStatus.PENDING


__all__ = [
    "AWAITING",
    "NO_ANSWER_GRACE",
    "REPORTED",
    "CommandStatus",
    "RemoteCommandState",
    "command_status",
]
