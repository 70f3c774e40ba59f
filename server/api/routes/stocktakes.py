"""The stocktakes, newest first, so a report is found without guessing its id (the report
itself: GET /api/v1/stocktakes/{id}, routes/door_sessions.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from server.api.auth import ViewerOnly
from server.api.deps import DbDep
from server.api.listing import Listing, PageDep, listing, page_of, sorted_by
from server.api.record_schemas import StocktakeSummary
from server.storage.models import Stocktake
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["sessions"])

_SORTS = {"started_at": Stocktake.started_at, "id": Stocktake.id, "hut": Stocktake.hut_id}


@router.get("/stocktakes", dependencies=[ViewerOnly])
def list_stocktakes(
    db: DbDep,
    page: PageDep,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")] = None,
) -> Listing[StocktakeSummary]:
    """Newest first unless ``sort`` says otherwise."""
    query = select(Stocktake)
    if hut is not None:
        query = query.where(Stocktake.hut_id == hut)
    query = sorted_by(query, page.sort or "-started_at", _SORTS, default="-id")
    rows, total = page_of(db, query, page)
    return listing([StocktakeSummary.of(row) for row in rows], total, page)
