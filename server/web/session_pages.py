"""The console's own account pages: sign in, sign out, change one's password, switch the
language. Each is a plain form (it works without JavaScript) that goes through the same
code as the API (server.api.signing, server.accounts.manage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from server.accounts.sessions import end_session
from server.api.account_schemas import SignIn
from server.api.auth import SESSION_COOKIE
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.signing import (
    change_own_password,
    clear_session_cookie,
    open_session,
    set_session_cookie,
)
from server.web.forms import ConsoleForm, FormErrors, errors_of
from server.web.guard import PASSWORD_PATH, SIGN_IN_PATH, PageSignedIn
from server.web.language import LANG_COOKIE
from server.web.rendering import render
from toolhut.i18n import LANGUAGES, N_, language

router = APIRouter(prefix="/console", default_response_class=HTMLResponse, include_in_schema=False)

TEXT_PASSWORDS_DIFFER = N_("The two new passwords are not the same.")
TEXT_REQUIRED = N_("Fill this in.")
HOME = "/console"
LANG_COOKIE_DAYS = 365


def local_path(target: Any) -> str | None:
    """A path of this site to go back to: not //elsewhere, nor a backslash trick."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return None if "\\" in target else target
    return None


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "console/sign_in.html", {"next": local_path(next) or HOME})


@router.post("/sign-in")
def sign_in(
    request: Request, form: ConsoleForm, db: DbDep, now: NowDep, settings: SettingsDep
) -> Response:
    target = local_path(form.get("next")) or HOME
    username = form.get("username") if isinstance(form.get("username"), str) else ""
    errors = FormErrors()
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    try:
        credentials = SignIn.model_validate(
            {"username": username, "password": form.get("password") or ""}
        )
        user, secret = open_session(request, db, now, settings, credentials)
    except ValidationError as exc:  # a field left empty (or past any sane length)
        for entry in exc.errors(include_url=False):
            errors.add(str(entry["loc"][0]), TEXT_REQUIRED)
    except HTTPException as exc:  # wrong password (401), throttled (429)
        errors, code = errors_of(exc), exc.status_code
    if errors:
        return render(
            request,
            "console/sign_in.html",
            {"next": target, "username": username, "errors": errors},
            status_code=code,
        )
    response = RedirectResponse(
        PASSWORD_PATH if user.must_change_password else target, status.HTTP_303_SEE_OTHER
    )
    set_session_cookie(response, request, settings, secret)
    return response


@router.post("/sign-out")
def sign_out(
    request: Request, form: ConsoleForm, db: DbDep, now: NowDep, settings: SettingsDep
) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is not None:
        end_session(db, secret, now=now)
        db.commit()
    response = RedirectResponse(SIGN_IN_PATH, status.HTTP_303_SEE_OTHER)
    clear_session_cookie(response, request, settings)
    return response


@router.get("/password")
def password_page(request: Request, principal: PageSignedIn) -> HTMLResponse:
    return render(request, "console/password.html", principal=principal)


@router.post("/password")
def change_password(
    request: Request, form: ConsoleForm, principal: PageSignedIn, db: DbDep, now: NowDep
) -> Response:
    errors = FormErrors()
    current, new, again = (str(form.get(k) or "") for k in ("current", "new", "again"))
    for name, value in (("current", current), ("new", new), ("again", again)):
        if not value:
            errors.add(name, TEXT_REQUIRED)
    if new and again and new != again:
        errors.add("again", TEXT_PASSWORDS_DIFFER)
    if not errors:
        try:
            change_own_password(request, db, now, principal, current=current, new=new)
            return render(request, "console/password.html", {"changed": True}, principal=principal)
        except (HTTPException, RequestValidationError) as exc:
            db.rollback()
            errors = errors_of(exc)
    return render(
        request,
        "console/password.html",
        {"errors": errors},
        principal=principal,
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


@router.get("/language")
def switch_language(to: str, next: str | None = None) -> Response:
    """A link, not a form: a reading preference, nothing the server keeps."""
    response = RedirectResponse(local_path(next) or HOME, status.HTTP_303_SEE_OTHER)
    chosen = language(to)
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=LANG_COOKIE_DAYS * 86400, samesite="lax", path="/"
        )
    return response
