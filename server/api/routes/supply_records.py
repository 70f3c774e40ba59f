"""Supplies as records: one supply with its batches, a new one, an edit (versioned), a
delivery (a new batch) and a count (a batch's quantity corrected). The lists are
GET /api/v1/supplies and /supplies/public (routes/supplies.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from server.api.auth import StaffDep, ViewerOnly, actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.params import ItemTagPath, RowId
from server.api.record_schemas import BatchRecord, SupplyRecord
from server.api.versioning import expected_version, with_etag
from server.records import supplies
from server.records.supplies import BatchCount, DeliveryFields, SupplyFields, SupplyUpdate

router = APIRouter(prefix="/api/v1", tags=["supplies"])


@router.get("/supplies/{tag}", dependencies=[ViewerOnly])
def get_supply(tag: ItemTagPath, db: DbDep, response: Response) -> SupplyRecord:
    with staff_action():
        supply = supplies.find(db, tag)
    with_etag(response, supply.version)
    return SupplyRecord.of(supply)


@router.post("/supplies", status_code=status.HTTP_201_CREATED)
def create_supply(
    body: SupplyFields, request: Request, principal: StaffDep, db: DbDep, now: NowDep
) -> SupplyRecord:
    """The tag must be new among items and supplies; the hut and category must exist."""
    with staff_action():
        supply = supplies.create(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return SupplyRecord.of(supply)


@router.patch("/supplies/{tag}")
def edit_supply(
    tag: ItemTagPath,
    body: SupplyUpdate,
    request: Request,
    response: Response,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> SupplyRecord:
    expected = expected_version(request, body.version)
    with staff_action():
        supply = supplies.update(
            db, tag, body, expected=expected, actor=actor_of(principal, request), now=now
        )
    db.commit()
    with_etag(response, supply.version)
    return SupplyRecord.of(supply)


@router.post("/supplies/{tag}/deliveries", status_code=status.HTTP_201_CREATED)
def record_delivery(
    tag: ItemTagPath,
    body: DeliveryFields,
    request: Request,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> BatchRecord:
    """A delivery: a new batch, with its expiry date if it has one."""
    with staff_action():
        batch = supplies.deliver(db, tag, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return BatchRecord.of(batch)


@router.patch("/supplies/{tag}/batches/{batch_id}")
def count_batch(
    tag: ItemTagPath,
    batch_id: RowId,
    body: BatchCount,
    request: Request,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> BatchRecord:
    """What a count found of one batch."""
    with staff_action():
        batch = supplies.count_batch(
            db, tag, batch_id, body, actor=actor_of(principal, request), now=now
        )
    db.commit()
    return BatchRecord.of(batch)
