"""Consumable stock per hut, by batch (each with its own expiry date)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.domain import BatchView, StockView
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
    """Feed for domain ``restock_needed``."""
    return [
        StockView(c.tag, c.name_zh, c.hut_id, c.quantity, c.min_quantity)
        for c in listing(db, hut_id=hut_id)
    ]


def batches(db: Session, *, hut_id: str | None = None) -> list[BatchView]:
    """Feed for domain ``expiring``."""
    return [
        BatchView(c.tag, c.name_zh, c.hut_id, b.quantity, b.expires_on)
        for c in listing(db, hut_id=hut_id)
        for b in c.batches
    ]


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
