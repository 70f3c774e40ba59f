"""The command log (``remote_commands``): a row per command staff send to a hut, its
outcome once the gateway reports it, and the reads of it for staff and for the loader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from server.domain.remote_commands import (
    AWAITING,
    CommandStatus,
    RemoteCommandState,
    command_status,
)
from server.storage.models import EnrolmentRequest
from server.storage.operations_models import RemoteCommand
from server.storage.staff_models import StaffUser


def add(
    db: Session,
    *,
    command_id: str,
    hut_id: str,
    action: str,
    issued_at: datetime,
    expires_at: datetime,
    issued_by_id: int | None,
    reason: str | None,
    member_id: int | None = None,
) -> RemoteCommand:
    row = RemoteCommand(
        id=command_id,
        hut_id=hut_id,
        action=action,
        issued_at=issued_at,
        expires_at=expires_at,
        issued_by_id=issued_by_id,
        reason=reason,
        member_id=member_id,
    )
    db.add(row)
    return row


def stored_outcome(row: RemoteCommand) -> CommandStatus | None:
    return None if row.outcome is None else CommandStatus(row.outcome)


def status_of(row: RemoteCommand, *, now: datetime) -> CommandStatus:
    """What staff read of the command at ``now`` (``no_answer`` is computed, not stored)."""
    return command_status(stored_outcome(row), expires_at=row.expires_at, now=now)


def state_of(db: Session, command_id: str) -> RemoteCommandState | None:
    """The command as the rule for its report reads it (None: not in the log)."""
    row = db.get(RemoteCommand, command_id)
    if row is None:
        return None
    return RemoteCommandState(
        row.id, row.hut_id, row.action, outcome=stored_outcome(row), member_id=row.member_id
    )


def record_outcome(
    db: Session, *, command_id: str, outcome: CommandStatus, at: datetime, detail: str | None
) -> None:
    """The gateway's report, written unless the command has its answer already (checked
    in the UPDATE itself, whatever the loader saw)."""
    awaiting = [status.value for status in AWAITING if status is not None]
    db.execute(
        update(RemoteCommand)
        .where(
            RemoteCommand.id == command_id,
            RemoteCommand.outcome.is_(None) | RemoteCommand.outcome.in_(awaiting),
        )
        .values(outcome=outcome.value, outcome_at=at, detail=detail)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True, slots=True)
class LoggedCommand:
    """A command with who sent it and, for an enrol, its enrolment request."""

    row: RemoteCommand
    issued_by: str | None
    enrolment_id: int | None


def hut_commands(hut_id: str, *, action: str | None = None) -> Select[RemoteCommand]:
    """The hut's commands (a query, for the caller's sorting and paging)."""
    query = select(RemoteCommand).where(RemoteCommand.hut_id == hut_id)
    return query if action is None else query.where(RemoteCommand.action == action)


def logged(db: Session, rows: list[RemoteCommand]) -> list[LoggedCommand]:
    """``rows`` with their senders' usernames and enrolment requests (two queries)."""
    user_ids = {row.issued_by_id for row in rows if row.issued_by_id is not None}
    names: dict[int, str] = {
        user_id: username
        for user_id, username in db.execute(
            select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(user_ids))
        )
    }
    enrols = [row.id for row in rows if row.action == "enrol"]
    requests: dict[str, int] = {
        command_id: request_id
        for command_id, request_id in db.execute(
            select(EnrolmentRequest.command_id, EnrolmentRequest.id).where(
                EnrolmentRequest.command_id.in_(enrols)
            )
        )
    }
    return [
        LoggedCommand(
            row,
            None if row.issued_by_id is None else names.get(row.issued_by_id),
            requests.get(row.id),
        )
        for row in rows
    ]


def get(db: Session, command_id: str) -> LoggedCommand | None:
    row = db.get(RemoteCommand, command_id)
    return None if row is None else logged(db, [row])[0]


SORTABLE = {
    "id": RemoteCommand.id,
    "issued_at": RemoteCommand.issued_at,
    "action": RemoteCommand.action,
    "expires_at": RemoteCommand.expires_at,
}

__all__ = [
    "SORTABLE",
    "LoggedCommand",
    "add",
    "get",
    "hut_commands",
    "logged",
    "record_outcome",
    "state_of",
    "status_of",
    "stored_outcome",
]
