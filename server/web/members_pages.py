"""The console's member pages: the list (search by name, phone, flat or card; filter by
status and hut), a member's page (record, cards, loans, reminders sent, what staff may do),
and the add and edit forms. Every write goes through the code the API's routes call
(server.records.members, server.access_actions), inside the API's ``staff_action()``, so
a page refuses what the API refuses, with the same reasons, beside the fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from server import access_actions
from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.errors import staff_action
from server.api.listing import PageRequest, page_of, sorted_by
from server.api.params import MAX_ROW_ID
from server.domain import CardStatus, MemberStatus
from server.records import members
from server.storage import queries, reminder_queries
from server.storage.audit import Stamp
from server.storage.models import Loan, Member
from server.web import member_form
from server.web.field_messages import TEXT_REQUIRED, TEXT_TOO_LONG, field_errors
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PageNotFound, PageStaff, PageViewer
from server.web.language import page_language
from server.web.list_filters import ListQuery
from server.web.local_time import shown
from server.web.member_form import MemberDraft
from server.web.paging import DEFAULT_LIMIT, Page
from server.web.rendering import render
from toolhut.i18n import N_, gettext

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

STATUS_NAMES = {
    MemberStatus.ACTIVE: N_("active"),
    MemberStatus.SUSPENDED: N_("suspended"),
    MemberStatus.LEFT: N_("left"),
}
CARD_STATE_NAMES = {CardStatus.ACTIVE: N_("in use"), CardStatus.LOST: N_("reported lost")}
TEXT_NO_MEMBER = N_("There is no member {member_id}.")
TEXT_REASON_NEEDED = N_("Say why the member is suspended: staff read it later.")
TEXT_NOT_THEIR_CARD = N_("This member has no such card.")
RECENT_REMINDERS = 20
SHOWN_LOANS = 50
MAX_REASON = 500


def member_path(member_id: int) -> str:
    return f"/console/members/{member_id}"


def row_id(text: str) -> int | None:
    """A path's row id, or None for what cannot be one ("abc", 0, past the column)."""
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ROW_ID else None


def _member(request: Request, db: Session, member_id: int) -> Member:
    """The member, or the 404 page."""
    member = db.get(Member, member_id)
    if member is None:
        raise PageNotFound(TEXT_NO_MEMBER, member_id=member_id)
    return member


def _id(member_id: str) -> int:
    found = row_id(member_id)
    if found is None:
        raise PageNotFound(TEXT_NO_MEMBER, member_id=member_id[:20])
    return found


def _stamp(principal: Principal, request: Request, now: Any) -> Stamp:
    return Stamp(actor_of(principal, request), now)


def _channels(settings: Any) -> frozenset[str]:
    return frozenset(settings.reminders.channels)


# The list.


@router.get("/members")
def member_list(request: Request, principal: PageViewer, db: DbDep) -> HTMLResponse:
    lang = page_language(request)
    asked = ListQuery(request.query_params, lang)
    q = asked.text("q")
    member_status = asked.choice("status", MemberStatus)
    hut = asked.hut()
    offset = asked.offset()
    query = members.list_query(q=q, status=member_status, hut=hut)
    query = sorted_by(query, "name", members.SORTS, default="id")
    rows, total = page_of(db, query, PageRequest(limit=DEFAULT_LIMIT, offset=offset, sort=None))
    return render(
        request,
        "console/members/list.html",
        {
            "members": rows,
            "page": Page.of(offset, DEFAULT_LIMIT, total),
            "base_query": asked.base_query(),
            "q": q or "",
            "status": member_status.value if member_status else "",
            "hut": hut or "",
            "status_options": [(s.value, gettext(t, lang)) for s, t in STATUS_NAMES.items()],
            "hut_options": [(h.id, f"{h.name} ({h.id})") for h in queries.list_huts(db)],
            "status_names": STATUS_NAMES,
            "errors": asked.errors,
        },
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if asked.errors else 200,
    )


# Add and edit.


def _form_page(
    request: Request,
    db: Session,
    principal: Principal,
    draft: MemberDraft,
    *,
    member: Member | None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "console/members/form.html",
        {
            "member": member,
            "draft": draft,
            "errors": errors,
            "huts": queries.list_huts(db),
            "flag_choices": member_form.FLAG_CHOICES,
            "languages": [
                (code, gettext(text, page_language(request)))
                for code, text in member_form.LANGUAGE_CHOICES
            ],
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/members/new")
def new_member_page(request: Request, principal: PageStaff, db: DbDep) -> HTMLResponse:
    return _form_page(request, db, principal, MemberDraft(), member=None)


@router.post("/members/new")
def create_member(
    request: Request,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    draft = MemberDraft.of_form(form)
    lang = page_language(request)
    body = member_form.to_create(draft, lang)
    if not isinstance(body, FormErrors):
        try:
            with staff_action():
                stamp = _stamp(principal, request, now)
                member = members.create(db, body, stamp=stamp, channels=_channels(settings))
            db.commit()
            return RedirectResponse(member_path(member.id), status.HTTP_303_SEE_OTHER)
        except (HTTPException, RequestValidationError) as exc:
            db.rollback()
            body = _refusal(exc, lang)
    return _form_page(
        request,
        db,
        principal,
        draft,
        member=None,
        errors=body,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.get("/members/{ref}/edit")
def edit_member_page(request: Request, ref: str, principal: PageStaff, db: DbDep) -> HTMLResponse:
    member_id = _id(ref)
    member = _member(request, db, member_id)
    draft = MemberDraft.of_member(member, members.contacts_of(db, member_id))
    return _form_page(request, db, principal, draft, member=member)


@router.post("/members/{ref}/edit")
def edit_member(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    member_id = _id(ref)
    member = _member(request, db, member_id)
    draft = MemberDraft.of_form(form)
    lang = page_language(request)
    body = member_form.to_edit(draft, lang)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if not isinstance(body, FormErrors):
        try:
            with staff_action():
                members.edit(
                    db,
                    member_id,
                    body,
                    expected=int(draft.version),
                    stamp=_stamp(principal, request, now),
                    channels=_channels(settings),
                )
            db.commit()
            return RedirectResponse(member_path(member_id), status.HTTP_303_SEE_OTHER)
        except (HTTPException, RequestValidationError) as exc:
            db.rollback()
            body = _refusal(exc, lang)
            if isinstance(exc, HTTPException):
                code = exc.status_code
    member = _member(request, db, member_id)
    return _form_page(request, db, principal, draft, member=member, errors=body, status_code=code)


def _refusal(exc: HTTPException | RequestValidationError, lang: str) -> FormErrors:
    if isinstance(exc, RequestValidationError):
        return field_errors(exc, lang)
    return errors_of(exc)


# A member's page, and what staff do on it.


def detail_page(
    request: Request,
    db: Session,
    principal: Principal,
    member: Member,
    now: Any,
    *,
    failed: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The member's page; ``failed`` names the form whose ``errors`` it shows."""
    loans_query = queries.open_loans(member_id=member.id).order_by(Loan.due_at, Loan.id)
    loans = list(db.scalars(loans_query.limit(SHOWN_LOANS)))
    deliveries = reminder_queries.deliveries_of_member(db, member.id, limit=RECENT_REMINDERS)
    return render(
        request,
        "console/members/detail.html",
        {
            "member": member,
            "contacts": members.contacts_of(db, member.id),
            "cards": sorted(member.cards, key=lambda card: card.uid),
            "loans": loans,
            "open_loans": members.open_loans(db, member.id),
            "deliveries": deliveries,
            "hut_options": [(h.id, f"{h.name} ({h.id})") for h in queries.list_huts(db)],
            "now": now,
            "status_names": STATUS_NAMES,
            "card_state_names": CARD_STATE_NAMES,
            "flag_names": dict(member_form.FLAG_CHOICES),
            "language_names": dict(member_form.LANGUAGE_CHOICES),
            "shown": shown,
            "failed": failed,
            "errors": errors,
            "erased": member.erased_at is not None,
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/members/{ref}")
def member_page(
    request: Request, ref: str, principal: PageViewer, db: DbDep, now: NowDep
) -> HTMLResponse:
    member_id = _id(ref)
    return detail_page(request, db, principal, _member(request, db, member_id), now)


def _act(
    request: Request,
    db: Session,
    principal: Principal,
    member_id: int,
    now: Any,
    name: str,
    action: Any,
    *,
    errors: FormErrors | None = None,
) -> Response:
    """``action()`` inside staff_action, committed, then back to the member's page (303);
    refused (or ``errors`` already), the page with the reason beside the form ``name``."""
    member = _member(request, db, member_id)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if not errors:
        try:
            with staff_action():
                action()
            db.commit()
            return RedirectResponse(member_path(member_id), status.HTTP_303_SEE_OTHER)
        except (HTTPException, RequestValidationError) as exc:
            db.rollback()
            errors = _refusal(exc, page_language(request))
            if isinstance(exc, HTTPException):
                code = exc.status_code
        member = _member(request, db, member_id)
    return detail_page(
        request, db, principal, member, now, failed=name, errors=errors, status_code=code
    )


@router.post("/members/{ref}/suspend")
def suspend_member(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    member_id = _id(ref)
    reason = member_form.one(form, "reason")
    errors = FormErrors()
    lang = page_language(request)
    if not reason:
        errors.add("reason", gettext(TEXT_REASON_NEEDED, lang))
    elif len(reason) > MAX_REASON:
        errors.add("reason", gettext(TEXT_TOO_LONG, lang))
    stamp = _stamp(principal, request, now)
    return _act(
        request,
        db,
        principal,
        member_id,
        now,
        "suspend",
        lambda: access_actions.suspend_member(db, member_id=member_id, reason=reason, stamp=stamp),
        errors=errors,
    )


@router.post("/members/{ref}/reactivate")
def reactivate_member(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    member_id = _id(ref)
    stamp = _stamp(principal, request, now)
    return _act(
        request,
        db,
        principal,
        member_id,
        now,
        "reactivate",
        lambda: access_actions.reactivate_member(db, member_id=member_id, stamp=stamp),
    )


@router.post("/members/{ref}/cards")
def add_card(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    member_id = _id(ref)
    uid = member_form.one(form, "uid")
    errors = FormErrors()
    if not uid:
        errors.add("uid", gettext(TEXT_REQUIRED, page_language(request)))
    stamp = _stamp(principal, request, now)
    return _act(
        request,
        db,
        principal,
        member_id,
        now,
        "card",
        lambda: access_actions.add_card(db, member_id=member_id, uid=uid, stamp=stamp),
        errors=errors,
    )


def _their_card(request: Request, db: Session, member_id: int, form: dict[str, Any]) -> str:
    """The posted card's UID, if it is this member's (a form names no other's card)."""
    uid = member_form.one(form, "uid").upper()
    member = _member(request, db, member_id)
    if uid not in {card.uid for card in member.cards}:
        raise PageNotFound(TEXT_NOT_THEIR_CARD)
    return uid


@router.post("/members/{ref}/cards/remove")
def remove_card(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    member_id = _id(ref)
    uid = _their_card(request, db, member_id, form)
    stamp = _stamp(principal, request, now)
    return _act(
        request,
        db,
        principal,
        member_id,
        now,
        "cards",
        lambda: access_actions.remove_card(db, uid=uid, stamp=stamp),
    )


@router.post("/members/{ref}/cards/lost")
def report_card_lost(
    request: Request,
    ref: str,
    form: ConsoleForm,
    principal: PageStaff,
    db: DbDep,
    now: NowDep,
) -> Response:
    member_id = _id(ref)
    uid = _their_card(request, db, member_id, form)
    stamp = _stamp(principal, request, now)
    return _act(
        request,
        db,
        principal,
        member_id,
        now,
        "cards",
        lambda: access_actions.report_card_lost(db, uid=uid, stamp=stamp),
    )
