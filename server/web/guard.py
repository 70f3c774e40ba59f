"""Who may see a console page. Nobody signed in: a redirect to the sign-in page, which
comes back here after. A password still to change: the password page first. A role that
is not enough: a 403 page that says which role it needs. Never a stack trace: the handlers
below render every refusal as a page of the console."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import RedirectResponse, Response

from server.accounts.principal import Principal
from server.api.auth import OptionalPrincipalDep
from server.domain.roles import Role
from server.web.forms import FormRefused
from server.web.language import page_language
from server.web.navigation import ROLE_NAMES
from server.web.rendering import render, translator
from toolhut.i18n import N_

SIGN_IN_PATH = "/console/sign-in"
PASSWORD_PATH = "/console/password"

TEXT_FORBIDDEN = N_("Your role may not open this page (it needs {role}).")


class PageNotFound(Exception):
    """What a console page names does not exist (a member, a request): a 404 page that
    says so, in the reader's language (``message`` is a message id, ``fields`` fill it)."""

    def __init__(self, message: str, *, principal: Principal | None = None, **fields: object):
        self.message = message
        self.principal = principal  # who asked, for the menu (None: the page has none)
        self.fields = fields


class SignInNeeded(Exception):
    def __init__(self, target: str) -> None:
        self.target = target


class PasswordChangeNeeded(Exception):
    pass


class PageForbidden(Exception):
    def __init__(self, principal: Principal, role: Role) -> None:
        self.principal = principal
        self.role = role


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _signed_in(request: Request, principal: OptionalPrincipalDep) -> Principal:
    if principal is None:
        raise SignInNeeded(_target(request))
    return principal


def _ready(request: Request, principal: Annotated[Principal, Depends(_signed_in)]) -> Principal:
    if principal.must_change_password:
        raise PasswordChangeNeeded()
    return principal


def page_role(role: Role) -> Any:
    """The dependency of a console page for ``role`` and above."""

    def check(principal: Annotated[Principal, Depends(_ready)]) -> Principal:
        if not principal.allows(role):
            raise PageForbidden(principal, role)
        return principal

    check.__name__ = f"page_{role.value}"
    return Depends(check)


PageSignedIn = Annotated[Principal, Depends(_signed_in)]  # even with a password to change
PageViewer = Annotated[Principal, page_role(Role.VIEWER)]
PageStaff = Annotated[Principal, page_role(Role.STAFF)]
PageAdmin = Annotated[Principal, page_role(Role.ADMIN)]


def install(app: FastAPI) -> None:
    """The console's refusals as pages (and redirects), for every route that uses these."""

    async def sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        return RedirectResponse(
            f"{SIGN_IN_PATH}?next={quote(exc.target, safe='/')}", status.HTTP_303_SEE_OTHER
        )

    async def password_needed(request: Request, exc: Exception) -> Response:
        return RedirectResponse(PASSWORD_PATH, status.HTTP_303_SEE_OTHER)

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageForbidden)
        _ = translator(page_language(request))
        return render(
            request,
            "console/error.html",
            {"message": _(TEXT_FORBIDDEN, role=_(ROLE_NAMES[exc.role]))},
            principal=exc.principal,
            status_code=status.HTTP_403_FORBIDDEN,
        )

    async def form_refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRefused)
        return render(
            request,
            "console/error.html",
            {"message": translator(page_language(request))(exc.message)},
            status_code=status.HTTP_403_FORBIDDEN,
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageNotFound)
        return render(
            request,
            "console/error.html",
            {"message": translator(page_language(request))(exc.message, **exc.fields)},
            principal=exc.principal,
            status_code=status.HTTP_404_NOT_FOUND,
        )

    app.add_exception_handler(PageNotFound, not_found)
    app.add_exception_handler(SignInNeeded, sign_in_needed)
    app.add_exception_handler(FormRefused, form_refused)
    app.add_exception_handler(PasswordChangeNeeded, password_needed)
    app.add_exception_handler(PageForbidden, forbidden)
