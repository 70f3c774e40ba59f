"""Door sessions and stocktakes, for staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.auth import ViewerOnly
from server.api.deps import DbDep
from server.api.params import RowId
from server.api.staff_schemas import ScanStaff, SessionsStaff, SessionStaff, StocktakeStaff
from server.domain import SessionFlag
from server.storage import door_sessions
from server.storage.models import DoorSession
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["sessions"], dependencies=[ViewerOnly])


@router.get("/sessions")
def list_sessions(
    db: DbDep,
    flag: SessionFlag | None = None,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SessionsStaff:
    """Newest first; ``flag=unscanned``: the door opened and nothing was scanned."""
    rows = door_sessions.list_sessions(
        db, flag=None if flag is None else flag.value, hut_id=hut, limit=limit
    )
    data = [SessionStaff.of(row) for row in rows]
    return SessionsStaff(data=data, count=len(data))


@router.get("/sessions/{door_session_id}/scans")
def door_session_scans(door_session_id: RowId, db: DbDep) -> list[ScanStaff]:
    """What was scanned in one door session (one visit to the hut), in order."""
    door = db.get(DoorSession, door_session_id)
    if door is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session {door_session_id}")
    return [ScanStaff.of(scan) for scan in door_sessions.scans_of(db, door)]


@router.get("/stocktakes/{stocktake_id}")
def get_stocktake(stocktake_id: RowId, db: DbDep) -> StocktakeStaff:
    stocktake = door_sessions.get_stocktake(db, stocktake_id)
    if stocktake is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no stocktake {stocktake_id}")
    return StocktakeStaff.of(stocktake)
