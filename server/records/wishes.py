"""Micro-wishes (微心愿) as staff keep them: entered from paper, WeChat or the hotline,
supported, deliberated at the meeting, handled, rated; and as residents propose, support
and rate them on their phones (``WishChannel.PHONE``, server/web/resident_wish_pages.py).
The steps are server/domain/wishes.py's; each is audited.

The state is the check: a step is a conditional UPDATE that matches only a wish still
where the step starts from, so two staff taking the same step at once cannot both win,
and the loser hears why (WishStepError, a 409). A support and a rating are one row per
resident, written by INSERT ... ON CONFLICT, so the same one twice at once is one row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.domain import MemberStatus
from server.domain.actors import Actor
from server.domain.record_errors import FieldError, InvalidFieldsError
from server.domain.wishes import (
    STARTS_FROM,
    Handling,
    WishChannel,
    WishOutcome,
    WishStatus,
    WishStepError,
    check_step,
    handling_errors,
    proposal_errors,
)
from server.records import partners, writes
from server.records.fields import (
    TEXT_NO_HUT,
    HutId,
    Name,
    Note,
    RecordFields,
    RowId,
    Tag,
    refuse,
    values_of,
)
from server.staff_actions import NotFoundError
from server.storage import audit
from server.storage.models import Hut, Item, Member
from server.storage.wish_models import Wish, WishRating, WishSupport
from toolhut.i18n import bilingual

TEXT_NO_WISH = bilingual("no wish {id}")
TEXT_NO_ITEM = bilingual("no item with this tag")
TEXT_NO_MEMBER = bilingual("no member with this id")
TEXT_NOT_A_SUPPORTER = bilingual("only the proposer and the supporters rate a wish")
TEXT_OWN_WISH = bilingual("the proposer supports their own wish already")
TEXT_MEMBER_GONE = bilingual("this member has left")
TEXT_ITEM_ELSEWHERE = bilingual("this item is in another hut than the wish's")

FIELDS = ("hut_id", "title", "detail", "channel", "proposed_by_id", "proposed_at")
DELIBERATION = ("status", "meeting_on", "decision")
HANDLING = ("status", "outcome", "outcome_note", "partner_id", "item_id")

Score = Annotated[int, Field(ge=1, le=5)]


class WishFields(RecordFields):
    title: Name
    detail: Note = ""
    hut: HutId | None = None  # None: for the whole district
    channel: WishChannel = WishChannel.PAPER
    proposed_by: RowId | None = None  # None: anonymous (a note in the wish box)


class DeliberationFields(RecordFields):
    meeting_on: date
    decision: Annotated[str, Field(min_length=1, max_length=2000)]


class HandlingFields(RecordFields):
    outcome: WishOutcome
    note: Note = ""
    partner_id: RowId | None = None
    item: Tag | None = None  # its tag, once in the inventory


class SupportFields(RecordFields):
    member_id: RowId


class RatingFields(RecordFields):
    member_id: RowId
    score: Score
    comment: Note = ""


def get(db: Session, wish_id: int) -> Wish:
    row = db.get(Wish, wish_id)
    if row is None:
        raise NotFoundError(TEXT_NO_WISH.format(id=wish_id))
    return row


def _member(db: Session, member_id: int, field: str) -> Member:
    member = db.get(Member, member_id)
    if member is None:
        raise InvalidFieldsError([FieldError(field, TEXT_NO_MEMBER)])
    if member.erased_at is not None or member.status is MemberStatus.LEFT:
        refuse(FieldError(field, TEXT_MEMBER_GONE))
    return member


def create(db: Session, fields: WishFields, *, actor: Actor, now: datetime) -> Wish:
    errors = []
    if fields.hut is not None and db.get(Hut, fields.hut) is None:
        errors.append(FieldError("hut", TEXT_NO_HUT))
    refuse(*errors)
    if fields.proposed_by is not None:
        _member(db, fields.proposed_by, "proposed_by")
        # Held until commit, so two proposals of one member at once are counted one after
        # the other (PostgreSQL; SQLite lets one writer in at a time anyway).
        db.execute(select(Member.id).where(Member.id == fields.proposed_by).with_for_update())
        waiting = select(func.count()).where(
            Wish.proposed_by_id == fields.proposed_by, Wish.status == WishStatus.PROPOSED,
            Wish.channel == fields.channel,
        )  # fmt: skip
        refuse(*proposal_errors(fields.channel, db.scalar(waiting) or 0))
    row = Wish(
        hut_id=fields.hut, title=fields.title, detail=fields.detail, channel=fields.channel,
        proposed_by_id=fields.proposed_by, proposed_at=now, status=WishStatus.PROPOSED,
    )  # fmt: skip
    return writes.add(db, row, entity="wish", key=None, audited=FIELDS, actor=actor, now=now)


def _advance(
    db: Session, wish: Wish, step: str, values: dict[str, Any], *, actor: Actor, now: datetime,
    audited: tuple[str, ...],
) -> None:  # fmt: skip
    """Take ``step`` on ``wish`` if it is still where the step starts from."""
    after = check_step(wish.status, step)
    before = values_of(wish, audited)
    result: Any = db.execute(
        update(Wish)
        .where(Wish.id == wish.id, Wish.status.in_(STARTS_FROM[step]))
        .values(status=after, **values)
        .execution_options(synchronize_session=False)
    )
    db.refresh(wish)
    if result.rowcount != 1:
        raise WishStepError(wish.status, step)
    audit.record(
        db, actor=actor, action=f"wish.{step}", entity="wish", entity_id=wish.id, at=now,
        before=before, after=values_of(wish, audited),
    )  # fmt: skip


def deliberate(
    db: Session, wish_id: int, fields: DeliberationFields, *, actor: Actor, now: datetime
) -> Wish:
    """议: the meeting's date and what it decided."""
    wish = get(db, wish_id)
    values = {"meeting_on": fields.meeting_on, "decision": fields.decision, "deliberated_at": now}
    _advance(db, wish, "deliberate", values, actor=actor, now=now, audited=DELIBERATION)
    return wish


def handle(
    db: Session, wish_id: int, fields: HandlingFields, *, actor: Actor, now: datetime
) -> Wish:
    """办: bought, donated by a partner, lent by a neighbour, or declined with the reason.
    A donated item in the inventory names its partner from then on."""
    wish = get(db, wish_id)
    check_step(wish.status, "handle")
    handling = Handling(fields.outcome, fields.note, fields.partner_id, fields.item is not None)
    refuse(*handling_errors(handling))
    if fields.partner_id is not None:
        try:
            partners.get(db, fields.partner_id)
        except NotFoundError as exc:
            refuse(FieldError("partner_id", str(exc)))
    item = None
    if fields.item is not None:
        item = db.scalar(select(Item).where(Item.tag == fields.item))
        if item is None:
            refuse(FieldError("item", TEXT_NO_ITEM))
        elif wish.hut_id is not None and item.hut_id != wish.hut_id:
            refuse(FieldError("item", TEXT_ITEM_ELSEWHERE))
    values = {
        "outcome": fields.outcome,
        "outcome_note": fields.note,
        "partner_id": fields.partner_id,
        "item_id": item.id if item is not None else None,
        "handled_at": now,
    }
    _advance(db, wish, "handle", values, actor=actor, now=now, audited=HANDLING)
    if item is not None and fields.partner_id is not None and item.partner_id != fields.partner_id:
        before = {"partner_id": item.partner_id}
        item.partner_id = fields.partner_id
        audit.record(
            db, actor=actor, action="item.donated", entity="item", entity_id=item.tag, at=now,
            before=before, after={"partner_id": item.partner_id},
        )  # fmt: skip
    return wish


def support(
    db: Session, wish_id: int, fields: SupportFields, *, actor: Actor, now: datetime
) -> bool:
    """Another resident wants it too; False if they said so already."""
    wish = get(db, wish_id)
    check_step(wish.status, "support")
    _member(db, fields.member_id, "member_id")
    if fields.member_id == wish.proposed_by_id:
        refuse(FieldError("member_id", TEXT_OWN_WISH))
    row = {"wish_id": wish.id, "member_id": fields.member_id, "at": now}
    if not _insert_once(db, WishSupport, row):
        return False
    audit.record(
        db, actor=actor, action="wish.support", entity="wish", entity_id=wish.id, at=now,
        after={"member_id": fields.member_id},
    )  # fmt: skip
    return True


def _insert_once(db: Session, model: Any, row: dict[str, Any]) -> bool:
    """Insert ``row`` unless its primary key is taken (then nothing): whether it was."""
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**row).on_conflict_do_nothing().returning(model.wish_id)
    return db.execute(statement).scalar_one_or_none() is not None


def support_counts(db: Session, wish_ids: list[int]) -> dict[int, int]:
    """How many residents support each of these wishes (a wish with none is left out)."""
    query = (
        select(WishSupport.wish_id, func.count())
        .where(WishSupport.wish_id.in_(wish_ids))
        .group_by(WishSupport.wish_id)
    )
    return {wish_id: n for wish_id, n in db.execute(query)}


def supporters(db: Session, wish_id: int) -> list[int]:
    query = select(WishSupport.member_id).where(WishSupport.wish_id == wish_id)
    return list(db.scalars(query.order_by(WishSupport.at, WishSupport.member_id)))


def ratings(db: Session, wish_id: int) -> list[WishRating]:
    query = select(WishRating).where(WishRating.wish_id == wish_id)
    return list(db.scalars(query.order_by(WishRating.at, WishRating.member_id)))


def rate(db: Session, wish_id: int, fields: RatingFields, *, actor: Actor, now: datetime) -> Wish:
    """评: the proposer's or a supporter's rating of the outcome (a second one replaces
    theirs); the first makes the wish evaluated."""
    wish = get(db, wish_id)
    check_step(wish.status, "rate")
    if fields.member_id != wish.proposed_by_id and fields.member_id not in supporters(db, wish.id):
        refuse(FieldError("member_id", TEXT_NOT_A_SUPPORTER))
    _member(db, fields.member_id, "member_id")
    rating = db.get(WishRating, (wish.id, fields.member_id))
    before = None if rating is None else {"score": rating.score, "comment": rating.comment}
    values = {"score": fields.score, "comment": fields.comment, "at": now}
    if not _insert_once(
        db, WishRating, {"wish_id": wish.id, "member_id": fields.member_id, **values}
    ):
        db.execute(
            update(WishRating)
            .where(WishRating.wish_id == wish.id, WishRating.member_id == fields.member_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if rating is not None:
        db.refresh(rating)  # the session's copy, read before the UPDATE
    if wish.status is WishStatus.HANDLED:
        try:
            _advance(
                db, wish, "evaluate", {"evaluated_at": now}, actor=actor, now=now,
                audited=("status",),
            )  # fmt: skip
        except WishStepError:  # another first rating evaluated it meanwhile: its time stays
            pass
    audit.record(
        db, actor=actor, action="wish.rating", entity="wish", entity_id=wish.id, at=now,
        before=before,
        after={"member_id": fields.member_id, "score": fields.score, "comment": fields.comment},
    )  # fmt: skip
    return wish
