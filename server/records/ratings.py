"""A resident's rating of their own returned loan, from their phone (the hut's rating
cards go through the rule book: server/domain/hut_rules.py), by the same rules
(server/domain/ratings.py) and the same writer. A later rating of a loan replaces the
earlier one; a low score with a comment becomes an anomaly for staff."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import ratings
from server.domain.actors import Actor
from server.domain.changes import Effects
from server.domain.model import RatingSource
from server.domain.ratings import RatedLoan, RatingRefusal
from server.staff_actions import NotFoundError
from server.storage import audit
from server.storage.effect_writer import EffectWriter
from server.storage.models import DEFAULT_TIMEZONE, Hut, Item, Loan
from server.storage.rating_models import LoanRating
from server.storage.rating_queries import RatingFilter, month_range
from toolhut.i18n import bilingual

TEXT_NO_ITEM = bilingual("no item with the tag {tag!r}")


class RatingRefusedError(ValueError):
    """The rules say this rating may not be given: ``reason``, and ``text`` the message
    id for the reader (``gettext(error.text, lang)``)."""

    def __init__(self, reason: RatingRefusal) -> None:
        self.reason = reason
        self.text = ratings.REFUSAL_TEXT[reason]
        super().__init__(f"{reason.value}: {self.text}")


def rated_loan(loan: Loan | None) -> RatedLoan | None:
    if loan is None:
        return None
    return RatedLoan(loan.id, loan.item_id, loan.member_id, loan.returned_at, loan.returned_hut_id)


def rate_loan(
    db: Session,
    *,
    member_id: int,
    loan_id: int,
    score: int,
    comment: str,
    source: RatingSource,
    now: datetime,
    actor: Actor,
) -> LoanRating:
    """``member_id``'s rating of their loan ``loan_id`` (returned, within the window);
    RatingRefusedError otherwise. The caller commits."""
    loan = rated_loan(db.get(Loan, loan_id))
    comment = comment.strip()
    reason = ratings.refusal(loan, member_id=member_id, score=score, comment=comment, now=now)
    if reason is not None:
        raise RatingRefusedError(reason)
    assert loan is not None and loan.returned_hut_id is not None
    before = db.scalar(select(LoanRating.score).where(LoanRating.loan_id == loan_id))
    changes = ratings.rate(
        loan, hut_id=loan.returned_hut_id, score=score, comment=comment, source=source, now=now
    )
    writer = EffectWriter(db)
    writer.apply(Effects(changes))
    writer.finish()
    # Score and source only: the comment is the resident's, shown to staff with the rating.
    audit.record(
        db, actor=actor, action="loan.rating", entity="loan", entity_id=loan_id, at=now,
        before=None if before is None else {"score": before},
        after={"score": score, "source": source.value, "has_comment": bool(comment)},
    )  # fmt: skip
    query = select(LoanRating).where(LoanRating.loan_id == loan_id)
    # The row as the upsert left it, not a copy the session read before.
    return db.scalars(query.execution_options(populate_existing=True)).one()


def rating_of(db: Session, loan_id: int) -> LoanRating | None:
    return db.scalars(select(LoanRating).where(LoanRating.loan_id == loan_id)).one_or_none()


def rating_filter(
    db: Session,
    *,
    hut: str | None = None,
    tag: str | None = None,
    score: int | None = None,
    month: str | None = None,
) -> RatingFilter:
    """The filter staff asked for (the API's and the console's): an item by its tag
    (NotFoundError for a tag nobody has), a month ``YYYY-MM`` in the hut's time zone (or
    the deployment's, for every hut)."""
    item_id = None
    if tag is not None:
        item_id = db.scalar(select(Item.id).where(Item.tag == tag.strip().upper()))
        if item_id is None:
            raise NotFoundError(TEXT_NO_ITEM.format(tag=tag))
    since = until = None
    if month is not None:
        row = None if hut is None else db.get(Hut, hut)
        since, until = month_range(
            month, ZoneInfo(DEFAULT_TIMEZONE if row is None else row.timezone)
        )
    return RatingFilter(hut_id=hut, item_id=item_id, score=score, since=since, until=until)


__all__ = ["RatingRefusedError", "rate_loan", "rated_loan", "rating_filter", "rating_of"]
