"""Opening and closing a console session: the checks of a sign-in (throttle, password)
and the session cookie. The API's sign-in route and the console's sign-in page both go
through here, so a browser and a script meet the same rules."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session

from server.accounts.sessions import start_session
from server.accounts.sign_in import authenticate
from server.api.account_schemas import SignIn
from server.api.auth import SESSION_COOKIE, throttled, unauthorised
from server.api.deps import client_address
from server.api.throttle import SignInThrottle
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
