"""Items as staff keep them: tag, bilingual name, category, hut, owner (a donor or partner
organisation), notes, the per-item overrides of the category's loan policy; and the
status staff set by hand with a reason, through the rule book (domain.staff_rules
SetItemStatus: its refusals, the waiting list of an item that comes back)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload

from server import staff_actions
from server.domain import ItemCondition, ItemStatus, Refusal
from server.domain.actors import Actor
from server.domain.changes import Effects
from server.domain.record_errors import StaleVersionError
from server.domain.staff_rules import SetItemStatus
from server.records import writes
from server.records.fields import (
    CategoryKey,
    Days,
    HutId,
    Name,
    Note,
    Owner,
    RecordFields,
    RecordUpdate,
    Renewals,
    TaggedFields,
    refuse,
)
from server.records.lookups import references, tag_free
from server.staff_actions import NotFoundError, RefusedError, carry_out, found
from server.storage import audit, staff_snapshots
from server.storage.models import Item, ItemStatusChange, Loan
from server.storage.policy_store import load_policy
from server.storage.queries import ItemOnShelf, find_item
from toolhut.i18n import bilingual

TEXT_NO_ITEM = bilingual("no item {tag!r}")
# What staff read when the rules refuse a status (the hut's short texts are for its display).
TEXT_STATUS_REFUSED: dict[Refusal, str] = {
    Refusal.ITEM_ON_LOAN: (
        bilingual(
            "the item is on loan: wait for its return, or write the loan off as lost (POST "
            "/api/v1/loans/{loan}/lost)"
        )
    ),
    Refusal.STATUS_UNCHANGED: bilingual("the item has this status already"),
    Refusal.RESERVED_FOR_OTHER: (
        bilingual(
            "the item is held for the next in line: it is free again once they collect it or the "
            "hold runs out"
        )
    ),
}

FIELDS = (
    "name_zh",
    "name_en",
    "category",
    "hut_id",
    "owner",
    "condition",
    "loan_days",
    "max_renewals",
    "notes",
)
# The body's and the sheet's "hut" is the row's hut_id.
_COLUMN = {"hut": "hut_id"}

SettableStatus = Literal["maintenance", "retired", "lost", "available"]
Reason = Annotated[str, Field(min_length=1, max_length=500)]


class ItemFields(TaggedFields):
    """A new item. ``loan_days``/``max_renewals``: None is the category's."""

    owner: Owner | None = None
    condition: ItemCondition = ItemCondition.OK
    loan_days: Days | None = None
    max_renewals: Renewals | None = None
    notes: Note | None = None


class ItemUpdate(RecordUpdate):
    required = frozenset({"name_zh", "name_en", "category", "hut", "condition"})

    name_zh: Name | None = None
    name_en: Name | None = None
    category: CategoryKey | None = None
    hut: HutId | None = None
    owner: Owner | None = None
    condition: ItemCondition | None = None
    loan_days: Days | None = None
    max_renewals: Renewals | None = None
    notes: Note | None = None


class StatusFields(RecordFields):
    """Maintenance, retired, lost, or available (found, back in service), and why."""

    status: SettableStatus
    reason: Reason


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item with its open loan, its loans (newest first) and its status history."""

    shelf: ItemOnShelf
    loans: Sequence[Loan]
    history: Sequence[ItemStatusChange]


# The list's sort columns (?sort=name_zh, -tag ...).
SORTS = {
    "tag": Item.tag,
    "name_zh": Item.name_zh,
    "name_en": Item.name_en,
    "category": Item.category,
    "hut": Item.hut_id,
    "status": Item.status,
}


def search(
    *,
    hut: str | None = None,
    status: ItemStatus | None = None,
    category: str | None = None,
    q: str | None = None,
) -> Select[Item]:
    """Items matching every filter given; ``q``: in the tag or either name."""
    query = select(Item)
    if hut is not None:
        query = query.where(Item.hut_id == hut)
    if status is not None:
        query = query.where(Item.status == status)
    if category is not None:
        query = query.where(Item.category == category)
    if q:
        query = query.where(
            or_(
                Item.tag.icontains(q, autoescape=True),
                Item.name_zh.icontains(q, autoescape=True),
                Item.name_en.icontains(q, autoescape=True),
            )
        )
    return query


def columns(values: dict[str, object]) -> dict[str, object]:
    """Field names as the table's columns."""
    return {_COLUMN.get(key, key): value for key, value in values.items()}


def find(db: Session, tag: str) -> ItemOnShelf:
    shelf = find_item(db, tag.upper())
    if shelf is None:
        raise NotFoundError(TEXT_NO_ITEM.format(tag=tag))
    return shelf


def loan_history(item_id: int) -> Select[Loan]:
    """The item's loans, newest first, with their members loaded (the caller pages)."""
    return (
        select(Loan)
        .options(joinedload(Loan.member))
        .where(Loan.item_id == item_id)
        .order_by(Loan.borrowed_at.desc(), Loan.id.desc())
    )


def status_history(db: Session, item_id: int) -> Sequence[ItemStatusChange]:
    """The statuses staff set by hand, newest first, each with its reason."""
    return db.scalars(
        select(ItemStatusChange)
        .where(ItemStatusChange.item_id == item_id)
        .order_by(ItemStatusChange.at.desc(), ItemStatusChange.id.desc())
    ).all()


def record_of(db: Session, tag: str, *, loans: int = 20) -> ItemRecord:
    shelf = find(db, tag)
    item_id = shelf.item.id
    history = db.scalars(loan_history(item_id).limit(loans)).unique().all()
    return ItemRecord(shelf, history, status_history(db, item_id))


def new_item(fields: ItemFields) -> Item:
    return Item(**columns(fields.model_dump()), status=ItemStatus.AVAILABLE, version=1)


def create(db: Session, fields: ItemFields, *, actor: Actor, now: datetime) -> Item:
    refuse(
        *tag_free(db, fields.tag),
        *references(db, {"hut": [fields.hut], "category": [fields.category]}),
    )
    item = new_item(fields)
    return writes.add(db, item, entity="item", key=item.tag, audited=FIELDS, actor=actor, now=now)


def update(
    db: Session, tag: str, fields: ItemUpdate, *, expected: int, actor: Actor, now: datetime
) -> Item:
    item = find(db, tag).item
    if item.version != expected:
        raise StaleVersionError(item.version)
    values = fields.changes()
    wanted = {key: [values[key]] for key in ("hut", "category") if values.get(key) is not None}
    refuse(*references(db, wanted))
    writes.edit(
        db,
        item,
        expected=expected,
        values=columns(values),
        entity="item",
        key=item.tag,
        audited=FIELDS,
        actor=actor,
        now=now,
    )
    return item


def _refused(effects: Effects) -> Exception:
    assert effects.reason is not None
    text = TEXT_STATUS_REFUSED.get(effects.reason)
    return staff_actions.refused(effects) if text is None else RefusedError(effects.reason, text)


def set_status(db: Session, tag: str, fields: StatusFields, *, actor: Actor, now: datetime) -> Item:
    """Through the rule book: refused (RefusedError) for an item on loan, a status it has,
    a held item made available; the item's history gets the reason."""
    policy = load_policy(db)
    snapshot = staff_snapshots.of_item(db, tag, now=now, policy=policy)
    snapshot = found(snapshot, TEXT_NO_ITEM.format(tag=tag))
    assert snapshot.item is not None
    before = {"status": snapshot.item.status}
    command = SetItemStatus(snapshot.item.tag, ItemStatus(fields.status), fields.reason, actor.name)
    carry_out(db, snapshot, command, refusal=_refused)
    item = db.get(Item, snapshot.item.id)
    assert item is not None
    db.flush()
    audit.record(
        db,
        actor=actor,
        action="item.status",
        entity="item",
        entity_id=item.tag,
        at=now,
        before=before,
        after={"status": item.status, "reason": fields.reason},
    )
    return item
