from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from server.api.auth import ViewerOnly
from server.api.deps import DbDep
from server.api.params import HutIdPath
from server.api.schemas import HutPublic, HutsPublic
from server.storage import event_log, queries

router = APIRouter(prefix="/api/v1", tags=["huts"])


@router.get("/huts")
def list_huts(db: DbDep) -> HutsPublic:
    huts = [HutPublic.of(hut) for hut in queries.list_huts(db)]
    return HutsPublic(data=huts, count=len(huts))


class EnrolmentPublic(BaseModel):
    card: str
    read_at: datetime
    member_id: int | None  # the card is already a member's: staff may be re-issuing it


class EnrolmentsPublic(BaseModel):
    data: list[EnrolmentPublic]
    count: int


@router.get("/huts/{hut_id}/enrolments", dependencies=[ViewerOnly])
def list_enrolments(hut_id: HutIdPath, db: DbDep) -> EnrolmentsPublic:
    """Cards read in staff enrol mode at this hut, newest first."""
    if queries.get_hut(db, hut_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no hut {hut_id!r}")
    rows = event_log.list_enrolments(db, hut_id=hut_id)
    data = [
        EnrolmentPublic(card=r.card_uid, read_at=r.read_at, member_id=r.member_id) for r in rows
    ]
    return EnrolmentsPublic(data=data, count=len(data))
