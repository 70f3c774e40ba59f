"""What staff do about who may open a hut: suspend or reactivate a member, set the huts a
member may open, a member leaving, give a member a card, take a card away, record a card
reported lost; and the reminder policy's suspension of many members at once.

Like the other staff actions: a snapshot, the rule book (domain.staff_rules), the effect
writer, which marks the change (storage.access_changes) so the commit republishes every
hut's allowlist (the process's ingest worker publishes). The caller commits. No HTTP here,
so a CLI or a script can call the same functions. Given a ``stamp`` (who and when), each
action appends its audit entry, filed under the member (a card's too: the card is theirs,
and an erasure redacts what is filed under the member).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from server.card_uids import card_uid
from server.domain import Refusal
from server.domain.changes import Change, Effects
from server.domain.ledger_state import AccessSnapshot
from server.domain.rule_book import decide
from server.domain.staff_rules import (
    AddCard,
    MemberLeaves,
    ReactivateMember,
    RemoveCard,
    ReportCardLost,
    SetMemberHuts,
    SuspendMember,
)
from server.staff_actions import RefusedError, carry_out, found, refused
from server.storage import queries, staff_snapshots
from server.storage.audit import Stamp, record_many
from server.storage.effect_writer import EffectWriter
from server.storage.models import Card, Member
from server.storage.policy_store import load_policy
from server.storage.snapshots import member_state
from toolhut.i18n import bilingual

# What staff read when an action cannot be done: Chinese first, English beside it.
TEXT_NO_MEMBER = bilingual("no such member: {member_id}")
TEXT_NO_CARD = bilingual("no such card: {uid}")
TEXT_CARD_TAKEN = bilingual("the card already belongs to member {member_id}")
TEXT_ERASED = bilingual("the member's personal data was erased: {member_id}")
TEXT_OPEN_LOANS = bilingual("{count} items are still on loan: return them or mark them lost first")


class CardInUseError(ValueError):
    """The card is already a member's (the same one or another)."""


class MemberErasedError(ValueError):
    """The member's personal data was erased: nothing about their access changes again."""


def _member(db: Session, member_id: int, *, uid: str | None = None) -> AccessSnapshot:
    snapshot = staff_snapshots.of_member(db, member_id, uid=uid)
    snapshot = found(snapshot, TEXT_NO_MEMBER.format(member_id=member_id))
    refuse_erased(_row(db, member_id))
    return snapshot


def refuse_erased(member: Member) -> None:
    """MemberErasedError for a member whose personal data was erased."""
    if member.erased_at is not None:
        raise MemberErasedError(TEXT_ERASED.format(member_id=member.id))


def _status(member: Member) -> dict[str, object]:
    return {"status": member.status, "status_reason": member.status_reason}


def _audited_status(
    db: Session, member_id: int, command: object, action: str, stamp: Stamp | None
) -> Member:
    """Carry out a command that changes the member's status; audited with ``stamp``."""
    snapshot = _member(db, member_id)
    before = _status(_row(db, member_id))
    effects = carry_out(db, snapshot, command)
    member = _row(db, member_id)
    if stamp is not None and effects.changes:
        stamp.record(
            db,
            action=action,
            entity="member",
            entity_id=member_id,
            before=before,
            after=_status(member),
        )
    return member


def _card(db: Session, uid: str) -> AccessSnapshot:
    return found(staff_snapshots.of_card(db, uid), TEXT_NO_CARD.format(uid=uid))


def _row(db: Session, member_id: int) -> Member:
    member = db.get(Member, member_id)
    assert member is not None
    return member


def suspend_member(
    db: Session, *, member_id: int, reason: str | None = None, stamp: Stamp | None = None
) -> Member:
    command = SuspendMember(member_id, reason=reason)
    return _audited_status(db, member_id, command, "member.suspend", stamp)


def reactivate_member(db: Session, *, member_id: int, stamp: Stamp | None = None) -> Member:
    command = ReactivateMember(member_id)
    return _audited_status(db, member_id, command, "member.reactivate", stamp)


def member_leaves(
    db: Session,
    *,
    member_id: int,
    at: datetime,
    reason: str | None = None,
    stamp: Stamp | None = None,
) -> Member:
    """Status left: every card removed (they open nothing), every waiting-list place
    cancelled (a hold passed on). Refused (RefusedError, open_loans) while they still have
    items on loan: returned or marked lost first. Leaving twice changes nothing."""
    snapshot = staff_snapshots.of_leaving_member(db, member_id, policy=load_policy(db))
    snapshot = found(snapshot, TEXT_NO_MEMBER.format(member_id=member_id))
    member = _row(db, member_id)
    refuse_erased(member)
    before = {**_status(member), "cards": sorted(card.uid for card in snapshot.cards)}

    def refusal(effects: Effects) -> Exception:
        if effects.reason is Refusal.OPEN_LOANS:
            text = TEXT_OPEN_LOANS.format(count=snapshot.open_loans)
            return RefusedError(Refusal.OPEN_LOANS, text)
        return refused(effects)

    command = MemberLeaves(member_id, at=at, reason=reason)
    effects = carry_out(db, snapshot, command, refusal=refusal)
    if stamp is not None and effects.changes:
        after = {**_status(member), "left_at": member.left_at, "cards": []}
        stamp.record(
            db,
            action="member.leave",
            entity="member",
            entity_id=member_id,
            before=before,
            after=after,
        )
    return member


def set_member_huts(db: Session, *, member_id: int, huts: frozenset[str]) -> bool:
    """The huts the member may open from now on (empty: every hut; the caller checked
    they exist and audits the edit it is part of); True if that changed anything."""
    effects = carry_out(db, _member(db, member_id), SetMemberHuts(member_id, huts))
    return bool(effects.changes)


def suspend_members(db: Session, *, member_ids: Iterable[int]) -> int:
    """The reminder policy's suspension: every member of ``member_ids`` that exists and is
    not suspended yet is; returns how many changed."""
    changed = 0
    for snapshot in staff_snapshots.of_members(db, member_ids):
        assert snapshot.member is not None
        changed += len(carry_out(db, snapshot, SuspendMember(snapshot.member.id)).changes)
    return changed


def add_card(db: Session, *, member_id: int, uid: str, stamp: Stamp | None = None) -> Card:
    """The card opens the huts the member may open; its bound_at is the stamp's time."""
    uid = card_uid(uid)
    snapshot = _member(db, member_id, uid=uid)

    def refusal(effects: Effects) -> Exception:
        if effects.reason is Refusal.CARD_IN_USE and snapshot.card is not None:
            return CardInUseError(TEXT_CARD_TAKEN.format(member_id=snapshot.card.member.id))
        return refused(effects)

    at = None if stamp is None else stamp.at
    carry_out(db, snapshot, AddCard(member_id, uid, at=at), refusal=refusal)
    card = queries.find_card(db, uid)
    assert card is not None
    if stamp is not None:
        _card_audit(
            db, stamp, "card.add", card, before=None, after={"card": uid, "state": card.state}
        )
    return card


def add_new_cards(db: Session, cards: Iterable[tuple[Member, str]], *, stamp: Stamp) -> int:
    """Bind each (member, uid) of ``cards``, uids known to be nobody's yet (an import
    checked them in bulk; the unique uid column still holds). Each is decided by the rule
    book on a snapshot built from the member at hand (no query per card), all are written
    by one effect writer and audited in one statement; returns how many."""
    changes: list[Change] = []
    bound: list[tuple[int, str]] = []
    for member, uid in cards:
        snapshot = AccessSnapshot(member=member_state(member), member_huts=member.huts)
        effects = decide(snapshot, AddCard(member.id, uid, at=stamp.at))
        if effects.reason is not None:
            raise refused(effects)
        changes.extend(effects.changes)
        bound.append((member.id, uid))
    writer = EffectWriter(db)
    writer.apply(Effects(tuple(changes)))
    writer.finish()
    db.flush()
    record_many(
        db,
        actor=stamp.actor,
        action="card.add",
        entity="member",
        at=stamp.at,
        entries=((member_id, None, {"card": uid, "state": "active"}) for member_id, uid in bound),
    )
    return len(bound)


def _card_audit(
    db: Session,
    stamp: Stamp,
    action: str,
    card: Card,
    *,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    stamp.record(
        db, action=action, entity="member", entity_id=card.member_id, before=before, after=after
    )


def remove_card(db: Session, *, uid: str, stamp: Stamp | None = None) -> None:
    uid = card_uid(uid)
    snapshot = _card(db, uid)
    card = queries.find_card(db, uid)
    assert card is not None
    before = {"card": uid, "state": card.state}
    member_id = card.member_id
    carry_out(db, snapshot, RemoveCard(uid))
    if stamp is not None:
        stamp.record(db, action="card.remove", entity="member", entity_id=member_id, before=before)


def report_card_lost(db: Session, *, uid: str, stamp: Stamp | None = None) -> Card:
    """The card opens nothing from now on, and the hut says why; staff remove it once the
    member has a new one (or it turns up: remove and add it again)."""
    uid = card_uid(uid)
    effects = carry_out(db, _card(db, uid), ReportCardLost(uid))
    card = queries.find_card(db, uid)
    assert card is not None
    if stamp is not None and effects.changes:
        _card_audit(
            db,
            stamp,
            "card.lost",
            card,
            before={"card": uid, "state": "active"},
            after={"card": uid, "state": card.state},
        )
    return card
