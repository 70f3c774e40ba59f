"""The public view of the huts' shelves (the pages ``/`` and ``/i/<tag>``): items, their due
dates and holds, the supplies and whether any is left. Never a borrower: nothing here
loads a member.

Built for a district's size (50 huts, 10,000 items): a fixed number of queries whatever
the number of huts or items. Each hut's first rows come from one windowed query
(``row_number() over (partition by hut)``), the counts from one grouped query, the due
dates and holds of the rows shown from one query each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, aliased

from server.domain.ledger_state import ReservationStatus
from server.storage.models import Consumable, Hut, Item, ItemCategory, Loan, Reservation

MAX_QUERY_CHARS = 64


@dataclass(frozen=True, slots=True)
class ShelfFilter:
    """What a reader looks for: ``text`` in a name or tag, one category key, one hut."""

    text: str | None = None
    category: str | None = None
    hut_id: str | None = None


@dataclass(frozen=True, slots=True)
class PublicItem:
    item: Item
    due_at: datetime | None  # the open loan's, if on loan
    held_until: datetime | None  # the hold's, if reserved


@dataclass(frozen=True, slots=True)
class HutShelf:
    hut: Hut
    items: list[PublicItem]
    total: int  # the hut's items that match, shown or not
    supplies: list[Consumable]


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(wanted: ShelfFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.text:
        pattern = _like(wanted.text)
        conditions.append(
            or_(
                func.lower(Item.tag).like(pattern, escape="\\"),
                func.lower(Item.name_zh).like(pattern, escape="\\"),
                func.lower(Item.name_en).like(pattern, escape="\\"),
            )
        )
    if wanted.category:
        conditions.append(Item.category == wanted.category)
    if wanted.hut_id:
        conditions.append(Item.hut_id == wanted.hut_id)
    return conditions


def categories(db: Session) -> Sequence[ItemCategory]:
    return db.scalars(select(ItemCategory).order_by(ItemCategory.key)).all()


def huts(db: Session, hut_id: str | None = None) -> Sequence[Hut]:
    query = select(Hut).order_by(Hut.id)
    if hut_id is not None:
        query = query.where(Hut.id == hut_id)
    return db.scalars(query).all()


def shelves(db: Session, wanted: ShelfFilter, *, per_hut: int, offset: int = 0) -> list[HutShelf]:
    """Every hut (or the one of ``wanted.hut_id``) with up to ``per_hut`` of its matching
    items from ``offset`` on, in tag order, the count of all that match, and its supplies."""
    hut_rows = huts(db, wanted.hut_id)
    conditions = _matching(wanted)
    counted = select(Item.hut_id, func.count()).where(*conditions).group_by(Item.hut_id)
    totals = {hut_id: count for hut_id, count in db.execute(counted)}
    place = func.row_number().over(partition_by=Item.hut_id, order_by=Item.tag).label("place")
    ranked = select(Item.id, place).where(*conditions).subquery()
    window = (
        select(Item)
        .join(ranked, ranked.c.id == Item.id)
        .where(ranked.c.place > offset, ranked.c.place <= offset + per_hut)
        .order_by(Item.hut_id, Item.tag)
    )
    items = db.scalars(window).all()
    dated = with_dates(db, items)
    by_hut: dict[str, list[PublicItem]] = defaultdict(list)
    for entry in dated:
        by_hut[entry.item.hut_id].append(entry)
    supplies: dict[str, list[Consumable]] = defaultdict(list)
    query = select(Consumable).order_by(Consumable.hut_id, Consumable.tag)
    if wanted.hut_id is not None:
        query = query.where(Consumable.hut_id == wanted.hut_id)
    for supply in db.scalars(query):
        supplies[supply.hut_id].append(supply)
    return [
        HutShelf(hut, by_hut.get(hut.id, []), totals.get(hut.id, 0), supplies.get(hut.id, []))
        for hut in hut_rows
    ]


def with_dates(db: Session, items: Sequence[Item]) -> list[PublicItem]:
    """The items with their open loan's due date and their hold's end (two queries for
    them all, and no member loaded)."""
    ids = [item.id for item in items]
    due: dict[int, datetime] = {}
    held: dict[int, datetime | None] = {}
    if ids:
        loans = select(Loan.item_id, Loan.due_at).where(
            Loan.item_id.in_(ids), Loan.returned_at.is_(None), Loan.lost_at.is_(None)
        )
        due = {item_id: due_at for item_id, due_at in db.execute(loans)}
        hold = aliased(Reservation)
        holds = select(hold.item_id, hold.hold_until).where(
            hold.item_id.in_(ids), hold.state == ReservationStatus.HELD
        )
        for item_id, until in db.execute(holds):
            held.setdefault(item_id, until)
    return [PublicItem(item, due.get(item.id), held.get(item.id)) for item in items]


def find(db: Session, tag: str) -> PublicItem | None:
    item = db.scalars(select(Item).where(Item.tag == tag)).one_or_none()
    return None if item is None else with_dates(db, [item])[0]
