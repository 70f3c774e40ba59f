"""Loan policy as data: the categories and member_flag_rules tables."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import CompoundSelect, null, select, union_all
from sqlalchemy.orm import Session

from server.domain import DEFAULT_POLICY, CategoryRule, LoanPolicy
from server.storage.models import ItemCategory, MemberFlagRule

# Both tables in one statement, as columns (not ORM rows), built once: a scan's transaction
# loads the policy, and two statements of ORM rows cost more than the rest of its reads.
# A category's row is (key, loan days, renewals, per member, hold hours); a flag's is
# (flag, extra loan days, NULL, NULL, NULL, NULL), told apart by the NULL hold hours (a
# category's last column: seniors first in its waiting lists).
_RULES: CompoundSelect[Any] = union_all(
    select(
        ItemCategory.key,
        ItemCategory.loan_days,
        ItemCategory.max_renewals,
        ItemCategory.max_per_member,
        ItemCategory.hold_hours,
        ItemCategory.senior_first,
    ),
    select(
        MemberFlagRule.flag,
        MemberFlagRule.extra_loan_days,
        null().label("max_renewals"),
        null().label("max_per_member"),
        null().label("hold_hours"),
        null().label("senior_first"),
    ),
)


def load_policy(db: Session, *, base: LoanPolicy = DEFAULT_POLICY) -> LoanPolicy:
    """``base`` with the stored rules on top: a stored category always wins."""
    rules: dict[str, CategoryRule] = {}
    extra: dict[str, timedelta] = {}
    for key, days, max_renewals, max_per_member, hold_hours, senior_first in db.execute(_RULES):
        if hold_hours is None:
            extra[key] = timedelta(days=days)
        else:
            rules[key] = CategoryRule(
                timedelta(days=days),
                max_renewals=max_renewals,
                max_per_member=max_per_member,
                hold_period=timedelta(hours=hold_hours),
                senior_first=bool(senior_first),
            )
    return base.with_rules(rules, extra)


def policy_columns(key: str, *, base: LoanPolicy = DEFAULT_POLICY) -> dict[str, Any]:
    """A category's policy columns as ``base`` has them (the catch-all rule for a key it
    does not know): what a new category starts from."""
    rule = base.rule(key)
    return {
        "loan_days": rule.loan_period.days,
        "max_renewals": rule.max_renewals,
        "max_per_member": rule.max_per_member,
        "hold_hours": int(rule.hold_period.total_seconds() // 3600),
        "senior_first": rule.senior_first,
    }


def ensure_category(db: Session, key: str, *, name_zh: str = "", name_en: str = "") -> None:
    """Add a category with the catch-all policy if the list does not have it yet."""
    if db.get(ItemCategory, key) is not None:
        return
    db.add(
        ItemCategory(key=key, name_zh=name_zh or key, name_en=name_en or key, **policy_columns(key))
    )
    db.flush()
