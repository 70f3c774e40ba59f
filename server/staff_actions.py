"""What staff do through the staff API (a Bearer token): renew, write off as lost, queue a
member for an item, clear an item after repair, release expired holds. Rules from the
domain; rows from storage; no HTTP here, so a CLI or a scheduler can call the same functions."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from server.card_uids import card_uid
from server.domain import (
    DEFAULT_POLICY,
    Action,
    ItemCondition,
    ItemStatus,
    LoanPolicy,
    Refusal,
    check_reservation,
    decide_renewal,
)
from server.domain.lending import refuse
from server.storage import queries, reservations
from server.storage.models import Item, Loan, Reservation
from server.storage.policy_store import load_policy
from server.storage.views import item_view, loan_view, member_view


class NotFoundError(LookupError):
    """No such loan, item or card."""


class RefusedError(Exception):
    """The rules say no; ``reason`` is machine-readable, ``text`` the display text."""

    def __init__(self, reason: Refusal, text: str) -> None:
        super().__init__(f"{reason.value}: {text}")
        self.reason = reason
        self.text = text


def _refused(reason: Refusal, *, name: str = "") -> RefusedError:
    decision = refuse(reason, name=name)
    return RefusedError(reason, decision.feedback.text)


def _open_loan(session: Session, loan_id: int) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFoundError(f"no loan {loan_id}")
    if loan.returned_at is not None or loan.lost_at is not None:
        raise _refused(Refusal.NOT_ON_LOAN, name=loan.item.name_zh)
    return loan


def renew(
    session: Session, *, loan_id: int, now: datetime, policy: LoanPolicy = DEFAULT_POLICY
) -> Loan:
    loan = _open_loan(session, loan_id)
    decision = decide_renewal(
        item=item_view(loan.item),
        loan=loan_view(loan),
        member=member_view(loan.member),
        waiting=len(reservations.waiting(session, loan.item_id)),
        now=now,
        tz=ZoneInfo(loan.item.hut.timezone),
        policy=load_policy(session, base=policy),
    )
    if decision.action is not Action.RENEW or decision.due_at is None:
        assert decision.reason is not None
        raise RefusedError(decision.reason, decision.feedback.text)
    loan.due_at = decision.due_at
    loan.renewals += 1
    return loan


def mark_lost(session: Session, *, loan_id: int, now: datetime) -> Loan:
    """Close the loan without a return; the waiting list for the item is cancelled."""
    loan = _open_loan(session, loan_id)
    loan.lost_at = now
    loan.item.status = ItemStatus.LOST
    reservations.cancel_all(session, loan.item_id, now=now)
    return loan


def _item(session: Session, tag: str) -> Item:
    shelf = queries.find_item(session, tag.upper())
    if shelf is None:
        raise NotFoundError(f"no item {tag!r}")
    return shelf.item


def reserve(session: Session, *, tag: str, card: str, now: datetime) -> Reservation:
    item = _item(session, tag)
    found = queries.find_card(session, card_uid(card))
    if found is None:
        raise _refused(Refusal.UNKNOWN_CARD)
    member = found.member
    shelf = queries.find_item(session, item.tag)
    borrower = None if shelf is None or shelf.loan is None else shelf.loan.member_id
    refusal = check_reservation(
        item=item_view(item),
        member=member_view(member),
        borrower_is_member=borrower == member.id,
        already_queued=reservations.is_queued(session, item_id=item.id, member_id=member.id),
    )
    if refusal is not None:
        raise _refused(refusal, name=item.name_zh)
    return reservations.add(session, item=item, member_id=member.id, now=now)


def clear_maintenance(
    session: Session, *, tag: str, now: datetime, policy: LoanPolicy = DEFAULT_POLICY
) -> Item:
    """Staff checked (or repaired) the item: back on the shelf, or held for the next in line."""
    item = _item(session, tag)
    item.condition = ItemCondition.OK
    if item.status is ItemStatus.MAINTENANCE:
        reservations.hold_next(session, item, now=now, policy=load_policy(session, base=policy))
    return item


def expire_holds(session: Session, *, now: datetime, policy: LoanPolicy = DEFAULT_POLICY) -> int:
    """Release holds past their time; for a periodic job. Returns how many expired."""
    expired = reservations.expire_holds(session, now=now, policy=load_policy(session, base=policy))
    return len(expired)
