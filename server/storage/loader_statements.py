"""The loader's queries (storage/snapshots.py), each built once with bind parameters.

A small ORM query built anew per event costs about as much again in Python as running
it: building the statement and computing its cache key. Built once here, a lookup pays
for neither (a statement's cache key is kept with it). The lists go in as expanding
parameters (but a batch's door sessions on SQLite, as one JSON array: ``doors``);
``rows(db, statement, **params)`` runs one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, literal_column, select, tuple_
from sqlalchemy.orm import Session, aliased

from server.domain.ledger_state import ACTIVE_RESERVATION
from server.storage.models import (
    Card,
    DoorSession,
    Item,
    Loan,
    Member,
    MemberFlagRow,
    Reservation,
)
from server.storage.reminder_models import DisplayMessage


def _open_loans() -> Select[Loan]:
    """Open loans, their own columns only: their items are the snapshot's own, and their
    members are not read (as rows they would cost a join and a flags query more)."""
    return select(Loan).where(Loan.returned_at.is_(None), Loan.lost_at.is_(None))


# A card with its member, the member's flags and whether a display line waits for them,
# in one statement: as columns, one row a flag (or one with none), since the rules read
# them as states and nothing writes a card loaded here (ORM rows with a joined member and
# collection cost most of a card tap's read), and a tap with no line waiting (nearly
# every one) need not ask for it.
_HAS_LINE = (
    exists()
    .where(DisplayMessage.member_id == Member.id, DisplayMessage.shown_at.is_(None))
    .correlate(Member)
)
_CARD_ROWS = (
    select(
        Card.uid,
        Card.state,
        Member.id,
        Member.name,
        Member.status,
        MemberFlagRow.flag,
        _HAS_LINE.label("has_line"),
    )
    .join(Member, Member.id == Card.member_id)
    .outerjoin(MemberFlagRow, MemberFlagRow.member_id == Member.id)
)
CARD = _CARD_ROWS.where(Card.uid == bindparam("uid"))
CARDS = _CARD_ROWS.where(Card.uid.in_(bindparam("uids", expanding=True)))

ITEM = select(Item).where(Item.tag == bindparam("tag"))
ITEMS = select(Item).where(Item.tag.in_(bindparam("tags", expanding=True)))

OPEN_LOAN = _open_loans().where(Loan.item_id == bindparam("item_id"))
OPEN_LOANS = _open_loans().where(Loan.item_id.in_(bindparam("item_ids", expanding=True)))

_STILL_OUT = (Loan.returned_at.is_(None), Loan.lost_at.is_(None))
IN_CATEGORY = (
    select(func.count())
    .select_from(Loan)
    .join(Loan.item)
    .where(
        Loan.member_id == bindparam("member_id"),
        Item.category == bindparam("category"),
        *_STILL_OUT,
    )
)
BY_CATEGORY = (
    select(Loan.member_id, Item.category, func.count())
    .join(Loan.item)
    .where(Loan.member_id.in_(bindparam("member_ids", expanding=True)), *_STILL_OUT)
    .group_by(Loan.member_id, Item.category)
)

# A scanned item, its open loan (None: it is in), whether anyone waits for it and how
# many of its category the member (None: nobody) has out: a scan's four lookups in one
# statement.
_OPEN = (Loan.item_id == Item.id, Loan.returned_at.is_(None), Loan.lost_at.is_(None))
_WAITING = (
    exists()
    .where(Reservation.item_id == Item.id, Reservation.state.in_(ACTIVE_RESERVATION))
    .correlate(Item)
)
_THEIRS = aliased(Loan)
_OF_CATEGORY = aliased(Item)
_IN_CATEGORY = (
    select(func.count())
    .select_from(_THEIRS)
    .join(_OF_CATEGORY, _OF_CATEGORY.id == _THEIRS.item_id)
    .where(
        _THEIRS.member_id == bindparam("member_id"),
        _OF_CATEGORY.category == Item.category,
        _THEIRS.returned_at.is_(None),
        _THEIRS.lost_at.is_(None),
    )
    .correlate(Item)
    .scalar_subquery()
)
ITEM_AT_HAND = (
    select(Item, Loan, _WAITING.label("waiting"), _IN_CATEGORY.label("in_category"))
    .outerjoin(Loan, and_(*_OPEN))
    .where(Item.tag == bindparam("tag"))
)

QUEUE = select(Reservation).where(
    Reservation.item_id == bindparam("item_id"), Reservation.state.in_(ACTIVE_RESERVATION)
)
QUEUES = select(Reservation).where(
    Reservation.item_id.in_(bindparam("item_ids", expanding=True)),
    Reservation.state.in_(ACTIVE_RESERVATION),
)

DOOR = select(DoorSession).where(
    DoorSession.hut_id == bindparam("hut_id"), DoorSession.key == bindparam("key")
)
_DOOR_KEY = tuple_(DoorSession.hut_id, DoorSession.key)
_DOORS = select(DoorSession).where(_DOOR_KEY.in_(bindparam("pairs", expanding=True)))
# SQLite's planner (3.40) reads a row-value IN list as a scan of the whole table: every
# batch read every door session ever opened. As a subquery of the pairs in one JSON array
# it searches the (hut, key) index once a pair.
_PAIRS = func.json_each(bindparam("pairs_json")).table_valued("value")
_SQLITE_DOORS = select(DoorSession).where(
    _DOOR_KEY.in_(
        select(*(func.json_extract(_PAIRS.c.value, literal_column(f"'$[{i}]'")) for i in (0, 1)))
    )
)


def doors(db: Session, pairs: Sequence[tuple[str, str]]) -> Any:
    """The door sessions of ``pairs`` ((hut, key)), each found by the (hut, key) index."""
    if db.get_bind().dialect.name == "sqlite":
        return rows(db, _SQLITE_DOORS, pairs_json=json.dumps(pairs))
    return rows(db, _DOORS, pairs=list(pairs))


def rows(db: Session, statement: Select[Any], **params: Any) -> Any:
    """The ORM rows (or single column values) of ``statement`` with ``params``, made
    unique (a joined collection repeats its row)."""
    return db.scalars(statement, params).unique()


__all__ = [
    "BY_CATEGORY",
    "CARD",
    "CARDS",
    "DOOR",
    "doors",
    "IN_CATEGORY",
    "ITEM",
    "ITEMS",
    "OPEN_LOAN",
    "OPEN_LOANS",
    "QUEUE",
    "ITEM_AT_HAND",
    "QUEUES",
    "rows",
]
