"""Items as records: one item (staff also see its loans, borrower and status history), a
new item, an edit (versioned), and a status set by hand with a reason (through the rule
book). The list is GET /api/v1/items (routes/items.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from server.api.auth import OptionalPrincipalDep, StaffDep, actor_of, sees_personal_data
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.params import ItemTagPath
from server.api.record_schemas import ItemStaff
from server.api.schemas import ItemPublic
from server.api.versioning import expected_version, with_etag
from server.records import items
from server.records.items import ItemFields, ItemUpdate, StatusFields

router = APIRouter(prefix="/api/v1", tags=["items"])


def _staff_view(db: DbDep, tag: str) -> ItemStaff:
    return ItemStaff.of_record(items.record_of(db, tag))


@router.get("/items/{tag}")
def get_item(
    tag: ItemTagPath, db: DbDep, principal: OptionalPrincipalDep, response: Response
) -> ItemStaff | ItemPublic:
    """Anyone: the item and whether it is in; staff: the whole record."""
    with staff_action():
        if not sees_personal_data(principal):
            return ItemPublic.of(items.find(db, tag), staff=False)
        view = _staff_view(db, tag)
    with_etag(response, view.version)
    return view


@router.post("/items", status_code=status.HTTP_201_CREATED)
def create_item(
    body: ItemFields, request: Request, principal: StaffDep, db: DbDep, now: NowDep
) -> ItemStaff:
    """The tag must be new among items and supplies; the hut and category must exist."""
    with staff_action():
        item = items.create(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _staff_view(db, item.tag)


@router.patch("/items/{tag}")
def edit_item(
    tag: ItemTagPath,
    body: ItemUpdate,
    request: Request,
    response: Response,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> ItemStaff:
    expected = expected_version(request, body.version)
    with staff_action():
        item = items.update(
            db, tag, body, expected=expected, actor=actor_of(principal, request), now=now
        )
    db.commit()
    with_etag(response, item.version)
    return _staff_view(db, item.tag)


@router.post("/items/{tag}/status")
def set_item_status(
    tag: ItemTagPath,
    body: StatusFields,
    request: Request,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> ItemStaff:
    """Maintenance, retired, lost, or available (found, back in service), with a reason.
    409 for an item on loan (it comes back by a return, or its loan is written off as
    lost), for the status it has, and for a held item made available."""
    with staff_action():
        item = items.set_status(db, tag, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return _staff_view(db, item.tag)
