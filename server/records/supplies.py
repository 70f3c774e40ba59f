"""Supplies (consumables counted, not lent) as staff keep them: tag, bilingual name,
category, hut, minimum level, notes; and their stock by batch: a delivery adds a batch
(with its expiry date), a count corrects one."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import StaleVersionError
from server.records import writes
from server.records.fields import (
    CategoryKey,
    Name,
    Note,
    Quantity,
    RecordFields,
    RecordUpdate,
    TaggedFields,
    refuse,
    values_of,
)
from server.records.lookups import references, tag_free
from server.staff_actions import NotFoundError
from server.storage import audit, consumables
from server.storage.models import Consumable, ConsumableBatch, Hut
from toolhut.i18n import bilingual

TEXT_NO_SUPPLY = bilingual("no supply {tag!r}")
TEXT_NO_BATCH = bilingual("the supply has no batch {batch_id}")

FIELDS = ("name_zh", "name_en", "category", "hut_id", "min_quantity", "notes")
_COLUMN = {"hut": "hut_id"}


class SupplyFields(TaggedFields):
    """A new supply shelf; its stock comes with deliveries."""

    min_quantity: Quantity = 0
    notes: Note | None = None


class SupplyUpdate(RecordUpdate):
    required = frozenset({"name_zh", "name_en", "category", "min_quantity"})

    name_zh: Name | None = None
    name_en: Name | None = None
    category: CategoryKey | None = None
    min_quantity: Quantity | None = None
    notes: Note | None = None


class DeliveryFields(RecordFields):
    """``received_on``: the day it came (default: today, in the hut's calendar)."""

    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    expires_on: date | None = None
    received_on: date | None = None


class BatchCount(RecordFields):
    """What a count found of one batch (0: used up or thrown away)."""

    quantity: Quantity


def columns(values: dict[str, object]) -> dict[str, object]:
    return {_COLUMN.get(key, key): value for key, value in values.items()}


def find(db: Session, tag: str) -> Consumable:
    supply = consumables.find(db, tag.upper())
    if supply is None:
        raise NotFoundError(TEXT_NO_SUPPLY.format(tag=tag))
    return supply


def new_supply(fields: SupplyFields) -> Consumable:
    return Consumable(**columns(fields.model_dump()), version=1)


def create(db: Session, fields: SupplyFields, *, actor: Actor, now: datetime) -> Consumable:
    refuse(
        *tag_free(db, fields.tag),
        *references(db, {"hut": [fields.hut], "category": [fields.category]}),
    )
    supply = new_supply(fields)
    return writes.add(
        db, supply, entity="supply", key=supply.tag, audited=FIELDS, actor=actor, now=now
    )


def update(
    db: Session, tag: str, fields: SupplyUpdate, *, expected: int, actor: Actor, now: datetime
) -> Consumable:
    supply = find(db, tag)
    if supply.version != expected:
        raise StaleVersionError(supply.version)
    values = fields.changes()
    if values.get("category") is not None:
        refuse(*references(db, {"category": [values["category"]]}))
    writes.edit(
        db,
        supply,
        expected=expected,
        values=columns(values),
        entity="supply",
        key=supply.tag,
        audited=FIELDS,
        actor=actor,
        now=now,
    )
    return supply


def _batch_values(batch: ConsumableBatch) -> dict[str, object]:
    return values_of(batch, ("id", "quantity", "expires_on", "received_on"))


def deliver(
    db: Session, tag: str, fields: DeliveryFields, *, actor: Actor, now: datetime
) -> ConsumableBatch:
    supply = find(db, tag)
    hut = db.get(Hut, supply.hut_id)
    assert hut is not None
    batch = consumables.add_batch(
        db,
        supply,
        quantity=fields.quantity,
        expires_on=fields.expires_on,
        received_on=fields.received_on or now.astimezone(ZoneInfo(hut.timezone)).date(),
    )
    audit.record(
        db,
        actor=actor,
        action="supply.delivery",
        entity="supply",
        entity_id=supply.tag,
        at=now,
        after=_batch_values(batch),
    )
    return batch


def count_batch(
    db: Session, tag: str, batch_id: int, fields: BatchCount, *, actor: Actor, now: datetime
) -> ConsumableBatch:
    supply = find(db, tag)
    batch = next((b for b in supply.batches if b.id == batch_id), None)
    if batch is None:
        raise NotFoundError(TEXT_NO_BATCH.format(batch_id=batch_id))
    before = _batch_values(batch)
    batch.quantity = fields.quantity
    db.flush()
    audit.record(
        db,
        actor=actor,
        action="supply.count",
        entity="supply",
        entity_id=supply.tag,
        at=now,
        before=before,
        after=_batch_values(batch),
    )
    return batch
