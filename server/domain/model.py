"""What the lending rules need to know about items, members and loans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ItemStatus(StrEnum):
    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"
    LOST = "lost"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Category(StrEnum):
    # Stored as free text so a new category needs no migration; these are the known ones.
    POWER_TOOLS = "power_tools"
    HAND_TOOLS = "hand_tools"
    LADDERS = "ladders"
    FITNESS = "fitness"
    FIRST_AID = "first_aid"


@dataclass(frozen=True, slots=True)
class ItemView:
    tag: str
    name_zh: str
    category: str
    status: ItemStatus


@dataclass(frozen=True, slots=True)
class MemberView:
    name: str
    status: MemberStatus


@dataclass(frozen=True, slots=True)
class LoanView:
    borrowed_at: datetime
    due_at: datetime
