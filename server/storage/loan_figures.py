"""The loan figures of the console's dashboard, each one aggregate query whatever the size
of the ledger: how many loans are open and overdue, how many were borrowed in each of a
run of weeks, and by category. Counted in SQL (COUNT, GROUP BY), never by loading loans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.storage import queries
from server.storage.models import Item, ItemCategory, Loan


@dataclass(frozen=True, slots=True)
class OpenLoanCounts:
    on_loan: int  # items out now (loans neither returned nor lost)
    overdue: int  # of those, due before now


@dataclass(frozen=True, slots=True)
class CategoryCount:
    key: str
    name_zh: str
    name_en: str
    loans: int


def open_loan_counts(db: Session, *, now: datetime) -> OpenLoanCounts:
    """The open loans, and the overdue ones, as the loans list (queries.open_loans) has
    them: one query."""
    query = queries.open_loans().order_by(None).subquery()
    overdue = func.coalesce(func.sum(case((query.c.due_at < now, 1), else_=0)), 0)
    on_loan, late = db.execute(select(func.count(), overdue).select_from(query)).one()
    return OpenLoanCounts(on_loan=int(on_loan), overdue=int(late))


def newest_loan_id(db: Session) -> int:
    """The id of the newest loan (0: none yet): a loan begun since figures were read makes
    them out of date. One look at the primary key's end."""
    return int(db.scalar(select(func.max(Loan.id))) or 0)


def loans_per_period(db: Session, starts: Sequence[datetime]) -> list[int]:
    """How many loans began in each period: ``starts`` are the periods' first instants,
    in order; each runs to the next start, the last one open-ended. One GROUP BY."""
    if not starts:
        return []
    bucket = case(
        *[(Loan.borrowed_at >= start, index) for index, start in reversed(list(enumerate(starts)))]
    ).label("period")
    # Grouped outside: PostgreSQL would not match a GROUP BY of the CASE to the SELECT's
    # (each has its own bound parameters).
    periods = select(bucket).where(Loan.borrowed_at >= starts[0]).subquery()
    rows = db.execute(select(periods.c.period, func.count()).group_by(periods.c.period)).all()
    counts = [0] * len(starts)
    for index, count in rows:
        counts[int(index)] = int(count)
    return counts


def loans_by_category(db: Session, *, since: datetime) -> list[CategoryCount]:
    """Loans begun at or after ``since`` per item category, most first (categories with
    none are left out). One GROUP BY."""
    loans = func.count(Loan.id).label("loans")
    rows = db.execute(
        select(ItemCategory.key, ItemCategory.name_zh, ItemCategory.name_en, loans)
        .join(Item, Item.category == ItemCategory.key)
        .join(Loan, Loan.item_id == Item.id)
        .where(Loan.borrowed_at >= since)
        .group_by(ItemCategory.key, ItemCategory.name_zh, ItemCategory.name_en)
        .order_by(loans.desc(), ItemCategory.key)
    ).all()
    return [CategoryCount(key, zh, en, int(n)) for key, zh, en, n in rows]
