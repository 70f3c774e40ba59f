"""Loan policy: how long, how often renewed, how many at once. Data, not code: storage
loads it from the ``categories`` and ``member_flag_rules`` tables; the defaults below
seed those tables and stand in for a category the tables do not know."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from server.domain.model import Category, ItemView, MemberFlag


@dataclass(frozen=True, slots=True)
class CategoryRule:
    loan_period: timedelta
    max_renewals: int = 1
    max_per_member: int = 2  # open loans of this category one member may hold at once
    hold_period: timedelta = timedelta(hours=24)  # a returned reserved item waits this long
    senior_first: bool = False  # members flagged senior go ahead in the waiting lists


DEFAULT_RULES: Mapping[str, CategoryRule] = MappingProxyType(
    {
        Category.POWER_TOOLS: CategoryRule(timedelta(days=3), max_renewals=1, max_per_member=2),
        Category.HAND_TOOLS: CategoryRule(timedelta(days=3), max_renewals=2, max_per_member=3),
        # A ladder blocks the hut's only one for everybody else: same-day use, no renewal.
        Category.LADDERS: CategoryRule(
            timedelta(days=1), max_renewals=0, max_per_member=1, hold_period=timedelta(hours=4)
        ),
        Category.FITNESS: CategoryRule(timedelta(days=7), max_renewals=2, max_per_member=2),
        Category.FIRST_AID: CategoryRule(timedelta(days=7), max_renewals=1, max_per_member=2),
        Category.HOUSEHOLD: CategoryRule(timedelta(days=3), max_renewals=1, max_per_member=3),
    }
)
# Extra loan days per member flag; the longest bonus of a member's flags applies.
DEFAULT_FLAG_EXTRA: Mapping[str, timedelta] = MappingProxyType(
    {MemberFlag.SENIOR: timedelta(days=2)}
)
# Kept for callers that only ask for the period.
DEFAULT_LOAN_PERIODS: Mapping[str, timedelta] = MappingProxyType(
    {category: rule.loan_period for category, rule in DEFAULT_RULES.items()}
)


@dataclass(frozen=True, slots=True)
class LoanPolicy:
    rules: Mapping[str, CategoryRule] = field(default_factory=lambda: DEFAULT_RULES)
    default_rule: CategoryRule = CategoryRule(timedelta(days=3))
    flag_extra: Mapping[str, timedelta] = field(default_factory=lambda: DEFAULT_FLAG_EXTRA)
    max_places: int = 5  # waiting lists one member may be in at once

    def rule(self, category: str) -> CategoryRule:
        return self.rules.get(category, self.default_rule)

    def loan_period(
        self, category: str, *, item: ItemView | None = None, flags: Iterable[str] = ()
    ) -> timedelta:
        period = self.rule(category).loan_period
        if item is not None and item.loan_days is not None:
            period = timedelta(days=item.loan_days)
        bonus = [self.flag_extra[flag] for flag in flags if flag in self.flag_extra]
        return period + max(bonus, default=timedelta(0))

    def due_at(
        self,
        category: str,
        *,
        borrowed_at: datetime,
        item: ItemView | None = None,
        flags: Iterable[str] = (),
    ) -> datetime:
        return borrowed_at + self.loan_period(category, item=item, flags=flags)

    def max_renewals(self, item: ItemView) -> int:
        if item.max_renewals is not None:
            return item.max_renewals
        return self.rule(item.category).max_renewals

    def with_rules(
        self, rules: Mapping[str, CategoryRule], flag_extra: Mapping[str, timedelta]
    ) -> LoanPolicy:
        """This policy with the stored rules on top (categories not stored keep ours)."""
        return LoanPolicy(
            rules=MappingProxyType({**self.rules, **rules}),
            default_rule=self.default_rule,
            flag_extra=MappingProxyType({**self.flag_extra, **flag_extra}),
            max_places=self.max_places,
        )


DEFAULT_POLICY = LoanPolicy()
