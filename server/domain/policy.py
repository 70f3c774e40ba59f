"""How long each category of item may be borrowed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from server.domain.model import Category

DEFAULT_LOAN_PERIODS: Mapping[str, timedelta] = MappingProxyType(
    {
        Category.POWER_TOOLS: timedelta(days=3),
        Category.HAND_TOOLS: timedelta(days=3),
        # A ladder blocks the hut's only one for everybody else: same-day use.
        Category.LADDERS: timedelta(days=1),
        Category.FITNESS: timedelta(days=7),
        Category.FIRST_AID: timedelta(days=7),
    }
)


@dataclass(frozen=True, slots=True)
class LoanPolicy:
    periods: Mapping[str, timedelta] = field(default_factory=lambda: DEFAULT_LOAN_PERIODS)
    default_period: timedelta = timedelta(days=3)

    def loan_period(self, category: str) -> timedelta:
        return self.periods.get(category, self.default_period)

    def due_at(self, category: str, *, borrowed_at: datetime) -> datetime:
        return borrowed_at + self.loan_period(category)


DEFAULT_POLICY = LoanPolicy()
