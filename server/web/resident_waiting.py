"""A resident's places in waiting lists, from their phone: join an item's list from its
page (``/i/<tag>``; signed out, the sign-in page first and back), leave one from there or
from ``/me``. Through the staff actions (staff_actions.join_line, leave_line: the rule
staff's reserve uses), the actor naming the member; a refusal is said in plain words on
the page it came from, never a server error."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import staff_actions
from server.api.deps import DbDep, NowDep
from server.domain import parse_scan_text
from server.staff_actions import NotFoundError, RefusedError
from server.storage import public_shelves
from server.web.forms import ConsoleForm
from server.web.public_pages import item_response, missing_page
from server.web.resident_guard import (
    RESIDENT_HOME,
    RESIDENT_SIGN_IN,
    OptionalResident,
    stamp_of,
)
from server.web.resident_loans import home_page
from server.web.resident_refusals import why

router = APIRouter(prefix="/me", default_response_class=HTMLResponse, include_in_schema=False)


def _tag(form: dict[str, object]) -> str | None:
    value = form.get("tag")
    return parse_scan_text(value) if isinstance(value, str) and len(value) < 64 else None


def _sign_in_first(tag: str) -> Response:
    target = quote(f"/i/{quote(tag)}", safe="/")
    return RedirectResponse(f"{RESIDENT_SIGN_IN}?next={target}", status.HTTP_303_SEE_OTHER)


@router.post("/waiting")
def join(
    request: Request, form: ConsoleForm, resident: OptionalResident, db: DbDep, now: NowDep
) -> Response:
    """Join the item's waiting list; back on its page, which shows the place."""
    tag = _tag(form)
    if tag is None:
        return missing_page(request, str(form.get("tag") or ""))
    if resident is None:
        return _sign_in_first(tag)
    try:
        staff_actions.join_line(
            db,
            tag=tag,
            member_id=resident.member_id,
            now=now,
            stamp=stamp_of(request, resident, now),
        )
    except NotFoundError:
        db.rollback()
        return missing_page(request, tag)
    except RefusedError as exc:
        db.rollback()
        entry = public_shelves.find(db, tag)
        assert entry is not None  # found a moment ago, in this request
        return item_response(
            request,
            db,
            entry,
            resident,
            error=why(exc.reason),
            status_code=status.HTTP_409_CONFLICT,
        )
    db.commit()
    return RedirectResponse(f"/i/{quote(tag)}", status.HTTP_303_SEE_OTHER)


@router.post("/waiting/leave")
def leave(
    request: Request, form: ConsoleForm, resident: OptionalResident, db: DbDep, now: NowDep
) -> Response:
    """Leave the item's waiting list (a hold for the member passes to the next in line);
    back to /me, or to the item's page if the form came from there (``from=item``)."""
    tag = _tag(form)
    if tag is None:
        return missing_page(request, str(form.get("tag") or ""))
    if resident is None:
        return _sign_in_first(tag)
    try:
        staff_actions.leave_line(
            db,
            tag=tag,
            member_id=resident.member_id,
            now=now,
            stamp=stamp_of(request, resident, now),
        )
    except NotFoundError:
        db.rollback()
        return missing_page(request, tag)
    except RefusedError as exc:
        db.rollback()
        return home_page(
            request, db, resident, now, error=why(exc.reason), status_code=status.HTTP_409_CONFLICT
        )
    db.commit()
    if form.get("from") == "item":
        return RedirectResponse(f"/i/{quote(tag)}", status.HTTP_303_SEE_OTHER)
    return RedirectResponse(f"{RESIDENT_HOME}?done=left", status.HTTP_303_SEE_OTHER)
