"""The cookie of a resident's signed-in phone: HttpOnly, SameSite=Lax (a reminder's link,
opened from a messaging app, must arrive signed in; every form still carries its CSRF
token), Secure over https, as long as the session."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from server.settings import ServerSettings

RESIDENT_COOKIE = "toolhut_resident"


def _options(request: Request, settings: ServerSettings) -> dict[str, Any]:
    secure = settings.accounts.cookie_secure
    return {
        "path": "/",
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https" if secure is None else secure,
    }


def set_cookie(response: Response, request: Request, settings: ServerSettings, secret: str) -> None:
    response.set_cookie(
        RESIDENT_COOKIE,
        secret,
        max_age=settings.residents.session_days * 86400,
        **_options(request, settings),
    )


def clear_cookie(response: Response, request: Request, settings: ServerSettings) -> None:
    response.delete_cookie(RESIDENT_COOKIE, **_options(request, settings))
