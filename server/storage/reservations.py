"""Waiting lists and holds in the database: the read queries the pages and the reminder
tests use. What changes a waiting list is a rule (domain/holds.py, through the rule book)
written by the effect writer, never a function here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.domain.ledger_state import ReservationStatus
from server.storage.models import NotificationRequest, Reservation


def current_hold(db: Session, item_id: int) -> Reservation | None:
    query = select(Reservation).where(
        Reservation.item_id == item_id, Reservation.state == ReservationStatus.HELD
    )
    return db.scalars(query).first()


def pending_notifications(db: Session) -> Sequence[NotificationRequest]:
    query = (
        select(NotificationRequest)
        .where(NotificationRequest.sent_at.is_(None))
        .order_by(NotificationRequest.id)
    )
    return db.scalars(query).all()
