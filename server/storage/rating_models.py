"""The residents' ratings of their returns (server/domain/ratings.py has the rules): one
row per loan, replaced by a later rating of the same loan. The monthly report reads
score, comment, hut_id, item_id, rated_at and source."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.model import RatingSource
from server.storage.coltypes import UtcDateTime
from server.storage.models import Base, checked_enum


class LoanRating(Base):
    __tablename__ = "loan_ratings"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        Index("ix_loan_ratings_hut_id_rated_at", "hut_id", "rated_at"),
        Index("ix_loan_ratings_item_id_rated_at", "item_id", "rated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    loan_id: Mapped[int] = mapped_column(ForeignKey("loans.id"), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    hut_id: Mapped[str] = mapped_column(ForeignKey("huts.id"))  # where it was returned
    score: Mapped[int] = mapped_column(Integer)
    # Personal-ish (it may name a neighbour, a flat): signed-in staff only.
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[RatingSource] = mapped_column(checked_enum(RatingSource, name="source"))
    rated_at: Mapped[datetime] = mapped_column(UtcDateTime)
