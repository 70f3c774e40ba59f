"""Tables of the community's side: partner organisations (城市治理合伙人) and the
micro-wishes (微心愿) residents propose, with their supporters and their ratings
(server/domain/wishes.py has the steps)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.wishes import WishChannel, WishOutcome, WishStatus
from server.storage.coltypes import UtcDateTime
from server.storage.models import Base, checked_enum


class Partner(Base):
    """An organisation that works with the hut: donates items, fulfils wishes, serves the
    community's older residents (meals, housekeeping, medical, legal, ...)."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    services: Mapped[str] = mapped_column(Text, default="")
    # A contact person and phone: personal data, for signed-in staff only.
    contact: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Wish(Base):
    __tablename__ = "wishes"
    __table_args__ = (Index("ix_wishes_status_proposed_at", "status", "proposed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The hut it is for; None: the district's.
    hut_id: Mapped[str | None] = mapped_column(ForeignKey("huts.id"), default=None)
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[WishChannel] = mapped_column(checked_enum(WishChannel, name="channel"))
    # The resident who proposed it; None: anonymous (a note in the wish box).
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), default=None)
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[WishStatus] = mapped_column(
        checked_enum(WishStatus, name="status"), default=WishStatus.PROPOSED
    )
    # 议: the meeting that deliberated it, and what it decided.
    meeting_on: Mapped[date | None] = mapped_column(Date, default=None)
    decision: Mapped[str | None] = mapped_column(Text, default=None)
    deliberated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # 办: how it was handled.
    outcome: Mapped[WishOutcome | None] = mapped_column(
        checked_enum(WishOutcome, name="outcome"), default=None
    )
    outcome_note: Mapped[str | None] = mapped_column(Text, default=None)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), default=None)
    # The item bought, donated or lent for it, once it is in the inventory.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), default=None)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # 评: the first rating's time (the ratings are in wish_ratings).
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class WishSupport(Base):
    """A resident who wants it too (不是提议人): one row each, ever."""

    __tablename__ = "wish_supports"

    wish_id: Mapped[int] = mapped_column(ForeignKey("wishes.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class WishRating(Base):
    """The proposer's or a supporter's rating of how the wish was handled: one each; a
    second rating by the same resident replaces the first."""

    __tablename__ = "wish_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    wish_id: Mapped[int] = mapped_column(ForeignKey("wishes.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
