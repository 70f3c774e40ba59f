"""Categories and their loan policies (period, renewals, concurrent-loan limit, hold,
whether members flagged 60+ go ahead in the waiting lists),
and the rules by member flag (a 60+ member's longer period). The rules read them from
the tables at each step (storage.policy_store.load_policy), so an edit counts from the
next tap or staff action on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError
from server.records import writes
from server.records.fields import (
    CategoryKey,
    Days,
    Name,
    RecordFields,
    RecordUpdate,
    Renewals,
    refuse,
)
from server.staff_actions import NotFoundError
from server.storage import audit
from server.storage.models import Item, ItemCategory, MemberFlagRule
from toolhut.i18n import bilingual

TEXT_NO_CATEGORY = bilingual("no category {key!r}")
TEXT_CATEGORY_EXISTS = bilingual("a category with this key exists already")
TEXT_FLAG_TWICE = bilingual("the same flag is given more than once")

PerMember = Annotated[int, Field(ge=1, le=100)]
HoldHours = Annotated[int, Field(ge=1, le=24 * 30)]
Flag = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]

FIELDS = (
    "name_zh",
    "name_en",
    "loan_days",
    "max_renewals",
    "max_per_member",
    "hold_hours",
    "senior_first",
)


class CategoryFields(RecordFields):
    key: CategoryKey
    name_zh: Name
    name_en: Name
    loan_days: Days
    max_renewals: Renewals
    max_per_member: PerMember
    hold_hours: HoldHours
    senior_first: bool = False


class CategoryUpdate(RecordUpdate):
    required = frozenset(FIELDS)

    name_zh: Name | None = None
    name_en: Name | None = None
    loan_days: Days | None = None
    max_renewals: Renewals | None = None
    max_per_member: PerMember | None = None
    hold_hours: HoldHours | None = None
    senior_first: bool | None = None


class FlagRuleFields(RecordFields):
    """Members with ``flag`` borrow ``extra_loan_days`` longer (senior: 60+)."""

    flag: Flag
    extra_loan_days: Annotated[int, Field(ge=0, le=366)]


def get(db: Session, key: str) -> ItemCategory:
    row = db.get(ItemCategory, key)
    if row is None:
        raise NotFoundError(TEXT_NO_CATEGORY.format(key=key))
    return row


def item_counts(db: Session) -> dict[str, int]:
    """How many items each category has (a category no item uses is absent)."""
    query = select(Item.category, func.count()).group_by(Item.category)
    return {key: count for key, count in db.execute(query)}


def create(db: Session, fields: CategoryFields, *, actor: Actor, now: datetime) -> ItemCategory:
    """A new category; its key is refused when one has it (the primary key decides
    between two added at once)."""
    if db.get(ItemCategory, fields.key) is not None:
        refuse(FieldError("key", TEXT_CATEGORY_EXISTS))
    row = ItemCategory(**fields.model_dump(), version=1)
    try:
        with db.begin_nested():
            writes.add(
                db, row, entity="category", key=row.key, audited=FIELDS, actor=actor, now=now
            )
    except IntegrityError:
        refuse(FieldError("key", TEXT_CATEGORY_EXISTS))
    return row


def update(
    db: Session, key: str, fields: CategoryUpdate, *, expected: int, actor: Actor, now: datetime
) -> ItemCategory:
    row = get(db, key)
    writes.edit(
        db,
        row,
        expected=expected,
        values=fields.changes(),
        entity="category",
        key=row.key,
        audited=FIELDS,
        actor=actor,
        now=now,
    )
    return row


def flag_rules(db: Session) -> list[MemberFlagRule]:
    return list(db.scalars(select(MemberFlagRule).order_by(MemberFlagRule.flag)))


def _rules(rows: Sequence[MemberFlagRule]) -> dict[str, int]:
    return {row.flag: row.extra_loan_days for row in rows}


def replace_flag_rules(
    db: Session, rules: Sequence[FlagRuleFields], *, actor: Actor, now: datetime
) -> list[MemberFlagRule]:
    """The whole list of flag rules becomes ``rules`` (a flag left out has none)."""
    flags = [rule.flag for rule in rules]
    twice = sorted({flag for flag in flags if flags.count(flag) > 1})
    refuse(*[FieldError("flag", f"{TEXT_FLAG_TWICE}: {flag!r}") for flag in twice])
    before = _rules(flag_rules(db))
    db.execute(delete(MemberFlagRule))
    db.add_all(MemberFlagRule(flag=r.flag, extra_loan_days=r.extra_loan_days) for r in rules)
    db.flush()
    after = flag_rules(db)
    audit.record(
        db,
        actor=actor,
        action="flag_rules.replace",
        entity="flag_rules",
        entity_id="*",
        at=now,
        before=before,
        after=_rules(after),
    )
    return after
