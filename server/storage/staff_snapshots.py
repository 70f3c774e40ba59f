"""The staff half of the loader: Snapshots for the staff commands (server/domain/staff_rules),
one command at a time, from the rows the command names.

Each loader returns None when the row the command names does not exist (no such loan,
item, card or member): the staff action answers that itself, no rule is asked. Staff
commands run in their own transaction, one or a few at a time, so nothing is cached here:
each snapshot reads what the transaction sees now (including what the effect writer
wrote for the command before: the database session autoflushes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from server.card_uids import card_uid
from server.domain import LoanPolicy
from server.domain.ledger_state import (
    ACTIVE_RESERVATION,
    AccessSnapshot,
    CardState,
    HutState,
    LoanState,
    QueuedItem,
    ReservationState,
    ReservationStatus,
    Snapshot,
)
from server.storage import loader_statements as q
from server.storage import queries
from server.storage.models import Card, Hut, Item, Loan, Member, Reservation
from server.storage.snapshots import card_state, item_state, member_state, queue_of

# Rows as the rule book's records (items, members and waiting lists as the loader has them).


def hut_state(hut: Hut) -> HutState:
    return HutState(hut.id, hut.timezone)


def loan_state(loan: Loan) -> LoanState:
    return LoanState(
        loan.id, loan.item_id, loan.member_id, loan.borrowed_at, loan.due_at, loan.renewals
    )


def _queue(db: Session, item_id: int) -> tuple[ReservationState, ...]:
    """The item's waiting list: waiting and held, first in line first."""
    return queue_of(q.rows(db, q.QUEUE, item_id=item_id))


def _item_snapshot(
    db: Session,
    item: Item,
    loan: Loan | None,
    *,
    now: datetime,
    policy: LoanPolicy,
    card: Card | None = None,
    borrower: Member | None = None,
) -> Snapshot:
    return Snapshot(
        hut=hut_state(item.hut),
        now=now,
        policy=policy,
        item=item_state(item),
        loan=None if loan is None else loan_state(loan),
        queue=_queue(db, item.id),
        card=card_state(card),
        borrower=None if borrower is None else member_state(borrower),
    )


# Loans, items and holds.


def of_loan(db: Session, loan_id: int, *, now: datetime, policy: LoanPolicy) -> Snapshot | None:
    """The loan's item and borrower; ``loan`` only while the loan is open."""
    loan = db.get(Loan, loan_id)
    if loan is None:
        return None
    is_open = loan.returned_at is None and loan.lost_at is None
    return _item_snapshot(
        db, loan.item, loan if is_open else None, now=now, policy=policy, borrower=loan.member
    )


def of_item(
    db: Session,
    tag: str,
    *,
    now: datetime,
    policy: LoanPolicy,
    card: str | None = None,
    member_id: int | None = None,
) -> Snapshot | None:
    """The item by its tag with its open loan and waiting list, and the card named (a card
    UID, checked: InvalidCardError) if any; ``card`` None in the snapshot if unknown. Or
    the member named by id (a resident's own command) as ``member``; for either, how many
    waiting lists that member is in (``places``)."""
    shelf = queries.find_item(db, tag.upper())
    if shelf is None:
        return None
    found = None if card is None else queries.find_card(db, card_uid(card))
    member = None if member_id is None else db.get(Member, member_id)
    snapshot = _item_snapshot(db, shelf.item, shelf.loan, now=now, policy=policy, card=found)
    whose = member.id if member is not None else None if found is None else found.member_id
    return replace(
        snapshot,
        member=None if member is None else member_state(member),
        places=0 if whose is None else _places(db, whose),
    )


def _places(db: Session, member_id: int) -> int:
    query = (
        select(func.count())
        .select_from(Reservation)
        .where(Reservation.member_id == member_id, Reservation.state.in_(ACTIVE_RESERVATION))
    )
    return db.scalar(query) or 0


def expired_holds(db: Session, *, now: datetime) -> list[int]:
    """The holds past their time, by id; their rows locked until the transaction ends.

    Rows locked by another process's sweep are skipped, not waited for and released twice
    (which would hold the item for the next in line twice, with two notices)."""
    query = (
        select(Reservation.id)
        .where(Reservation.state == ReservationStatus.HELD, Reservation.hold_until <= now)
        .with_for_update(skip_locked=True)
    )
    return list(db.scalars(query))


def of_hold(
    db: Session, reservation_id: int, *, now: datetime, policy: LoanPolicy
) -> Snapshot | None:
    """The reserved item with its open loan (if any) and waiting list."""
    reservation = db.get(Reservation, reservation_id)
    if reservation is None:
        return None
    item = reservation.item
    shelf = queries.find_item(db, item.tag)
    return _item_snapshot(db, item, None if shelf is None else shelf.loan, now=now, policy=policy)


def reservation_of(db: Session, *, item_id: int, member_id: int) -> Reservation:
    """The member's place in the item's line (a member has one at most)."""
    reservation = reservation_of_or_none(db, item_id=item_id, member_id=member_id)
    assert reservation is not None, f"member {member_id} is not in line for item {item_id}"
    return reservation


def reservation_of_or_none(db: Session, *, item_id: int, member_id: int) -> Reservation | None:
    query = select(Reservation).where(
        Reservation.item_id == item_id,
        Reservation.member_id == member_id,
        Reservation.state.in_(ACTIVE_RESERVATION),
    )
    return db.scalars(query).one_or_none()


# Who may open the huts.


def _access_snapshot(*, member: Member | None = None, card: Card | None = None) -> AccessSnapshot:
    return AccessSnapshot(
        member=None if member is None else member_state(member),
        card=card_state(card),
        member_huts=frozenset() if member is None else member.huts,
    )


def of_member(db: Session, member_id: int, *, uid: str | None = None) -> AccessSnapshot | None:
    """The member (with the huts they may open), and the card with ``uid`` (upper case) if
    one is asked for and exists."""
    member = db.get(Member, member_id)
    if member is None:
        return None
    card = None if uid is None else queries.find_card(db, uid)
    return _access_snapshot(member=member, card=card)


def of_leaving_member(db: Session, member_id: int, *, policy: LoanPolicy) -> AccessSnapshot | None:
    """The member with every card of theirs, every waiting list they are in (each item
    with its whole line, to pass a hold of theirs on) and how many loans they have open."""
    member = db.get(Member, member_id)
    if member is None:
        return None
    state = member_state(member)
    cards = db.scalars(select(Card).where(Card.member_id == member_id).order_by(Card.uid))
    queued = select(Reservation.item_id).where(
        Reservation.member_id == member_id, Reservation.state.in_(ACTIVE_RESERVATION)
    )
    items = db.scalars(select(Item).where(Item.id.in_(queued)).order_by(Item.id))
    open_loans = (
        select(func.count())
        .select_from(Loan)
        .where(Loan.member_id == member_id, Loan.returned_at.is_(None), Loan.lost_at.is_(None))
    )
    return AccessSnapshot(
        member=state,
        member_huts=member.huts,
        cards=tuple(CardState(card.uid, card.state, state) for card in cards),
        places=tuple(QueuedItem(item_state(item), _queue(db, item.id)) for item in items),
        open_loans=db.scalar(open_loans) or 0,
        policy=policy,
    )


def of_members(db: Session, member_ids: Iterable[int]) -> Sequence[AccessSnapshot]:
    """The members that exist among ``member_ids``, loaded at once, in id order."""
    ids = sorted(set(member_ids))
    if not ids:
        return []
    members = db.scalars(
        select(Member)
        .options(selectinload(Member.hut_rows))
        .where(Member.id.in_(ids))
        .order_by(Member.id)
    )
    return [_access_snapshot(member=member) for member in members]


def of_card(db: Session, uid: str) -> AccessSnapshot | None:
    """The card with ``uid`` (upper case) and its member."""
    card = queries.find_card(db, uid)
    return None if card is None else _access_snapshot(card=card)


__all__ = [
    "expired_holds",
    "hut_state",
    "loan_state",
    "of_card",
    "of_hold",
    "of_item",
    "of_leaving_member",
    "of_loan",
    "of_member",
    "of_members",
    "reservation_of",
    "reservation_of_or_none",
]
