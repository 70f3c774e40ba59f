"""A person's rights over what is held about them (as personal-information law expects):
one document of everything held about a member, and the erasure of a member who left.

Erasure keeps the ledger whole and takes the person out of it: the loans, door sessions,
reservations and reminder history stay (with the member's id), the name, flat, phone,
contacts, cards, flags and huts go, and so do their values in the audit entries about the
member (the one rewrite of the audit log). What else may hold personal data:

- reminder texts are rendered at send time from the loans, never stored; a delivery keeps
  the address it went to and the channel's last error (which may echo it): both blanked,
  with each attempt's error; lines waiting for the hut display are deleted (the member will
  not tap a card again);
- door sessions keep the member's id but not the card UID; enrolment reads of their cards
  and the UID of an enrolment request for them are dropped;
- the micro-wishes they proposed, supported and rated stay with their id, their free texts
  (a wish's details, a rating's comment) blanked (server/records/wish_privacy.py);
- their ratings of their loans keep their scores, their comments blanked, and so is what
  a low rating's anomaly kept of one (server/records/rating_privacy.py).
The raw event log (``events``) is the huts' record and keeps what the huts sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server import access_actions
from server.domain import MemberStatus
from server.records.members import contacts_of, get, open_loans, values
from server.records.rating_privacy import forget_rating_texts, rating_data
from server.records.wish_privacy import forget_wish_texts, wish_data
from server.residents.sessions import end_all_of
from server.storage import audit
from server.storage.audit import Stamp, plain
from server.storage.ingest_models import EnrolmentCandidate
from server.storage.models import (
    DoorSession,
    EnrolmentRequest,
    Loan,
    Member,
    Reservation,
)
from server.storage.reminder_models import (
    DisplayMessage,
    MemberContact,
    ReminderAttempt,
    ReminderDelivery,
    ReminderMessage,
)
from server.storage.staff_models import AuditEntry
from toolhut.i18n import N_, bilingual, gettext

# What staff read: Chinese first, English beside it.
# The name an erased member's record keeps, written in the default language (Chinese).
TEXT_ERASED_NAME = gettext(N_("Erased member #{member_id}"))
TEXT_NOT_LEFT = bilingual("the member has not left (status {status})")
TEXT_OPEN_LOANS = bilingual("the member still has {count} open loan(s)")
TEXT_CANNOT_ERASE = bilingual("the member's personal data cannot be erased yet")

# What an erasure takes out of the audit entries about the member.
# "flags" too: senior says the person is 60 or older.
PERSONAL_FIELDS = (
    "name",
    "building_unit",
    "phone",
    "contacts",
    "card",
    "cards",
    "status_reason",
    "flags",
)


class CannotEraseError(Exception):
    """The member may not be erased yet; ``missing`` says what must happen first."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__("; ".join(missing))
        self.missing = missing


def personal_data(db: Session, member_id: int, *, now: datetime) -> dict[str, Any]:
    """Everything held about the member, as one JSON-ready document."""
    member = get(db, member_id)
    record = values(member, contacts_of(db, member_id))
    document = {
        "exported_at": now,
        "member": {
            "id": member.id,
            **record,
            "status": member.status,
            "status_reason": member.status_reason,
            "created_at": member.created_at,
            "left_at": member.left_at,
            "erased_at": member.erased_at,
        },
        "cards": [
            {"uid": c.uid, "state": c.state, "bound_at": c.bound_at}
            for c in sorted(member.cards, key=lambda c: c.uid)
        ],
        "loans": [_loan(loan) for loan in _rows(db, Loan, Loan.member_id == member_id)],
        "reservations": [
            {
                "id": r.id,
                "item": r.item.tag,
                "state": r.state,
                "created_at": r.created_at,
                "hold_until": r.hold_until,
                "closed_at": r.closed_at,
            }
            for r in _rows(db, Reservation, Reservation.member_id == member_id)
        ],
        "door_sessions": [
            {
                "hut": d.hut_id,
                "started_at": d.started_at,
                "closed_at": d.closed_at,
                "scans": d.scans,
            }
            for d in _rows(db, DoorSession, DoorSession.member_id == member_id)
        ],
        "reminders": [
            _message(m) for m in _rows(db, ReminderMessage, ReminderMessage.member_id == member_id)
        ],
        "display_messages": [
            {"text": m.text, "created_at": m.created_at, "shown_at": m.shown_at}
            for m in _rows(db, DisplayMessage, DisplayMessage.member_id == member_id)
        ],
        **wish_data(db, member_id),
        **rating_data(db, member_id),
        "audit": [
            {
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "before": e.before,
                "after": e.after,
            }
            for e in _audit_entries(db, member_id)
        ],
    }
    return plain(document) or {}


def _rows(db: Session, model: Any, where: Any) -> list[Any]:
    return list(db.scalars(select(model).where(where).order_by(model.id)))


def _audit_entries(db: Session, member_id: int) -> list[AuditEntry]:
    query = select(AuditEntry).where(
        AuditEntry.entity == "member", AuditEntry.entity_id == str(member_id)
    )
    return list(db.scalars(query.order_by(AuditEntry.at, AuditEntry.id)))


def _loan(loan: Loan) -> dict[str, Any]:
    return {
        "id": loan.id,
        "item": loan.item.tag,
        "item_name": loan.item.name_zh,
        "hut": loan.hut_id,
        "borrowed_at": loan.borrowed_at,
        "due_at": loan.due_at,
        "returned_at": loan.returned_at,
        "lost_at": loan.lost_at,
        "renewals": loan.renewals,
    }


def _message(message: ReminderMessage) -> dict[str, Any]:
    return {
        "stage": message.stage,
        "audience": message.audience,
        "created_at": message.created_at,
        "deliveries": [
            {
                "channel": d.channel,
                "address": d.address,
                "status": d.status,
                "sent_at": d.sent_at,
            }
            for d in message.deliveries
        ],
    }


def erase(db: Session, member_id: int, *, stamp: Stamp) -> Member:
    """The person goes, the loans stay (see the module docstring). Only a member who left
    and has no open loan (CannotEraseError naming what is missing); erasing twice changes
    nothing."""
    member = get(db, member_id)
    if member.erased_at is not None:
        return member
    missing = []
    if member.status is not MemberStatus.LEFT:
        missing.append(TEXT_NOT_LEFT.format(status=member.status.value))
    loans = open_loans(db, member_id)
    if loans:
        missing.append(TEXT_OPEN_LOANS.format(count=loans))
    if missing:
        raise CannotEraseError(missing)
    for card in list(member.cards):  # none after leaving, unless one was given since
        access_actions.remove_card(db, uid=card.uid)
    access_actions.set_member_huts(db, member_id=member_id, huts=frozenset())
    member.name = TEXT_ERASED_NAME.format(member_id=member_id)
    member.building_unit = ""
    member.phone = None
    member.status_reason = None
    member.flag_rows = []
    member.erased_at = stamp.at
    member.version = Member.version + 1
    _forget_traces(db, member_id)
    forget_wish_texts(db, member_id)
    forget_rating_texts(db, member_id)
    end_all_of(db, member_id, now=stamp.at)  # no phone of theirs stays signed in
    audit.redact(db, entity="member", entity_id=member_id, fields=PERSONAL_FIELDS)
    stamp.record(
        db,
        action="member.erase",
        entity="member",
        entity_id=member_id,
        after={"erased_at": stamp.at},
    )
    db.flush()
    return member


def _forget_traces(db: Session, member_id: int) -> None:
    """The member's personal data outside the member's own rows (see the module docstring)."""
    db.execute(delete(MemberContact).where(MemberContact.member_id == member_id))
    db.execute(delete(DisplayMessage).where(DisplayMessage.member_id == member_id))
    db.execute(delete(EnrolmentCandidate).where(EnrolmentCandidate.member_id == member_id))
    db.execute(
        update(EnrolmentRequest)
        .where(EnrolmentRequest.member_id == member_id)
        .values(card_uid=None)
    )
    db.execute(update(DoorSession).where(DoorSession.member_id == member_id).values(card_uid=None))
    messages = select(ReminderMessage.id).where(ReminderMessage.member_id == member_id)
    deliveries = select(ReminderDelivery.id).where(ReminderDelivery.message_id.in_(messages))
    db.execute(
        update(ReminderAttempt)
        .where(ReminderAttempt.delivery_id.in_(deliveries))
        .values(error=None)
    )
    db.execute(
        update(ReminderDelivery)
        .where(ReminderDelivery.message_id.in_(messages))
        .values(address=None, last_error=None)
    )
