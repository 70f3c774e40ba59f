"""Enrol a card by tapping it at a hut, from the console: staff choose a hut on the member's
page and press "enrol by tap" (the same code as ``POST /api/v1/huts/{hut}/enrol``:
server.enrolment_actions, refused without a broker), then the request's page waits for the
tap and shows it. ``static/console/enrol.js`` asks the small JSON of this module every
second and updates the page; without JavaScript the page has a refresh button. Staff may
cancel a waiting request (the API's DELETE logic)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from server import enrolment_actions
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import logged_if_not_sent, staff_action
from server.domain.ledger_state import EnrolmentStatus
from server.hut_commands import EXPIRY, CommandSender
from server.storage import enrolments
from server.storage.models import EnrolmentRequest, Member
from server.web import members_pages
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PageNotFound, PageStaff, PageViewer
from server.web.language import page_language
from server.web.list_filters import ListQuery
from server.web.local_time import shown
from server.web.rendering import render
from toolhut.i18n import N_, gettext

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

TEXT_NO_REQUEST = N_("There is no enrolment request {request_id}.")
TEXT_CHOOSE_HUT = N_("Choose the hut where the card will be tapped.")
STATE_TEXT = {
    EnrolmentStatus.WAITING: N_(
        "Waiting for a new card to be tapped at {hut}: {seconds} seconds left."
    ),
    EnrolmentStatus.BOUND: N_("Done: the card ending in {tail} now belongs to {member}."),
    EnrolmentStatus.EXPIRED: N_("Time is up and no card was tapped. Start again if needed."),
    EnrolmentStatus.REFUSED: N_(
        "The card tapped (ending in {tail}) belongs to another member: nothing was bound."
    ),
    EnrolmentStatus.CANCELLED: N_("Cancelled: the hut no longer waits for a card."),
}
STATE_NAMES = {
    EnrolmentStatus.WAITING: N_("waiting"),
    EnrolmentStatus.BOUND: N_("done"),
    EnrolmentStatus.EXPIRED: N_("expired"),
    EnrolmentStatus.REFUSED: N_("refused"),
    EnrolmentStatus.CANCELLED: N_("cancelled"),
}
TAIL = 4  # the card digits a page shows: enough to tell two cards apart, not a credential


def request_path(request_id: int) -> str:
    return f"/console/enrolments/{request_id}"


@dataclass(frozen=True, slots=True)
class EnrolmentView:
    """What the page and its JSON say about a request at ``now``."""

    state: str
    name: str  # the state, in the reader's language
    text: str  # what it means for staff, in the reader's language
    seconds_left: int
    card_tail: str | None
    done: bool


def view_of(row: EnrolmentRequest, member: Member, *, now: datetime, lang: str) -> EnrolmentView:
    state = enrolments.status_of(row, now=now)
    left = (
        max(0, int((row.expires_at - now).total_seconds()))
        if state is EnrolmentStatus.WAITING
        else 0
    )
    tail = row.card_uid[-TAIL:] if row.card_uid else None
    text = gettext(STATE_TEXT[state], lang).format(
        hut=row.hut_id, seconds=left, tail=tail or "", member=member.name
    )
    return EnrolmentView(
        state=state.value,
        name=gettext(STATE_NAMES[state], lang),
        text=text,
        seconds_left=left,
        card_tail=tail,
        done=state is not EnrolmentStatus.WAITING,
    )


def _request(db: Session, request_id: str) -> EnrolmentRequest:
    found = members_pages.row_id(request_id)
    row = enrolments.get(db, found) if found is not None else None
    if row is None:
        raise PageNotFound(TEXT_NO_REQUEST, request_id=request_id[:20])
    return row


@router.post("/members/{ref}/enrol")
def enrol_by_tap(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    member_id = members_pages.row_id(ref)
    if member_id is None or db.get(Member, member_id) is None:
        raise PageNotFound(members_pages.TEXT_NO_MEMBER, member_id=ref[:20])
    lang = page_language(request)
    asked = ListQuery(form, lang)
    hut = asked.hut()
    errors = asked.errors
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if hut is None and not errors:
        errors = FormErrors()
        errors.add("hut", gettext(TEXT_CHOOSE_HUT, lang))
    if hut is not None and not errors:
        send: CommandSender = request.app.state.commands
        try:
            with staff_action(), logged_if_not_sent(db):
                row = enrolment_actions.request_enrolment(
                    db,
                    hut_id=hut,
                    member_id=member_id,
                    seconds=EXPIRY["enrol"].default,
                    now=now,
                    actor=actor_of(principal, request),
                    send=send,
                )
            db.commit()
            return RedirectResponse(request_path(row.id), status.HTTP_303_SEE_OTHER)
        except (HTTPException, RequestValidationError) as exc:
            db.rollback()
            errors = errors_of(exc)
            if isinstance(exc, HTTPException):
                code = exc.status_code
    found = db.get(Member, member_id)
    assert found is not None
    return members_pages.detail_page(
        request, db, principal, found, now, failed="enrol", errors=errors, status_code=code
    )


def _page(
    request: Request,
    db: Session,
    principal: Any,
    row: EnrolmentRequest,
    now: datetime,
    *,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    member = db.get(Member, row.member_id)
    assert member is not None
    view = view_of(row, member, now=now, lang=page_language(request))
    return render(
        request,
        "console/enrolments/show.html",
        {
            "enrolment": row,
            "member": member,
            "view": view,
            "shown": shown,
            "errors": errors,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/enrolments/{request_id}")
def enrolment_page(
    request: Request, request_id: str, principal: PageViewer, db: DbDep, now: NowDep
) -> HTMLResponse:
    return _page(request, db, principal, _request(db, request_id), now)


@router.get("/enrolments/{request_id}/state", response_class=JSONResponse)
def enrolment_state(
    request: Request, request_id: str, principal: PageViewer, db: DbDep, now: NowDep
) -> JSONResponse:
    """The request's state for enrol.js: no card UID, only its last digits."""
    row = _request(db, request_id)
    member = db.get(Member, row.member_id)
    assert member is not None
    view = view_of(row, member, now=now, lang=page_language(request))
    return JSONResponse(asdict(view), headers={"Cache-Control": "no-store"})


@router.post("/enrolments/{request_id}/cancel")
def cancel_enrolment(
    request: Request,
    request_id: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    row = _request(db, request_id)
    try:
        with staff_action():
            enrolment_actions.cancel_enrolment(
                db, request_id=row.id, now=now, actor=actor_of(principal, request)
            )
        db.commit()
        return RedirectResponse(request_path(row.id), status.HTTP_303_SEE_OTHER)
    except HTTPException as exc:
        db.rollback()
        return _page(
            request,
            db,
            principal,
            _request(db, request_id),
            now,
            errors=errors_of(exc),
            status_code=exc.status_code,
        )
