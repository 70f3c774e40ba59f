"""Loan policy as data: the categories and member_flag_rules tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import DEFAULT_POLICY, CategoryRule, LoanPolicy
from server.storage.models import ItemCategory, MemberFlagRule


def load_policy(db: Session, *, base: LoanPolicy = DEFAULT_POLICY) -> LoanPolicy:
    """``base`` with the stored rules on top: a stored category always wins."""
    rules = {
        row.key: CategoryRule(
            timedelta(days=row.loan_days),
            max_renewals=row.max_renewals,
            max_per_member=row.max_per_member,
            hold_period=timedelta(hours=row.hold_hours),
        )
        for row in db.scalars(select(ItemCategory))
    }
    extra = {
        row.flag: timedelta(days=row.extra_loan_days) for row in db.scalars(select(MemberFlagRule))
    }
    return base.with_rules(rules, extra)


def ensure_category(db: Session, key: str, *, name_zh: str = "", name_en: str = "") -> None:
    """Add a category with the catch-all policy if the list does not have it yet."""
    if db.get(ItemCategory, key) is not None:
        return
    rule = DEFAULT_POLICY.rule(key)
    db.add(
        ItemCategory(
            key=key,
            name_zh=name_zh or key,
            name_en=name_en or key,
            loan_days=rule.loan_period.days,
            max_renewals=rule.max_renewals,
            max_per_member=rule.max_per_member,
            hold_hours=int(rule.hold_period.total_seconds() // 3600),
        )
    )
    db.flush()
