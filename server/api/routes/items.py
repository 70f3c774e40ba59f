from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AfterValidator

from server import staff_actions
from server.api.auth import OptionalPrincipalDep, sees_personal_data
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.item_list import sorted_items
from server.api.listing import Listing, PageDep, listing, page_of
from server.api.params import ItemTagPath
from server.api.schemas import ItemPublic
from server.api.staff_schemas import ReservationCreate, ReservationStaff
from server.api.stamps import StaffStamp
from server.domain import ItemStatus
from server.records import items as item_records
from server.storage import queries
from toolhut.contract import HUT_ID_PATTERN, refuse_control_chars

router = APIRouter(prefix="/api/v1", tags=["items"])


@router.get("/items")
def list_items(
    db: DbDep,
    principal: OptionalPrincipalDep,
    page: PageDep,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")] = None,
    item_status: Annotated[ItemStatus | None, Query(alias="status")] = None,
    category: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="category key")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="in the tag or a name"),
        AfterValidator(refuse_control_chars),
    ] = None,
) -> Listing[ItemPublic]:
    """Inventory, by tag unless ``sort`` says otherwise (a column, or ``due``); staff also
    see who has each item on loan."""
    if hut is not None and queries.get_hut(db, hut) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown hut {hut!r}")
    query = item_records.search(hut=hut, status=item_status, category=category, q=q)
    rows, total = page_of(db, sorted_items(query, page.sort), page)
    shelves = queries.on_shelves(db, rows)
    return listing(
        [ItemPublic.of(shelf, staff=sees_personal_data(principal)) for shelf in shelves],
        total,
        page,
    )


@router.post("/items/{tag}/reservations", status_code=status.HTTP_201_CREATED)
def reserve_item(
    tag: ItemTagPath, body: ReservationCreate, db: DbDep, now: NowDep, stamp: StaffStamp
) -> ReservationStaff:
    """Put the card's holder on the item's waiting list (the item is out or held)."""
    with staff_action():
        reservation = staff_actions.reserve(db, tag=tag, card=body.card, now=now, stamp=stamp)
    db.commit()
    return ReservationStaff.of(reservation)


@router.post("/items/{tag}/clear")
def clear_item(tag: ItemTagPath, db: DbDep, now: NowDep, stamp: StaffStamp) -> ItemPublic:
    """Staff checked or repaired the item: it may be lent again."""
    with staff_action():
        item = staff_actions.clear_maintenance(db, tag=tag, now=now, stamp=stamp)
    db.commit()
    shelf = queries.find_item(db, item.tag)
    assert shelf is not None
    return ItemPublic.of(shelf, staff=True)
