"""Waiting lists and holds in the database: the queries, and the staff side's hold
changes (the rules are domain/holds.py's; the effect writer writes what they return)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import LoanPolicy, holds
from server.domain.changes import Effects
from server.domain.ledger_state import ACTIVE_RESERVATION
from server.domain.ledger_state import ReservationStatus as ReservationState
from server.storage.effect_writer import EffectWriter
from server.storage.models import Item, NotificationRequest, Reservation
from server.storage.snapshots import item_state, queue_of


def waiting(db: Session, item_id: int) -> Sequence[Reservation]:
    query = (
        select(Reservation)
        .where(Reservation.item_id == item_id, Reservation.state == ReservationState.WAITING)
        .order_by(Reservation.created_at, Reservation.id)
    )
    return db.scalars(query).all()


def current_hold(db: Session, item_id: int) -> Reservation | None:
    query = select(Reservation).where(
        Reservation.item_id == item_id, Reservation.state == ReservationState.HELD
    )
    return db.scalars(query).first()


def is_queued(db: Session, *, item_id: int, member_id: int) -> bool:
    query = select(Reservation.id).where(
        Reservation.item_id == item_id,
        Reservation.member_id == member_id,
        Reservation.state.in_([ReservationState.WAITING, ReservationState.HELD]),
    )
    return db.scalars(query).first() is not None


def add(db: Session, *, item: Item, member_id: int, now: datetime) -> Reservation:
    reservation = Reservation(
        item=item, member_id=member_id, created_at=now, state=ReservationState.WAITING
    )
    db.add(reservation)
    db.flush()
    return reservation


def _line(db: Session, item: Item) -> holds.Line:
    query = select(Reservation).where(
        Reservation.item_id == item.id, Reservation.state.in_(ACTIVE_RESERVATION)
    )
    return holds.Line(item_state(item), queue_of(db.scalars(query)))


def _write(db: Session, line: holds.Line) -> None:
    writer = EffectWriter(db)
    writer.apply(Effects(line.changes))
    writer.finish()


def hold_next(db: Session, item: Item, *, now: datetime, policy: LoanPolicy) -> Reservation | None:
    """Hold ``item`` (on the shelf now) for the first in line, or None if nobody waits;
    sets the item's status either way (the rule: domain/holds.py)."""
    line = holds.hold_next(_line(db, item), now=now, policy=policy)
    _write(db, line)
    hold = line.hold
    return None if hold is None else db.get(Reservation, hold.id)


def unhold(db: Session, item_id: int) -> None:
    """The held item cannot go out after all (it needs repair): its holder goes back to
    the head of the line, and the unsent "ready" notice is withdrawn."""
    item = db.get(Item, item_id)
    if item is not None:
        _write(db, holds.unhold(_line(db, item)))


def release_if_expired(db: Session, item: Item, *, now: datetime, policy: LoanPolicy) -> bool:
    """Pass an expired hold on to the next in line (or free the item); True if it did."""
    line = holds.release_if_expired(_line(db, item), now=now, policy=policy)
    _write(db, line)
    return bool(line.changes)


def expire_holds(db: Session, *, now: datetime, policy: LoanPolicy) -> list[Reservation]:
    """Every hold past its time, released; for a periodic job (the scans release lazily).

    Rows locked by another process's sweep are skipped, not waited for and released twice
    (which would hold the item for the next in line twice, with two notices)."""
    query = (
        select(Reservation)
        .where(Reservation.state == ReservationState.HELD, Reservation.hold_until <= now)
        .with_for_update(skip_locked=True)
    )
    expired = list(db.scalars(query))
    for hold in expired:
        release_if_expired(db, hold.item, now=now, policy=policy)
    return expired


def cancel_all(db: Session, item_id: int, *, now: datetime) -> None:
    item = db.get(Item, item_id)
    if item is not None:
        _write(db, holds.cancel_all(_line(db, item), now=now))


def pending_notifications(db: Session) -> Sequence[NotificationRequest]:
    query = (
        select(NotificationRequest)
        .where(NotificationRequest.sent_at.is_(None))
        .order_by(NotificationRequest.id)
    )
    return db.scalars(query).all()
