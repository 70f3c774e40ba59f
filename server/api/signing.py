"""Opening and closing a console session: the checks of a sign-in (throttle, password)
and the session cookie, and a change of one's own password. The API's routes and the
console's pages both go through here, so a browser and a script meet the same rules."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from server.accounts import manage
from server.accounts.principal import Principal, Via
from server.accounts.sessions import start_session
from server.accounts.sign_in import authenticate
from server.api.account_schemas import SignIn
from server.api.auth import SESSION_COOKIE, actor_of, throttled, unauthorised
from server.api.deps import client_address
from server.api.errors import staff_action
from server.api.throttle import SignInThrottle
from server.domain.record_errors import InvalidFieldsError
from server.settings import ServerSettings
from server.storage.staff_models import StaffUser
from toolhut.i18n import bilingual

log = logging.getLogger(__name__)

TEXT_WRONG_SIGN_IN = bilingual("wrong username or password")


def open_session(
    request: Request, db: Session, now: datetime, settings: ServerSettings, credentials: SignIn
) -> tuple[StaffUser, str]:
    """The account and its new session's secret, committed. 429 (Retry-After) while the
    account or the address is throttled; 401 for an unknown username, a wrong password or
    a disabled account alike, after the same work."""
    address = client_address(request)
    limiter: SignInThrottle = request.app.state.sign_in_throttle
    wait = limiter.retry_after(credentials.username, address, now=now)
    if wait is not None:
        log.warning("sign-in throttled for %s s (address %s)", wait, address)
        raise throttled(wait)
    user = authenticate(db, credentials.username, credentials.password, now=now)
    if user is None:
        limiter.failed(credentials.username, address, now=now)
        log.info("sign-in refused (address %s)", address)
        raise unauthorised(TEXT_WRONG_SIGN_IN)
    _, secret = start_session(db, user, now=now, settings=settings.accounts, address=address)
    db.commit()
    log.info("staff account %d signed in (address %s)", user.id, address)
    return user, secret


def change_own_password(
    request: Request, db: Session, now: datetime, principal: Principal, *, current: str, new: str
) -> StaffUser:
    """The signed-in account's new password, committed: 429 while the account or the
    address is throttled, a wrong current password counted as a failed sign-in, each
    weakness of the new one named (staff_action's 422). The account's other sessions end;
    the one asking stays signed in."""
    limiter: SignInThrottle = request.app.state.sign_in_throttle
    address = client_address(request)
    wait = limiter.retry_after(principal.username, address, now=now)
    if wait is not None:
        raise throttled(wait)
    with staff_action():
        user = manage.account(db, principal.user_id)
        try:
            manage.change_password(
                db,
                user,
                current=current,
                new=new,
                actor=actor_of(principal, request),
                now=now,
                keep_session=principal.credential_id if principal.via is Via.SESSION else None,
            )
        except InvalidFieldsError as exc:
            if any(error.field == "current" for error in exc.errors):
                limiter.failed(principal.username, address, now=now)
            raise
    db.commit()
    log.info("staff account %d changed its password", user.id)
    return user


def _cookie_options(request: Request, settings: ServerSettings) -> dict[str, Any]:
    secure = settings.accounts.cookie_secure
    return {
        "path": "/",
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https" if secure is None else secure,
    }


def set_session_cookie(
    response: Response, request: Request, settings: ServerSettings, secret: str
) -> None:
    """HttpOnly, SameSite=Strict, Secure over https; it ends with the session."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.accounts.session_hours * 3600,
        **_cookie_options(request, settings),
    )


def clear_session_cookie(response: Response, request: Request, settings: ServerSettings) -> None:
    response.delete_cookie(SESSION_COOKIE, **_cookie_options(request, settings))
