"""Enrol at the hut in one step: staff put a hut into enrol mode for a member, and the
next card tapped there is bound to that member (decided at ingest by the rule book)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from server import enrolment_actions
from server.api.auth import StaffDep, ViewerOnly, actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import logged_if_not_sent, staff_action
from server.api.params import MAX_ROW_ID, HutIdPath, RequestBody, RowId
from server.domain.ledger_state import EnrolmentStatus
from server.domain.lending import Refusal
from server.hut_commands import EXPIRY, CommandSender
from server.storage import enrolments
from server.storage.models import EnrolmentRequest

router = APIRouter(prefix="/api/v1", tags=["enrolments"])

ENROL = EXPIRY["enrol"]


class EnrolmentCreate(RequestBody):
    member_id: Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
    seconds: Annotated[
        int,
        Field(ge=ENROL.least, le=ENROL.most, description="how long the hut waits for the card"),
    ] = ENROL.default


class EnrolmentStaff(BaseModel):
    id: int
    hut_id: str
    member_id: int
    state: EnrolmentStatus
    card_uid: str | None = Field(description="the card tapped: bound, or refused")
    reason: Refusal | None = Field(description="why it was refused")
    requested_by: str
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, request: EnrolmentRequest, *, now: datetime) -> EnrolmentStaff:
        state = enrolments.status_of(request, now=now)
        return cls(
            id=request.id,
            hut_id=request.hut_id,
            member_id=request.member_id,
            state=state,
            card_uid=request.card_uid,
            # The only refusal of a tap: the card is another member's.
            reason=Refusal.CARD_IN_USE if state is EnrolmentStatus.REFUSED else None,
            requested_by=request.requested_by,
            created_at=request.created_at,
            expires_at=request.expires_at,
            closed_at=request.closed_at,
        )


@router.post("/huts/{hut_id}/enrol", status_code=status.HTTP_201_CREATED)
def request_enrolment(
    hut_id: HutIdPath,
    body: EnrolmentCreate,
    db: DbDep,
    now: NowDep,
    principal: StaffDep,
    request: Request,
) -> EnrolmentStaff:
    """The hut's next card tap within ``seconds`` is bound to the member (the hut's earlier
    waiting request is cancelled). The same enrol command as ``POST /huts/{id}/commands``
    sends. 503 when the huts cannot be reached: only the command log says so (no request)."""
    send: CommandSender = request.app.state.commands
    with staff_action(), logged_if_not_sent(db):
        row = enrolment_actions.request_enrolment(
            db,
            hut_id=hut_id,
            member_id=body.member_id,
            seconds=body.seconds,
            now=now,
            actor=actor_of(principal, request),
            send=send,
        )
    db.commit()
    return EnrolmentStaff.of(row, now=now)


@router.get("/enrolments/{request_id}", dependencies=[ViewerOnly])
def get_enrolment(request_id: RowId, db: DbDep, now: NowDep) -> EnrolmentStaff:
    """waiting, bound (with the card), expired, refused (the card is another member's) or
    cancelled."""
    with staff_action():
        row = enrolment_actions.get_enrolment(db, request_id)
    return EnrolmentStaff.of(row, now=now)


@router.delete("/enrolments/{request_id}")
def cancel_enrolment(
    request_id: RowId, db: DbDep, now: NowDep, principal: StaffDep, request: Request
) -> EnrolmentStaff:
    """The request stops waiting (409 if it is over already)."""
    with staff_action():
        row = enrolment_actions.cancel_enrolment(
            db, request_id=request_id, now=now, actor=actor_of(principal, request)
        )
    db.commit()
    return EnrolmentStaff.of(row, now=now)
