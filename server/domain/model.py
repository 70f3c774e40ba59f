"""What the lending rules need to know about items, members and loans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class ItemStatus(StrEnum):
    AVAILABLE = "available"
    ON_LOAN = "on_loan"
    RESERVED = "reserved"  # held for the next member in line
    MAINTENANCE = "maintenance"
    RETIRED = "retired"
    LOST = "lost"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # by staff, with a reason, or by the reminder policy
    LEFT = "left"  # moved away, nothing on loan: their cards are gone; their history stays


class CardStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"  # reported lost by its member: it opens nothing until staff remove it


class Category(StrEnum):
    # Stored as free text so a new category needs no migration; these are the known ones.
    POWER_TOOLS = "power_tools"
    HAND_TOOLS = "hand_tools"
    LADDERS = "ladders"
    FITNESS = "fitness"
    FIRST_AID = "first_aid"
    HOUSEHOLD = "household"


class ItemCondition(StrEnum):
    """What the resident says at return; NEEDS_REPAIR blocks lending until staff clear it."""

    OK = "ok"
    NEEDS_REPAIR = "needs_repair"
    MISSING_PART = "missing_part"


class MemberFlag(StrEnum):
    # Free text in storage, like categories; these are the ones the rules know.
    SENIOR = "senior"  # aged 60+: longer loans where the policy says so
    STAFF = "staff"  # their card opens a stocktake session


class RatingSource(StrEnum):
    """Where a resident rated a return: a rating card at the hut, or their phone."""

    HUT = "hut"
    PHONE = "phone"


@dataclass(frozen=True, slots=True)
class ItemView:
    tag: str
    name_zh: str
    category: str
    status: ItemStatus
    condition: ItemCondition = ItemCondition.OK
    loan_days: int | None = None  # per-item override of the category's period
    max_renewals: int | None = None


@dataclass(frozen=True, slots=True)
class MemberView:
    name: str
    status: MemberStatus
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LoanView:
    borrowed_at: datetime
    due_at: datetime
    renewals: int = 0
