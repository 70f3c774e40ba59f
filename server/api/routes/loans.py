from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.api.deps import NowDep, SessionDep, StaffDep
from server.api.schemas import LoanPublic, LoansPublic, LoanStatus
from server.storage import queries

router = APIRouter(prefix="/api/v1", tags=["loans"])


@router.get("/loans")
def list_loans(
    session: SessionDep,
    staff: StaffDep,
    now: NowDep,
    loan_status: Annotated[LoanStatus, Query(alias="status")] = LoanStatus.OPEN,
) -> LoansPublic:
    """Open loans, or only the overdue ones; staff also see the borrowers."""
    overdue_at = now if loan_status is LoanStatus.OVERDUE else None
    loans = queries.list_open_loans(session, overdue_at=overdue_at)
    data = [LoanPublic.of(loan, now=now, staff=staff) for loan in loans]
    return LoansPublic(data=data, count=len(data))
