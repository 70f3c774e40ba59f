"""Partner organisations (城市治理合伙人): a name, what they offer, a contact for staff;
the items they donated and the wishes they fulfilled point at them. Edits are versioned
and audited like every record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.domain.actors import Actor
from server.domain.record_errors import FieldError
from server.records import writes
from server.records.fields import Name, Note, RecordFields, RecordUpdate, refuse
from server.staff_actions import NotFoundError
from server.storage.models import Item
from server.storage.wish_models import Partner, Wish
from toolhut.i18n import bilingual

TEXT_NO_PARTNER = bilingual("no partner organisation {id}")
TEXT_PARTNER_EXISTS = bilingual("a partner organisation with this name exists already")

FIELDS = ("name", "services", "contact", "notes", "active")


class PartnerFields(RecordFields):
    name: Name
    services: Note = ""
    contact: Note = ""
    notes: Note = ""
    active: bool = True


class PartnerUpdate(RecordUpdate):
    required = frozenset(FIELDS)

    name: Name | None = None
    services: Note | None = None
    contact: Note | None = None
    notes: Note | None = None
    active: bool | None = None


def get(db: Session, partner_id: int) -> Partner:
    row = db.get(Partner, partner_id)
    if row is None:
        raise NotFoundError(TEXT_NO_PARTNER.format(id=partner_id))
    return row


def _refuse_taken_name(db: Session, name: str, *, other_than: int | None = None) -> None:
    query = select(Partner.id).where(func.lower(Partner.name) == name.strip().lower())
    taken = db.scalar(query)
    if taken is not None and taken != other_than:
        refuse(FieldError("name", TEXT_PARTNER_EXISTS))


def create(db: Session, fields: PartnerFields, *, actor: Actor, now: datetime) -> Partner:
    _refuse_taken_name(db, fields.name)
    row = Partner(**fields.model_dump(), created_at=now, version=1)
    return writes.add(db, row, entity="partner", key=None, audited=FIELDS, actor=actor, now=now)


def update(
    db: Session, partner_id: int, fields: PartnerUpdate, *, expected: int, actor: Actor,
    now: datetime,
) -> Partner:  # fmt: skip
    row = get(db, partner_id)
    if fields.name is not None:
        _refuse_taken_name(db, fields.name, other_than=row.id)
    writes.edit(
        db, row, expected=expected, values=fields.changes(), entity="partner", key=row.id,
        audited=FIELDS, actor=actor, now=now,
    )  # fmt: skip
    return row


def contributions(db: Session, partner_id: int) -> tuple[list[Item], list[Wish]]:
    """The items the partner donated and the wishes it fulfilled, newest first."""
    items = db.scalars(select(Item).where(Item.partner_id == partner_id).order_by(Item.id.desc()))
    wishes = db.scalars(select(Wish).where(Wish.partner_id == partner_id).order_by(Wish.id.desc()))
    return list(items), list(wishes)
