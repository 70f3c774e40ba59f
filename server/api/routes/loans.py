from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server import staff_actions
from server.api.auth import TEXT_SIGN_IN, OptionalPrincipalDep, sees_personal_data, unauthorised
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.params import MAX_ROW_ID, RowId
from server.api.schemas import LoanPublic, LoanStatus
from server.api.stamps import StaffStamp
from server.storage import queries
from server.storage.models import Item, Loan
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["loans"])


# What a list of open loans sorts by; ties are broken by id, so pages never overlap.
SORTS = {
    "due_at": Loan.due_at,
    "borrowed_at": Loan.borrowed_at,
    "tag": Item.tag,
    "hut": Loan.hut_id,
    "id": Loan.id,
}


@router.get("/loans")
def list_loans(
    db: DbDep,
    principal: OptionalPrincipalDep,
    now: NowDep,
    page: PageDep,
    loan_status: Annotated[LoanStatus, Query(alias="status")] = LoanStatus.OPEN,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")] = None,
    member: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="member id")] = None,
) -> Listing[LoanPublic]:
    """Open loans, or only the overdue ones, soonest due first unless ``sort`` says
    otherwise; staff also see the borrowers (with their member ids, for remind-now).
    ``member`` is for staff only: one person's loans are personal data."""
    staff = sees_personal_data(principal)
    if member is not None and not staff:
        raise unauthorised(TEXT_SIGN_IN)
    overdue_at = now if loan_status is LoanStatus.OVERDUE else None
    query = queries.open_loans(overdue_at=overdue_at, hut_id=hut, member_id=member)
    loans, total = page_of(db, sorted_by(query, page.sort, SORTS, default="due_at"), page)
    return listing([LoanPublic.of(loan, now=now, staff=staff) for loan in loans], total, page)


@router.post("/loans/{loan_id}/renew")
def renew_loan(loan_id: RowId, db: DbDep, now: NowDep, stamp: StaffStamp) -> LoanPublic:
    """One more loan period, if the policy allows and nobody is waiting for the item."""
    with staff_action():
        loan = staff_actions.renew(db, loan_id=loan_id, now=now, stamp=stamp)
    db.commit()
    return LoanPublic.of(loan, now=now, staff=True)


@router.post("/loans/{loan_id}/returned")
def mark_loan_returned(loan_id: RowId, db: DbDep, now: NowDep, stamp: StaffStamp) -> LoanPublic:
    """Staff took the item back by hand (at the desk, or a return the hut's scanner missed):
    the loan closes at the item's hut; the item is lent again, held for the next in line,
    or (needing repair) in the workshop. 409 for a loan already closed."""
    with staff_action():
        loan = staff_actions.mark_returned(db, loan_id=loan_id, now=now, stamp=stamp)
    db.commit()
    return LoanPublic.of(loan, now=now, staff=True)


@router.post("/loans/{loan_id}/lost")
def mark_loan_lost(loan_id: RowId, db: DbDep, now: NowDep, stamp: StaffStamp) -> LoanPublic:
    with staff_action():
        loan = staff_actions.mark_lost(db, loan_id=loan_id, now=now, stamp=stamp)
    db.commit()
    return LoanPublic.of(loan, now=now, staff=True)
