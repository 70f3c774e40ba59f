"""Waiting lists and holds. A returned item goes to the first in line: held (status
reserved) until ``hold_until``, with a notification request for the reminders side."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain import ItemStatus, LoanPolicy
from server.domain.ledger_state import NotificationKind
from server.domain.ledger_state import ReservationStatus as ReservationState
from server.domain.lending import display, hold_until
from server.storage.models import Item, NotificationRequest, Reservation


def waiting(session: Session, item_id: int) -> Sequence[Reservation]:
    query = (
        select(Reservation)
        .where(Reservation.item_id == item_id, Reservation.state == ReservationState.WAITING)
        .order_by(Reservation.created_at, Reservation.id)
    )
    return session.scalars(query).all()


def current_hold(session: Session, item_id: int) -> Reservation | None:
    query = select(Reservation).where(
        Reservation.item_id == item_id, Reservation.state == ReservationState.HELD
    )
    return session.scalars(query).first()


def is_queued(session: Session, *, item_id: int, member_id: int) -> bool:
    query = select(Reservation.id).where(
        Reservation.item_id == item_id,
        Reservation.member_id == member_id,
        Reservation.state.in_([ReservationState.WAITING, ReservationState.HELD]),
    )
    return session.scalars(query).first() is not None


def add(session: Session, *, item: Item, member_id: int, now: datetime) -> Reservation:
    reservation = Reservation(
        item=item, member_id=member_id, created_at=now, state=ReservationState.WAITING
    )
    session.add(reservation)
    session.flush()
    return reservation


def hold_next(
    session: Session, item: Item, *, now: datetime, policy: LoanPolicy
) -> Reservation | None:
    """Hold ``item`` (on the shelf now) for the first in line, or None if nobody waits;
    sets the item's status either way."""
    queue = waiting(session, item.id)
    if not queue:
        item.status = ItemStatus.AVAILABLE
        return None
    first = queue[0]
    first.state = ReservationState.HELD
    first.hold_until = hold_until(category=item.category, now=now, policy=policy)
    item.status = ItemStatus.RESERVED
    session.add(
        NotificationRequest(
            kind=NotificationKind.RESERVATION_READY,
            member_id=first.member_id,
            item_id=item.id,
            hut_id=item.hut_id,
            reservation=first,
            text=display("您预约的 {name} 已可领取", name=item.name_zh),
            created_at=now,
        )
    )
    return first


def unhold(session: Session, item_id: int) -> None:
    """The held item cannot go out after all (it needs repair): its holder goes back to
    the head of the line, and the unsent "ready" notice is withdrawn."""
    hold = current_hold(session, item_id)
    if hold is None:
        return
    hold.state = ReservationState.WAITING
    hold.hold_until = None
    unsent = select(NotificationRequest).where(
        NotificationRequest.reservation_id == hold.id, NotificationRequest.sent_at.is_(None)
    )
    for request in session.scalars(unsent):
        session.delete(request)


def fulfil(hold: Reservation, *, now: datetime) -> None:
    hold.state = ReservationState.FULFILLED
    hold.closed_at = now


def release_if_expired(session: Session, item: Item, *, now: datetime, policy: LoanPolicy) -> bool:
    """Pass an expired hold on to the next in line (or free the item); True if it did."""
    hold = current_hold(session, item.id)
    if hold is None or hold.hold_until is None or hold.hold_until > now:
        return False
    hold.state = ReservationState.EXPIRED
    hold.closed_at = now
    if item.status is ItemStatus.RESERVED:
        hold_next(session, item, now=now, policy=policy)
    return True


def expire_holds(session: Session, *, now: datetime, policy: LoanPolicy) -> list[Reservation]:
    """Every hold past its time, released; for a periodic job (the scans release lazily).

    Rows locked by another process's sweep are skipped, not waited for and released twice
    (which would hold the item for the next in line twice, with two notices)."""
    query = (
        select(Reservation)
        .where(Reservation.state == ReservationState.HELD, Reservation.hold_until <= now)
        .with_for_update(skip_locked=True)
    )
    expired = list(session.scalars(query))
    for hold in expired:
        release_if_expired(session, hold.item, now=now, policy=policy)
    return expired


def cancel_all(session: Session, item_id: int, *, now: datetime) -> None:
    query = select(Reservation).where(
        Reservation.item_id == item_id,
        Reservation.state.in_([ReservationState.WAITING, ReservationState.HELD]),
    )
    for reservation in session.scalars(query):
        reservation.state = ReservationState.CANCELLED
        reservation.closed_at = now


def pending_notifications(session: Session) -> Sequence[NotificationRequest]:
    query = (
        select(NotificationRequest)
        .where(NotificationRequest.sent_at.is_(None))
        .order_by(NotificationRequest.id)
    )
    return session.scalars(query).all()
