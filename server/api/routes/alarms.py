"""Alarms, for staff: listed by everyone signed in (newest first), acknowledged and resolved
by staff and admins with a note, each step in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import ViewerDep, ViewerOnly
from server.api.deps import DbDep
from server.api.listing import Listing, PageDep, listing
from server.api.review_schemas import AlarmOut
from server.api.reviewing import Since, Until, add_review_routes, page_newest_first
from server.domain.alarms import AlarmKind
from server.records import reviews
from server.records.reviews import ReviewState
from server.storage.operations_models import Alarm
from toolhut.contract import HUT_ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["alarms"], dependencies=[ViewerOnly])

SORTS = {"raised_at": Alarm.raised_at, "updated_at": Alarm.updated_at, "id": Alarm.id}


def shown(db: Session, rows: list[Any], _principal: Principal) -> list[AlarmOut]:
    names = reviews.reviewers(db, rows)
    return [AlarmOut.of(alarm, names) for alarm in rows]


def alarms_query(hut: str | None, kind: AlarmKind | None) -> Select[Any]:
    """Alarms of ``hut`` and ``kind`` (either None: any), for this route and the console."""
    query = select(Alarm)
    if hut is not None:
        query = query.where(Alarm.hut_id == hut)
    if kind is not None:
        query = query.where(Alarm.kind == kind.value)
    return query


@router.get("/alarms")
def list_alarms(
    db: DbDep,
    page: PageDep,
    principal: ViewerDep,
    hut: Annotated[str | None, Query(pattern=HUT_ID_PATTERN, description="hut id")] = None,
    kind: AlarmKind | None = None,
    state: Annotated[
        ReviewState | None,
        Query(
            description="open: not resolved; active: its condition lasts; acknowledged; resolved"
        ),
    ] = None,
    since: Since = None,
    until: Until = None,
) -> Listing[AlarmOut]:
    """Newest first (by ``raised_at``, when it started at the hut) unless ``sort`` says
    otherwise; ``since``/``until`` bound ``raised_at``."""
    rows, total = page_newest_first(
        db,
        alarms_query(hut, kind),
        page,
        kind=reviews.ALARMS,
        at=Alarm.raised_at,
        sorts=SORTS,
        state=state,
        since=since,
        until=until,
    )
    return listing(shown(db, rows, principal), total, page)


add_review_routes(
    router, path="/alarms", kind=reviews.ALARMS, out=AlarmOut, shown=shown, what="an alarm"
)
