from __future__ import annotations

from fastapi import APIRouter

from server.api.deps import SessionDep
from server.api.schemas import HutPublic, HutsPublic
from server.storage import queries

router = APIRouter(prefix="/api/v1", tags=["huts"])


@router.get("/huts")
def list_huts(session: SessionDep) -> HutsPublic:
    huts = [HutPublic.of(hut) for hut in queries.list_huts(session)]
    return HutsPublic(data=huts, count=len(huts))
