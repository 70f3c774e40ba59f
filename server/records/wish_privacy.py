"""A resident's part in the micro-wishes, for their rights over their personal data
(server/records/member_privacy.py): what they proposed, supported and rated goes into the
document of everything held about them, and their erasure blanks the free texts that
may say something about them (a wish's details, a rating's comment), in the rows and in
the audit entries that recorded them. The wishes, supports and scores stay: they are the
community's record, and keep the member's id as the loans do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from server.storage import audit
from server.storage.staff_models import AuditEntry
from server.storage.wish_models import Wish, WishRating, WishSupport


def wish_data(db: Session, member_id: int) -> dict[str, Any]:
    """The wishes the member proposed, supported and rated."""
    proposed = db.scalars(select(Wish).where(Wish.proposed_by_id == member_id).order_by(Wish.id))
    supports = db.scalars(
        select(WishSupport).where(WishSupport.member_id == member_id).order_by(WishSupport.at)
    )
    ratings = db.scalars(
        select(WishRating).where(WishRating.member_id == member_id).order_by(WishRating.at)
    )
    return {
        "wishes_proposed": [
            {"id": w.id, "title": w.title, "detail": w.detail, "proposed_at": w.proposed_at,
             "status": w.status}
            for w in proposed
        ],
        "wishes_supported": [{"wish": s.wish_id, "at": s.at} for s in supports],
        "wish_ratings": [
            {"wish": r.wish_id, "score": r.score, "comment": r.comment, "at": r.at}
            for r in ratings
        ],
    }  # fmt: skip


def forget_wish_texts(db: Session, member_id: int) -> None:
    """Blank the details of the member's wishes and the comments of their ratings, and the
    same values in the audit entries of those wishes that are theirs."""
    proposed = list(db.scalars(select(Wish.id).where(Wish.proposed_by_id == member_id)))
    rated = list(db.scalars(select(WishRating.wish_id).where(WishRating.member_id == member_id)))
    db.execute(update(Wish).where(Wish.id.in_(proposed)).values(detail=""))
    db.execute(update(WishRating).where(WishRating.member_id == member_id).values(comment=""))
    entries = select(AuditEntry).where(
        AuditEntry.entity == "wish",
        or_(
            AuditEntry.entity_id.in_([str(i) for i in proposed])
            & (AuditEntry.action == "wish.create"),
            AuditEntry.entity_id.in_([str(i) for i in rated])
            & (AuditEntry.action == "wish.rating"),
        ),
    )
    for entry in db.scalars(entries):
        if entry.action == "wish.create":
            audit.redact_entry(entry, ("detail",))
        elif (entry.after or {}).get("member_id") == member_id:
            audit.redact_entry(entry, ("comment",))
