"""What a resident's own pages read: their loans, nothing of anyone else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.storage.models import Hut, Item, Loan


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
