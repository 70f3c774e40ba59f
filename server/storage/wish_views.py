"""What a resident's wish pages read: the wishes of the huts they may use, each with its
step, how many support it (a count, never who) and the reader's own part in it (proposed
it, supports it, rated it); and the public overview's few latest wishes (心愿风铃). Nobody's
name and no one else's rating comment is read here."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from server.domain.wishes import STARTS_FROM, WishOutcome, WishStatus
from server.storage.models import Hut
from server.storage.wish_models import Partner, Wish, WishRating, WishSupport

CHIMES_SHOWN = 5  # the overview's short list (心愿风铃)
OPEN_SHOWN = 100  # a community has a few dozen open at most; past this, the newest
EVALUATED_SHOWN = 20  # the latest evaluated ones, to see what came of them


@dataclass(frozen=True, slots=True)
class ResidentWish:
    id: int
    title: str
    detail: str
    hut_name: str | None  # None: for the whole district
    status: WishStatus
    proposed_at: datetime
    meeting_on: date | None
    decision: str | None
    outcome: WishOutcome | None
    reason: str | None  # a declined wish's reason (other outcomes' notes are staff's)
    partner_name: str | None
    supporters: int
    mine: bool  # the reader proposed it
    supported: bool  # the reader supports it
    my_score: int | None  # the reader's rating
    my_comment: str  # the reader's own comment, "" without one

    @property
    def may_support(self) -> bool:
        return not (self.mine or self.supported) and self.status in STARTS_FROM["support"]

    @property
    def may_rate(self) -> bool:
        return (self.mine or self.supported) and self.status in STARTS_FROM["rate"]


@dataclass(frozen=True, slots=True)
class PublicWish:
    """A wish as anyone may see it on the overview: what, where, which step, how many."""

    title: str
    hut_name: str | None
    status: WishStatus
    supporters: int


def _supporters() -> Any:
    """How many support the wish of the row (a correlated count)."""
    count = select(func.count()).where(WishSupport.wish_id == Wish.id)
    return count.correlate(Wish).scalar_subquery()


def _query(member_id: int, huts: Collection[str]) -> Any:
    supporters = _supporters()
    supported = exists().where(WishSupport.wish_id == Wish.id, WishSupport.member_id == member_id)
    query = (
        select(
            Wish, Hut.name, Partner.name, supporters, supported, WishRating.score,
            WishRating.comment,
        )
        .outerjoin(Hut, Wish.hut_id == Hut.id)
        .outerjoin(Partner, Wish.partner_id == Partner.id)
        .outerjoin(
            WishRating, and_(WishRating.wish_id == Wish.id, WishRating.member_id == member_id)
        )
    )  # fmt: skip
    if huts:  # a member limited to some huts sees theirs and the district's
        query = query.where(or_(Wish.hut_id.in_(sorted(huts)), Wish.hut_id.is_(None)))
    return query


def _view(row: Any, member_id: int) -> ResidentWish:
    wish, hut_name, partner_name, supporters, supported, score, comment = row
    declined = wish.outcome is WishOutcome.DECLINED
    return ResidentWish(
        id=wish.id, title=wish.title, detail=wish.detail, hut_name=hut_name,
        status=wish.status, proposed_at=wish.proposed_at, meeting_on=wish.meeting_on,
        decision=wish.decision, outcome=wish.outcome,
        reason=wish.outcome_note if declined else None, partner_name=partner_name,
        supporters=supporters or 0, mine=wish.proposed_by_id == member_id,
        supported=bool(supported), my_score=score, my_comment=comment or "",
    )  # fmt: skip


def open_wishes(db: Session, member_id: int, huts: Collection[str]) -> list[ResidentWish]:
    """The wishes not yet evaluated of the huts the member may use (``huts``, empty: every
    hut) and of the whole district, newest first."""
    query = _query(member_id, huts).where(Wish.status != WishStatus.EVALUATED)
    rows = db.execute(query.order_by(Wish.id.desc()).limit(OPEN_SHOWN))
    return [_view(row, member_id) for row in rows]


def evaluated_wishes(db: Session, member_id: int, huts: Collection[str]) -> list[ResidentWish]:
    """The latest evaluated wishes of those huts, the last evaluated first."""
    query = _query(member_id, huts).where(Wish.status == WishStatus.EVALUATED)
    ordered = query.order_by(Wish.evaluated_at.desc(), Wish.id.desc()).limit(EVALUATED_SHOWN)
    return [_view(row, member_id) for row in db.execute(ordered)]


def wish_for(
    db: Session, wish_id: int, member_id: int, huts: Collection[str]
) -> ResidentWish | None:
    """The wish as the member's page shows it; None if there is none they may see."""
    row = db.execute(_query(member_id, huts).where(Wish.id == wish_id)).first()
    return None if row is None else _view(row, member_id)


def public_wishes(db: Session) -> list[PublicWish]:
    """The latest wishes not yet evaluated, of every hut and the district."""
    query = (
        select(Wish.title, Hut.name, Wish.status, _supporters())
        .outerjoin(Hut, Wish.hut_id == Hut.id)
        .where(Wish.status != WishStatus.EVALUATED)
        .order_by(Wish.id.desc())
        .limit(CHIMES_SHOWN)
    )
    return [PublicWish(title, hut, state, n or 0) for title, hut, state, n in db.execute(query)]
