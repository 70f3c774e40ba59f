"""The CSRF token of every console form, on top of the session cookie's SameSite=Strict
and the Origin check (server.api.auth).

Signed in (a staff console, or a resident's phone), the token is derived from the
session's secret (which only this browser holds, HttpOnly): a page of another site can
neither read nor compute it, and it changes with every sign-in. Before sign-in (the
sign-in form itself) it is a random value in a cookie of its own, echoed by the form
(double submit)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from server.api.auth import SESSION_COOKIE
from server.web.resident_cookie import RESIDENT_COOKIE

FORM_COOKIE = "toolhut_form"
FIELD = "csrf_token"


def _of_session(secret: str) -> str:
    return hashlib.sha256(b"toolhut-csrf\0" + secret.encode()).hexdigest()[:32]


def _session(request: Request) -> str | None:
    """The signed-in secret this browser holds: the staff console's first."""
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(RESIDENT_COOKIE)


def token_for(request: Request) -> str:
    """The token a form of this page carries (a new form cookie's, if it has none yet:
    ``remember`` sets it on the response)."""
    session = _session(request)
    if session:
        return _of_session(session)
    token = request.cookies.get(FORM_COOKIE) or getattr(request.state, "form_token", None)
    if token is None:
        token = secrets.token_hex(16)
        request.state.form_token = token
    return str(token)


def remember(request: Request, response: Response) -> None:
    """Sets the form cookie a page's token came from, when the page made a new one."""
    token = getattr(request.state, "form_token", None)
    if token is not None and FORM_COOKIE not in request.cookies:
        response.set_cookie(FORM_COOKIE, token, httponly=True, samesite="strict", path="/")


def valid(request: Request, submitted: str | None) -> bool:
    if not submitted:
        return False
    session = _session(request)
    if session:
        return hmac.compare_digest(submitted, _of_session(session))
    cookie = request.cookies.get(FORM_COOKIE)
    return cookie is not None and hmac.compare_digest(submitted, cookie)
