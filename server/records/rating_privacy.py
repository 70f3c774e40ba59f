"""A resident's ratings of their loans, for their rights over their personal data
(server/records/member_privacy.py): each rating goes into the document of everything held
about them, and their erasure blanks the comments, which may say something about them:
in the ratings and in the low-rating anomalies that kept the start of one
(server/domain/ratings.py). The scores stay, the community's record, with the member's id
as the loans keep it. The audit entries of a rating record its score, its source and
whether it had a comment, never the comment (server/records/ratings.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.domain import ratings
from server.domain.ledger_state import AnomalyKind
from server.storage.models import Anomaly, Item
from server.storage.rating_models import LoanRating


def rating_data(db: Session, member_id: int) -> dict[str, Any]:
    """The member's ratings of their loans, the oldest first."""
    rows = db.execute(
        select(LoanRating, Item.tag)
        .join(Item, LoanRating.item_id == Item.id)
        .where(LoanRating.member_id == member_id)
        .order_by(LoanRating.rated_at, LoanRating.id)
    )
    return {
        "loan_ratings": [
            {"loan": r.loan_id, "item": tag, "score": r.score, "comment": r.comment,
             "source": r.source, "at": r.rated_at}
            for r, tag in rows
        ]
    }  # fmt: skip


def forget_rating_texts(db: Session, member_id: int) -> None:
    """Blank the comments of the member's ratings, and what their low-rating anomalies
    kept of them."""
    db.execute(update(LoanRating).where(LoanRating.member_id == member_id).values(comment=""))
    anomalies = select(Anomaly).where(
        Anomaly.member_id == member_id, Anomaly.kind == AnomalyKind.LOW_RATING.value
    )
    for anomaly in db.scalars(anomalies):
        anomaly.detail = ratings.without_comment(anomaly.detail)
