"""The residents' ratings after a return in the console (``/console/ratings``, everyone
signed in): how many, the average and the spread, per hut and per item (the lowest
average first: what to look at), and the ratings themselves newest first, with the
member's name and comment (the staff side only). Narrowed by hut, item, score and month;
the same queries as the API (server.storage.rating_queries). Read-only: a low rating
with a comment is an anomaly staff review with the alarms."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.api.deps import DbDep
from server.api.listing import PageRequest, page_of
from server.domain.ratings import SCORE_WORDS, SCORES
from server.records.ratings import rating_filter
from server.staff_actions import NotFoundError
from server.storage import rating_queries
from server.storage.models import Hut, Item, Member
from server.storage.rating_models import LoanRating
from server.storage.rating_queries import MONTH_PATTERN, RatingFilter, RatingSummary
from server.web.guard import PageViewer
from server.web.list_query import ListQuery
from server.web.local_time import shown
from server.web.paging import Page
from server.web.rendering import render
from toolhut.i18n import N_

router = APIRouter(
    prefix="/console/ratings", default_response_class=HTMLResponse, include_in_schema=False
)

TEXT_BAD_MONTH = N_("Write a month as 2026-11.")
TEXT_NO_ITEM = N_("No item has this tag.")
SOURCE_WORDS = {"hut": N_("rating card at the hut"), "phone": N_("phone")}
_MONTH = re.compile(MONTH_PATTERN)


def _huts(db: Session) -> dict[str, str]:
    return {hut.id: hut.name for hut in db.scalars(select(Hut).order_by(Hut.id))}


def _wanted(
    db: Session, query: ListQuery, huts: dict[str, str]
) -> tuple[RatingFilter, dict[str, str]]:
    """The filter from the page's parameters, each bad one named and left out; and what
    was kept, for the form and the pager."""
    hut = query.choice("hut", huts)
    score = query.choice("score", [str(score) for score in SCORES])
    month = query.search("month")
    if month is not None and not _MONTH.fullmatch(month):
        query.errors.add("month", TEXT_BAD_MONTH)
        month = None
    tag = query.search("item")
    number = None if score is None else int(score)
    try:
        wanted = rating_filter(db, hut=hut, tag=tag, month=month, score=number)
    except NotFoundError:
        query.errors.add("item", TEXT_NO_ITEM)
        tag = None
        wanted = rating_filter(db, hut=hut, month=month, score=number)
    kept = {"hut": hut, "item": tag, "score": score, "month": month}
    return wanted, {key: value for key, value in kept.items() if value}


def _names(db: Session, rows: list[LoanRating]) -> tuple[dict[int, str], dict[int, Any]]:
    members = {row.member_id for row in rows}
    item_ids = {row.item_id for row in rows}
    names = dict(db.execute(select(Member.id, Member.name).where(Member.id.in_(members))).all())
    found = {item.id: item for item in db.scalars(select(Item).where(Item.id.in_(item_ids)))}
    return names, found


def item_ratings(db: Session, item_id: int) -> RatingSummary:
    """The item page's summary, with its latest comments."""
    return rating_queries.summary(db, RatingFilter(item_id=item_id), comments=5)


@router.get("")
def ratings_page(request: Request, principal: PageViewer, db: DbDep) -> HTMLResponse:
    huts = _huts(db)
    query = ListQuery(request.query_params)
    wanted, kept = _wanted(db, query, huts)
    offset, limit = query.window()
    window = Page.of(offset, limit, 0)
    ordered = rating_queries.ratings(wanted).order_by(
        LoanRating.rated_at.desc(), LoanRating.id.desc()
    )
    rows, total = page_of(db, ordered, PageRequest(window.limit, window.offset, None))
    names, items = _names(db, rows)
    return render(
        request,
        "console/ratings.html",
        {
            "summary": rating_queries.summary(db, wanted, comments=0),
            "by_hut": rating_queries.by_hut(db, wanted),
            "by_item": rating_queries.by_item(db, wanted, limit=20),
            "rows": rows, "names": names, "items": items, "hut_names": huts,
            "page": Page.of(window.offset, window.limit, total),
            "huts": list(huts.items()),
            "scores": [(str(score), str(score)) for score in reversed(SCORES)],
            "score_words": SCORE_WORDS, "source_words": SOURCE_WORDS,
            "shown": kept, "base_query": urlencode(kept), "errors": query.errors,
            "when": shown,
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if query.errors else status.HTTP_200_OK,
    )  # fmt: skip
