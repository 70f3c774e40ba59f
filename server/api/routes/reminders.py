"""Staff "remind now" and a member's reminder history."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from server.access_actions import TEXT_NO_MEMBER
from server.api.auth import ViewerOnly
from server.api.deps import DbDep, NowDep
from server.api.params import RowId
from server.api.stamps import StaffStamp
from server.reminders.scheduler import NothingToRemindError, ReminderService, UnknownMemberError
from server.storage import reminder_queries
from toolhut.i18n import bilingual

router = APIRouter(prefix="/api/v1", tags=["reminders"])

TEXT_NOTHING_OPEN = bilingual("the member has no open loans")


class RemindResult(BaseModel):
    message_ids: list[int]
    loans: int
    sent: int
    failed: int


class ReminderDeliveryPublic(BaseModel):
    message_id: int
    stage: str
    channel: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None


class ReminderDeliveriesPublic(BaseModel):
    data: list[ReminderDeliveryPublic]
    count: int


@router.post("/members/{member_id}/remind")
def remind_now(
    member_id: RowId, request: Request, now: NowDep, db: DbDep, stamp: StaffStamp
) -> RemindResult:
    """Send the member a reminder of every open loan now (quiet hours do not apply)."""
    service: ReminderService = request.app.state.reminders
    try:
        report = service.remind_now(member_id, now=now)
    except UnknownMemberError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, TEXT_NO_MEMBER.format(member_id=member_id)
        ) from None
    except NothingToRemindError:
        raise HTTPException(status.HTTP_409_CONFLICT, TEXT_NOTHING_OPEN) from None
    after = {"messages": report.message_ids, "sent": report.sent, "failed": report.failed}
    stamp.record(db, action="member.remind", entity="member", entity_id=member_id, after=after)
    db.commit()
    return RemindResult(
        message_ids=report.message_ids, loans=report.claims, sent=report.sent, failed=report.failed
    )


@router.get("/members/{member_id}/reminders", dependencies=[ViewerOnly])
def member_reminders(member_id: RowId, db: DbDep) -> ReminderDeliveriesPublic:
    """The member's latest reminder deliveries, newest first."""
    data = [
        ReminderDeliveryPublic(
            message_id=message.id,
            stage=message.stage,
            channel=delivery.channel,
            status=delivery.status,
            attempts=delivery.attempts,
            created_at=message.created_at,
            sent_at=delivery.sent_at,
            next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error,
        )
        for delivery, message in reminder_queries.deliveries_of_member(db, member_id)
    ]
    return ReminderDeliveriesPublic(data=data, count=len(data))
