"""Door sessions and stocktakes, for staff."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from server.api.deps import SessionDep, StaffOnly
from server.api.params import RowId
from server.api.staff_schemas import ScanStaff, SessionsStaff, SessionStaff, StocktakeStaff
from server.domain import SessionFlag
from server.storage import door_sessions
from server.storage.models import DoorSession
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["sessions"], dependencies=[StaffOnly])


@router.get("/sessions")
def list_sessions(
    session: SessionDep,
    flag: SessionFlag | None = None,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SessionsStaff:
    """Newest first; ``flag=unscanned``: the door opened and nothing was scanned."""
    rows = door_sessions.list_sessions(
        session, flag=None if flag is None else flag.value, hut_id=hut, limit=limit
    )
    data = [SessionStaff.of(row) for row in rows]
    return SessionsStaff(data=data, count=len(data))


@router.get("/sessions/{session_id}/scans")
def session_scans(session_id: RowId, session: SessionDep) -> list[ScanStaff]:
    door = session.get(DoorSession, session_id)
    if door is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id}")
    return [ScanStaff.of(scan) for scan in door_sessions.scans_of(session, door)]


@router.get("/stocktakes/{stocktake_id}")
def get_stocktake(stocktake_id: RowId, session: SessionDep) -> StocktakeStaff:
    stocktake = door_sessions.get_stocktake(session, stocktake_id)
    if stocktake is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no stocktake {stocktake_id}")
    return StocktakeStaff.of(stocktake)
