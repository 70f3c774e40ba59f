"""The residents' ratings after a return (a rating card at the hut, or their phone), for
everyone signed in: the list, newest first, and the summaries per hut and per item."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.auth import ViewerOnly
from server.api.deps import DbDep
from server.api.errors import staff_action
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.rating_schemas import RatingOut, RatingSummaryOut
from server.records.ratings import rating_filter
from server.storage import rating_queries
from server.storage.models import Item, Member
from server.storage.rating_models import LoanRating
from server.storage.rating_queries import MONTH_PATTERN, RatingFilter
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["ratings"], dependencies=[ViewerOnly])

HutQuery = Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")]
ItemQuery = Annotated[str | None, Query(max_length=64, description="item tag")]
ScoreQuery = Annotated[int | None, Query(ge=1, le=5, description="score, 1 to 5")]
MonthQuery = Annotated[
    str | None, Query(pattern=MONTH_PATTERN, description="YYYY-MM, in the hut's time zone")
]

_SORTS = {"rated_at": LoanRating.rated_at, "score": LoanRating.score, "id": LoanRating.id}


def _wanted(
    db: Session, hut: str | None, item: str | None, score: int | None, month: str | None
) -> RatingFilter:
    with staff_action():
        return rating_filter(db, hut=hut, tag=item, score=score, month=month)


def shown_ratings(db: Session, rows: list[Any]) -> list[RatingOut]:
    """The rows with their items' tags and names and their members' names."""
    item_ids = {row.item_id for row in rows}
    member_ids = {row.member_id for row in rows}
    items = {
        item_id: (tag, name)
        for item_id, tag, name in db.execute(
            select(Item.id, Item.tag, Item.name_zh).where(Item.id.in_(item_ids))
        )
    }
    names = dict(db.execute(select(Member.id, Member.name).where(Member.id.in_(member_ids))).all())
    return [RatingOut.of(row, items, names) for row in rows]


@router.get("/ratings")
def list_ratings(
    db: DbDep,
    page: PageDep,
    hut: HutQuery = None,
    item: ItemQuery = None,
    score: ScoreQuery = None,
    month: MonthQuery = None,
) -> Listing[RatingOut]:
    """Newest first (by ``rated_at``) unless ``sort`` says otherwise."""
    query = rating_queries.ratings(_wanted(db, hut, item, score, month))
    query = sorted_by(query, page.sort, _SORTS, default="-rated_at").order_by(LoanRating.id.desc())
    rows, total = page_of(db, query, page)
    return listing(shown_ratings(db, list(rows)), total, page)


@router.get("/ratings/summary")
def ratings_summary(
    db: DbDep,
    hut: HutQuery = None,
    item: ItemQuery = None,
    score: ScoreQuery = None,
    month: MonthQuery = None,
) -> RatingSummaryOut:
    wanted = _wanted(db, hut, item, score, month)
    summary = rating_queries.summary(db, wanted, comments=0)
    huts = rating_queries.by_hut(db, wanted)
    return RatingSummaryOut.of(summary, huts, rating_queries.by_item(db, wanted))
