"""The huts: the public list (with each hut's live state for signed-in staff), one hut's
state, the live stream of every hut's state and alarms, and the cards read in enrol
mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from server.api.auth import OptionalPrincipalDep, ViewerOnly, sees_personal_data
from server.api.deps import DbDep, SettingsDep
from server.api.hut_state_schemas import HutListed, HutsListed, HutStateOut
from server.api.live_stream import hut_events
from server.api.params import HutIdPath
from server.records.huts import TEXT_NO_HUT
from server.storage import event_log, hut_states, queries

router = APIRouter(prefix="/api/v1", tags=["huts"])


@router.get("/huts")
def list_huts(db: DbDep, principal: OptionalPrincipalDep) -> HutsListed:
    """Every hut; for signed-in staff (any role) each with its ``state``."""
    huts = queries.list_huts(db)
    # Hut state is no personal data, but a hut's door and alarms are staff's to see.
    views = hut_states.hut_views(db) if sees_personal_data(principal) else {}
    data = [HutListed.listed(hut, views.get(hut.id)) for hut in huts]
    return HutsListed(data=data, count=len(data))


# Before /huts/{hut_id} (routes/hut_records.py, included after this router).
@router.get(
    "/huts/stream",
    response_class=EventSourceResponse,
    dependencies=[ViewerOnly],
    responses={200: {"description": "events: snapshot, hut, alarm (docs/staff-api.md)"}},
)
async def stream_huts(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: a ``snapshot`` of every hut's state and the open alarms, then
    each change (``hut``, ``alarm``) within a second, whichever server process saw it."""
    # The sign-in check's connection goes back to the pool: a stream may stay for minutes.
    await anyio.to_thread.run_sync(db.close)
    events = hut_events(
        request.app.state.live_hub,
        request.app.state.sessions,
        last_event_id=last_event_id,
        max_s=settings.hut_state.stream_max_s,
    )
    async for event in events:
        yield event


@router.get("/huts/{hut_id}/state", dependencies=[ViewerOnly])
def hut_state(hut_id: HutIdPath, db: DbDep) -> HutStateOut:
    """What the hut's gateway last reported; ``reported`` false if it never did."""
    view = hut_states.hut_views(db, [hut_id]).get(hut_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, TEXT_NO_HUT.format(hut_id=hut_id))
    return HutStateOut.of(view)


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
        raise HTTPException(status.HTTP_404_NOT_FOUND, TEXT_NO_HUT.format(hut_id=hut_id))
    rows = event_log.list_enrolments(db, hut_id=hut_id)
    data = [
        EnrolmentPublic(card=r.card_uid, read_at=r.read_at, member_id=r.member_id) for r in rows
    ]
    return EnrolmentsPublic(data=data, count=len(data))
