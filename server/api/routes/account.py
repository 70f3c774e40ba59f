"""Signing in and out, and what a signed-in staff member does to their own account: who am
I, change my password, my API tokens.

Sign-in takes JSON or a plain HTML form post (a console form works without JavaScript;
with a ``next`` field the answer is a redirect there). An unknown username, a wrong
password and a disabled account answer the same 401, after the same work; failures are
throttled per account and per address (429 with Retry-After)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from server.accounts import manage
from server.accounts.sessions import end_session
from server.accounts.tokens import tokens_of
from server.api.account_schemas import (
    PasswordChange,
    SignedIn,
    SignIn,
    TokenCreate,
    TokenIssued,
    TokenOut,
    TokensOut,
    UserOut,
)
from server.api.auth import (
    SESSION_COOKIE,
    TEXT_CROSS_SITE,
    SignedInDep,
    ViewerDep,
    actor_of,
    same_origin,
)
from server.api.deps import DbDep, NowDep, SettingsDep
from server.api.errors import staff_action
from server.api.params import RowId
from server.api.signing import (
    change_own_password,
    clear_session_cookie,
    open_session,
    set_session_cookie,
)
from toolhut.i18n import bilingual

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["account"])

# What the client reads: Chinese first, English beside it.
TEXT_BAD_BODY = bilingual("the request body cannot be read")

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_SIGN_IN_SCHEMA = SignIn.model_json_schema()
_SIGN_IN_FORM = {
    **_SIGN_IN_SCHEMA,
    "properties": {
        **_SIGN_IN_SCHEMA["properties"],
        "next": {"type": "string", "description": "a path of this site to go to after"},
    },
}
_SIGN_IN_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": _SIGN_IN_SCHEMA},
        "application/x-www-form-urlencoded": {"schema": _SIGN_IN_FORM},
    },
}


def _body_error(errors: list[Any]) -> RequestValidationError:
    return RequestValidationError(
        [{**error, "loc": ("body", *error.get("loc", ()))} for error in errors]
    )


async def _sign_in_body(request: Request) -> tuple[SignIn, str | None]:
    """The credentials from JSON or a form, and the form's ``next`` (a path here)."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith(_FORM_TYPES):
            form = await request.form()
            data: Any = {key: value for key, value in form.items() if isinstance(value, str)}
        else:
            data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise _body_error([{"type": "value_error", "msg": TEXT_BAD_BODY, "input": None}]) from None
    try:
        credentials = SignIn.model_validate(data)
    except ValidationError as exc:
        raise _body_error(list(exc.errors(include_url=False, include_input=False))) from None
    target = data.get("next") if isinstance(data, dict) else None
    return credentials, target if isinstance(target, str) and _local_path(target) else None


def _local_path(target: str) -> bool:
    """A path of this site: not //elsewhere (another host), nor a backslash trick."""
    return target.startswith("/") and not target.startswith("//") and "\\" not in target


@router.post(
    "/auth/sign-in",
    response_model=SignedIn,
    openapi_extra={"requestBody": _SIGN_IN_BODY},
    responses={
        303: {"description": "a form with ``next``: signed in, go there"},
        401: {"description": "wrong username or password"},
        403: {"description": "posted from another site's page"},
        422: {"description": "a field missing or too long"},
        429: {"description": "too many wrong attempts: wait Retry-After seconds"},
    },
)
def sign_in(
    request: Request,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
    body: Annotated[tuple[SignIn, str | None], Depends(_sign_in_body)],
) -> Any:
    """Sign in to the console: sets the session cookie (HttpOnly, SameSite=Strict, Secure
    over https), which ends after ``accounts.session_idle_minutes`` without a request or
    ``accounts.session_hours`` after sign-in."""
    credentials, target = body
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, TEXT_CROSS_SITE)
    user, secret = open_session(request, db, now, settings, credentials)
    answer = SignedIn(user=UserOut.of(user), must_change_password=user.must_change_password)
    response: Response = (
        RedirectResponse(target, status.HTTP_303_SEE_OTHER)
        if target is not None
        else Response(answer.model_dump_json(), media_type="application/json")
    )
    set_session_cookie(response, request, settings, secret)
    return response


@router.post("/auth/sign-out", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, db: DbDep, now: NowDep, settings: SettingsDep) -> Response:
    """The session ends and the cookie is cleared (with no session, only the latter)."""
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, TEXT_CROSS_SITE)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is not None:
        end_session(db, secret, now=now)
        db.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, request, settings)
    return response


def _me(principal: SignedInDep, db: DbDep) -> Any:
    with staff_action():
        return manage.account(db, principal.user_id)


@router.get("/me")
def who_am_i(principal: SignedInDep, db: DbDep) -> SignedIn:
    """The signed-in account (also while its first password is still to be changed)."""
    user = _me(principal, db)
    return SignedIn(user=UserOut.of(user), must_change_password=user.must_change_password)


@router.post("/me/password")
def change_password(
    body: PasswordChange, principal: SignedInDep, request: Request, db: DbDep, now: NowDep
) -> SignedIn:
    """A new password of one's own: the current one, and a strong new one (each weakness
    named). The account's other sessions end; this one stays signed in."""
    user = change_own_password(request, db, now, principal, current=body.current, new=body.new)
    return SignedIn(user=UserOut.of(user), must_change_password=False)


@router.get("/me/tokens")
def list_tokens(principal: ViewerDep, db: DbDep) -> TokensOut:
    """One's API tokens, newest first (never their secrets), revoked and expired included."""
    data = [TokenOut.of(token) for token in tokens_of(db, principal.user_id)]
    return TokensOut(data=data, count=len(data))


@router.post("/me/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate,
    principal: ViewerDep,
    request: Request,
    db: DbDep,
    now: NowDep,
    settings: SettingsDep,
) -> TokenIssued:
    """A personal API token (``Authorization: Bearer <secret>``) with one's own role: the
    secret is in this answer only."""
    user = _me(principal, db)
    with staff_action():
        token, secret = manage.new_token(
            db,
            user,
            name=body.name,
            days=body.days or settings.accounts.token_days,
            actor=actor_of(principal, request),
            now=now,
        )
    db.commit()
    return TokenIssued(**TokenOut.of(token).model_dump(), secret=secret)


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    token_id: RowId, principal: ViewerDep, request: Request, db: DbDep, now: NowDep
) -> None:
    """The token opens nothing from now on."""
    user = _me(principal, db)
    with staff_action():
        manage.revoke_token(db, user, token_id, actor=actor_of(principal, request), now=now)
    db.commit()
