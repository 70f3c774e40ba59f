"""Acting on a hut remotely: staff unlock its door, put it into enrol mode or ask it for a
status report, and everyone signed in reads what became of each command."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from server import command_actions, enrolment_actions
from server.api.auth import ViewerOnly
from server.api.deps import DbDep, NowDep
from server.api.errors import logged_if_not_sent, staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.params import MAX_ROW_ID, HutIdPath, RequestBody
from server.api.stamps import StaffStamp
from server.domain.remote_commands import CommandStatus
from server.hut_commands import EXPIRY, CommandSender, StaffAction
from server.storage import remote_commands
from server.storage.remote_commands import LoggedCommand
from toolhut.i18n import bilingual

router = APIRouter(prefix="/api/v1", tags=["commands"])

# What staff read when a command's fields do not fit its action: Chinese first.
TEXT_ENROL_NEEDS_MEMBER = bilingual("an enrol command needs member_id")
TEXT_STATUS_NO_MEMBER = bilingual("a status command takes no member_id")
TEXT_EXPIRY = bilingual("expires_in_s for {action}: {least} to {most}")

CommandIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="its id")
]


class CommandCreate(RequestBody):
    action: StaffAction
    reason: Annotated[str, Field(min_length=1, max_length=500, description="why, for the log")]
    member_id: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_ROW_ID,
            description="unlock: the resident it is for (their scans are lent to them); "
            "enrol: the member the card goes to (required)",
        ),
    ] = None
    expires_in_s: Annotated[
        int | None,
        Field(
            ge=1,
            le=max(e.most for e in EXPIRY.values()),
            description="how long the command stays valid (unlock and status: 5-120 s, "
            "default 30; enrol: 10-300 s, default 60)",
        ),
    ] = None


class CommandStaff(BaseModel):
    id: str
    hut_id: str
    action: str
    status: CommandStatus = Field(
        description="pending, done, expired, failed, not_sent, or no_answer (expired a "
        "while ago and never reported)"
    )
    reason: str | None
    member_id: int | None
    issued_by: str | None
    issued_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    outcome_at: datetime | None = Field(description="when the hut did what it reported")
    detail: str | None = Field(description="the hut's word on it (why it failed)")
    enrolment_id: int | None = Field(description="an enrol's request: GET /enrolments/{id}")

    @classmethod
    def of(cls, logged: LoggedCommand, *, now: datetime) -> CommandStaff:
        row = logged.row
        return cls(
            id=row.id,
            hut_id=row.hut_id,
            action=row.action,
            status=remote_commands.status_of(row, now=now),
            reason=row.reason,
            member_id=row.member_id,
            issued_by=logged.issued_by,
            issued_at=row.issued_at,
            expires_at=row.expires_at,
            sent_at=row.sent_at,
            outcome_at=row.outcome_at,
            detail=row.detail,
            enrolment_id=logged.enrolment_id,
        )


def _check(body: CommandCreate) -> None:
    """422 naming the field that does not fit the action."""
    errors: list[tuple[str, str]] = []
    if body.action == "enrol" and body.member_id is None:
        errors.append(("member_id", TEXT_ENROL_NEEDS_MEMBER))
    if body.action == "status" and body.member_id is not None:
        errors.append(("member_id", TEXT_STATUS_NO_MEMBER))
    bounds = EXPIRY[body.action]
    if body.expires_in_s is not None and not bounds.least <= body.expires_in_s <= bounds.most:
        text = TEXT_EXPIRY.format(least=bounds.least, most=bounds.most, action=body.action)
        errors.append(("expires_in_s", text))
    if errors:
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": ("body", field), "msg": text, "input": None}
                for field, text in errors
            ]
        )


@router.post("/huts/{hut_id}/commands", status_code=status.HTTP_201_CREATED)
def send_command(
    hut_id: HutIdPath, body: CommandCreate, db: DbDep, stamp: StaffStamp, request: Request
) -> CommandStaff:
    """Send the hut a command; it expires soon (an unlock is never carried out late) and
    the hut reports what it did with it. 503 when the huts cannot be reached: the command
    is logged as ``not_sent``."""
    _check(body)
    send: CommandSender = request.app.state.commands
    with staff_action(), logged_if_not_sent(db):
        row = command_actions.send_command(
            db,
            hut_id=hut_id,
            action=body.action,
            reason=body.reason,
            stamp=stamp,
            send=send,
            member_id=body.member_id,
            seconds=body.expires_in_s,
        )
    db.commit()
    return CommandStaff.of(command_actions.get_command(db, row.id), now=stamp.at)


@router.get("/huts/{hut_id}/commands", dependencies=[ViewerOnly])
def list_commands(
    hut_id: HutIdPath,
    db: DbDep,
    now: NowDep,
    page: PageDep,
    action: Annotated[StaffAction | None, Query(description="only this action")] = None,
) -> Listing[CommandStaff]:
    """The hut's commands, newest first unless ``sort`` says otherwise."""
    with staff_action():
        enrolment_actions.check_hut(db, hut_id)
    query = remote_commands.hut_commands(hut_id, action=action)
    query = sorted_by(query, page.sort or "-issued_at", remote_commands.SORTABLE, default="id")
    rows, total = page_of(db, query, page)
    data = [CommandStaff.of(logged, now=now) for logged in remote_commands.logged(db, rows)]
    return listing(data, total, page)


@router.get("/commands/{command_id}", dependencies=[ViewerOnly])
def get_command(command_id: CommandIdPath, db: DbDep, now: NowDep) -> CommandStaff:
    """One command and what became of it."""
    with staff_action():
        return CommandStaff.of(command_actions.get_command(db, command_id), now=now)
