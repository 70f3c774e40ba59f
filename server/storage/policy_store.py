"""Loan policy as data: the categories and member_flag_rules tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import DEFAULT_POLICY, CategoryRule, LoanPolicy
from server.storage.models import ItemCategory, MemberFlagRule

# Columns, not entities, built once: a scan's transaction loads the policy, and loading
# the rows as ORM objects (identity map, state) cost more than reading them.
_CATEGORY_RULES = select(
    ItemCategory.key,
    ItemCategory.loan_days,
    ItemCategory.max_renewals,
    ItemCategory.max_per_member,
    ItemCategory.hold_hours,
)
_FLAG_RULES = select(MemberFlagRule.flag, MemberFlagRule.extra_loan_days)


def load_policy(db: Session, *, base: LoanPolicy = DEFAULT_POLICY) -> LoanPolicy:
    """``base`` with the stored rules on top: a stored category always wins."""
    rules = {
        key: CategoryRule(
            timedelta(days=loan_days),
            max_renewals=max_renewals,
            max_per_member=max_per_member,
            hold_period=timedelta(hours=hold_hours),
        )
        for key, loan_days, max_renewals, max_per_member, hold_hours in db.execute(_CATEGORY_RULES)
    }
    extra = {flag: timedelta(days=days) for flag, days in db.execute(_FLAG_RULES)}
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
