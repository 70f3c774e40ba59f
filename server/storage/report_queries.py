"""The monthly report's reads: each an aggregate query over one hut (``hut_id``) or the
whole district (None) between two UTC instants, [start, end). Counted in SQL; only the
loans due in the month and the offline incidents come back as rows, for the pure
arithmetic of server/reports/figures.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from server.domain import ItemStatus, MemberFlag
from server.domain.alarms import AlarmKind
from server.domain.wishes import WishOutcome
from server.storage.models import Anomaly, Hut, Item, ItemCategory, Loan, MemberFlagRow
from server.storage.operations_models import Alarm
from server.storage.rating_models import LoanRating
from server.storage.reminder_models import DeliveryStatus, ReminderDelivery, ReminderMessage
from server.storage.wish_models import Partner, Wish

Row = tuple[str, int, str, str]  # key, count, name zh, name en
TOP_ITEMS = 10

# The loan ratings (residents rate a loan at the hut or on their phone).
LOAN_RATINGS = LoanRating.__table__


def _in(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return (column >= start) & (column < end)


def _at_hut(column: Any, hut_id: str | None) -> ColumnElement[bool]:
    return (column == hut_id) if hut_id is not None else true()


def huts(db: Session, hut_id: str | None) -> list[tuple[str, str, str]]:
    """(id, name, time zone) of the hut, or of every hut."""
    query = select(Hut.id, Hut.name, Hut.timezone).order_by(Hut.id)
    if hut_id is not None:
        query = query.where(Hut.id == hut_id)
    return [(i, n, z) for i, n, z in db.execute(query)]


def loans_by_period(
    db: Session, starts: Sequence[datetime], end: datetime, hut_id: str | None
) -> list[int]:
    """Loans begun in each period (each runs to the next start, the last to ``end``)."""
    if not starts:
        return []
    bucket = case(
        *[(Loan.borrowed_at >= s, n) for n, s in reversed(list(enumerate(starts)))]
    ).label("period")
    periods = (
        select(bucket)
        .where(_in(Loan.borrowed_at, starts[0], end), _at_hut(Loan.hut_id, hut_id))
        .subquery()
    )
    counts = [0] * len(starts)
    for index, count in db.execute(
        select(periods.c.period, func.count()).group_by(periods.c.period)
    ):
        counts[int(index)] = int(count)
    return counts


def loans_by_category(db: Session, start: datetime, end: datetime, hut_id: str | None) -> list[Row]:
    loans = func.count(Loan.id).label("loans")
    rows = db.execute(
        select(ItemCategory.key, loans, ItemCategory.name_zh, ItemCategory.name_en)
        .join(Item, Item.category == ItemCategory.key)
        .join(Loan, Loan.item_id == Item.id)
        .where(_in(Loan.borrowed_at, start, end), _at_hut(Loan.hut_id, hut_id))
        .group_by(ItemCategory.key, ItemCategory.name_zh, ItemCategory.name_en)
        .order_by(loans.desc(), ItemCategory.key)
    )
    return [(k, int(n), zh, en) for k, n, zh, en in rows]


def top_items(db: Session, start: datetime, end: datetime, hut_id: str | None) -> list[Row]:
    """The most borrowed items, most first (ties by tag)."""
    loans = func.count(Loan.id).label("loans")
    rows = db.execute(
        select(Item.tag, loans, Item.name_zh, Item.name_en)
        .join(Loan, Loan.item_id == Item.id)
        .where(_in(Loan.borrowed_at, start, end), _at_hut(Loan.hut_id, hut_id))
        .group_by(Item.tag, Item.name_zh, Item.name_en)
        .order_by(loans.desc(), Item.tag)
        .limit(TOP_ITEMS)
    )
    return [(t, int(n), zh, en) for t, n, zh, en in rows]


def never_borrowed(db: Session, end: datetime, hut_id: str | None) -> list[Row]:
    """The hut's items, neither retired nor lost, with no loan begun before ``end``."""
    ever = select(Loan.id).where(Loan.item_id == Item.id, Loan.borrowed_at < end).exists()
    rows = db.execute(
        select(Item.tag, Item.name_zh, Item.name_en)
        .where(
            ~ever,
            Item.status.not_in([ItemStatus.RETIRED, ItemStatus.LOST]),
            _at_hut(Item.hut_id, hut_id),
        )
        .order_by(Item.tag)
    )
    return [(t, 0, zh, en) for t, zh, en in rows]


def loans_due(
    db: Session, start: datetime, end: datetime, hut_id: str | None
) -> list[tuple[datetime, datetime | None]]:
    """(due_at, returned or lost at) of the loans due in [start, end)."""
    closed = func.coalesce(Loan.returned_at, Loan.lost_at)
    rows = db.execute(
        select(Loan.due_at, closed).where(
            _in(Loan.due_at, start, end), _at_hut(Loan.hut_id, hut_id)
        )
    )
    return [(due, back) for due, back in rows]


def reminders_by_channel(
    db: Session, start: datetime, end: datetime, hut_id: str | None
) -> list[Row]:
    """Reminders to residents sent in the month, per channel (staff messages left out)."""
    sent = func.count(ReminderDelivery.id).label("sent")
    rows = db.execute(
        select(ReminderDelivery.channel, sent)
        .join(ReminderMessage, ReminderMessage.id == ReminderDelivery.message_id)
        .where(
            ReminderDelivery.status == DeliveryStatus.SENT,
            _in(ReminderDelivery.sent_at, start, end),
            ReminderMessage.audience == "member",
            _at_hut(ReminderMessage.hut_id, hut_id),
        )
        .group_by(ReminderDelivery.channel)
        .order_by(sent.desc(), ReminderDelivery.channel)
    )
    return [(c, int(n), "", "") for c, n in rows]


def loan_ratings(
    db: Session, start: datetime, end: datetime, hut_id: str | None
) -> list[tuple[int, str, str, str, datetime]]:
    """(score, comment, item zh, item en, rated_at) of the month's loan ratings, oldest
    first; never who rated."""
    r = LOAN_RATINGS.c
    rows = db.execute(
        select(r.score, r.comment, Item.name_zh, Item.name_en, r.rated_at)
        .join(Item, Item.id == r.item_id)
        .where(_in(r.rated_at, start, end), _at_hut(r.hut_id, hut_id))
        .order_by(r.rated_at, r.loan_id)
    )
    return [(int(s), c or "", zh, en, at) for s, c, zh, en, at in rows]


def wish_steps(
    db: Session, start: datetime, end: datetime, hut_id: str | None
) -> tuple[int, int, int, int, int]:
    """Wishes proposed, deliberated, handled, evaluated and declined in the month."""
    declined = Wish.outcome == WishOutcome.DECLINED
    steps = [
        _in(Wish.proposed_at, start, end),
        _in(Wish.deliberated_at, start, end),
        _in(Wish.handled_at, start, end),
        _in(Wish.evaluated_at, start, end),
        _in(Wish.handled_at, start, end) & declined,
    ]
    sums = [func.coalesce(func.sum(case((step, 1), else_=0)), 0) for step in steps]
    row = db.execute(select(*sums).where(_at_hut(Wish.hut_id, hut_id))).one()
    proposed, deliberated, handled, evaluated, refused = (int(n) for n in row)
    return proposed, deliberated, handled, evaluated, refused


def partner_donations(
    db: Session, start: datetime, end: datetime, hut_id: str | None
) -> list[tuple[str, int, int]]:
    """(partner, items it donated in the inventory, wishes it fulfilled in the month) of
    the partners with either, most first."""
    items = (
        select(func.count(Item.id))
        .where(
            Item.partner_id == Partner.id,
            Item.status.not_in([ItemStatus.RETIRED, ItemStatus.LOST]),
            _at_hut(Item.hut_id, hut_id),
        )
        .scalar_subquery()
    )
    wishes = (
        select(func.count(Wish.id))
        .where(
            Wish.partner_id == Partner.id,
            Wish.outcome != WishOutcome.DECLINED,
            _in(Wish.handled_at, start, end),
            _at_hut(Wish.hut_id, hut_id),
        )
        .scalar_subquery()
    )
    rows = db.execute(select(Partner.name, items, wishes).order_by(Partner.name)).all()
    found = [(name, int(i), int(w)) for name, i, w in rows if i or w]
    return sorted(found, key=lambda r: (-r[2], -r[1], r[0]))


def seniors_served(db: Session, start: datetime, end: datetime, hut_id: str | None) -> int:
    """Residents flagged senior (60+) with a loan begun in the month."""
    return int(
        db.scalar(
            select(func.count(func.distinct(Loan.member_id)))
            .join(MemberFlagRow, MemberFlagRow.member_id == Loan.member_id)
            .where(
                MemberFlagRow.flag == MemberFlag.SENIOR.value,
                _in(Loan.borrowed_at, start, end),
                _at_hut(Loan.hut_id, hut_id),
            )
        )
        or 0
    )


def alarms_by_kind(db: Session, start: datetime, end: datetime, hut_id: str | None) -> list[Row]:
    raised = func.count(Alarm.id).label("raised")
    rows = db.execute(
        select(Alarm.kind, raised)
        .where(_in(Alarm.raised_at, start, end), _at_hut(Alarm.hut_id, hut_id))
        .group_by(Alarm.kind)
        .order_by(raised.desc(), Alarm.kind)
    )
    return [(k, int(n), "", "") for k, n in rows]


def anomalies_by_kind(db: Session, start: datetime, end: datetime, hut_id: str | None) -> list[Row]:
    found = func.count(Anomaly.id).label("found")
    rows = db.execute(
        select(Anomaly.kind, found)
        .where(_in(Anomaly.created_at, start, end), _at_hut(Anomaly.hut_id, hut_id))
        .group_by(Anomaly.kind)
        .order_by(found.desc(), Anomaly.kind)
    )
    return [(k, int(n), "", "") for k, n in rows]


def offline_incidents(
    db: Session, start: datetime, end: datetime, hut_id: str | None
) -> list[tuple[str, datetime, datetime | None]]:
    """(hut, went offline, back online or resolved; None while it lasts) of the
    hut-offline incidents that overlap [start, end)."""
    ended = func.coalesce(Alarm.cleared_at, Alarm.resolved_at)
    rows = db.execute(
        select(Alarm.hut_id, Alarm.raised_at, ended)
        .where(
            Alarm.kind == AlarmKind.HUT_OFFLINE.value,
            Alarm.raised_at < end,
            or_(ended.is_(None), ended > start),
            _at_hut(Alarm.hut_id, hut_id),
        )
        .order_by(Alarm.hut_id, Alarm.raised_at)
    )
    return [(h, at, back) for h, at, back in rows]
