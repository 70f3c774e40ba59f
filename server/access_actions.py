"""What staff do about who may open a hut: suspend or reactivate a member, give a member a
card, take a card away, record a card reported lost.

The caller commits; the commit republishes every hut's allowlist (each action marks its
change with storage.access_changes, the process's ingest worker publishes). No HTTP here,
so a CLI or a script can call the same functions.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.card_uids import card_uid
from server.domain import CardStatus, MemberStatus
from server.staff_actions import NotFoundError
from server.storage import access_changes, queries
from server.storage.models import Card, Member

# What staff read when an action cannot be done: Chinese first, English beside it.
TEXT_NO_MEMBER = "没有这位住户 / no such member: {member_id}"
TEXT_NO_CARD = "没有这张卡 / no such card: {uid}"
TEXT_CARD_TAKEN = "此卡已登记给一位住户 / the card already belongs to member {member_id}"


class CardInUseError(ValueError):
    """The card is already a member's (the same one or another)."""


def _member(db: Session, member_id: int) -> Member:
    member = db.get(Member, member_id)
    if member is None:
        raise NotFoundError(TEXT_NO_MEMBER.format(member_id=member_id))
    return member


def _card(db: Session, uid: str) -> Card:
    uid = card_uid(uid)
    card = queries.find_card(db, uid)
    if card is None:
        raise NotFoundError(TEXT_NO_CARD.format(uid=uid))
    return card


def suspend_member(db: Session, *, member_id: int) -> Member:
    member = _member(db, member_id)
    member.status = MemberStatus.SUSPENDED
    access_changes.mark(db)
    return member


def reactivate_member(db: Session, *, member_id: int) -> Member:
    member = _member(db, member_id)
    member.status = MemberStatus.ACTIVE
    access_changes.mark(db)
    return member


def add_card(db: Session, *, member_id: int, uid: str) -> Card:
    uid = card_uid(uid)
    member = _member(db, member_id)
    existing = queries.find_card(db, uid)
    if existing is not None:
        raise CardInUseError(TEXT_CARD_TAKEN.format(member_id=existing.member_id))
    card = Card(uid=uid, member=member, state=CardStatus.ACTIVE)
    db.add(card)
    db.flush()
    access_changes.mark(db)
    return card


def remove_card(db: Session, *, uid: str) -> None:
    db.delete(_card(db, uid))
    db.flush()
    access_changes.mark(db)


def report_card_lost(db: Session, *, uid: str) -> Card:
    """The card opens nothing from now on, and the hut says why; staff remove it once the
    member has a new one (or it turns up: remove and add it again)."""
    card = _card(db, uid)
    card.state = CardStatus.LOST
    access_changes.mark(db)
    return card
