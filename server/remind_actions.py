"""Staff's "remind now" for one member, without HTTP: the reminder service sends a reminder
of every open loan of theirs at once (quiet hours do not apply), and the audit log says
who asked. The API route and the console's loans page both call it; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.access_actions import TEXT_NO_MEMBER
from server.reminders.scheduler import NothingToRemindError, ReminderService, UnknownMemberError
from server.reminders.types import SweepReport
from server.staff_actions import NotFoundError
from server.storage.audit import Stamp
from toolhut.i18n import N_, bilingual

TEXT_NOTHING_OPEN = N_("The member has no open loans.")


class NothingOpenError(Exception):
    """The member has no open loan to be reminded of."""


def remind_now(
    db: Session, service: ReminderService, *, member_id: int, now: datetime, stamp: Stamp
) -> SweepReport:
    """Send the reminder and audit it; NotFoundError for no such member, NothingOpenError
    for a member with nothing on loan."""
    try:
        report = service.remind_now(member_id, now=now)
    except UnknownMemberError:
        raise NotFoundError(TEXT_NO_MEMBER.format(member_id=member_id)) from None
    except NothingToRemindError:
        raise NothingOpenError(bilingual(TEXT_NOTHING_OPEN)) from None
    after = {"messages": report.message_ids, "sent": report.sent, "failed": report.failed}
    stamp.record(db, action="member.remind", entity="member", entity_id=member_id, after=after)
    return report
