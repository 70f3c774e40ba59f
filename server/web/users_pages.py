"""Staff accounts in the console (``/console/users``, admins only): the list, a new account
(its temporary password shown once, to be changed at first sign-in), a role changed, an
account disabled or enabled again, a new temporary password. Every write goes through
server.accounts.manage inside the API's ``staff_action()``, as server/api/routes/users.py
does: the same checks (a bad or taken username, the last enabled admin, a stale edit)
with their reasons shown on the page.

A page that shows a new password is answered directly (no redirect: it must not be
stored anywhere to be shown again) and marked ``no-store``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from server.accounts import manage
from server.accounts.principal import Principal
from server.api.auth import actor_of
from server.api.deps import DbDep, NowDep
from server.api.errors import staff_action
from server.api.listing import PageRequest, page_of
from server.domain.roles import Role
from server.storage.staff_models import StaffUser
from server.storage.staff_queries import accounts
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PageAdmin
from server.web.language import page_language
from server.web.navigation import ROLE_NAMES
from server.web.paging import Page
from server.web.rendering import render, translator
from toolhut.i18n import N_

router = APIRouter(
    prefix="/console/users", default_response_class=HTMLResponse, include_in_schema=False
)

PATH = "/console/users"
PER_PAGE = 50
TEXT_BAD_ROLE = N_("Choose one of the roles.")
TEXT_REQUIRED = N_("Fill this in.")
TEXT_BAD_OFFSET = N_("That page number is not valid; showing the first page.")
TEXT_STALE = N_("Someone changed this account meanwhile: look again and retry.")


def _role(value: Any) -> Role | None:
    try:
        return Role(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number(value: Any) -> int:
    """A posted or path number; -1 (which matches nothing) for anything else."""
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 9 else -1


def _list_page(
    request: Request,
    principal: Principal,
    db: Session,
    *,
    offset: int = 0,
    errors: FormErrors | None = None,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> HTMLResponse:
    _ = translator(page_language(request))
    query = accounts().order_by(StaffUser.username, StaffUser.id)
    rows, total = page_of(db, query, PageRequest(limit=PER_PAGE, offset=offset, sort=None))
    response = render(
        request,
        "console/users.html",
        {
            "users": rows,
            "page": Page(offset=offset, limit=PER_PAGE, total=total),
            "roles": list(Role),
            "role_options": [(r.value, _(ROLE_NAMES[r])) for r in Role],
            "errors": errors,
            **context,
        },
        principal=principal,
        status_code=status_code,
    )
    if "password" in context:
        response.headers["Cache-Control"] = "no-store"
    return response


def _refused(
    request: Request,
    principal: Principal,
    db: Session,
    exc: HTTPException | RequestValidationError,
    **context: Any,
) -> HTMLResponse:
    db.rollback()
    errors = errors_of(exc)
    code = exc.status_code if isinstance(exc, HTTPException) else 422
    detail = exc.detail if isinstance(exc, HTTPException) else None
    if isinstance(detail, dict) and detail.get("reason") == "stale_version":
        errors = FormErrors(general=[TEXT_STALE])
    elif isinstance(detail, dict) and isinstance(detail.get("text"), str):
        errors = FormErrors(general=[detail["text"]])  # the rule's words, not its code
    return _list_page(request, principal, db, errors=errors, status_code=code, **context)


@router.get("")
def users_page(
    request: Request, principal: PageAdmin, db: DbDep, offset: str | None = None
) -> HTMLResponse:
    errors = None
    start = 0
    if offset not in (None, ""):
        if offset.isdigit() and len(offset) < 9:
            start = int(offset)
        else:
            errors = FormErrors(general=[TEXT_BAD_OFFSET])
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status.HTTP_200_OK
    return _list_page(request, principal, db, offset=start, errors=errors, status_code=code)


@router.post("")
def add_user(
    request: Request, form: ConsoleForm, principal: PageAdmin, db: DbDep, now: NowDep
) -> Response:
    username = str(form.get("username") or "").strip()
    display_name = str(form.get("display_name") or "").strip() or None
    role = _role(form.get("role"))
    errors = FormErrors()
    if not username:
        errors.add("username", TEXT_REQUIRED)
    if role is None:
        errors.add("role", TEXT_BAD_ROLE)
    new = {"username": username, "display_name": display_name or "", "role": form.get("role")}
    if errors or role is None:
        return _list_page(request, principal, db, errors=errors, new=new, status_code=422)
    try:
        with staff_action():
            user, password = manage.new_account(
                db,
                username=username,
                role=role,
                display_name=display_name,
                actor=actor_of(principal, request),
                now=now,
            )
        db.commit()
    except (HTTPException, RequestValidationError) as exc:
        return _refused(request, principal, db, exc, new=new)
    return _list_page(request, principal, db, password=password, password_for=user)


def _update(
    request: Request,
    form: ConsoleForm,
    principal: Principal,
    db: Session,
    now: Any,
    user_id: str,
    **change: Any,
) -> Response:
    try:
        with staff_action():
            user = manage.account(db, _number(user_id))
            manage.update_account(
                db,
                user,
                expected=_number(form.get("version")),
                actor=actor_of(principal, request),
                now=now,
                **change,
            )
        db.commit()
    except (HTTPException, RequestValidationError) as exc:
        return _refused(request, principal, db, exc)
    return RedirectResponse(PATH, status.HTTP_303_SEE_OTHER)


@router.post("/{user_id}/role")
def change_role(
    user_id: str, request: Request, form: ConsoleForm, principal: PageAdmin, db: DbDep, now: NowDep
) -> Response:
    role = _role(form.get("role"))
    if role is None:
        errors = FormErrors()
        errors.add(None, TEXT_BAD_ROLE)
        return _list_page(request, principal, db, errors=errors, status_code=422)
    return _update(request, form, principal, db, now, user_id, role=role)


@router.post("/{user_id}/disable")
def disable(
    user_id: str, request: Request, form: ConsoleForm, principal: PageAdmin, db: DbDep, now: NowDep
) -> Response:
    return _update(request, form, principal, db, now, user_id, disabled=True)


@router.post("/{user_id}/enable")
def enable(
    user_id: str, request: Request, form: ConsoleForm, principal: PageAdmin, db: DbDep, now: NowDep
) -> Response:
    return _update(request, form, principal, db, now, user_id, disabled=False)


@router.post("/{user_id}/reset-password")
def reset_password(
    user_id: str, request: Request, form: ConsoleForm, principal: PageAdmin, db: DbDep, now: NowDep
) -> Response:
    try:
        with staff_action():
            user = manage.account(db, _number(user_id))
            password = manage.reset_password(db, user, actor=actor_of(principal, request), now=now)
        db.commit()
    except (HTTPException, RequestValidationError) as exc:
        return _refused(request, principal, db, exc)
    return _list_page(request, principal, db, password=password, password_for=user)
