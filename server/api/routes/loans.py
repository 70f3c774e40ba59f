from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server import staff_actions
from server.api.auth import OptionalPrincipalDep, sees_personal_data
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.params import RowId
from server.api.schemas import LoanPublic, LoansPublic, LoanStatus
from server.api.stamps import StaffStamp
from server.storage import queries

router = APIRouter(prefix="/api/v1", tags=["loans"])


@router.get("/loans")
def list_loans(
    db: DbDep,
    principal: OptionalPrincipalDep,
    now: NowDep,
    loan_status: Annotated[LoanStatus, Query(alias="status")] = LoanStatus.OPEN,
) -> LoansPublic:
    """Open loans, or only the overdue ones; staff also see the borrowers."""
    overdue_at = now if loan_status is LoanStatus.OVERDUE else None
    loans = queries.list_open_loans(db, overdue_at=overdue_at)
    staff = sees_personal_data(principal)
    data = [LoanPublic.of(loan, now=now, staff=staff) for loan in loans]
    return LoansPublic(data=data, count=len(data))


@router.post("/loans/{loan_id}/renew")
def renew_loan(loan_id: RowId, db: DbDep, now: NowDep, stamp: StaffStamp) -> LoanPublic:
    """One more loan period, if the policy allows and nobody is waiting for the item."""
    with staff_action():
        loan = staff_actions.renew(db, loan_id=loan_id, now=now, stamp=stamp)
    db.commit()
    return LoanPublic.of(loan, now=now, staff=True)


@router.post("/loans/{loan_id}/lost")
def mark_loan_lost(loan_id: RowId, db: DbDep, now: NowDep, stamp: StaffStamp) -> LoanPublic:
    with staff_action():
        loan = staff_actions.mark_lost(db, loan_id=loan_id, now=now, stamp=stamp)
    db.commit()
    return LoanPublic.of(loan, now=now, staff=True)
