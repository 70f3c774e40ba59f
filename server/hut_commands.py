"""Commands the HTTP side sends to a hut's gateway (unlock, enrol, status), through the
ingest worker's MQTT client: what a sender is, what it raises when no broker takes it, how
long each kind of command stays valid, and ``issue``, the one way a staff command goes out:
a row in the command log, its audit entry, then the publish. (The ingest worker's own
``sync`` commands are not staff's: they are not logged.)

Every command carries a short expiry, so a stale unlock is never carried out late: a
gateway that gets it after ``expires`` (a broker that held it for a gateway away, a
clock ahead) reports it expired instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from server.domain.remote_commands import CommandStatus
from server.storage import remote_commands
from server.storage.audit import Stamp
from server.storage.operations_models import RemoteCommand
from toolhut.contract import Command, new_id
from toolhut.i18n import bilingual

# What staff read when a command cannot go out: Chinese first, English beside it.
TEXT_NO_BROKER = bilingual("cannot reach the huts: no broker connection")

StaffAction = Literal["unlock", "enrol", "status"]


@dataclass(frozen=True, slots=True)
class Expiry:
    """How long a command of one action stays valid, in seconds: the bounds staff may ask
    for and what they get when they do not ask."""

    least: int
    default: int
    most: int


EXPIRY: dict[StaffAction, Expiry] = {
    "unlock": Expiry(5, 30, 120),  # the resident is at the door, on the phone with staff
    "status": Expiry(5, 30, 120),
    "enrol": Expiry(10, 60, 300),  # the hut waits this long for the card to be tapped
}


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


def issue(
    db: Session,
    *,
    hut_id: str,
    action: StaffAction,
    seconds: int,
    stamp: Stamp,
    send: CommandSender,
    reason: str | None = None,
    member_id: int | None = None,
) -> RemoteCommand:
    """Log the command (valid ``seconds`` from ``stamp.at``), audit it and send it. If it
    does not go out, the row says ``not_sent`` and CommandNotSentError is raised: the
    caller commits the log and its audit entry all the same (staff tried), and nothing
    else. The hut and member are the caller's to check."""
    now = stamp.at
    command = Command(
        id=new_id(),
        hut=hut_id,
        issued=now,
        expires=now + timedelta(seconds=seconds),
        action=action,
    )
    row = remote_commands.add(
        db,
        command_id=command.id,
        hut_id=hut_id,
        action=action,
        issued_at=now,
        expires_at=command.expires,
        issued_by_id=stamp.actor.user_id,
        reason=reason,
        member_id=member_id,
    )
    try:
        send(command)
    except CommandNotSentError:
        row.outcome = CommandStatus.NOT_SENT.value
        raise
    else:
        row.sent_at = now
    finally:
        stamp.record(
            db,
            action="command.send",
            entity="command",
            entity_id=command.id,
            after={
                "hut_id": hut_id,
                "action": action,
                "reason": reason,
                "member_id": member_id,
                "expires_at": command.expires,
                "sent": row.sent_at is not None,
            },
        )
    return row


__all__ = [
    "EXPIRY",
    "TEXT_NO_BROKER",
    "CommandNotSentError",
    "CommandSender",
    "Expiry",
    "StaffAction",
    "issue",
    "no_broker",
]
