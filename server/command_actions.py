"""Staff act on a hut remotely: unlock its door (for a resident whose card does not work),
put it into enrol mode for a member, ask it for a fresh status report. Every one goes
through the command log (server.hut_commands.issue), an enrol through the enrolment
request as well. No HTTP here; the caller commits, a command that did not go out too.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server import enrolment_actions
from server.access_actions import TEXT_NO_MEMBER
from server.hut_commands import EXPIRY, CommandSender, StaffAction, issue
from server.staff_actions import NotFoundError
from server.storage import remote_commands
from server.storage.audit import Stamp
from server.storage.models import Member
from server.storage.operations_models import RemoteCommand
from toolhut.i18n import bilingual

TEXT_NO_COMMAND = bilingual("no such command: {command_id}")


def send_command(
    db: Session,
    *,
    hut_id: str,
    action: StaffAction,
    reason: str,
    stamp: Stamp,
    send: CommandSender,
    member_id: int | None = None,
    seconds: int | None = None,
) -> RemoteCommand:
    """The command, logged and sent (``seconds`` None: the action's default expiry).
    ``member_id``: an unlock's resident (their scans in that visit are lent to them), an
    enrol's member (required: the caller checks). Raises NotFoundError (hut, member),
    MemberNotActiveError (enrol), CommandNotSentError (logged as not sent)."""
    valid_s = EXPIRY[action].default if seconds is None else seconds
    if action == "enrol":
        assert member_id is not None, "an enrol command is for a member"
        request = enrolment_actions.request_enrolment(
            db,
            hut_id=hut_id,
            member_id=member_id,
            seconds=valid_s,
            now=stamp.at,
            actor=stamp.actor,
            send=send,
            reason=reason,
        )
        return _row(db, request.command_id)
    enrolment_actions.check_hut(db, hut_id)
    if member_id is not None and db.get(Member, member_id) is None:
        raise NotFoundError(TEXT_NO_MEMBER.format(member_id=member_id))
    return issue(
        db,
        hut_id=hut_id,
        action=action,
        seconds=valid_s,
        stamp=stamp,
        send=send,
        reason=reason,
        member_id=member_id,
    )


def get_command(db: Session, command_id: str) -> remote_commands.LoggedCommand:
    found = remote_commands.get(db, command_id)
    if found is None:
        raise NotFoundError(TEXT_NO_COMMAND.format(command_id=command_id))
    return found


def _row(db: Session, command_id: str) -> RemoteCommand:
    row = db.get(RemoteCommand, command_id)
    assert row is not None, "issue() added it"
    return row


__all__ = ["TEXT_NO_COMMAND", "get_command", "send_command"]
