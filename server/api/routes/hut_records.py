"""Huts as records: one hut (with its contact phone, for residents; staff also see its
version), a new hut (an admin's: a deployment step), an edit (staff's, versioned). The
public list is GET /api/v1/huts (routes/huts.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from server.api.auth import AdminDep, OptionalPrincipalDep, StaffDep, actor_of, sees_personal_data
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.params import HutIdPath
from server.api.record_schemas import HutRecord
from server.api.versioning import expected_version, with_etag
from server.records import huts
from server.records.huts import HutFields, HutUpdate

router = APIRouter(prefix="/api/v1", tags=["huts"])


@router.get("/huts/{hut_id}")
def get_hut(
    hut_id: HutIdPath, db: DbDep, principal: OptionalPrincipalDep, response: Response
) -> HutRecord:
    with staff_action():
        hut = huts.get(db, hut_id)
    staff = sees_personal_data(principal)
    if staff:
        with_etag(response, hut.version)
    return HutRecord.of(hut, staff=staff)


@router.post("/huts", status_code=status.HTTP_201_CREATED)
def create_hut(
    body: HutFields, request: Request, principal: AdminDep, db: DbDep, now: NowDep
) -> HutRecord:
    with staff_action():
        hut = huts.create(db, body, actor=actor_of(principal, request), now=now)
    db.commit()
    return HutRecord.of(hut, staff=True)


@router.patch("/huts/{hut_id}")
def edit_hut(
    hut_id: HutIdPath,
    body: HutUpdate,
    request: Request,
    response: Response,
    principal: StaffDep,
    db: DbDep,
    now: NowDep,
) -> HutRecord:
    """Only the fields sent change; send the version read (or If-Match): 409 if stale."""
    expected = expected_version(request, body.version)
    with staff_action():
        hut = huts.update(
            db, hut_id, body, expected=expected, actor=actor_of(principal, request), now=now
        )
    db.commit()
    with_etag(response, hut.version)
    return HutRecord.of(hut, staff=True)
