"""Rows as the domain sees them: frozen views, so the rules never touch the database session."""

from __future__ import annotations

from server.domain import ItemView, LoanView, MemberView
from server.storage.models import Item, Loan, Member


def item_view(item: Item) -> ItemView:
    return ItemView(
        item.tag,
        item.name_zh,
        item.category,
        item.status,
        condition=item.condition,
        loan_days=item.loan_days,
        max_renewals=item.max_renewals,
    )


def member_view(member: Member) -> MemberView:
    return MemberView(member.name, member.status, flags=member.flags)


def loan_view(loan: Loan) -> LoanView:
    return LoanView(loan.borrowed_at, loan.due_at, renewals=loan.renewals)
