"""What staff do through the staff API and the console (signed in with an account): renew,
write off as lost, take back by hand, queue a member for an item, clear an item after
repair, release expired holds.

Each action is the same three steps as a hut event: load the snapshot
(storage.staff_snapshots), ask the rule book (domain.rule_book.decide: the rules are in
domain.staff_rules), hand the Effects to the effect writer; a refusal is raised instead
(RefusedError), and what does not exist before any rule is asked (NotFoundError). No HTTP
here, so a CLI or a scheduler can call the same functions; the caller commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.domain import DEFAULT_POLICY, LoanPolicy, Refusal
from server.domain.changes import Effects
from server.domain.ledger_state import AccessSnapshot, Snapshot
from server.domain.lending import refuse
from server.domain.rule_book import decide
from server.domain.staff_rules import (
    ClearRepair,
    ExpireHold,
    JoinLine,
    LeaveLine,
    MarkLost,
    MarkReturned,
    Renew,
    Reserve,
)
from server.storage import staff_snapshots
from server.storage.audit import Stamp
from server.storage.effect_writer import EffectWriter
from server.storage.models import Item, Loan, Reservation
from server.storage.policy_store import load_policy

_Row = TypeVar("_Row", Item, Loan)
S = TypeVar("S", Snapshot, AccessSnapshot)


class NotFoundError(LookupError):
    """No such loan, item or card."""


class RefusedError(Exception):
    """The rules say no; ``reason`` is machine-readable, ``text`` the display text."""

    def __init__(self, reason: Refusal, text: str) -> None:
        super().__init__(f"{reason.value}: {text}")
        self.reason = reason
        self.text = text


def refused(effects: Effects) -> Exception:
    """The error for Effects whose decision is a no."""
    assert effects.reason is not None and effects.feedback is not None
    return RefusedError(effects.reason, effects.feedback.text)


def carry_out(
    db: Session,
    snapshot: Snapshot | AccessSnapshot,
    command: object,
    *,
    refusal: Callable[[Effects], Exception] = refused,
) -> Effects:
    """Decide ``command`` on ``snapshot`` and write what it changes; raise ``refusal(effects)``
    instead if the rules say no."""
    effects = decide(snapshot, command)
    if effects.reason is not None:
        raise refusal(effects)
    writer = EffectWriter(db)
    writer.apply(effects)
    writer.finish()
    return effects


def found(snapshot: S | None, text: str) -> S:
    """``snapshot``, or NotFoundError(text) when what the command names does not exist."""
    if snapshot is None:
        raise NotFoundError(text)
    return snapshot


def renew(
    db: Session,
    *,
    loan_id: int,
    now: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    stamp: Stamp | None = None,
) -> Loan:
    snapshot = staff_snapshots.of_loan(db, loan_id, now=now, policy=load_policy(db, base=policy))
    snapshot = found(snapshot, f"no loan {loan_id}")
    before = _loan_values(db, loan_id)
    carry_out(db, snapshot, Renew(loan_id))
    loan = _row(db, Loan, loan_id)
    _audit(stamp, db, "loan.renew", "loan", loan_id, before, _loan_values(db, loan_id))
    return loan


def mark_lost(db: Session, *, loan_id: int, now: datetime, stamp: Stamp | None = None) -> Loan:
    """Close the loan without a return; the waiting list for the item is cancelled."""
    snapshot = staff_snapshots.of_loan(db, loan_id, now=now, policy=DEFAULT_POLICY)
    snapshot = found(snapshot, f"no loan {loan_id}")
    before = _loan_values(db, loan_id)
    carry_out(db, snapshot, MarkLost(loan_id))
    loan = _row(db, Loan, loan_id)
    _audit(stamp, db, "loan.lost", "loan", loan_id, before, _loan_values(db, loan_id))
    return loan


def mark_returned(
    db: Session,
    *,
    loan_id: int,
    now: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    stamp: Stamp | None = None,
) -> Loan:
    """Staff took the item back by hand: the loan closes at the item's hut; the item is
    lent again (or held for the next in line) as after a return at the hut."""
    snapshot = staff_snapshots.of_loan(db, loan_id, now=now, policy=load_policy(db, base=policy))
    snapshot = found(snapshot, f"no loan {loan_id}")
    before = _loan_values(db, loan_id)
    carry_out(db, snapshot, MarkReturned(loan_id))
    loan = _row(db, Loan, loan_id)
    after = {**_loan_values(db, loan_id), "returned_at": loan.returned_at}
    _audit(stamp, db, "loan.returned", "loan", loan_id, before, after)
    return loan


def reserve(
    db: Session, *, tag: str, card: str, now: datetime, stamp: Stamp | None = None
) -> Reservation:
    snapshot = staff_snapshots.of_item(db, tag, now=now, policy=DEFAULT_POLICY, card=card)
    snapshot = found(snapshot, f"no item {tag!r}")
    _queue(db, snapshot, Reserve(tag, card))
    assert snapshot.item is not None and snapshot.card is not None  # else refused
    return _reserved(db, snapshot.item.id, snapshot.card.member.id, tag=tag, stamp=stamp)


def join_line(
    db: Session, *, tag: str, member_id: int, now: datetime, stamp: Stamp | None = None
) -> Reservation:
    """The member queues for the item themselves (a resident on their phone): the rule of
    ``reserve``, the member named by id instead of by a card."""
    snapshot = _of_item_for(db, tag, member_id, now=now)
    _queue(db, snapshot, JoinLine(tag, member_id))
    assert snapshot.item is not None  # else not found
    return _reserved(db, snapshot.item.id, member_id, tag=tag, stamp=stamp)


def leave_line(
    db: Session, *, tag: str, member_id: int, now: datetime, stamp: Stamp | None = None
) -> None:
    """The member's place in the item's line cancelled; a hold of theirs passes on."""
    snapshot = _of_item_for(db, tag, member_id, now=now)
    assert snapshot.item is not None
    place = staff_snapshots.reservation_of_or_none(
        db, item_id=snapshot.item.id, member_id=member_id
    )
    carry_out(db, snapshot, LeaveLine(tag, member_id))
    assert place is not None  # else refused (not queued)
    before = {"item": tag, "member_id": member_id, "state": place.state}
    _audit(stamp, db, "reservation.cancel", "reservation", place.id, before, None)


def _queue(db: Session, snapshot: Snapshot, command: Reserve | JoinLine) -> None:
    """``command`` carried out and flushed; a place that another request (a double tap)
    gave the member since the snapshot was read is the rule's "already queued", not a
    server error (the unique index on places: the caller rolls back)."""
    try:
        carry_out(db, snapshot, command)
        db.flush()
    except IntegrityError as exc:
        raise refused(Effects(decision=refuse(Refusal.ALREADY_QUEUED))) from exc


def _of_item_for(db: Session, tag: str, member_id: int, *, now: datetime) -> Snapshot:
    snapshot = staff_snapshots.of_item(
        db, tag, now=now, policy=load_policy(db, base=DEFAULT_POLICY), member_id=member_id
    )
    snapshot = found(snapshot, f"no item {tag!r}")
    if snapshot.member is None:
        raise NotFoundError(f"no member {member_id}")
    return snapshot


def _reserved(
    db: Session, item_id: int, member_id: int, *, tag: str, stamp: Stamp | None
) -> Reservation:
    reservation = staff_snapshots.reservation_of(db, item_id=item_id, member_id=member_id)
    after = {"item": tag, "member_id": reservation.member_id, "state": reservation.state}
    _audit(stamp, db, "reservation.add", "reservation", reservation.id, None, after)
    return reservation


def clear_maintenance(
    db: Session,
    *,
    tag: str,
    now: datetime,
    policy: LoanPolicy = DEFAULT_POLICY,
    stamp: Stamp | None = None,
) -> Item:
    """Staff checked (or repaired) the item: back on the shelf, or held for the next in line."""
    snapshot = staff_snapshots.of_item(db, tag, now=now, policy=load_policy(db, base=policy))
    snapshot = found(snapshot, f"no item {tag!r}")
    assert snapshot.item is not None
    before = {"status": snapshot.item.status, "condition": snapshot.item.condition}
    carry_out(db, snapshot, ClearRepair(tag))
    item = _row(db, Item, snapshot.item.id)
    after = {"status": item.status, "condition": item.condition}
    _audit(stamp, db, "item.clear", "item", tag, before, after)
    return item


def expire_holds(db: Session, *, now: datetime, policy: LoanPolicy = DEFAULT_POLICY) -> int:
    """Release holds past their time; for a periodic job. Returns how many expired."""
    policy = load_policy(db, base=policy)
    holds = staff_snapshots.expired_holds(db, now=now)
    for hold in holds:
        snapshot = staff_snapshots.of_hold(db, hold, now=now, policy=policy)
        carry_out(db, found(snapshot, f"no reservation {hold}"), ExpireHold(hold))
    return len(holds)


def _loan_values(db: Session, loan_id: int) -> dict[str, object]:
    loan = _row(db, Loan, loan_id)
    return {"due_at": loan.due_at, "renewals": loan.renewals, "lost_at": loan.lost_at}


def _audit(
    stamp: Stamp | None,
    db: Session,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> None:
    """The audit entry of a staff write; ``stamp`` None: a caller that is not staff (a
    periodic job), which the log does not list."""
    if stamp is not None:
        stamp.record(
            db, action=action, entity=entity, entity_id=entity_id, before=before, after=after
        )


def _row(db: Session, model: type[_Row], key: int) -> _Row:
    row = db.get(model, key)
    assert row is not None, f"{model.__name__} {key} is gone"
    return row
