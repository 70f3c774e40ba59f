"""Consumable stock per hut, by batch (each with its own expiry date)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.domain import BatchView, StockView, expiring, restock_needed
from server.storage.models import Consumable, ConsumableBatch


def find(db: Session, tag: str) -> Consumable | None:
    return db.scalars(select(Consumable).where(Consumable.tag == tag)).one_or_none()


def add_batch(
    db: Session,
    consumable: Consumable,
    *,
    quantity: int,
    expires_on: date | None,
    received_on: date | None = None,
) -> ConsumableBatch:
    batch = ConsumableBatch(
        consumable_id=consumable.id,
        quantity=quantity,
        expires_on=expires_on,
        received_on=received_on,
    )
    db.add(batch)
    db.flush()
    db.refresh(consumable)
    return batch


def listing(db: Session, *, hut_id: str | None = None) -> list[Consumable]:
    query = select(Consumable).order_by(Consumable.hut_id, Consumable.tag)
    if hut_id is not None:
        query = query.where(Consumable.hut_id == hut_id)
    return list(db.scalars(query))


def stock(db: Session, *, hut_id: str | None = None) -> list[StockView]:
    """Feed for domain ``restock_needed``: each consumable's stock over its batches, summed
    in SQL (one query, no rows loaded per batch), in hut and tag order."""
    left = func.coalesce(func.sum(ConsumableBatch.quantity), 0)
    query = (
        select(Consumable.tag, Consumable.name_zh, Consumable.hut_id, left, Consumable.min_quantity)
        .outerjoin(ConsumableBatch, ConsumableBatch.consumable_id == Consumable.id)
        .group_by(
            Consumable.id,
            Consumable.tag,
            Consumable.name_zh,
            Consumable.hut_id,
            Consumable.min_quantity,
        )
        .order_by(Consumable.hut_id, Consumable.tag)
    )
    if hut_id is not None:
        query = query.where(Consumable.hut_id == hut_id)
    return [
        StockView(tag, name_zh, hut, int(quantity), minimum)
        for tag, name_zh, hut, quantity, minimum in db.execute(query)
    ]


def batches(db: Session, *, hut_id: str | None = None) -> list[BatchView]:
    """Feed for domain ``expiring``: every batch with its consumable, one query, in hut,
    tag and delivery order."""
    query = (
        select(
            Consumable.tag,
            Consumable.name_zh,
            Consumable.hut_id,
            ConsumableBatch.quantity,
            ConsumableBatch.expires_on,
        )
        .join(ConsumableBatch, ConsumableBatch.consumable_id == Consumable.id)
        .order_by(Consumable.hut_id, Consumable.tag, ConsumableBatch.id)
    )
    if hut_id is not None:
        query = query.where(Consumable.hut_id == hut_id)
    return [BatchView(*row) for row in db.execute(query)]


def refill_marks(db: Session, *, hut_id: str | None = None) -> dict[str, tuple[int, str]]:
    """Per consumable tag: the id of its newest batch (a refill adds one) and its English
    name. The restock alert's key carries the batch id, so a refill re-arms the alert."""
    query = (
        select(Consumable.tag, Consumable.name_en, func.max(ConsumableBatch.id))
        .outerjoin(ConsumableBatch, ConsumableBatch.consumable_id == Consumable.id)
        .group_by(Consumable.tag, Consumable.name_en)
    )
    if hut_id is not None:
        query = query.where(Consumable.hut_id == hut_id)
    return {tag: (batch_id or 0, name_en) for tag, name_en, batch_id in db.execute(query)}


def low_stock(db: Session, *, hut_id: str | None = None) -> list[StockView]:
    """The supplies at or below their minimum level, emptiest first (domain's rule)."""
    return restock_needed(stock(db, hut_id=hut_id))


def expiring_batches(db: Session, now: datetime, *, hut_id: str | None = None) -> list[BatchView]:
    """The batches expiring within the warning window (domain's rule), soonest first."""
    return expiring(batches(db, hut_id=hut_id), now)
