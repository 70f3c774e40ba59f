from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.deps import SessionDep, StaffDep
from server.api.schemas import ItemPublic, ItemsPublic
from server.domain import ItemStatus
from server.storage import queries
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["items"])


@router.get("/items")
def list_items(
    session: SessionDep,
    staff: StaffDep,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")] = None,
    item_status: Annotated[ItemStatus | None, Query(alias="status")] = None,
) -> ItemsPublic:
    """Inventory; staff also see who has each item on loan."""
    if hut is not None and queries.get_hut(session, hut) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown hut {hut!r}")
    shelves = queries.list_items(session, hut_id=hut, status=item_status)
    items = [ItemPublic.of(shelf, staff=staff) for shelf in shelves]
    return ItemsPublic(data=items, count=len(items))
