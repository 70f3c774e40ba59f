"""What staff do about who may open a hut: suspend or reactivate a member, give a member a
card, take a card away, record a card reported lost; and the reminder policy's suspension
of many members at once.

Like the other staff actions: a snapshot, the rule book (domain.staff_rules), the effect
writer, which marks the change (storage.access_changes) so the commit republishes every
hut's allowlist (the process's ingest worker publishes). The caller commits. No HTTP here,
so a CLI or a script can call the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from server.card_uids import card_uid
from server.domain import Refusal
from server.domain.changes import Effects
from server.domain.ledger_state import AccessSnapshot
from server.domain.staff_rules import (
    AddCard,
    ReactivateMember,
    RemoveCard,
    ReportCardLost,
    SuspendMember,
)
from server.staff_actions import carry_out, found, refused
from server.storage import queries, staff_snapshots
from server.storage.models import Card, Member

# What staff read when an action cannot be done: Chinese first, English beside it.
TEXT_NO_MEMBER = "没有这位住户 / no such member: {member_id}"
TEXT_NO_CARD = "没有这张卡 / no such card: {uid}"
TEXT_CARD_TAKEN = "此卡已登记给一位住户 / the card already belongs to member {member_id}"


class CardInUseError(ValueError):
    """The card is already a member's (the same one or another)."""


def _member(db: Session, member_id: int, *, uid: str | None = None) -> AccessSnapshot:
    snapshot = staff_snapshots.of_member(db, member_id, uid=uid)
    return found(snapshot, TEXT_NO_MEMBER.format(member_id=member_id))


def _card(db: Session, uid: str) -> AccessSnapshot:
    return found(staff_snapshots.of_card(db, uid), TEXT_NO_CARD.format(uid=uid))


def _row(db: Session, member_id: int) -> Member:
    member = db.get(Member, member_id)
    assert member is not None
    return member


def suspend_member(db: Session, *, member_id: int) -> Member:
    carry_out(db, _member(db, member_id), SuspendMember(member_id))
    return _row(db, member_id)


def reactivate_member(db: Session, *, member_id: int) -> Member:
    carry_out(db, _member(db, member_id), ReactivateMember(member_id))
    return _row(db, member_id)


def suspend_members(db: Session, *, member_ids: Iterable[int]) -> int:
    """The reminder policy's suspension: every member of ``member_ids`` that exists and is
    not suspended yet is; returns how many changed."""
    changed = 0
    for snapshot in staff_snapshots.of_members(db, member_ids):
        assert snapshot.member is not None
        changed += len(carry_out(db, snapshot, SuspendMember(snapshot.member.id)).changes)
    return changed


def add_card(db: Session, *, member_id: int, uid: str) -> Card:
    uid = card_uid(uid)
    snapshot = _member(db, member_id, uid=uid)

    def refusal(effects: Effects) -> Exception:
        if effects.reason is Refusal.CARD_IN_USE and snapshot.card is not None:
            return CardInUseError(TEXT_CARD_TAKEN.format(member_id=snapshot.card.member.id))
        return refused(effects)

    carry_out(db, snapshot, AddCard(member_id, uid), refusal=refusal)
    card = queries.find_card(db, uid)
    assert card is not None
    return card


def remove_card(db: Session, *, uid: str) -> None:
    uid = card_uid(uid)
    carry_out(db, _card(db, uid), RemoveCard(uid))


def report_card_lost(db: Session, *, uid: str) -> Card:
    """The card opens nothing from now on, and the hut says why; staff remove it once the
    member has a new one (or it turns up: remove and add it again)."""
    uid = card_uid(uid)
    carry_out(db, _card(db, uid), ReportCardLost(uid))
    card = queries.find_card(db, uid)
    assert card is not None
    return card
