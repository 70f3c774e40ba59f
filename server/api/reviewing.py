"""What the four lists of flagged rows (alarms, anomalies, sequence gaps, dead letters) have
in common: the state and time filters, newest first, and the acknowledge and resolve
routes, added to a router once per kind (server/records/reviews.py does the step)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from server.accounts.principal import Principal
from server.api.auth import StaffDep
from server.api.deps import DbDep
from server.api.errors import staff_action
from server.api.listing import PageRequest, page_of, sorted_by
from server.api.params import RowId
from server.api.review_schemas import AcknowledgeBody, ResolveBody
from server.api.stamps import StaffStamp
from server.records import reviews
from server.records.reviews import Reviewable, ReviewState
from toolhut.i18n import N_, gettext

TEXT_NO_SUCH_STATE = N_("this list has no such state")

Since = Annotated[AwareDatetime | None, Query(description="at or after, ISO 8601 with zone")]
Until = Annotated[AwareDatetime | None, Query(description="before, ISO 8601 with zone")]

# Shows a page of rows to whoever asks (the review fields name the reviewers).
Shown = Callable[[Session, list[Any], Principal], list[Any]]


def page_newest_first(
    db: Session,
    query: Select[Any],
    page: PageRequest,
    *,
    kind: Reviewable,
    at: Any,
    sorts: Mapping[str, Any],
    state: ReviewState | None,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list[Any], int]:
    """The page of ``query`` in ``state``, with ``at`` (the row's time column) in
    [since, until), newest first unless ``sort`` says otherwise (ties by id, the same way)."""
    model = kind.model
    if state is not None:
        try:
            query = query.where(reviews.state_is(kind, state))
        except ValueError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("query", "state"),
                        # In English, the enum's own error names the state.
                        "msg": f"{gettext(TEXT_NO_SUCH_STATE)} / {exc}",
                        "input": state.value,
                    }
                ]
            ) from exc
    if since is not None:
        query = query.where(at >= since)
    if until is not None:
        query = query.where(at < until)
    default = next(iter(sorts))
    sort = page.sort or f"-{default}"
    query = sorted_by(query, sort, sorts, default="id")  # refuses an unknown column
    if sort.startswith("-"):  # rows of one instant newest first too
        query = query.order_by(None).order_by(sorts[sort[1:]].desc(), model.id.desc())
    return page_of(db, query, page)


def add_review_routes(
    router: APIRouter,
    *,
    path: str,
    kind: Reviewable,
    out: type[BaseModel],
    shown: Shown,
    what: str,
) -> None:
    """``POST <path>/{record_id}/acknowledge`` and ``.../resolve`` for ``kind`` (staff and
    admins; audited): each answers the row as it stands after the step, a 404 for none, a
    409 with the reason for one no longer in the state the step starts from."""

    def acknowledge(
        record_id: RowId,
        body: AcknowledgeBody,
        db: DbDep,
        stamp: StaffStamp,
        principal: StaffDep,
    ) -> Any:
        with staff_action():
            row = reviews.acknowledge(db, kind, record_id, note=body.note, stamp=stamp)
        db.commit()
        return shown(db, [row], principal)[0]

    def resolve(
        record_id: RowId,
        body: ResolveBody,
        db: DbDep,
        stamp: StaffStamp,
        principal: StaffDep,
    ) -> Any:
        with staff_action():
            row = reviews.resolve(db, kind, record_id, note=body.note, stamp=stamp)
        db.commit()
        return shown(db, [row], principal)[0]

    acknowledge.__doc__ = f"Acknowledge {what}: seen, someone is on it (an optional note)."
    resolve.__doc__ = f"Resolve {what} with a note saying what was found or done."
    router.add_api_route(
        f"{path}/{{record_id}}/acknowledge",
        acknowledge,
        methods=["POST"],
        response_model=out,
        name=f"acknowledge_{kind.entity}",
    )
    router.add_api_route(
        f"{path}/{{record_id}}/resolve",
        resolve,
        methods=["POST"],
        response_model=out,
        name=f"resolve_{kind.entity}",
    )
