"""What a resident's own pages read: their loans, their history (with their ratings) and
their places in waiting lists, nothing of anyone else (a place is a number, never who is ahead)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from server.domain import ratings
from server.domain.ledger_state import ACTIVE_RESERVATION, ReservationStatus
from server.storage.models import Hut, Item, Loan, Reservation
from server.storage.rating_models import LoanRating


@dataclass(frozen=True, slots=True)
class OwnLoan:
    loan_id: int
    tag: str
    name_zh: str
    name_en: str
    hut_name: str
    hut_tz: str
    borrowed_at: datetime
    due_at: datetime
    renewals: int


def open_loans(db: Session, member_id: int) -> list[OwnLoan]:
    """The member's open loans, the soonest due first."""
    rows = db.execute(
        select(
            Loan.id,
            Item.tag,
            Item.name_zh,
            Item.name_en,
            Hut.name,
            Hut.timezone,
            Loan.borrowed_at,
            Loan.due_at,
            Loan.renewals,
        )
        .join(Item, Loan.item_id == Item.id)
        .join(Hut, Loan.hut_id == Hut.id)
        .where(Loan.member_id == member_id, Loan.returned_at.is_(None), Loan.lost_at.is_(None))
        .order_by(Loan.due_at, Loan.id)
    )
    return [OwnLoan(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class OwnReturn:
    """A loan the member brought back: one row of their history (``loan_id`` and ``tag``
    name it for what a row may carry), with their rating of it (``score`` None: not
    rated)."""

    loan_id: int
    tag: str
    name_zh: str
    name_en: str
    hut_name: str
    hut_tz: str
    borrowed_at: datetime
    returned_at: datetime
    returned_hut_id: str | None
    score: int | None
    comment: str

    def may_rate(self, now: datetime) -> bool:
        """Whether the member may rate it (again) ``now``: the rules' window."""
        return self.returned_hut_id is not None and ratings.window_open(self.returned_at, now)


def _returns(member_id: int, *where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """The member's returned loans (and ``where``), the last returned first."""
    return (
        select(
            Loan.id,
            Item.tag,
            Item.name_zh,
            Item.name_en,
            Hut.name,
            Hut.timezone,
            Loan.borrowed_at,
            Loan.returned_at,
            Loan.returned_hut_id,
            LoanRating.score,
            LoanRating.comment,
        )
        .join(Item, Loan.item_id == Item.id)
        .join(Hut, Loan.hut_id == Hut.id)
        .outerjoin(LoanRating, LoanRating.loan_id == Loan.id)
        .where(Loan.member_id == member_id, Loan.returned_at.is_not(None), *where)
        .order_by(Loan.returned_at.desc(), Loan.id.desc())
    )


def _own_returns(db: Session, query: Select[*tuple[Any, ...]]) -> list[OwnReturn]:
    return [
        OwnReturn(loan_id, tag, zh, en, hut, tz, borrowed_at, returned_at, back_at, score,
                  comment or "")
        for loan_id, tag, zh, en, hut, tz, borrowed_at, returned_at, back_at, score, comment
        in db.execute(query)
        if returned_at is not None  # as the query asks: for the type's sake
    ]  # fmt: skip


def history(db: Session, member_id: int, *, offset: int, limit: int) -> tuple[list[OwnReturn], int]:
    """The member's returned loans, the last returned first, a page of them, and how many
    there are."""
    where = (Loan.member_id == member_id, Loan.returned_at.is_not(None))
    total = db.scalar(select(func.count()).select_from(Loan).where(*where)) or 0
    return _own_returns(db, _returns(member_id).offset(offset).limit(limit)), total


def unrated_since(db: Session, member_id: int, since: datetime, *, limit: int) -> list[OwnReturn]:
    """The member's returns since ``since`` they have not rated, the last first (the
    phone's return receipt)."""
    query = _returns(
        member_id,
        Loan.returned_at >= since,
        Loan.returned_hut_id.is_not(None),
        LoanRating.id.is_(None),
    )
    return _own_returns(db, query.limit(limit))


@dataclass(frozen=True, slots=True)
class OwnPlace:
    """The member's place in an item's waiting list: ``place`` 1 is next; ``held_until``
    set while the item is kept for them."""

    tag: str
    name_zh: str
    name_en: str
    hut_name: str
    hut_tz: str
    place: int
    held_until: datetime | None


def places(db: Session, member_id: int, *, item_id: int | None = None) -> list[OwnPlace]:
    """The waiting lists the member is in (of one item only, if ``item_id``), the items
    kept for them first, then by their place."""
    ahead = aliased(Reservation)
    in_line = (
        select(func.count())
        .select_from(ahead)
        .where(
            ahead.item_id == Reservation.item_id,
            ahead.state.in_(ACTIVE_RESERVATION),
            or_(
                ahead.created_at < Reservation.created_at,
                and_(ahead.created_at == Reservation.created_at, ahead.id < Reservation.id),
            ),
        )
        .scalar_subquery()
    )
    query = (
        select(
            Item.tag,
            Item.name_zh,
            Item.name_en,
            Hut.name,
            Hut.timezone,
            in_line + 1,
            Reservation.hold_until,
            Reservation.state,
        )
        .join(Item, Reservation.item_id == Item.id)
        .join(Hut, Item.hut_id == Hut.id)
        .where(Reservation.member_id == member_id, Reservation.state.in_(ACTIVE_RESERVATION))
        .order_by(Reservation.created_at, Reservation.id)
    )
    if item_id is not None:
        query = query.where(Reservation.item_id == item_id)
    found = [
        OwnPlace(tag, zh, en, hut, tz, place, until if state == ReservationStatus.HELD else None)
        for tag, zh, en, hut, tz, place, until, state in db.execute(query)
    ]
    return sorted(found, key=lambda p: (p.held_until is None, p.place))
