"""Writing a rating: one row per loan, a later rating replacing the earlier in one
statement (INSERT ... ON CONFLICT (loan_id) DO UPDATE), so the hut's card and the phone
rating the same loan at once cannot clash."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.domain.changes import LoanRated
from server.storage.rating_models import LoanRating

_REPLACED = ("item_id", "member_id", "hut_id", "score", "comment", "source", "rated_at")


def store(db: Session, change: LoanRated, *, loan_id: int) -> None:
    row = {
        "loan_id": loan_id,
        "item_id": change.item_id,
        "member_id": change.member_id,
        "hut_id": change.hut_id,
        "score": change.score,
        "comment": change.comment,
        "source": change.source,
        "rated_at": change.at,
    }
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(LoanRating).values(**row)
    statement = statement.on_conflict_do_update(
        index_elements=[LoanRating.loan_id],
        set_={name: statement.excluded[name] for name in _REPLACED},
    )
    db.execute(statement)
